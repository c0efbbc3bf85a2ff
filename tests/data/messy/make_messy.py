"""Regenerate the messy sample files of this folder: `python tests/data/messy/make_messy.py`.

Each file imitates what a spreadsheet really writes; tests/test_reading.py checks how they read.
"""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent


def excel_cp1252_semicolon() -> None:
    # Excel "CSV (séparateur: point-virgule)": cp1252, ";", CRLF, decimal commas, ";;" padding.
    lines = [
        "id;nom;catégorie;commune;latitude;longitude;téléphone;;",
        "x-01;Épicerie solidaire « Le Panier »;Personnes isolées;Guînes;50,8389;1,8711;"
        "03.21.85.53.70;;",
        ";;;;;;;;",
        "x-02;Aire de repos des routiers;routiers;Saint-Laurent-Blangy;;;;;",
        'x-03;"Visières 3D ; lycée";Protection;Béthune;50,53;2,64;+33 3 21 00 00 00;;',
    ]
    (HERE / "export-excel-cp1252-pointvirgule.csv").write_bytes(
        ("\r\n".join(lines) + "\r\n").encode("cp1252")
    )


def excel_unicode_text() -> None:
    # Excel "Texte Unicode": UTF-16 LE with BOM, tab separated, CRLF.
    lines = [
        "Nom\tCatégorie\tCommune\tDescription",
        "Dons de plants\tisolés\tLoos-en-Gohelle\tPlants offerts à l’EHPAD Montgré",
        'Paniers\tisoles\tGuînes\t"Pâtes, œufs,\r\nsoupes…"',
    ]
    (HERE / "excel-texte-unicode-utf16.txt").write_bytes(
        ("\r\n".join(lines) + "\r\n").encode("utf-16")
    )


def utf8_bom_english() -> None:
    # UTF-8 with BOM, commas, English headers, a title line, a quoted multi-line description.
    text = (
        "Initiatives solidaires du Pas-de-Calais (avril 2020),,,,\n"
        "Name,Category,City,Website,Description\n"
        'Méloko,confinées,Béthune,www.meloko.fr,"Livraison à domicile.\n'
        'Zone étendue à l’Arrageois."\n'
        "\n"
        "Indelab,protection,Bruay-la-Buissière,https://www.indelab.fr/,Visières 3D\n"
    )
    (HERE / "utf8-bom-anglais-titre.csv").write_bytes(text.encode("utf-8-sig"))


def workbook() -> None:
    # Two sheets, data on "Initiatives"; numbers, a date and an empty column as Excel keeps them.
    book = Workbook()
    notes = book.active
    notes.title = "Notes"
    notes["A1"] = "Tableau préparé pour la carte"
    sheet = book.create_sheet("Initiatives")
    sheet.append(
        ["nom", "categorie", "commune", "latitude", "longitude", "telephone", None, "date"]
    )
    sheet.append(
        [
            "Mairie de Guînes",
            "isoles",
            "Guînes",
            50.8389,
            1.8711,
            321855370,
            None,
            datetime(2020, 4, 6),
        ]
    )
    sheet.append([None] * 8)
    sheet.append(["Balsan", "protection", "Calais", None, None, None, None, "06/04/2020"])
    book.save(HERE / "initiatives.xlsx")


def junk() -> None:
    # A picture renamed .csv, and an old binary .xls (only its OLE signature matters).
    rng = random.Random(62)
    (HERE / "image-renommee.csv").write_bytes(
        b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(512))
    )
    (HERE / "ancien-format.xls").write_bytes(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(rng.randrange(256) for _ in range(504))
    )


if __name__ == "__main__":
    excel_cp1252_semicolon()
    excel_unicode_text()
    utf8_bom_english()
    workbook()
    junk()
