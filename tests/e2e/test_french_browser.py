"""French everywhere a visitor or an editor can see or hear (issue 17, §7), in Chromium.

Both pages are walked through their main states (the map: start, a list without result,
filtered, the period, an empty result, a fiche open; Publier: sign-in, the uploader, a report
with its tables and a column's menu, the review, a file refused, the communiqué's editable
table, the versions) and every visible text and accessible name (aria-label, title,
placeholder, alt, including text only screen readers get) is searched for English words
Streamlit and Leaflet write by themselves. Each test fails with the list of what it found, the
state and the element it was found on; the list also goes to
$CARTO_TEST_ARTIFACTS/french-<test>.txt.
"""

from __future__ import annotations

import re
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from carto.auth import hash_password
from carto.config import PROJECT_ROOT

from .conftest import ARTIFACTS, MAP_IFRAME

pytestmark = pytest.mark.browser

PASSWORD = "Solidarité-62!"
COMMUNIQUE = PROJECT_ROOT / "tests" / "data" / "communiques" / "communique-2020-04-20.txt"
REFUSED = PROJECT_ROOT / "tests" / "data" / "messy" / "image-renommee.csv"
FILE = (
    "id;nom;categorie;commune;description\n"
    "pdc-2020-04-06-02;Roquette : production de gel hydro-alcoolique;protection;Lestrem;"
    "Gel hydro-alcoolique et masques\n"
    ";Épicerie solidaire de la gare;isoles;Bethune;Colis et paniers pour les personnes isolées\n"
    ";Couturières bénévoles;protection;Lile;Masques en tissu cousus par des bénévoles\n"
    ";Banque alimentaire du Nord;isoles;Lille;Distribution hebdomadaire\n"
)

# English that Streamlit's widgets and Leaflet write by themselves (whole words, any case).
ENGLISH = re.compile(
    r"\b("
    r"No results|No options|Choose|Select(ed)?|Upload(ing|ed)?|Browse|Drag and drop|"
    r"Download|Search|Full ?screen|Show/hide|Show all|Hide all|None|Remove|Add files|"
    r"per file|Limit|previous month|next month|JavaScript library|interactive maps|"
    r"Clear( all| value)?|Open|Close|Delete|Help for|Empty|Use arrow keys|Press Enter|"
    r"Copy|Sort( ascending| descending)?|Pin column|Hide column|Autosize|Statistics|"
    r"Based on sample|Standard deviation|No data|"
    r"January|February|March|April|June|July|August|September|October|November|December|"
    r"Sunday|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|start date|end date"
    r")\b",
    re.IGNORECASE,
)

# Every text node and accessible name of a document that a person can see or a screen reader
# can read: not in <script>/<style>, not under aria-hidden="true", not display:none or hidden.
_COLLECT = """() => {
    const out = [];
    const skip = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"]);
    function hidden(el) {
        for (let e = el; e; e = e.parentElement) {
            if (e.getAttribute && e.getAttribute("aria-hidden") === "true") { return true; }
        }
        // A box of its children only (display: contents) is still read: its parent decides.
        while (el.parentElement && getComputedStyle(el).display === "contents") {
            el = el.parentElement;
        }
        return !el.checkVisibility({visibilityProperty: true});
    }
    function where(el) {
        const id = el.closest("[data-testid]");
        return el.tagName.toLowerCase() + (id ? " in " + id.getAttribute("data-testid") : "");
    }
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const el = n.parentElement, text = n.nodeValue.trim();
        if (!text || !el || skip.has(el.tagName) || hidden(el)) { continue; }
        out.push([where(el), "texte", text]);
    }
    const named = "[aria-label], [title], [placeholder], [alt]";
    for (const el of document.body.querySelectorAll(named)) {
        if (hidden(el)) { continue; }
        for (const name of ["aria-label", "title", "placeholder", "alt"]) {
            const value = el.getAttribute(name);
            if (value) { out.push([where(el), name, value]); }
        }
    }
    return out;
}"""


_RELABELLED = (
    "() => !!(window.cartoFrenchChrome && window.cartoFrenchUploader && window.cartoFrenchTables)"
)


