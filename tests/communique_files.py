"""Communiqués built for the tests: Word, OpenDocument and PDF files from their parts, so that
hostile ones (bombs, damaged files) need no file in the repository."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

SENTENCE = "À Arras, l'association Main Tendue livre des repas aux personnes isolées."
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


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


def encrypted_pdf(data: bytes, *, user_password: str) -> bytes:
    """The PDF encrypted (RC4, no extra library), with an owner password always."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="préfecture", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert PdfReader(io.BytesIO(buffer.getvalue())).is_encrypted
    return buffer.getvalue()


def running(pid: int) -> bool:
    """The process (a reader) exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
