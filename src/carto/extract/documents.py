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
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carto.errors import CartoError
from carto.intake.sniffing import DEFAULT_MAX_BYTES, bomless_utf16
from carto.text import fold_key

logger = logging.getLogger(__name__)

# The upload limit of every file an editor drops (and of Streamlit's .streamlit/config.toml).
MAX_BYTES = DEFAULT_MAX_BYTES
MAX_PAGES = 200
# Characters of text: a weekly communiqué has about 10,000; extraction takes a few seconds at
# this bound.
MAX_TEXT = 100_000
# A .docx/.odt is a zip: the bytes actually inflated while reading it, counted as they stream
# out (the sizes a zip declares are not trusted), at most this (zip bombs).
MAX_UNZIPPED = 10 * MAX_BYTES
# XML (Word, OpenDocument) and HTML, parsed as a stream that stops at these: elements, nesting
# depth, and paragraphs (empty ones included). A weekly communiqué saved by Word has a few
# thousand elements, 20 levels and a few hundred paragraphs.
MAX_ELEMENTS = 200_000
MAX_DEPTH = 100
MAX_PARAGRAPHS = 20_000
# PDF: content streams of all pages, counted decompressed (a stream shared by several pages
# counts once per page: each page parses it), and any one stream decompressed.
MAX_PDF_CONTENT = 10 * 2**20
MAX_PDF_STREAM = 16 * 2**20
MAX_PDF_OPERATIONS = 1_000_000
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
    """The blocks of a communiqué given as bytes; the extension of `filename` picks the reader.

    Every failure, a library's included, is a DocumentError with a French message (the
    library's exception chained, for the log)."""
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
    try:
        lines = _bounded(readers[suffix](data, filename), filename)
        blocks = _blocks(_drop_furniture(lines))
    except DocumentError:
        raise
    except MemoryError as exc:
        raise DocumentError(
            f"La lecture de « {filename} » demandait trop de mémoire : refusé. Déposez le "
            "communiqué seul, ou son texte."
        ) from exc
    except RecursionError as exc:
        raise DocumentError(
            f"« {filename} » est imbriqué trop profondément pour être lu : refusé."
        ) from exc
    except Exception as exc:  # noqa: BLE001 - any library's failure, in French; details logged
        logger.info("reading %s failed", filename, exc_info=True)
        raise DocumentError(
            f"Le fichier {FORMATS[suffix] if suffix != '.txt' else 'texte'} « {filename} » est "
            "illisible ou abîmé : enregistrez-le à nouveau, ou déposez son texte."
        ) from exc
    if not any(not b.heading for b in blocks):
        raise DocumentError(
            f"Aucun texte trouvé dans « {filename} » (document vide, ou PDF fait d'images "
            "numérisées : il faut alors le texte du communiqué)."
        )
    return Document(filename, FORMATS[suffix], blocks)


def _bounded(lines: Iterable[_Line], filename: str) -> list[_Line]:
    """The lines, stopping as soon as they hold more than MAX_TEXT characters or MAX_PARAGRAPHS
    paragraphs; lone surrogates (a PDF's broken ToUnicode map) become U+FFFD."""
    kept: list[_Line] = []
    size = 0
    paragraphs = 0
    for line in lines:
        size += len(line.text)
        if size > MAX_TEXT:
            raise DocumentError(
                f"« {filename} » contient plus de {_count(MAX_TEXT)} caractères de texte : c'est "
                f"trop pour un communiqué ({_count(MAX_TEXT)} au plus). Déposez le communiqué "
                "seul."
            )
        paragraphs += line.end
        if paragraphs > MAX_PARAGRAPHS:
            raise _too_many(filename, MAX_PARAGRAPHS, "paragraphes")
        if _SURROGATE.search(line.text):
            line = _Line(_SURROGATE.sub("\ufffd", line.text), line.heading, line.page, line.end)
        kept.append(line)
    return kept


_SURROGATE = re.compile("[\ud800-\udfff]")


