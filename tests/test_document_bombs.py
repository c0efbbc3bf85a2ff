"""Hostile communiqués, built here: each is refused in French naming the limit it passes, before
its cost is paid, or read when a viewer would read it (issue 18)."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterable, Iterator

import pytest

from carto.extract import DocumentError, read_document
from carto.extract.documents import (
    MAX_DEPTH,
    MAX_ELEMENTS,
    MAX_PARAGRAPHS,
    MAX_PDF_STREAM,
)

SENTENCE = "À Arras, l'association Main Tendue livre des repas aux personnes isolées."
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _n(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")


# -- builders


def docx(body: Iterable[bytes]) -> bytes:
    """A Word package whose word/document.xml body is written from the chunks (streamed into
    the zip: a body of hundreds of megabytes costs no memory here)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org'
            '/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
            'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="'
            'application/xml"/><Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
            'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="word/document.xml"/></Relationships>',
        )
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(
                f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W}"><w:body>'.encode()
            )
            for chunk in body:
                part.write(chunk)
            part.write(
                f"<w:p><w:r><w:t>{SENTENCE}</w:t></w:r></w:p></w:body></w:document>".encode()
            )
    return buffer.getvalue()


def odt(body: Iterable[bytes]) -> bytes:
    """An OpenDocument text whose office:text is written from the chunks."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        archive.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:'
            'names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry'
            ' manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"'
            '/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"'
            "/></manifest:manifest>",
        )
        with archive.open("content.xml", "w", force_zip64=True) as part:
            part.write(
                b'<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="'
                b'urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:'
                b'tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:text>'
            )
            for chunk in body:
                part.write(chunk)
            part.write(
                f"<text:p>{SENTENCE}</text:p></office:text></office:body>"
                "</office:document-content>".encode()
            )
    return buffer.getvalue()


def repeat(piece: bytes, times: int, *, chunk: int = 10_000) -> Iterator[bytes]:
    block = piece * chunk
    for _ in range(times // chunk):
        yield block
    yield piece * (times % chunk)


def pdf(objects: list[bytes], *, trailer: bytes = b"") -> bytes:
    """A PDF from its objects (1 is the catalog), with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        trailer,
        xref,
    )
    return bytes(out)


def stream(data: bytes, *, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def flate(data: bytes) -> bytes:
    return stream(zlib.compress(data, 9), extra=b"/Filter /FlateDecode ")


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


def text_pdf(
    contents: list[int], objects: list[bytes], *, fonts: bytes = b"/F1 3 0 R", page: bytes = b""
) -> bytes:
    """Pages (object 2 is the page tree, 3 the font) each showing the content object given."""
    first = 4 + len(objects)
    kids = b" ".join(b"%d 0 R" % (first + i) for i in range(len(contents)))
    pages = [
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << %s >> >> "
        b"/Contents %d 0 R %s>>" % (fonts, content, page)
        for content in contents
    ]
    head = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(contents)),
        FONT,
    ]
    return pdf(head + objects + pages)


def sentence_content() -> bytes:
    return b"BT /F1 12 Tf 72 760 Td (" + SENTENCE.encode("cp1252") + b") Tj ET"


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
    content = sentence_content() + b" BT /F2 12 Tf 72 700 Td (AAA) Tj ET"
    data = text_pdf([4], [stream(content), broken, stream(cmap)], fonts=b"/F1 3 0 R /F2 5 0 R")
    document = read_document(data, "surrogate.pdf")
    assert SENTENCE in document.text
    document.text.encode("utf-8")  # the CLI and the page print it: no UnicodeEncodeError


def test_a_pdf_with_only_an_owner_password_is_read() -> None:
    from pypdf import PdfReader, PdfWriter

    plain = text_pdf([4], [stream(sentence_content())])
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(plain)))
    writer.encrypt(user_password="", owner_password="préfecture", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert PdfReader(io.BytesIO(buffer.getvalue())).is_encrypted
    assert SENTENCE in read_document(buffer.getvalue(), "proprietaire.pdf").text


def test_a_pdf_asking_for_a_password_is_refused_in_french() -> None:
    from pypdf import PdfReader, PdfWriter

    plain = text_pdf([4], [stream(sentence_content())])
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(plain)))
    writer.encrypt(user_password="secret", owner_password="préfecture", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(DocumentError, match="protégé par un mot de passe"):
        read_document(buffer.getvalue(), "secret.pdf")


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
