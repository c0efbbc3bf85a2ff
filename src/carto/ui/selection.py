"""The initiative the visitor selected: one id, kept in one place (this session's state).

A click on the map or a pick in the list under the table selects an initiative (their callbacks
run before the page, so the map highlights it in the same run); the address (?id=) is read on a
session's first run and written back at the end of every run; a filter that hides the initiative
clears it.
An id of the address that is not shown is explained once, in French (unavailable_notice).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass

import streamlit as st

from carto.display import md_escape
from carto.filters import PARAM_SELECTED
from carto.map.basemap import clicked_id
from carto.ui.errors import logger

SESSION_KEY = "selection"
# The id the address asked for when it is not among the initiatives shown (read once).
UNAVAILABLE_KEY = "selection_unavailable"
# Keys of the widgets that select: st_folium's map and the list under the initiatives table.
MAP_KEY = "map"
TABLE_KEY = "table"
MAX_ID_CHARS = 200


@dataclass(frozen=True)
class Selection:
    """One initiative's id, or none."""

    id: str | None = None

    @classmethod
    def from_url(cls, params: Mapping[str, str | Sequence[str]]) -> Selection:
        value = params.get(PARAM_SELECTED)
        if not isinstance(value, str):
            value = value[0] if value else None
        return cls(_clean(value))

    @classmethod
    def from_click(cls, result: object) -> Selection | None:
        """The initiative clicked on the map (st_folium's returned dict), or None."""
        ident = clicked_id(result) if isinstance(result, Mapping) else None
        return cls(_clean(ident)) if ident else None

    @classmethod
    def from_pick(cls, value: object, ids: Collection[str]) -> Selection | None:
        """The initiative picked in the list under the table (its id), if it is one of `ids`."""
        if not isinstance(value, str) or value not in ids:
            return None
        return cls(value)

    def within(self, ids: Collection[str]) -> Selection:
        """Itself if `ids` holds it, else no selection (a filter hid it, or a stale link)."""
        return self if self.id in ids else Selection()

    def to_query(self) -> dict[str, str]:
        return {PARAM_SELECTED: self.id} if self.id else {}


def _clean(value: object) -> str | None:
    text = value.strip()[:MAX_ID_CHARS] if isinstance(value, str) else ""
    return text or None


def address() -> dict[str, list[str]]:
    """The page address's parameters, with every value of each (what links carry)."""
    return {k: st.query_params.get_all(k) for k in st.query_params}


def current(ids: Collection[str]) -> Selection:
    """This run's selection among the initiatives shown; from the address on a first run."""
    value = st.session_state.get(SESSION_KEY)
    if value is None:
        value = Selection.from_url(address())
        if value.id is not None and value.id not in ids:
            st.session_state[UNAVAILABLE_KEY] = value.id
    if not isinstance(value, Selection):
        value = Selection()
    value = value.within(ids)
    st.session_state[SESSION_KEY] = value
    return value


SHOWN_ID = 40


def unavailable_notice(published: Collection[str]) -> str | None:
    """Why the initiative of the address is not shown, on the run that read it; else None.

    `published` holds the ids of every published initiative: one of them is hidden by the
    filters, any other id is unknown (mistyped, or withdrawn since the link was shared).
    """
    ident = st.session_state.pop(UNAVAILABLE_KEY, None)
    if not isinstance(ident, str):
        return None
    # An id is a few characters; a link may carry kilobytes (shown cut, never whole).
    quoted = md_escape(ident if len(ident) <= SHOWN_ID else ident[: SHOWN_ID - 1] + "…")
    if ident in published:
        return f"L'initiative demandée (id {quoted}) est masquée par les filtres en cours."
    return f"L'initiative demandée (id {quoted}) n'existe pas ou n'est plus publiée."


def select(selection: Selection) -> None:
    st.session_state[SESSION_KEY] = selection


def on_map_click() -> None:
    """st_folium's on_change: it has just stored what the map returned under MAP_KEY."""
    picked = Selection.from_click(st.session_state.get(MAP_KEY))
    if picked is not None:
        select(picked)


def on_table_pick(ids: Sequence[str]) -> None:
    """The on_change of the list under the table; `ids` are those listed when the visitor
    picked."""
    try:
        value = st.session_state.get(TABLE_KEY)
    except Exception:  # a value crafted by a visitor: ignored
        logger.warning("Choix de la liste illisible", exc_info=True)
        return
    picked = Selection.from_pick(value, ids)
    if picked is not None:
        select(picked)


def show_in_picker(ids: Collection[str]) -> None:
    """Before the list under the table is drawn: make it show this run's selection (a map
    click or a link may have changed it), or nothing when that is not listed."""
    current = st.session_state.get(SESSION_KEY)
    ident = current.id if isinstance(current, Selection) else None
    wanted = ident if ident in ids else None
    try:
        if st.session_state.get(TABLE_KEY) == wanted:
            return
    except Exception:  # undecodable value sent by a browser: replaced below
        logger.warning("Choix de la liste illisible", exc_info=True)
    with suppress(KeyError):
        del st.session_state[TABLE_KEY]
    st.session_state[TABLE_KEY] = wanted