def _too_many(filename: str, limit: int, what: str) -> DocumentError:
    return DocumentError(
        f"« {filename} » contient plus de {_count(limit)} {what} : c'est trop pour un communiqué "
        f"({_count(limit)} au plus). Déposez le communiqué seul, ou son texte."
    )


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
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError

    # pypdf logs the damage it works around; the user gets one French message instead.
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    limits = {
        "maximum_declared_stream_length": MAX_BYTES,
        "zlib_maximum_output_length": MAX_PDF_STREAM,
        "lzw_maximum_output_length": MAX_PDF_STREAM,
        "run_length_maximum_output_length": MAX_PDF_STREAM,
        "array_based_stream_maximum_output_length": MAX_PDF_STREAM,
        "brotli_maximum_output_length": MAX_PDF_STREAM,
        "stream_decoding_work_maximum_length": 4 * MAX_PDF_STREAM,
        "xform_maximum_invocations_per_extraction": 500,
        # Operands and operators parsed in one content stream.
        "stream_parsing_work_maximum_count": MAX_PDF_OPERATIONS,
    }
    texts: list[str] = []
    try:
        with apply_configuration(None, **limits):
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not _open_without_password(reader):
                raise DocumentError(
                    f"Le PDF « {name} » est protégé par un mot de passe : enregistrez-le sans "
                    "mot de passe, ou déposez son texte."
                )
            pages = reader.pages
            if len(pages) > MAX_PAGES:
                raise DocumentError(
                    f"Le PDF « {name} » a {len(pages)} pages : {MAX_PAGES} au plus pour un "
                    "communiqué."
                )
            # What the pages' content streams hold, counted before any is parsed.
            content = 0
            for page in pages:
                content += _content_size(page)
                if content > MAX_PDF_CONTENT:
                    raise DocumentError(
                        f"Le PDF « {name} » contient plus de {MAX_PDF_CONTENT // 2**20} Mo de "
                        f"contenu de pages une fois décompressé : c'est trop pour un communiqué "
                        f"({MAX_PDF_CONTENT // 2**20} Mo au plus)."
                    )
            texts = [_page_text(page) for page in pages]
    except DocumentError:
        raise
    except LimitReachedError as exc:
        raise DocumentError(
            f"Le PDF « {name} » dépasse une limite de lecture (flux de plus de "
            f"{MAX_PDF_STREAM // 2**20} Mo une fois décompressé, ou structure trop grande) : "
            "refusé. Enregistrez-le à nouveau en PDF, ou déposez son texte."
        ) from exc
    except NotImplementedError as exc:
        raise DocumentError(
            f"Le PDF « {name} » utilise une fonction de PDF que le lecteur ne connaît pas : "
            "enregistrez-le à nouveau en PDF, ou déposez son texte."
        ) from exc
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on damaged files
        raise DocumentError(
            f"Le PDF « {name} » est illisible ou abîmé : enregistrez-le à nouveau en PDF."
        ) from exc
    for number, text in enumerate(texts, start=1):
        for line in text.splitlines():
            yield _Line(line, page=number)
        yield _Line("", page=number, end=True)


def _open_without_password(reader: Any) -> bool:
    """Open a PDF whose only password is the owner's (it opens in any viewer)."""
    from pypdf import PasswordType

    try:
        return bool(reader.decrypt("") != PasswordType.NOT_DECRYPTED)
    except Exception:  # noqa: BLE001 - an encryption pypdf cannot undo: asked for a password
        logger.info("PDF decryption failed", exc_info=True)
        return False


def _content_size(page: Any) -> int:
    """The decompressed size of a page's content streams (pypdf keeps what it decoded)."""
    contents = page.get("/Contents")
    if contents is None:
        return 0
    contents = contents.get_object()
    streams = contents if isinstance(contents, list) else [contents]
    size = 0
    for stream in streams[:10_000]:
        stream = stream.get_object()
        if hasattr(stream, "get_data"):
            size += len(stream.get_data())
            if size > MAX_PDF_CONTENT:
                break
    return size


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
    from lxml import etree

    # Count elements and depth on a stream first: the tree below is built only within limits.
    chunks = (data[start : start + _CHUNK] for start in range(0, len(data), _CHUNK))
    _Markup(name).count(etree.HTMLPullParser(events=("start", "end"), no_network=True), chunks)
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


