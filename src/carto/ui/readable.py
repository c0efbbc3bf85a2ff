"""Readable import report and review: wrapped HTML cards instead of grids with cut-off columns.

Every text from a file is escaped here (HTML, and the characters Streamlit's Markdown would read
as syntax), so that a cell can neither inject markup nor be taken for a link or a formula.
Differences are marked with <del>/<ins> and the words « Avant » / « Après », not by colour only.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from carto.fields import label
from carto.models import Issue
from carto.publishing.diffing import RowChange
from carto.text import cell_text

# Class on every block, so that the browser test (and the style) can find them.
REPORT_CLASS = "carto-report"
STYLE = f"""<style>
.{REPORT_CLASS} {{ max-width: 100%; overflow-wrap: anywhere; word-break: normal; }}
.{REPORT_CLASS} .carte {{ border: 1px solid rgba(128,128,128,.45); border-left-width: 6px;
  border-radius: .4rem; padding: .4rem .7rem; margin: 0 0 .5rem 0; }}
.{REPORT_CLASS} .carte.erreur {{ border-left-color: #b3261e; }}
.{REPORT_CLASS} .carte.avertissement {{ border-left-color: #8a6100; }}
.{REPORT_CLASS} .carte.note {{ border-left-color: #1b6e3a; }}
.{REPORT_CLASS} p {{ margin: .15rem 0; }}
.{REPORT_CLASS} del {{ background: #ffd7d5; color: #5c0000; text-decoration: line-through; }}
.{REPORT_CLASS} ins {{ background: #cdf2d5; color: #003d12; text-decoration: underline; }}
</style>"""
_MARKDOWN_CHARS = str.maketrans(
    {c: f"&#{ord(c)};" for c in "\\`*_{}[]()#+-!|:$~<>&\"'"} | {"\n": "<br>", "\r": ""}
)
_TOKENS = re.compile(r"\s+|[^\s]+")


def esc(value: object) -> str:
    """Text from a file, safe inside the HTML blocks of st.markdown(unsafe_allow_html=True)."""
    return cell_text(value).translate(_MARKDOWN_CHARS)


def _block(inner: Iterable[str]) -> str:
    # One HTML block without blank lines: Markdown leaves its content alone.
    return f'<div class="{REPORT_CLASS}">' + "".join(inner) + "</div>"


SEVERITY_TEXT = {"error": "Erreur", "warning": "Avertissement"}


def _issue_kind(issue: Issue, notes: Sequence[str]) -> tuple[str, str]:
    if issue.severity == "error":
        return "erreur", "Erreur"
    if issue.code in notes:
        return "note", "Note"
    return "avertissement", "Avertissement"


def issue_cards(issues: Sequence[Issue], *, notes: Sequence[str] = ()) -> str:
    """Each issue as a card: where (line, column, value), « Problème », « Que faire »,
    « Suggestions ». `notes`: issue codes shown as notes (a choice of the editor)."""
    cards = []
    for issue in issues:
        kind, title = _issue_kind(issue, notes)
        line = f"Ligne {issue.row}" if issue.row is not None else "Fichier"
        where = [f"<strong>{line}</strong> — {title}"]
        if issue.column:
            where.append(f"colonne « {esc(label(issue.column))} »")
        if issue.value:
            value = issue.value if len(issue.value) <= 200 else issue.value[:199] + "…"
            where.append(f"valeur « {esc(value)} »")
        parts = [f"<p>{' · '.join(where)}</p>"]
        heading = "Note" if kind == "note" else "Problème"
        parts.append(f"<p><strong>{heading} :</strong> {esc(issue.message)}</p>")
        if issue.hint:
            parts.append(f"<p><strong>Que faire :</strong> {esc(issue.hint)}</p>")
        if issue.suggestions:
            parts.append(
                f"<p><strong>Suggestions :</strong> {esc(', '.join(issue.suggestions))}</p>"
            )
        cards.append(f'<div class="carte {kind}" role="group">{"".join(parts)}</div>')
    return _block(cards)


def inline_diff(old: object, new: object) -> tuple[str, str]:
    """(before, after) as HTML, the removed words in <del> and the added words in <ins>.

    The spaces between words are tokens too: they are escaped as text, not as cells (esc would
    read a lone space as an empty cell and drop it, gluing the words around it)."""
    a, b = _TOKENS.findall(cell_text(old)), _TOKENS.findall(cell_text(new))
    before: list[str] = []
    after: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        removed = "".join(a[i1:i2]).translate(_MARKDOWN_CHARS)
        added = "".join(b[j1:j2]).translate(_MARKDOWN_CHARS)
        if op == "equal":
            before.append(removed)
            after.append(added)
            continue
        if removed:
            before.append(f"<del>{removed}</del>")
        if added:
            after.append(f"<ins>{added}</ins>")
    empty = "<em>(vide)</em>"
    return "".join(before) or empty, "".join(after) or empty


def change_cards(changes: Sequence[RowChange], *, lines: Mapping[str, int]) -> str:
    """Each changed initiative as a card: every changed field, before and after. `lines`: the
    file's line of each row key (ImportPlan.file_lines)."""
    cards = []
    for change in changes:
        line = lines.get(change.key)
        where = f" (ligne {line} du fichier)" if line is not None else ""
        parts = [f"<p><strong>{esc(change.nom)}</strong>{where}</p>"]
        for field in change.fields:
            before, after = inline_diff(field.old, field.new)
            parts.append(
                f"<p><strong>{esc(label(field.column))}</strong><br>"
                f"Avant : {before}<br>Après : {after}</p>"
            )
        cards.append(f'<div class="carte avertissement" role="group">{"".join(parts)}</div>')
    return _block(cards)


def row_cards(rows: Sequence[dict[str, Any]]) -> str:
    """Added or removed initiatives: name, commune, category, one line each."""
    items = []
    for row in rows:
        place = [esc(row.get(c)) for c in ("commune", "categorie") if cell_text(row.get(c))]
        where = " — " + ", ".join(place) if place else ""
        items.append(f"<li><strong>{esc(row.get('nom'))}</strong>{where}</li>")
    return _block([f"<ul>{''.join(items)}</ul>"])
