"""What already holds against an outsider's communiqué, kept by a test (issue 18): scripts and
styles of a web page are not text, dangerous link schemes never become an initiative's site, and
XML tricks in Word/OpenDocument files (entity expansion, external entities) are refused or
inert: never expanded, never fetched, never read from the server's disk.
"""

from __future__ import annotations

import io
import zipfile

import pytest

from carto.extract import DocumentError, extract_candidates, read_document
from carto.gazetteer import Gazetteer, load_gazetteer

SENTENCE = "À Lens, l'association Les Amis distribue des repas aux personnes isolées."
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return load_gazetteer("62")


def test_scripts_and_styles_of_a_page_are_not_read(gaz: Gazetteer) -> None:
    page = (
        "<html><head><style>p{color:red} .x{}</style><script>var secret='SCRIPTTEXT';</script>"
        "</head><body><main><h2>Solidarité</h2>"
        f"<p>{SENTENCE}<script>document.write('INLINE')</script></p>"
        "<noscript>NOSCRIPT</noscript><template>TEMPLATE</template></main></body></html>"
    ).encode()
    document = read_document(page, "page.html")
    for hidden in ("SCRIPTTEXT", "INLINE", "color:red"):
        assert hidden not in document.text
    assert "Les Amis distribue des repas" in document.text
    assert len(extract_candidates(document, gaz).candidates) == 1


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<b>x</b>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
    ],
)
def test_dangerous_links_never_become_a_site(gaz: Gazetteer, href: str) -> None:
    page = (
        "<html><body><main><h2>Solidarité</h2>"
        f'<p>{SENTENCE} Plus d\'informations <a href="{href}">ici</a>.</p></main></body></html>'
    ).encode()
    extraction = extract_candidates(read_document(page, "page.html"), gaz)
    assert [c.site_web for c in extraction.candidates] == [""]
    assert href.split(":", 1)[1] not in " ".join(c.description for c in extraction.candidates)


def _docx(document_xml: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats'
            '-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
            "</Relationships>",
        )
        archive.writestr("word/document.xml", document_xml)
    return buffer.getvalue()


def _body(doctype: str, text: str) -> str:
    return (
        f'<?xml version="1.0"?>{doctype}<w:document xmlns:w="{W}"><w:body>'
        f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>"
    )


LAUGHS = (
    '<!DOCTYPE d [<!ENTITY a "hahahahahahahahahaha">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + "]>"
)


@pytest.mark.parametrize(
    ("doctype", "text"),
    [
        (LAUGHS, "&j;"),
        ('<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "&x;"),
        ('<!DOCTYPE d [<!ENTITY x SYSTEM "http://192.0.2.1/x">]>', "&x;"),
    ],
    ids=["billion-laughs", "xxe-file", "xxe-network"],
)
def test_xml_entity_tricks_are_refused_or_inert(doctype: str, text: str) -> None:
    data = _docx(_body(doctype, f"{SENTENCE} {text}"))
    try:
        document = read_document(data, "piege.docx")
    except DocumentError as refusal:
        assert "« piege.docx »" in str(refusal)
        return
    assert "hahahahahaha" not in document.text
    assert "root:" not in document.text
    assert len(document.text) < 1000
