"""Communiqués read into clean text blocks: PDF, HTML, Word (.docx), OpenDocument (.odt), text.

Each reader gives lines, marked as headings when the format says so (HTML <h2>, a Word
« Titre 2 » style, an ODT <text:h>). The shared cleaning then drops page furniture (navigation,
footers repeated on every page, page numbers, bare link lines repeating an address already
given) and joins wrapped lines into paragraphs. Nothing here knows about initiatives.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carto.errors import CartoError
from carto.intake.sniffing import DEFAULT_MAX_BYTES, bomless_utf16
from carto.text import fold_key

# The upload limit of every file an editor drops (and of Streamlit's .streamlit/config.toml).
MAX_BYTES = DEFAULT_MAX_BYTES
MAX_PAGES = 200
# Characters of text: a weekly communiqué has about 10,000; extraction takes a few seconds at
# this bound.
MAX_TEXT = 100_000
# A .docx/.odt is a zip: refuse one that would inflate past this (zip bombs).
MAX_UNZIPPED = 10 * MAX_BYTES
FORMATS = {
    ".pdf": "PDF",
    ".html": "HTML",
    ".htm": "HTML",
    ".docx": "Word",
    ".odt": "OpenDocument",
    ".txt": "texte",
}


class DocumentError(CartoError):
    """A communiqué cannot be read: format, size, damaged or empty file. French message."""


@dataclass(frozen=True)
class Block:
    """A heading or a paragraph of the communiqué, its lines joined."""

    text: str
    heading: bool = False


@dataclass
class Document:
    """The communiqué's blocks, in reading order, and the name it was read from."""

    name: str
    format: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks)


@dataclass(frozen=True)
class _Line:
    text: str
    heading: bool = False
    page: int = 0
    # A hard break: the format says a paragraph ends here (HTML <p>, a Word paragraph).
    end: bool = False


# -- entry points