class _Markup:
    """Elements and nesting depth of one reading's XML or HTML, counted as the parser streams
    them; the bytes inflated out of a zip too. Refuses past the limits, before the cost."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.elements = 0
        self.depth = 0
        self.unzipped = 0

    def inflate(self, size: int) -> None:
        self.unzipped += size
        if self.unzipped > MAX_UNZIPPED:
            raise DocumentError(
                f"« {self.name} » dépasse {MAX_UNZIPPED // 2**20} Mo une fois décompressé : "
                f"c'est trop pour un communiqué ({MAX_UNZIPPED // 2**20} Mo au plus)."
            )

    def ends(self, parser: Any, chunks: Iterable[bytes]) -> Iterator[Any]:
        """The parser's elements as each ends (its children parsed), elements and depth
        counted as they start, while the chunks are fed to it."""
        from lxml import etree

        def drain() -> Iterator[Any]:
            for event, element in parser.read_events():
                if event == "start":
                    self.elements += 1
                    self.depth += 1
                    if self.elements > MAX_ELEMENTS or self.depth > MAX_DEPTH:
                        self.refuse()
                else:
                    self.depth -= 1
                    yield element

        try:
            for chunk in chunks:
                parser.feed(chunk)
                yield from drain()
            parser.close()
        except etree.XMLSyntaxError:
            yield from drain()  # what came before the error: a limit, if one was passed
            raise
        yield from drain()

    def refuse(self) -> None:
        if self.elements > MAX_ELEMENTS:
            raise _too_many(self.name, MAX_ELEMENTS, "éléments (balises)")
        raise DocumentError(
            f"« {self.name} » imbrique plus de {MAX_DEPTH} éléments les uns dans les "
            f"autres : c'est trop pour un communiqué ({MAX_DEPTH} niveaux au plus)."
        )

    def count(self, parser: Any, chunks: Iterable[bytes]) -> None:
        """Count a whole document, its elements freed as they end."""
        for element in self.ends(parser, chunks):
            element.clear()

    def member(self, archive: zipfile.ZipFile, member: str) -> Iterator[bytes]:
        """A zip member's bytes, in chunks, counted as they inflate."""
        with archive.open(member) as stream:
            while chunk := stream.read(_CHUNK):
                self.inflate(len(chunk))
                yield chunk


_CHUNK = 64 * 1024


