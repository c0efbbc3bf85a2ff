"""Hostile communiqués, built here: each is refused in French naming the limit it passes, before
its cost is paid, or read when a viewer would read it (issue 18)."""

from __future__ import annotations

import io
import zipfile

import pytest
from communique_files import (
    SENTENCE,
    docx,
    encrypted_pdf,
    flate,
    odt,
    repeat,
    sentence_content,
    stream,
    text_pdf,
)

from carto.extract import DocumentError, read_document
from carto.extract.documents import (
    MAX_DEPTH,
    MAX_ELEMENTS,
    MAX_PARAGRAPHS,
    MAX_PDF_STREAM,
)


def _n(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")


# -- the bombs of the issue, each refused naming its limit


def test_a_word_file_of_empty_paragraphs_is_refused_before_it_is_read() -> None:
    data = docx(repeat(b"<w:p/>", 100_000))
    assert len(data) < 4_000
    with pytest.raises(DocumentError, match=f"plus de {_n(MAX_PARAGRAPHS)} paragraphes"):
        read_document(data, "paragraphes.docx")


def test_a_word_file_of_a_million_runs_is_refused_at_the_element_limit() -> None:
    data = docx([b"<w:p>", *repeat(b"<w:r/>", 1_500_000), b"</w:p>"])
    assert len(data) < 20_000
    with pytest.raises(DocumentError, match=f"plus de {_n(MAX_ELEMENTS)} éléments"):
        read_document(data, "runs.docx")


def test_an_opendocument_of_twenty_megabytes_of_paragraphs_is_refused() -> None:
    data = odt(repeat(b"<text:p/>", 20 * 2**20 // 9))
    assert len(data) < 60_000
    with pytest.raises(DocumentError, match=f"plus de {_n(MAX_PARAGRAPHS)} paragraphes"):
        read_document(data, "paragraphes.odt")


def test_an_opendocument_of_nested_spans_is_refused_in_french() -> None:
    data = odt([b"<text:p>", *repeat(b"<text:span>", 200_000), b"x"])  # left open: damaged too
    with pytest.raises(DocumentError, match=f"plus de {MAX_DEPTH} éléments les uns dans les"):
        read_document(data, "imbrique.odt")


def test_an_opendocument_of_spaces_counted_in_billions_is_refused() -> None:
    data = odt([b'<text:p>a<text:s text:c="900000000"/>b</text:p>'])
    with pytest.raises(DocumentError, match="caractères de texte"):
        read_document(data, "espaces.odt")


def test_html_of_nested_divs_is_refused_at_the_depth_limit() -> None:
    page = b"<html><body>" + b"<div>" * 8000 + f"<p>{SENTENCE}</p>".encode() + b"</body></html>"
    with pytest.raises(DocumentError, match=f"plus de {MAX_DEPTH} éléments les uns dans les"):
        read_document(page, "divs.html")


def test_pdf_pages_sharing_one_huge_stream_are_refused_at_the_stream_limit() -> None:
    # The file shares 60 Mo; past the limit, the size does not change the outcome.
    shared = flate(sentence_content() + b"\n" + b" " * (MAX_PDF_STREAM + 2**20))
    data = text_pdf([4] * 200, [shared])
    assert len(data) < 200_000
    with pytest.raises(DocumentError, match=f"{MAX_PDF_STREAM // 2**20} Mo"):
        read_document(data, "partage.pdf")


def test_pdf_pages_sharing_one_stream_within_the_stream_limit_are_refused_in_total() -> None:
    shared = flate(sentence_content() + b"\n" + b" " * (2 * 2**20))
    data = text_pdf([4] * 100, [shared])
    with pytest.raises(DocumentError, match="Mo de contenu de pages"):
        read_document(data, "partage.pdf")


def test_a_pdf_limit_of_pypdf_is_french() -> None:
    data = text_pdf([4], [stream(sentence_content())], page=b"/Annots [" + b"0 " * 100_001 + b"]")
    with pytest.raises(DocumentError, match="limite de lecture"):
        read_document(data, "limite.pdf")


def test_a_pdf_filter_pypdf_does_not_know_is_french() -> None:
    data = text_pdf([4], [stream(sentence_content(), extra=b"/Filter /MysteryDecode ")])
    with pytest.raises(DocumentError, match="ne connaît pas"):
        read_document(data, "filtre.pdf")


# -- files that a viewer reads are read


def test_a_pdf_mapping_text_to_a_lone_surrogate_reads_clean() -> None:
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Bad def "
        b"1 begincodespacerange <00> <FF> endcodespacerange 1 beginbfchar <41> <D800> "
        b"endbfchar endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    broken = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>"
    content = sentence_content() + b" BT /F2 12 Tf 72 700 Td (Colis livres a Avion) Tj ET"
    data = text_pdf([4], [stream(content), broken, stream(cmap)], fonts=b"/F1 3 0 R /F2 5 0 R")
    text = read_document(data, "surrogate.pdf").text
    assert SENTENCE in text
    assert "Colis livres a \ufffdvion" in text  # the broken letter shown as such, not dropped
    text.encode("utf-8")  # the CLI and the page print it: no UnicodeEncodeError


def test_a_pdf_with_only_an_owner_password_is_read() -> None:
    data = encrypted_pdf(text_pdf([4], [stream(sentence_content())]), user_password="")
    assert SENTENCE in read_document(data, "proprietaire.pdf").text


def test_a_pdf_asking_for_a_password_is_refused_in_french() -> None:
    data = encrypted_pdf(text_pdf([4], [stream(sentence_content())]), user_password="secret")
    with pytest.raises(DocumentError, match="protégé par un mot de passe"):
        read_document(data, "secret.pdf")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_text_without_bom_is_read(encoding: str) -> None:
    data = f"Communiqué\n\n{SENTENCE}\n".encode(encoding)
    assert SENTENCE in read_document(data, "communique.txt").text


# -- what already held keeps holding


def test_billion_laughs_and_external_entities_are_not_expanded(tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("MOT-DE-PASSE", encoding="utf-8")
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "ha"}">' for i in range(10))
    prolog = (
        f'<?xml version="1.0"?><!DOCTYPE w:document [{laughs}'
        f'<!ENTITY xxe SYSTEM "file://{secret}">]>'
    )
    body = b"<w:p><w:r><w:t>&l9;&xxe;</w:t></w:r></w:p>"
    data = docx([body])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("word/document.xml").decode()
    rebuilt = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(rebuilt, "w") as new:
        for info in old.infolist():
            content = old.read(info)
            if info.filename == "word/document.xml":
                content = (prolog + xml.split("?>", 1)[1]).encode()
            new.writestr(info.filename, content)
    try:
        text = read_document(rebuilt.getvalue(), "entites.docx").text
    except DocumentError:
        return  # refused is fine; never expanded
    assert "MOT-DE-PASSE" not in text
    assert "haha" not in text
