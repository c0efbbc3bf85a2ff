"""The import report and review as a new editor reads them in Chromium (issue 12, §3): every
message wraps inside the page at 1366×900 and on a phone, the corrected and the foreign communes
say so, a line can be left out, the chosen commune stays shown, the review shows each changed
field before and after, and the history lists the new version at once, in French.

Screenshots go to $CARTO_TEST_ARTIFACTS (import-review-*.png), to be looked at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from carto.auth import hash_password

from .conftest import ARTIFACTS, DEFAULT_TIMEOUT_MS, IMPORT_FILE_INPUT, NetworkLog, is_local

pytestmark = pytest.mark.browser

PASSWORD = "Solidarité-62!"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
LONG = (
    "L’entreprise Roquette produit désormais du gel hydro-alcoolique et des masques en tissu "
    "lavables sur son site de Lestrem pour répondre à la forte demande liée aux gestes "
    "barrières : les communes et associations du secteur peuvent en commander par courriel "
    "auprès du service de la communication qui organise des retraits groupés chaque mardi."
)
FILE = (
    "id;nom;categorie;commune;description\n"
    "pdc-2020-04-06-02;Roquette : production de gel hydro-alcoolique;protection;Lestrem;"
    f"{LONG}\n"
    ";Épicerie solidaire de la gare;isoles;Bethune;Colis et paniers pour les personnes isolées\n"
    ";Couturières bénévoles;protection;Lile;Masques en tissu cousus par des bénévoles\n"
    ";Banque alimentaire du Nord;isoles;Lille;Distribution hebdomadaire\n"
)


@pytest.fixture(scope="module")
def editor_app(streamlit_server):
    secrets = (
        '[editors.marie]\nname = "Marie Dupont"\n'
        f'password_hash = "{hash_password(PASSWORD, n=2**14)}"\n'
    )
    return streamlit_server({"CARTO_EDITOR_TEST": "review"}, secrets=secrets)


def _context_page(browser: Any, network: NetworkLog, **options: Any) -> Iterator[Any]:
    context = browser.new_context(locale="fr-FR", **options)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)

    def route(route: Any) -> None:
        if is_local(route.request.url):
            route.continue_()
        else:
            network.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("pageerror", lambda exc: network.page_errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def desktop(browser: Any, network: NetworkLog) -> Iterator[Any]:
    yield from _context_page(browser, network, viewport=DESKTOP)


@pytest.fixture
def phone(browser: Any, network: NetworkLog) -> Iterator[Any]:
    yield from _context_page(
        browser, network, viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2
    )


def _sign_in_and_upload(page: Any, base_url: str, file: Path) -> None:
    page.goto(base_url + "/publier")
    page.get_by_label("Identifiant").fill("marie")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_text("Connecté :")).to_be_visible()
    # The tab « Importer un fichier »'s uploader (the communiqué tab has one too).
    page.locator(IMPORT_FILE_INPUT).set_input_files(str(file))
    expect(page.get_by_text("Rapport de validation")).to_be_visible()


def _overflowing(page: Any, width: int) -> list[str]:
    """Report blocks (cards, paragraphs) whose right edge goes past the window, and whether the
    main area scrolls sideways: what an editor would see cut off or off-screen."""
    return page.evaluate(
        """(width) => {
            const out = [];
            for (const el of document.querySelectorAll('.carto-report, .carto-report .carte')) {
                const r = el.getBoundingClientRect();
                if (r.width > 0 && (r.right > width + 0.5 || r.left < -0.5))
                    out.push(el.className + ' ' + Math.round(r.left) + '-' + Math.round(r.right));
                if (el.scrollWidth > el.clientWidth + 1) out.push('scroll: ' + el.className);
            }
            const main = document.querySelector('section.stMain, .stMain');
            if (main && main.scrollWidth > main.clientWidth + 1) out.push('main scrolls sideways');
            return out;
        }""",
        width,
    )


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"import-review-{name}.png"), full_page=True)


def _card(page: Any, text: str) -> Any:
    return page.locator(".carto-report .carte", has_text=text).first


def test_report_and_review_are_readable_on_a_desktop(
    desktop: Any, network: NetworkLog, editor_app: Any, tmp_path: Path
) -> None:
    page = desktop
    file = tmp_path / "semaine.csv"
    file.write_text(FILE, encoding="utf-8")
    _sign_in_and_upload(page, editor_app.base_url, file)

    # What was silently changed or left unexplained is said, in the card of its line.
    expect(_card(page, "Ligne 3")).to_contain_text("Bethune → Béthune (corrigé)")
    expect(_card(page, "Ligne 5")).to_contain_text("Lille est dans le Nord (59)")
    lile = _card(page, "Ligne 4")
    expect(lile).to_contain_text("Lillers")
    expect(lile).to_contain_text("hors du département : Lille est dans le Nord (59)")
    expect(page.get_by_text(re.compile(r"communes : \d+ reconnues?\b"))).to_be_visible()
    for word in ("exact", "failed", "manual"):
        expect(page.get_by_text(re.compile(rf"\b{word}\b"))).to_have_count(0)
    _shot(page, "desktop-report")
    assert _overflowing(page, DESKTOP["width"]) == []

    # Line 5 (Lille, in the Nord) is left out; Lile becomes Lillers, and stays shown.
    page.get_by_text("Exclure la ligne 5 de l'import").click()
    expect(page.get_by_text("Ligne 5 exclue")).to_be_visible()
    expect(_card(page, "Ligne 5")).to_have_count(0)
    page.get_by_label(re.compile("Ligne 4 : commune à retenir")).click()
    page.get_by_role("option", name=re.compile("^Lillers")).click()
    page.get_by_role("button", name="Appliquer les corrections").click()
    expect(_card(page, "Ligne 4")).to_contain_text("Lile → Lillers (commune choisie par l'éditeur)")
    _card(page, "Ligne 4").scroll_into_view_if_needed()
    _shot(page, "desktop-choice")
    chosen = page.get_by_label(re.compile("Ligne 4 : commune à retenir"))
    expect(chosen).to_have_value(re.compile(r"^Lillers \(62516"))

    # The review: merge by default, the changed description before and after, marked.
    expect(page.get_by_text("Revue des changements")).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile("^Fusionner"))).to_be_checked()
    change = _card(page, "Roquette")
    expect(change).to_contain_text("(ligne 2 du fichier)")
    expect(change).to_contain_text("Avant :")
    expect(change).to_contain_text("Après :")
    expect(change.locator("ins").first).to_be_visible()
    expect(change.locator("del").first).to_be_visible()
    change.scroll_into_view_if_needed()
    _shot(page, "desktop-review")
    assert _overflowing(page, DESKTOP["width"]) == []

    # Replace would remove most of the map: a second confirmation names the count.
    page.get_by_text(re.compile("^Remplacer :")).click()
    expect(
        page.get_by_text(re.compile("Je confirme la suppression de 17 initiative"))
    ).to_be_visible()
    page.get_by_text(re.compile("^Fusionner :")).click()

    page.get_by_label("Note de version (visible dans l'historique)").fill("Semaine 15")
    page.get_by_label("Note de version (visible dans l'historique)").press("Enter")
    page.get_by_text(re.compile("^Je confirme la publication")).click()
    page.get_by_role("button", name="Publier", exact=True).click()
    expect(page.get_by_text(re.compile("Version 2 publiée"))).to_be_visible()

    # The history lists it at once: French mode, author, note, counts.
    page.get_by_role("tab", name="Versions publiées").click()
    newest = _card(page, "Version 2")
    expect(newest).to_contain_text("fusion")
    expect(newest).to_contain_text("Marie Dupont")
    expect(newest).to_contain_text("Semaine 15")
    expect(newest).to_contain_text("2 ajoutées, 1 modifiée, 0 retirée")
    page.get_by_text(re.compile("^Je confirme remettre en ligne")).click()
    page.get_by_role("button", name="Revenir à cette version").click()
    expect(_card(page, "Version 3")).to_contain_text("retour à la version 1")
    _shot(page, "desktop-history")
    assert network.blocked == [] and network.page_errors == []


def test_report_fits_a_phone(phone: Any, network: NetworkLog, editor_app: Any, tmp_path: Path):
    file = tmp_path / "semaine.csv"
    file.write_text(FILE, encoding="utf-8")
    _sign_in_and_upload(phone, editor_app.base_url, file)
    expect(_card(phone, "Ligne 4")).to_contain_text("Lille est dans le Nord (59)")
    expect(_card(phone, "Roquette")).to_have_count(0)  # errors first: no review yet
    _shot(phone, "phone-report")
    assert _overflowing(phone, PHONE["width"]) == []
    phone.get_by_text("Exclure la ligne 4 de l'import").click()
    phone.get_by_text("Exclure la ligne 5 de l'import").click()
    expect(phone.get_by_text("Revue des changements")).to_be_visible()
    _card(phone, "Roquette").scroll_into_view_if_needed()
    _shot(phone, "phone-review")
    assert _overflowing(phone, PHONE["width"]) == []
    assert network.blocked == [] and network.page_errors == []


def test_a_refused_file_is_explained_in_french_on_the_page(
    desktop: Any, network: NetworkLog, editor_app: Any, tmp_path: Path
) -> None:
    """Issue 17, §2: a PDF dropped on « Importer un fichier » reaches the server (no type left
    for the browser to refuse in English) and the page says in French what to drop instead."""
    page = desktop
    file = tmp_path / "rapport.pdf"
    file.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    page.goto(editor_app.base_url + "/publier")
    page.get_by_label("Identifiant").fill("marie")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_text("Connecté :")).to_be_visible()
    page.locator(IMPORT_FILE_INPUT).set_input_files(str(file))
    expect(
        page.get_by_text(
            "Le fichier « rapport.pdf » n’est pas un tableau : déposez un CSV, XLSX ou ODS."
        )
    ).to_be_visible()
    expect(page.get_by_text(re.compile("not allowed|files are not", re.I))).to_have_count(0)
    _shot(page, "refused-pdf")
    assert network.blocked == [] and network.page_errors == []
