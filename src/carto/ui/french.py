"""Streamlit's own words in French, on every page (navigation.py calls french_chrome).

Streamlit 1.67 writes English by itself in its widgets (drop-down lists, help buttons, the file
uploader, the tables' toolbar) and no setting or parameter changes it. What a parameter can say
is said there (placeholders, the tables' `placeholder` for empty cells); the rest is relabelled
in the browser here, from Streamlit's data-testid attributes, by a script that watches the page
(a MutationObserver) and rewrites known English strings, never the initiatives' own text:

- _CHROME_JS: the sidebar's buttons, the lists' buttons and « No results », the help buttons,
  the skip link, the keyboard access of wide tables;
- _UPLOADER_JS: the file uploader (« Upload », « 20MB per file », « Add files », « Remove … »),
  kept apart so that work on the uploader itself can change it alone;
- _CHROME_CSS: the tables' toolbar (« Download as CSV », « Search », « Fullscreen »,
  « Show/hide columns ») is hidden: its labels, tooltips, search box and menus are English and
  many; the pages offer a French « Télécharger … (CSV) » button instead;
- _TABLES_JS: the menu of a table's column (« Sort ascending », « Pin column », « Format »…).

What stays English is listed in tests/e2e/test_french_browser.py (ALLOWED) with its reason.
"""

from __future__ import annotations

import streamlit as st

_CHROME_CSS = """
[data-testid="stExpandSidebarButton"]::after {
    content: "Filtres"; margin-left: 0.3rem; font-size: 1rem; font-weight: 600; color: #1f2129;
}
[data-testid="stElementToolbar"] { display: none !important; }
"""

# Shared by both scripts: set an attribute or a text only when it differs (the observer sees
# its own changes: they must settle).
_HELPERS = """
    function setAttr(el, name, value) {
        if (el.getAttribute(name) !== value) { el.setAttribute(name, value); }
    }
    function setText(node, value) {
        if (node.nodeValue !== value) { node.nodeValue = value; }
    }
    // Text nodes under `root` whose whole text (trimmed) is a key of `words` or matches one of
    // `patterns` ([regexp, replacement]).
    function relabelTexts(root, words, patterns) {
        var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        for (var n = walker.nextNode(); n; n = walker.nextNode()) {
            var text = n.nodeValue.trim();
            if (!text) { continue; }
            if (Object.prototype.hasOwnProperty.call(words, text)) {
                setText(n, words[text]);
                continue;
            }
            for (var i = 0; i < patterns.length; i++) {
                if (patterns[i][0].test(text)) {
                    setText(n, text.replace(patterns[i][0], patterns[i][1]));
                    break;
                }
            }
        }
    }
    function watch(name, relabel) {
        relabel();
        if (window[name]) { return; }
        window[name] = new MutationObserver(relabel);
        window[name].observe(document.body, {childList: true, subtree: true,
            characterData: true, attributes: true,
            attributeFilter: ["aria-label", "placeholder", "title"]});
    }
"""

_CHROME_JS = (
    """
(function () {
"""
    + _HELPERS
    + """
    var labels = [
        ['[data-testid="stSidebar"]', "Pages et filtres"],
        ['[data-testid="stExpandSidebarButton"]', "Filtres"],
        ['[data-testid="stSidebarCollapseButton"] button', "Masquer les filtres"],
    ];
    // The buttons of Streamlit's drop-down lists.
    var words = {"Open": "Ouvrir la liste", "Close": "Fermer la liste", "Clear all": "Tout effacer",
                 "Clear": "Effacer", "Clear value": "Effacer le choix", "Delete": "Retirer",
                 "Selected values": "Valeurs choisies"};
    var lists = '[data-testid="stSelectbox"], [data-testid="stMultiSelect"]';
    // What a list that finds nothing says (it is drawn apart from its field).
    var dropdowns = '[data-testid="stMultiSelectDropdown"], [data-testid$="VirtualDropdown"], ' +
        '[data-testid="stSelectboxDropdown"], [role="listbox"]';
    var listWords = {"No results": "Aucun résultat", "No options to select": "Aucun choix",
                     "Choose an option": "Choisissez…", "Choose options": "Choisissez…"};
    function relabel() {
        labels.forEach(function (pair) {
            document.querySelectorAll(pair[0]).forEach(function (el) {
                setAttr(el, "aria-label", pair[1]);
            });
        });
        document.querySelectorAll(lists).forEach(function (list) {
            list.querySelectorAll("[aria-label]").forEach(function (el) {
                var label = el.getAttribute("aria-label") || "";
                var french = words[label] ||
                    (label.indexOf("Remove ") === 0 ? "Retirer " + label.slice(7) : null);
                if (french) { setAttr(el, "aria-label", french); }
            });
            list.querySelectorAll("input[placeholder]").forEach(function (el) {
                var french = listWords[el.getAttribute("placeholder")];
                if (french) { setAttr(el, "placeholder", french); }
            });
        });
        document.querySelectorAll(dropdowns).forEach(function (box) {
            relabelTexts(box, listWords, []);
        });
        document.querySelectorAll('button[aria-label^="Help for "]').forEach(function (el) {
            setAttr(el, "aria-label", "Aide : " + el.getAttribute("aria-label").slice(9));
        });
        // A table wider than a phone scrolls sideways: the keyboard must reach it too.
        document.querySelectorAll('[data-testid="stTable"] > div').forEach(function (box) {
            if (box.scrollWidth > box.clientWidth && !box.hasAttribute("tabindex")) {
                box.setAttribute("tabindex", "0");
                box.setAttribute("role", "region");
                box.setAttribute("aria-label", "Tableau des initiatives (défilant)");
            }
        });
        var skip = document.querySelector('[data-testid="stSkipToContent"]');
        if (skip && skip.firstChild && skip.textContent !== "Aller au contenu principal") {
            skip.firstChild.nodeValue = "Aller au contenu principal";
        }
    }
    watch("cartoFrenchChrome", relabel);
})();
"""
)