def _xml_parser() -> Any:
    from lxml import etree

    return etree.XMLPullParser(
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _open_zip(data: bytes, name: str) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise DocumentError(
            f"« {name} » n'est pas un document Word ou OpenDocument valide (fichier abîmé ou "
            "mal nommé)."
        ) from exc
    if total > MAX_UNZIPPED:
        raise DocumentError(
            f"« {name} » occuperait {total / 2**20:.0f} Mo une fois décompressé : c'est trop pour "
            f"un communiqué ({MAX_UNZIPPED // 2**20} Mo au plus)."
        )
    return archive


def _zip_xml(archive: zipfile.ZipFile, member: str, markup: _Markup, kind: str) -> Iterator[Any]:
    """A zip member's XML elements as each ends; DocumentError when missing or damaged."""
    from lxml import etree

    try:
        archive.getinfo(member)
    except KeyError as exc:
        raise DocumentError(
            f"Le fichier {kind} « {markup.name} » est illisible ou abîmé ({member} manque)."
        ) from exc
    try:
        yield from markup.ends(_xml_parser(), markup.member(archive, member))
    except etree.XMLSyntaxError as exc:
        raise DocumentError(
            f"Le fichier {kind} « {markup.name} » est illisible ou abîmé (XML invalide dans "
            f"{member})."
        ) from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise DocumentError(
            f"Le fichier {kind} « {markup.name} » est illisible ou abîmé (archive endommagée)."
        ) from exc


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE_DOCUMENT = "/officeDocument"


def _docx_lines(data: bytes, name: str) -> Iterator[_Line]:
    """Body paragraphs of a Word document, as python-docx gives them (`document.paragraphs`:
    tables aside), streamed out of word/document.xml."""
    archive = _open_zip(data, name)
    markup = _Markup(name)
    with archive:
        main = _relationship_target(archive, "_rels/.rels", "", _OFFICE_DOCUMENT, markup)
        main = main or "word/document.xml"
        folder = main.rpartition("/")[0]
        rels = f"{folder}/_rels/{main.rpartition('/')[2]}.rels"
        styles_part = _relationship_target(archive, rels, folder, "/styles", markup)
        styles, default = _docx_styles(archive, styles_part, markup)
        yield from _docx_paragraphs(_zip_xml(archive, main, markup, "Word"), styles, default)


def _relationship_target(
    archive: zipfile.ZipFile, rels: str, folder: str, kind: str, markup: _Markup
) -> str | None:
    if rels not in archive.namelist():
        return None
    for element in _zip_xml(archive, rels, markup, "Word"):
        if element.tag != f"{_REL}Relationship":
            continue
        if str(element.get("Type", "")).endswith(kind) and element.get("TargetMode") != "External":
            target = str(element.get("Target", ""))
            if target.startswith("/"):
                return target.lstrip("/")
            return f"{folder}/{target}" if folder else target
    return None


def _docx_styles(
    archive: zipfile.ZipFile, part: str | None, markup: _Markup
) -> tuple[dict[str, str], str]:
    """Paragraph style names by id, and the default paragraph style's name."""
    names: dict[str, str] = {}
    default = ""
    if part is None or part not in archive.namelist():
        return names, default
    for element in _zip_xml(archive, part, markup, "Word"):
        if element.tag != f"{_W}style":
            continue
        if element.get(f"{_W}type") == "paragraph":
            name_element = element.find(f"{_W}name")
            style_name = "" if name_element is None else str(name_element.get(f"{_W}val", ""))
            names[str(element.get(f"{_W}styleId", ""))] = style_name
            if element.get(f"{_W}default") in ("1", "true", "on"):
                default = style_name
        element.clear()
    return names, default


# Text of a run's children, as python-docx's `Run.text` gives it.
_RUN_TEXT = {
    f"{_W}tab": "\t",
    f"{_W}br": "\n",
    f"{_W}cr": "\n",
    f"{_W}noBreakHyphen": "-",
    f"{_W}ptab": "\t",
}


def _docx_paragraphs(
    elements: Iterator[Any], styles: dict[str, str], default: str
) -> Iterator[_Line]:
    body = f"{_W}body"
    for element in elements:
        parent = element.getparent()
        if parent is None or parent.tag != body:
            continue
        if element.tag == f"{_W}p":
            style_id = element.find(f"{_W}pPr/{_W}pStyle")
            style = default
            if style_id is not None:
                style = styles.get(str(style_id.get(f"{_W}val", "")), default)
            heading = fold_key(style).startswith(("heading", "titre", "title"))
            yield _Line(_docx_text(element), heading=heading, end=True)
        _free(element)


def _free(element: Any) -> None:
    """Forget an element that is done with, and its elder siblings (a streamed tree stays
    small)."""
    element.clear()
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        del parent[0]


def _docx_text(paragraph: Any) -> str:
    parts: list[str] = []
    for child in paragraph:
        runs = [child] if child.tag == f"{_W}r" else []
        if child.tag == f"{_W}hyperlink":
            runs = [run for run in child if run.tag == f"{_W}r"]
        for run in runs:
            for item in run:
                if item.tag == f"{_W}t":
                    parts.append(item.text or "")
                elif item.tag == f"{_W}br":
                    kind = item.get(f"{_W}type")
                    parts.append("\n" if kind in (None, "textWrapping") else "")
                else:
                    parts.append(_RUN_TEXT.get(item.tag, ""))
    return "".join(parts)


_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"


_ODT_TOP = (f"{_OFFICE}text", f"{_OFFICE}document-content")


def _odt_lines(data: bytes, name: str) -> Iterator[_Line]:
    """Headings and paragraphs of an OpenDocument text, streamed out of content.xml: those of
    office:text, outermost ones only (odfpy's teletype gives the text of the inner ones)."""
    archive = _open_zip(data, name)
    markup = _Markup(name)
    blocks = (f"{_TEXT}p", f"{_TEXT}h")
    with archive:
        for element in _zip_xml(archive, "content.xml", markup, "OpenDocument"):
            parent = element.getparent()
            if element.tag in blocks:
                ancestor = parent
                while ancestor is not None and ancestor.tag not in blocks:
                    if ancestor.tag == f"{_OFFICE}text":
                        heading = element.tag == f"{_TEXT}h"
                        yield _Line(_odt_text(element), heading=heading, end=True)
                        break
                    ancestor = ancestor.getparent()
            if parent is not None and parent.tag in _ODT_TOP:
                _free(element)


def _odt_text(element: Any) -> str:
    """A paragraph's text as odfpy's teletype gives it: spaces, tabs and line breaks spelt out."""
    parts: list[str] = []
    budget = MAX_TEXT + 1
    # An explicit stack: nesting is bounded by MAX_DEPTH already, but no recursion anyway.
    stack: list[tuple[Any, bool]] = [(element, False)]
    while stack:
        node, tail = stack.pop()
        if tail:
            parts.append(node.tail or "")
            continue
        if node is not element:
            stack.append((node, True))
        tag = node.tag
        if tag == f"{_TEXT}line-break":
            parts.append("\n")
        elif tag == f"{_TEXT}tab":
            parts.append("\t")
        elif tag == f"{_TEXT}s":
            count = str(node.get(f"{_TEXT}c", "1") or "1")
            spaces = int(count) if count.isdigit() else 1
            budget -= spaces
            if budget < 0:  # « c="999999999" »: past the limit, not spelt out
                parts.append(" " * (MAX_TEXT + 1))
                break
            parts.append(" " * spaces)
        else:
            parts.append(node.text or "")
            stack.extend((child, False) for child in reversed(node))
    return "".join(parts)[: MAX_TEXT + 1]


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
