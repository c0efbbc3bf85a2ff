"""Damaged communiqués, made here by mutating small valid ones: each is read, or refused with a
French message naming the file, through one pool of reading workers (issue 18 § 2)."""

from __future__ import annotations

import io
import logging
import random
import warnings
import zipfile
from collections.abc import Callable

import pytest
from communique_files import SENTENCE, docx, flate, odt, sentence_content, stream, text_pdf

from carto.extract import Document, DocumentError
from carto.extract.worker import ReaderPool

PER_FORMAT = 250
SEED = 18


def seeds() -> dict[str, list[bytes]]:
    words = SENTENCE.encode()
    html = (
        b"<!doctype html><html><head><title>Communiqu\xc3\xa9</title><script>var a=1;</script>"
        b'</head><body><nav class="fr-header">Accueil</nav><main><h2>Solidaires</h2><p>'
        + words
        + b' <a href="mailto:contact@mairie.fr">ici</a></p><ul><li>Lens : colis</li></ul>'
        b"<table><tr><td>Berck</td></tr></table></main><footer>Mentions</footer></body></html>"
    )
    paragraph = f"<w:p><w:pPr><w:pStyle w:val='Titre2'/></w:pPr><w:r><w:t>{SENTENCE}</w:t>"
    return {
        ".pdf": [
            text_pdf([4], [stream(sentence_content())]),
            text_pdf([4, 4], [flate(sentence_content() + b" BT (Lens) Tj ET")]),
        ],
        ".docx": [
            docx([paragraph.encode() + b"<w:tab/><w:br/></w:r></w:p>"]),
            docx([b"<w:tbl><w:tr><w:tc><w:p><w:r><w:t>cellule</w:t></w:r></w:p></w:tc></w:tr>"]),
        ],
        ".odt": [
            odt(
                [b'<text:h text:outline-level="2">Solidaires</text:h><text:p>a<text:s/>b</text:p>']
            ),
            odt([b"<text:list><text:list-item><text:p>Lens<text:tab/></text:p>"]),
        ],
        ".html": [html, html.replace(b"<main>", b"<article>").replace(b"</main>", b"")],
    }


def flip(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def cut(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(1, len(data))]


def splice(rng: random.Random, data: bytes) -> bytes:
    """A piece of the file repeated, deleted or moved."""
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.randint(1, 400))
    piece = data[start:end]
    where = rng.randrange(len(data))
    choice = rng.random()
    if choice < 0.4:
        return data[:where] + piece * rng.randint(2, 50) + data[where:]
    if choice < 0.7:
        return data[:start] + data[end:]
    return (
        data[:where] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))) + data[where:]
    )


MARKUP = [b"<", b">", b"/>", b"</", b"&", b"&amp;", b'"', b"]]>", b"<!--", b"<![CDATA[", b"\x00"]


def tags(rng: random.Random, data: bytes) -> bytes:
    """Markup broken where it matters: brackets, entities, quotes, NUL, closing tags swapped."""
    out = data
    for _ in range(rng.randint(1, 6)):
        where = rng.randrange(len(out))
        out = out[:where] + rng.choice(MARKUP) + out[where:]
    return out


def members(rng: random.Random, data: bytes) -> bytes:
    """A zip whose members are mutated inside (so their XML is what breaks), duplicated, dropped,
    or stored under another name."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = [(info.filename, archive.read(info)) for info in archive.infolist()]
    except Exception:  # already damaged by an earlier mutation
        return flip(rng, data)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for name, content in parts:
            choice = rng.random()
            if choice < 0.35 and content:
                content = rng.choice([tags, splice, flip, cut])(rng, content)
            elif choice < 0.45:
                continue
            elif choice < 0.55:
                name = name.upper()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # zipfile warns of the duplicate name
                if choice > 0.9:
                    out.writestr(name, content)
                out.writestr(name, content)
    return buffer.getvalue()


Mutation = Callable[[random.Random, bytes], bytes]
MUTATIONS: dict[str, list[Mutation]] = {
    ".pdf": [flip, cut, splice, tags],
    ".docx": [members, members, flip, cut, splice],
    ".odt": [members, members, flip, cut, splice],
    ".html": [tags, tags, flip, cut, splice],
}


def corpus() -> list[tuple[str, bytes]]:
    rng = random.Random(SEED)
    made: list[tuple[str, bytes]] = []
    for suffix, originals in seeds().items():
        for number in range(PER_FORMAT):
            data = rng.choice(originals)
            for _ in range(rng.randint(1, 3)):
                data = rng.choice(MUTATIONS[suffix])(rng, data) or data
            made.append((f"communiqué-{number}{suffix}", data))
    return made


def test_every_damaged_communique_is_read_or_refused_in_french(
    caplog: pytest.LogCaptureFixture,
) -> None:
    files = corpus()
    assert len(files) >= 1000
    read = refused = 0
    with (
        caplog.at_level(logging.WARNING, logger="carto"),
        ReaderPool(1, wall_seconds=20, cpu_seconds=10, nice=0) as pool,
    ):
        for name, data in files:
            try:
                document = pool.read(data, name)
            except DocumentError as exc:
                message = str(exc)
                assert f"« {name} »" in message, message
                assert "Traceback" not in message and "Error" not in message, message
                refused += 1
            else:
                assert isinstance(document, Document) and document.blocks
                read += 1
    # A library failure that escaped read_document would show up here, in the log.
    unexpected = [r for r in caplog.records if "unexpected" in r.getMessage()]
    assert not unexpected, unexpected[0].getMessage()
    assert read and refused  # the corpus holds both: the mutations are not all fatal