class Scan:
    """The English found, by state, over every frame of the page (the map's iframe included)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.found: list[str] = []

    def __call__(self, state: str) -> None:
        # The pages' French relabelling (carto.ui.french) comes with Streamlit's st.html, whose
        # code loads apart: wait for it, not for a time; absent, its English is what is found.
        with suppress(PlaywrightError):
            self.page.wait_for_function(_RELABELLED, timeout=10_000)
        for frame in self.page.frames:
            try:
                items = frame.evaluate(_COLLECT)
            except Exception:  # a frame that went away while the page re-ran
                continue
            for where, kind, text in items:
                if ENGLISH.search(text):
                    line = f"{state} | {where} | {kind} | {' '.join(text.split())[:120]}"
                    if line not in self.found:
                        self.found.append(line)

    def check(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"french-{name}.txt").write_text("\n".join(self.found) + "\n")
        assert self.found == [], "Anglais visible ou lu :\n" + "\n".join(self.found)


def _caption(page: Any) -> Any:
    return page.get_by_text(re.compile(r"^\d+ affichées sur \d+$"))


def _multiselect(page: Any, label: str) -> Any:
    return page.locator('[data-testid="stMultiSelect"]').filter(has_text=label)


def _open_list_and_type(page: Any, field: Any, text: str) -> None:
    field.locator("input").first.click()
    page.keyboard.type(text)
    expect(page.get_by_role("listbox").first).to_be_visible()


def _close_list(page: Any) -> None:
    """Escape, as often as needed (the first may only empty what was typed)."""
    for _ in range(3):
        if not page.get_by_role("listbox").count():
            break
        page.keyboard.press("Escape")
    expect(page.get_by_role("listbox")).to_have_count(0)


def test_the_map_page_speaks_french(page, network, streamlit_app) -> None:
    scan = Scan(page)
    page.goto(streamlit_app.base_url)
    expect(_caption(page)).to_be_visible()
    frame = page.frame_locator(MAP_IFRAME)
    expect(frame.locator(".leaflet-control-attribution")).to_be_visible()
    expect(frame.locator(".carto-initiative, .carto-cluster").first).to_be_visible()
    scan("carte au départ")

    # A list that finds nothing, then a choice (its chip and its « retirer » button).
    _open_list_and_type(page, _multiselect(page, "Catégories"), "zzzz")
    scan("liste sans résultat")
    _close_list(page)
    arrondissements = _multiselect(page, "Arrondissements")
    arrondissements.locator("input").click()
    page.get_by_role("option", name=re.compile("^Calais")).click()
    _close_list(page)
    expect(page).to_have_url(re.compile("arrondissement=626"))
    scan("filtré")

    # The period: its field and, when there is one, its calendar.
    period = page.locator('[data-testid="stDateInput"], [data-testid="stTextInput"]').filter(
        has_text="Actives à partir du"
    )
    expect(period).to_be_visible()
    calendar = page.locator('[data-testid="stDateInputCalendarButton"]')
    if calendar.count():
        calendar.first.click()
        expect(page.locator('[data-testid="stDateInputCalendar"]').first).to_be_visible()
    scan("période")
    page.keyboard.press("Escape")

    page.goto(f"{streamlit_app.base_url}?categorie=routiers&arrondissement=626")
    expect(page.get_by_text("Aucune initiative ne correspond")).to_be_visible()
    scan("résultat vide")

    page.goto(f"{streamlit_app.base_url}?id=pdc-2020-04-06-06")
    expect(page.get_by_role("heading", level=3).first).to_be_visible()
    expect(frame.locator(".carto-initiative, .carto-cluster").first).to_be_visible()
    scan("fiche ouverte")
    picker = page.get_by_role("combobox", name="Voir le détail de l'initiative")
    picker.click()
    page.keyboard.type("zzzz")
    scan("liste des initiatives sans résultat")
    _close_list(page)
    scan.check("carte")
    assert network.blocked == [] and network.page_errors == []


@pytest.fixture(scope="module")
def editor_app(streamlit_server):
    secrets = (
        '[editors.marie]\nname = "Marie Dupont"\n'
        f'password_hash = "{hash_password(PASSWORD, n=2**14)}"\n'
    )
    return streamlit_server({"CARTO_EDITOR_TEST": "french"}, secrets=secrets)


def _hover_table_toolbar(page: Any, scan: Scan, state: str, table: Any) -> None:
    """Point at a table: its toolbar, when it shows, and the tooltip of each of its buttons."""
    table.hover()
    toolbar = table.locator('[data-testid="stElementToolbar"]')
    expect(toolbar).to_be_attached()
    scan(state)
    buttons = toolbar.locator("button")
    for i in range(buttons.count()):
        if buttons.nth(i).is_visible():
            buttons.nth(i).hover()
            scan(f"{state}, bulle d'un bouton")


def test_the_publier_page_speaks_french(page, network, editor_app, tmp_path: Path) -> None:
    scan = Scan(page)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(editor_app.base_url + "/publier")
    expect(page.get_by_label("Identifiant")).to_be_visible()
    scan("connexion")
    page.get_by_label("Identifiant").fill("marie")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_text("Connecté :")).to_be_visible()
    expect(page.locator('[data-testid="stFileUploaderDropzone"]').first).to_be_visible()
    scan("dépôt d'un fichier")

    # A file with remarks: the report, its tables (their toolbar), the file's chip.
    file = tmp_path / "semaine.csv"
    file.write_text(FILE, encoding="utf-8")
    uploader = page.locator('[data-testid="stFileUploader"]').first
    uploader.locator('input[type="file"]').set_input_files(str(file))
    expect(page.get_by_text("Rapport de validation")).to_be_visible()
    scan("rapport")
    page.get_by_text("Rapport complet sous forme de tableau").click()
    report = page.locator('[data-testid="stDataFrame"]').first
    expect(report).to_be_visible()
    _hover_table_toolbar(page, scan, "rapport en tableau", report)
    # The « ⋮ » of a column's header (drawn on the grid's canvas, at the right end of the first
    # column, « Gravité ») opens its menu: sort, format, pin, hide, statistics.
    report.hover(position={"x": 40, "y": 17})
    report.click(position={"x": 85, "y": 17})
    menu = page.locator('[data-testid="stDataFrameColumnMenu"]')
    expect(menu).to_be_visible()
    scan("menu d'une colonne")
    page.keyboard.press("Escape")
    expect(menu).to_have_count(0)
    page.get_by_text("Aperçu des initiatives lues").click()
    expect(page.locator('[data-testid="stDataFrame"]').nth(1)).to_be_visible()
    scan("aperçu")

    # The review, once the lines with errors are left out.
    page.get_by_text("Exclure la ligne 4 de l'import").click()
    page.get_by_text("Exclure la ligne 5 de l'import").click()
    expect(page.get_by_text("Revue des changements")).to_be_visible()
    scan("revue")

    # A file that cannot be read: the error.
    uploader.locator('input[type="file"]').set_input_files(str(REFUSED))
    expect(page.locator('[data-testid="stAlertContentError"]').first).to_be_visible()
    scan("fichier refusé")

    # The communiqué: its editable table of candidates, with empty cells.
    page.get_by_role("tab", name="Importer un communiqué").click()
    communique = page.locator('[data-testid="stFileUploader"]').nth(1)
    expect(communique).to_be_visible()
    communique.locator('input[type="file"]').set_input_files(str(COMMUNIQUE))
    expect(page.get_by_text(re.compile(r"initiative\(s\) candidate\(s\)"))).to_be_visible()
    editor = page.locator('[data-testid="stDataFrame"]').filter(visible=True).first
    expect(editor).to_be_visible()
    _hover_table_toolbar(page, scan, "candidates du communiqué", editor)

    page.get_by_role("tab", name="Versions publiées").click()
    expect(page.get_by_text(re.compile("Version 1")).first).to_be_visible()
    scan("versions")
    page.get_by_role("tab", name="À vérifier").click()
    scan("à vérifier")
    scan.check("publier")
    assert network.blocked == [] and network.page_errors == []