def read_path(path: Path) -> Document:
    """Read a communiqué file; DocumentError (French) when it cannot be."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"Fichier « {path} » introuvable ou illisible.") from exc
    _check_size(size, path.name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"Fichier « {path} » illisible ({exc.strerror}).") from exc
    return read_document(data, path.name)


def read_document(data: bytes, filename: str) -> Document:
    """The blocks of a communiqué given as bytes; the extension of `filename` picks the reader."""
    suffix = Path(filename).suffix.lower()
    if suffix not in FORMATS:
        accepted = ", ".join(sorted({s for s in FORMATS if s != ".htm"}))
        raise DocumentError(
            f"Format de « {filename} » non pris en charge : un communiqué doit être un fichier "
            f"{accepted}."
        )
    _check_size(len(data), filename)
    if not data.strip():
        raise DocumentError(f"Le fichier « {filename} » est vide.")
    readers = {
        ".pdf": _pdf_lines,
        ".html": _html_lines,
        ".htm": _html_lines,
        ".docx": _docx_lines,
        ".odt": _odt_lines,
        ".txt": _txt_lines,
    }
    lines = list(readers[suffix](data, filename))
    size = sum(len(line.text) for line in lines)
    if size > MAX_TEXT:
        raise DocumentError(
            f"« {filename} » contient {_count(size)} caractères de texte : c'est trop pour un "
            f"communiqué ({_count(MAX_TEXT)} au plus). Déposez le communiqué seul."
        )
    blocks = _blocks(_drop_furniture(lines))
    if not any(not b.heading for b in blocks):
        raise DocumentError(
            f"Aucun texte trouvé dans « {filename} » (document vide, ou PDF fait d'images "
            "numérisées : il faut alors le texte du communiqué)."
        )
    return Document(filename, FORMATS[suffix], blocks)


def _count(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")


def _check_size(size: int, name: str) -> None:
    if size > MAX_BYTES:
        raise DocumentError(
            f"Le fichier « {name} » fait {size / 2**20:.1f} Mo : un communiqué ne peut pas "
            f"dépasser {MAX_BYTES // 2**20} Mo."
        )


# -- readers


def _pdf_lines(data: bytes, name: str) -> Iterator[_Line]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    # pypdf logs the damage it works around; the user gets one French message instead.
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentError(f"Le PDF « {name} » est protégé par un mot de passe.")
        pages = reader.pages
        if len(pages) > MAX_PAGES:
            raise DocumentError(
                f"Le PDF « {name} » a {len(pages)} pages : {MAX_PAGES} au plus pour un communiqué."
            )
        texts = [_page_text(page) for page in pages]
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise DocumentError(
            f"Le PDF « {name} » est illisible ou abîmé : enregistrez-le à nouveau en PDF."
        ) from exc
    for number, text in enumerate(texts, start=1):
        for line in text.splitlines():
            yield _Line(line, page=number)
        yield _Line("", page=number, end=True)


def _page_text(page: Any) -> str:
    """A PDF page's text, with a blank line wherever the space between two lines is clearly
    wider than the usual line spacing (a new paragraph), read from the text positions."""
    chunks: list[tuple[float, str]] = []

    def visit(text: str, _cm: Any, tm: Any, _font: Any, _size: Any) -> None:
        if text.strip():
            chunks.append((float(tm[5]), text))

    plain = page.extract_text(visitor_text=visit) or ""
    lines: list[tuple[float, str]] = []
    for y, text in chunks:
        for part in text.split("\n"):
            if lines and abs(lines[-1][0] - y) < 1.0:
                lines[-1] = (lines[-1][0], lines[-1][1] + part)
            elif part.strip():
                lines.append((y, part))
    if len(lines) < 2 or any(b[0] > a[0] + 1.0 for a, b in zip(lines, lines[1:], strict=False)):
        return plain  # positions not usable (rotated or multi-column page): plain text
    gaps = sorted(a[0] - b[0] for a, b in zip(lines, lines[1:], strict=False))
    usual = gaps[len(gaps) // 4] if gaps else 0.0
    out: list[str] = [lines[0][1]]
    for (y_before, _), (y, text) in zip(lines, lines[1:], strict=False):
        if usual and y_before - y > 1.4 * usual:
            out.append("")
        out.append(text)
    return "\n".join(out)


_HTML_DROP = (
    "script",
    "style",
    "noscript",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "button",
    "svg",
    "iframe",
    "template",
)
_HTML_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "dd", "dt", "pre", "td", "th")
# Roles and class names of page furniture in CMS themes (the préfectures' sites among them).
_FURNITURE_HINT = re.compile(
    r"\b(nav|navbar|navigation|menu|breadcrumb|fil-ariane|footer|header|banner|skip|share|"
    r"partage|social|cookie|sidebar|fr-header|fr-footer|fr-breadcrumb|fr-share)\b",
    re.IGNORECASE,
)


def _html_lines(data: bytes, name: str) -> Iterator[_Line]:
    from bs4 import BeautifulSoup, Tag

    try:
        soup = BeautifulSoup(data, "lxml")
    except (ValueError, TypeError, LookupError) as exc:
        raise DocumentError(f"La page HTML « {name} » est illisible.") from exc
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    for tag in soup.find_all(True):
        if not isinstance(tag, Tag) or tag.decomposed:
            continue
        attrs = tag.attrs or {}
        marks = " ".join(
            [
                str(attrs.get("role", "")),
                str(attrs.get("id", "")),
                " ".join(attrs.get("class", []) or []),
            ]
        )
        if _FURNITURE_HINT.search(marks):
            tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    for tag in root.find_all(_HTML_BLOCKS) if isinstance(root, Tag) else []:
        if not isinstance(tag, Tag) or tag.find(_HTML_BLOCKS):
            continue  # the inner block gives the text
        text = " ".join(tag.get_text(" ").split())
        # Links written as « ici » keep their address for the contacts.
        hrefs = [
            str(a.get("href"))
            for a in tag.find_all("a")
            if isinstance(a, Tag) and str(a.get("href", "")).startswith(("http", "mailto:"))
        ]
        for href in hrefs:
            shown = href.removeprefix("mailto:")
            if shown not in text:
                text += f" {shown}"
        if text:
            yield _Line(text, heading=tag.name.startswith("h") and len(tag.name) == 2, end=True)


def _docx_lines(data: bytes, name: str) -> Iterator[_Line]:
    from docx import Document as WordDocument

    _check_zip(data, name)
    try:
        document = WordDocument(io.BytesIO(data))
    except (ValueError, KeyError, zipfile.BadZipFile, OSError) as exc:
        raise DocumentError(f"Le fichier Word « {name} » est illisible ou abîmé.") from exc
    except Exception as exc:  # python-docx raises its own errors for non-Word packages
        raise DocumentError(f"Le fichier Word « {name} » est illisible ou abîmé.") from exc
    for paragraph in document.paragraphs:
        style = fold_key(paragraph.style.name if paragraph.style is not None else "")
        heading = style.startswith(("heading", "titre", "title"))
        yield _Line(paragraph.text, heading=heading, end=True)


def _odt_lines(data: bytes, name: str) -> Iterator[_Line]:
    from odf import teletype
    from odf.namespaces import TEXTNS
    from odf.opendocument import load

    _check_zip(data, name)
    try:
        document = load(io.BytesIO(data))
    except Exception as exc:  # odfpy raises whatever its XML or zip layer raises
        raise DocumentError(f"Le fichier OpenDocument « {name} » est illisible ou abîmé.") from exc

    def walk(node: object) -> Iterator[_Line]:
        for child in getattr(node, "childNodes", []):
            qname = getattr(child, "qname", None)
            if qname == (TEXTNS, "h"):
                yield _Line(teletype.extractText(child), heading=True, end=True)
            elif qname == (TEXTNS, "p"):
                yield _Line(teletype.extractText(child), end=True)
            else:
                yield from walk(child)

    yield from walk(document.text)


def _txt_lines(data: bytes, name: str) -> Iterator[_Line]:
    bom = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    utf16 = "utf-16" if bom else bomless_utf16(data)
    if b"\x00" in data[:4096] and utf16 is None:
        raise DocumentError(f"« {name} » n'est pas un fichier texte.")
    for encoding in (utf16,) if utf16 else ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        break
    else:
        raise DocumentError(
            f"Encodage de « {name} » non reconnu : enregistrez-le en UTF-8 (ou UTF-16)."
        )
    for line in text.splitlines():
        yield _Line(line)


def _check_zip(data: bytes, name: str) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise DocumentError(
            f"« {name} » n'est pas un document Word ou OpenDocument valide (fichier abîmé ou "
            "mal nommé)."
        ) from exc
    if total > MAX_UNZIPPED:
        raise DocumentError(f"« {name} » est trop volumineux une fois décompressé : refusé.")


# -- page furniture

_PAGE_NUMBER = re.compile(r"^(page\s*)?\d{1,3}(\s*(/|sur)\s*\d{1,3})?$", re.IGNORECASE)
_URL_ONLY = re.compile(r"^(mailto:|https?://|www\.)\S+$", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]{2,}")


def _url_key(url: str) -> str:
    key = url.lower().removeprefix("mailto:")
    key = re.sub(r"^https?://", "", key).removeprefix("www.")
    return key.rstrip("/")


def _drop_furniture(lines: list[_Line]) -> list[_Line]:
    """Lines without page numbers, footers repeated on several pages, stray symbols, and bare
    link lines that repeat an address already written (a PDF's link annotations)."""
    pages = {line.page for line in lines}
    repeated: set[str] = set()
    if len(pages) > 1:
        per_page = Counter(
            key for key in {(line.page, _norm(line.text)) for line in lines if line.text.strip()}
        )
        counts = Counter(text for (_page, text) in per_page)
        repeated = {text for text, n in counts.items() if n >= 2 and len(pages) >= 2}
    kept: list[_Line] = []
    seen_urls: set[str] = set()
    for line in lines:
        text = " ".join(line.text.split())
        if not text:
            kept.append(_Line("", page=line.page, end=True))
            continue
        norm = _norm(text)
        if norm in repeated or _PAGE_NUMBER.match(text) or not _WORD.search(text):
            continue
        tokens = text.split()
        if all(_URL_ONLY.match(token) for token in tokens):
            keys = [_url_key(token) for token in tokens]
            if all(any(k == seen or k.startswith(seen) for seen in seen_urls) for k in keys):
                continue  # link lines repeating addresses already given
        for url in re.findall(r"(?:https?://|www\.|mailto:)\S+|[\w.+-]+@[\w-]+\.[\w.-]+", text):
            seen_urls.add(_url_key(url.rstrip(".,;)")))
        kept.append(_Line(text, heading=line.heading, page=line.page, end=line.end))
    return kept


def _norm(text: str) -> str:
    return fold_key(text)


# -- paragraphs

# A theme heading written as text: « - Solidaires avec les personnes isolées : ».
_TEXT_HEADING = re.compile(r"^\s*[-–—•▪*]\s*(?P<title>[^.!?]{3,120}?)\s*:?\s*$")
_SENTENCE_END = re.compile(r"[.!?»…:)]$")


def _blocks(lines: Iterable[_Line]) -> list[Block]:
    """Join wrapped lines into paragraphs. A paragraph ends at a blank line, at a break the
    format marks, after a line ending a sentence that is clearly shorter than the text width,
    and around headings."""
    lines = list(lines)
    widths = [len(line.text) for line in lines if line.text]
    width = sorted(widths)[int(len(widths) * 0.9)] if widths else 0
    blocks: list[Block] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            blocks.append(Block(_join(current)))
            current.clear()

    for line in lines:
        text = line.text.strip()
        if not text:
            flush()
            continue
        match = _TEXT_HEADING.match(text)
        heading = line.heading or bool(
            match and (text.endswith(":") or fold_key(match["title"]).startswith("solidair"))
        )
        if heading:
            flush()
            title = match["title"] if match and not line.heading else text
            blocks.append(Block(title.strip(" :"), heading=True))
            continue
        if _URL_ONLY.match(text) and current:
            flush()
        current.append(text)
        short = width and len(text) < 0.7 * width
        if line.end or (short and _SENTENCE_END.search(text)) or _URL_ONLY.match(text):
            flush()
    flush()
    return blocks


def _join(lines: list[str]) -> str:
    out = ""
    for line in lines:
        if not out:
            out = line
        elif out.endswith("-") and not out.endswith(" -"):
            # A word cut at the end of a line: « hydro-\nalcoolique » keeps its hyphen when the
            # next part is a word of its own; « Mercerie-\nHollande » too.
            out += line
        else:
            out += " " + line
    return " ".join(out.split())