# The file uploader (stFileUploader): its button, its limits line, the chip of the dropped file.
_UPLOADER_JS = (
    """
(function () {
"""
    + _HELPERS
    + """
    var units = {"B": "o", "KB": "Ko", "MB": "Mo", "GB": "Go"};
    var words = {"Upload": "Choisir un fichier", "Upload directories": "Choisir un dossier",
                 "Drag and drop a file here": "Déposez un fichier ici",
                 "Drag and drop files here": "Déposez des fichiers ici",
                 "Drag and drop directories here": "Déposez des dossiers ici",
                 "Drag and drop file here": "Glissez-déposez un fichier ici",
                 "Browse files": "Choisir un fichier"};
    // « 20MB per file • CSV, TXT », « Limit 200MB per file »: the size in French units.
    var patterns = [
        [/^(?:Limit )?([0-9.,]+) ?(B|KB|MB|GB) per file/, function (all, size, unit) {
            return size.replace(".", ",") + " " + units[unit] + " au plus par fichier";
        }]
    ];
    var names = {"Add files": "Choisir un autre fichier", "file upload": "Choisir un fichier"};
    function relabel() {
        document.querySelectorAll('[data-testid="stFileUploader"]').forEach(function (box) {
            relabelTexts(box, words, patterns);
            box.querySelectorAll("[aria-label]").forEach(function (el) {
                var label = el.getAttribute("aria-label") || "";
                var french = names[label] ||
                    (label.indexOf("Remove ") === 0 ? "Retirer " + label.slice(7) : null);
                if (french) { setAttr(el, "aria-label", french); }
            });
        });
    }
    watch("cartoFrenchUploader", relabel);
})();
"""
)


# The menu of a table's column (a click on its header, page Publier): sort, format, pin, hide,
# statistics. Drawn in the page (not on the grid's canvas), so it can be said in French.
_TABLES_JS = (
    """
(function () {
"""
    + _HELPERS
    + """
    var words = {
        "Sort ascending": "Trier par ordre croissant",
        "Sort descending": "Trier par ordre décroissant",
        "Format": "Format", "Autosize": "Largeur automatique", "Pin column": "Figer la colonne",
        "Unpin column": "Libérer la colonne", "Hide column": "Masquer la colonne",
        "Copy column name": "Copier le nom de la colonne", "Statistics": "Statistiques",
        "Select all": "Tout sélectionner", "Automatic": "Automatique", "Localized": "Local",
        "Plain": "Brut", "Scientific": "Scientifique", "Percent": "Pourcentage",
        "Dollar": "Dollar", "Euro": "Euro", "Yen": "Yen", "Compact": "Compact",
        "Accounting": "Comptable", "Calendar": "Calendrier", "Distance": "Distance",
        "Duration": "Durée", "Count": "Nombre", "Distinct": "Distinctes", "Empty": "Vides",
        "Values": "Valeurs", "Sum": "Somme", "Average": "Moyenne", "Median": "Médiane",
        "Minimum": "Minimum", "Maximum": "Maximum", "Range": "Étendue",
        "Standard deviation": "Écart type", "Average length": "Longueur moyenne",
        "Minimum length": "Longueur minimale", "Maximum length": "Longueur maximale",
        "Based on sample": "Sur un échantillon", "No data": "Aucune donnée",
        "True": "Vrai", "False": "Faux"
    };
    var names = {"Dataframe column menu": "Menu de la colonne",
                 "Button action menu": "Menu d'action"};
    var menus = '[data-testid="stDataFrameColumnMenu"], ' +
        '[data-testid="stDataFrameColumnFormattingMenu"], ' +
        '[data-testid="stDataFrameStatisticsMenu"], ' +
        '[data-testid="stDataFrameColumnVisibilityMenu"], ' +
        '[data-testid="stDataFrameButtonActionMenu"]';
    function relabel() {
        document.querySelectorAll(menus).forEach(function (menu) {
            relabelTexts(menu, words, []);
            var named = Array.from(menu.querySelectorAll("[aria-label], [title]"));
            [menu].concat(named).forEach(function (el) {
                ["aria-label", "title"].forEach(function (name) {
                    var label = el.getAttribute(name);
                    if (label && (names[label] || words[label])) {
                        setAttr(el, name, names[label] || words[label]);
                    }
                });
            });
        });
    }
    watch("cartoFrenchTables", relabel);
})();
"""
)


def french_chrome() -> None:
    """Streamlit's controls in French (see the module's docstring); every page calls it."""
    st.html(
        f"<style>{_CHROME_CSS}</style><script>{_CHROME_JS}</script>"
        f"<script>{_UPLOADER_JS}</script><script>{_TABLES_JS}</script>",
        unsafe_allow_javascript=True,
    )
