"""What the map page keeps between runs (facet counts, communes, table rows) follows the data.

The page computes these once per data version and view and shares them between visitors
(carto.ui.caches): a publish must show at once, and a view must never show another's rows.
"""

from __future__ import annotations

import re

import pandas as pd
from apptest import map_page, shown_count
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from carto.models import CATEGORY_BY_SLUG
from carto.publishing.storage import Store
from carto.ui import caches, map_view


def options(at: AppTest, key: str) -> list[str]:
    return list(at.sidebar.multiselect(key=key).options)


def table_names(at: AppTest) -> list[str]:
    """The names in the initiatives table, as shown."""
    frame = at.table[0].value
    return [re.sub(r"\\(.)", r"\1", str(n)) for n in frame["Nom"]]


def test_lru_keeps_the_most_recently_used_entries() -> None:
    cache: caches.Lru[int] = caches.Lru(2)
    built: list[str] = []

    def build(key: str) -> int:
        built.append(key)
        return len(built)

    assert cache.get("a", lambda: build("a")) == 1
    assert cache.get("b", lambda: build("b")) == 2
    assert cache.get("a", lambda: build("a")) == 1  # kept, now the most recent
    cache.get("c", lambda: build("c"))  # drops "b"
    assert cache.get("b", lambda: build("b")) == 4
    assert built == ["a", "b", "c", "b"]
    assert len(cache) == 2


def test_a_publish_shows_its_counts_communes_and_rows_at_once(db: str) -> None:
    first = map_page()
    store = Store.open(db)
    before = store.load()
    # Version 2: the first initiative only, moved to another category.
    kept = before.head(1).copy()
    old_category = str(kept["categorie"].iloc[0])
    new_category = next(slug for slug in CATEGORY_BY_SLUG if slug != old_category)
    kept["categorie"] = new_category
    store.publish(kept, author="Paul", note="une seule", base_version=1)

    second = map_page()
    assert shown_count(second) == (1, 1)
    assert table_names(second) == [str(kept["nom"].iloc[0])]
    label = CATEGORY_BY_SLUG[new_category].label
    assert f"{label} (1)" in options(second, "f_categories")
    # « Communes » offers every commune of the territory, whatever the version holds.
    communes = {str(c) for c in kept["commune"].dropna()}
    assert communes <= set(options(second, "f_communes"))
    assert options(second, "f_communes") == options(first, "f_communes")


def test_equivalent_views_share_and_different_views_do_not(db: str) -> None:
    everything = map_page()
    all_names = table_names(everything)
    # The same page again, then a filtered view: each shows its own rows and counts.
    again = map_page()
    assert table_names(again) == all_names
    rows = pd.Series(all_names)
    first_category = options(everything, "f_categories")[0]
    slug = next(s for s, c in CATEGORY_BY_SLUG.items() if first_category.startswith(c.label))
    filtered = map_page(categorie=slug)
    shown, total = shown_count(filtered)
    assert shown < total == len(rows)
    assert len(table_names(filtered)) == shown
    assert table_names(map_page()) == all_names


def test_the_table_reaches_the_browser_as_the_same_bytes() -> None:
    """st.table gets an Arrow table made once per view: the browser must receive exactly what
    st.table made of the DataFrame (if not, Streamlit changed its conversion)."""
    shown = pd.DataFrame(
        {
            "Nom": ["Épicerie \\*solidaire\\*", "Couture"],
            "Catégorie": ["Personnes isolées", "unknown"],
            "Commune": ["", "Lens"],
            "Portée": ["Commune", None],
        }
    )
    assert dataframe_util.convert_anything_to_arrow_bytes(
        map_view.table_data(shown)
    ) == dataframe_util.convert_anything_to_arrow_bytes(shown), (
        "st.table ne reçoit plus les mêmes octets : revoir map_view.table_data"
    )
