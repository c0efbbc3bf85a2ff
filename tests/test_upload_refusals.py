"""Every refused upload is explained in French on the page (issue 17, §2).

Streamlit's file_uploader refuses the types it was not given in the browser, with an English
tooltip (« application/pdf files are not allowed »). Both uploaders of the Publier page take every
type; the server checks the name and the content and says in French, on the page, what to drop.
"""

from __future__ import annotations

import pytest
from apptest import COMMUNIQUE_UPLOADER, FILE_UPLOADER, signed_in_publish_page, uploaders
from apptest import upload as upload_file
from streamlit.testing.v1 import AppTest


@pytest.fixture
def page(db) -> AppTest:
    return signed_in_publish_page()


def errors(at: AppTest) -> list[str]:
    return [e.value.replace("\\", "") for e in at.error]  # Markdown escapes removed


@pytest.mark.parametrize("label", [FILE_UPLOADER, COMMUNIQUE_UPLOADER])
def test_uploaders_leave_no_type_to_the_browser(page, label: str) -> None:
    (zone,) = uploaders(page, label)
    assert list(zone.proto.type) == []  # nothing for the browser to refuse in English


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "rapport.pdf",
            b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
            "Le fichier « rapport.pdf » n’est pas un tableau : déposez un CSV, XLSX ou ODS. "
            "Rien n'a été modifié.",
        ),
        (
            "photo.jpeg",
            b"\xff\xd8\xff\xe0" + bytes(200),
            "Le fichier « photo.jpeg » n’est pas un tableau : déposez un CSV, XLSX ou ODS.",
        ),
        (
            "vieux.xls",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),
            "Le fichier « vieux.xls » est au format Excel 97-2003 (.xls), qui n’est pas accepté",
        ),
        (
            "melange.csv",
            "nom;commune\nÉpicerie;Béthune\n".encode() + "Colis;Guînes\n".encode("cp1252"),
            "Le fichier « melange.csv » mélange deux encodages",
        ),
    ],
)
def test_import_tab_refuses_in_french_on_the_page(page, name: str, data: bytes, message: str):
    at = upload_file(page, name, data, "application/octet-stream")
    assert not at.exception
    shown = errors(at)
    assert any(message in e for e in shown), shown
    assert not [s for s in at.success if name in s.value]  # nothing read


def test_communique_tab_refuses_a_spreadsheet_in_french(page) -> None:
    at = upload_file(page, "liste.xlsx", b"PK\x03\x04" + bytes(100), label=COMMUNIQUE_UPLOADER)
    assert not at.exception
    (error,) = errors(at)
    assert error.startswith("Format de « liste.xlsx » non pris en charge : un communiqué doit être")
    assert error.endswith("Rien n'a été modifié.")


def test_limits_are_written_on_the_page_not_in_a_tooltip(page) -> None:
    captions = " ".join(c.value for c in page.caption)
    assert "CSV, XLSX ou ODS ; 20 Mo et 20000 lignes au plus." in captions
    assert "20 Mo au plus. Les initiatives trouvées" in captions
    for label in (FILE_UPLOADER, COMMUNIQUE_UPLOADER):
        (zone,) = uploaders(page, label)
        assert not zone.help
