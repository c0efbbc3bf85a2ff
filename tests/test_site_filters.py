"""The static site's filters (site.js, run by node) agree with carto.filters on the same links.

The same query parameters go through FilterSpec.from_query + apply_filters / facets in Python
and through site.js's port in node; the ids, the cleaned search text, the period and the counts
must match. Time (carto.timeline): the same rules on the same day for the period filter, the
ended initiatives hidden by default, and the state shown in the detail.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from carto.config import Settings
from carto.filters import FilterSpec, apply_filters, facets, search_index
from carto.gazetteer import load_gazetteer
from carto.intake.pipeline import load
from carto.publishing.plan import open_store, plan_import, publish_plan
from carto.site.build import PACKAGE_DIR, site_data
from carto.text import fold
from carto.timeline import ended_mask, statut_label

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node absent")

# Runs site.js's filter core on every case: {data, cases: [[[name, value], ...], ...]}.
RUNNER = """
const fs = require("fs");
const {makeCore} = require(process.argv[2]);
const input = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
const core = makeCore(input.data, {today: input.today});
const out = input.cases.map(function (pairs) {
  const params = new URLSearchParams();
  pairs.forEach(function (p) { params.append(p[0], p[1]); });
  const spec = core.fromQuery(params);
  const f = core.facets(spec);
  return {ids: core.filterRows(spec).map(function (r) { return r.id; }), text: spec.text,
          categories: f.categories, arrondissements: f.arrondissements,
          start: spec.start, end: spec.end, showEnded: spec.showEnded,
          hidden: core.hiddenEnded(spec)};
});
const folds = input.folds.map(core.fold);
const labels = input.data.rows.map(core.statusLabel);
process.stdout.write(JSON.stringify({cases: out, folds: folds, labels: labels}));
"""

# fmt: off
WORDS = [
    "arras", "Arras", "ARRAS", "arr", "masques", "masque", "MASQUES", "gel", "hydro-alcoolique",
    "hydro", "alcoolique", "Saint-Omer", "saint", "omer", "l’entreprise", "l'entreprise",
    "L’Épicerie", "épicerie", "Béthune", "bethune", "BÉTHUNE", "Guînes", "guines", "œuvre",
    "oeuvre", "ŒUVRE", "Œ", "æ", "ae", "cœur", "coeur", "visières", "visieres", "3D", "3d",
    "Calais", "calaisis", "Lens", "lens", "Liévin", "e\u0301te\u0301", "été", "ﬁl", "fil",
    "soignants", "-", "'", "’", "«", "»", "xyz", "zzz", "de", "la", "à", "a", "Straße",
    "strasse", "ß", "Ǽ", "ø", "Ø", "ł", "đ", "İstanbul", "ΣΟΦΊΑ", "ς",
]
# fmt: on
SPACES = [" ", "  ", "\u00a0", "\u2003", "\t", "\u3000", "\x1c", "\ufeff"]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The seed as published in a real SQLite store (version 1 from data/initiatives.csv),
    then three rows from a file without id column, an area-wide one among them (version 2)."""
    folder = tmp_path_factory.mktemp("db")
    url = f"sqlite:///{folder / 'site.sqlite'}"
    cfg = Settings.from_env({"CARTO_DATABASE_URL": url, "CARTO_TILES": "none"})
    gazetteer = load_gazetteer(cfg.departement)
    update = folder / "sans-id.csv"
    update.write_text(
        "nom;categorie;commune;portee;zone;description\n"
        "Épicerie solidaire;isoles;Guînes;;;paniers\n"
        "Masques cousus;protection;Arras;;;masques\n"
        "Écoute téléphonique;isoles;Saint-Omer;secteur;Arrondissement de Saint-Omer;écoute\n",
        encoding="utf-8",
    )
    with open_store(cfg, gazetteer) as store:
        loaded = load(update, gazetteer=gazetteer, settings=cfg)
        assert loaded.ok, loaded.issues
        publish_plan(plan_import(loaded, store), store, author="test")
        table = store.load()
    assert len(table) == 18 + 3 and table["id"].is_unique and table["id"].map(bool).all()
    return table


def _cases(table: pd.DataFrame, data: dict[str, Any]) -> list[list[tuple[str, str]]]:
    rng = random.Random(10)
    cats = [c["code"] for c in data["categories"]] + ["inconnue", "", "protection,soignants"]
    arrs = [a["code"] for a in data["arrondissements"]] + ["999", "", "621,622"]
    coms = [c["code"] for c in data["communes"]] + ["00000", "", "62041,62193"]
    names = [str(n) for n in table["nom"]] + [str(c) for c in table["commune"]]
    cases: list[list[tuple[str, str]]] = [
        [],
        [("q", "")],
        [("categorie", "")],
        [("q", "arras")],
        [("q", "oeuvre")],
        [("q", "œuvre")],
        [("q", "x" * 250)],
        [("q", " ".join(["mot"] * 300))],
        [("q", "a " * 150 + "arras")],
        [("q", "aaa")] * 2,
    ]
    for _ in range(400):
        pairs: list[tuple[str, str]] = []
        for name, pool in (("categorie", cats), ("arrondissement", arrs), ("commune", coms)):
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
                pairs.append((name, rng.choice(pool)))
        if rng.random() < 0.8:
            bits = []
            for _ in range(rng.randint(1, 5)):
                if rng.random() < 0.3:
                    source = rng.choice(names)
                    start = rng.randrange(max(1, len(source) - 3))
                    bits.append(source[start : start + rng.randint(3, 12)])
                else:
                    bits.append(rng.choice(WORDS))
            pairs.append(("q", "".join(b + rng.choice(SPACES) for b in bits)))
        rng.shuffle(pairs)
        cases.append(pairs)
    return cases


def _python(
    table: pd.DataFrame, data: dict[str, Any], pairs: list[tuple[str, str]], today: date
) -> Any:
    params: dict[str, list[str]] = {}
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    spec = FilterSpec.from_query(
        params,
        known_arrondissements=[a["code"] for a in data["arrondissements"]],
        known_communes=[c["code"] for c in data["communes"]],
    )
    spec = replace(spec, today=today)
    index = search_index(table)
    counts = facets(table, spec, ("categorie", "arrondissement_code"), index=index)
    return {
        "ids": apply_filters(table, spec, index=index)["id"].astype(str).tolist(),
        "text": spec.text,
        "categories": counts["categorie"],
        "arrondissements": counts["arrondissement_code"],
        "start": spec.start.isoformat() if spec.start else None,
        "end": spec.end.isoformat() if spec.end else None,
        "showEnded": spec.show_ended,
        # What the dashboard says is hidden (carto.ui.map_view.hidden_ended_count).
        "hidden": 0 if spec.show_ended else int(ended_mask(table, today).sum()),
    }


def _node(
    tmp_path: Path,
    data: dict[str, Any],
    cases: Any,
    folds: list[str],
    today: date = date(2026, 12, 6),
) -> Any:
    runner = tmp_path / "runner.js"
    runner.write_text(RUNNER, encoding="utf-8")
    payload = tmp_path / "input.json"
    payload.write_text(
        json.dumps(
            {"data": data, "cases": cases, "folds": folds, "today": today.isoformat()},
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(runner), str(PACKAGE_DIR / "site.js"), str(payload)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)


def test_site_filters_agree_with_python(published: pd.DataFrame, tmp_path: Path) -> None:
    gaz = load_gazetteer("62")
    data = site_data(
        published, arrondissements=[(a.code, a.nom) for a in gaz.arrondissements], version=None
    )
    cases = _cases(published, data)
    today = date(2026, 12, 6)
    got = _node(tmp_path, data, cases, [], today)["cases"]
    expected = [_python(published, data, pairs, today) for pairs in cases]
    mismatches = [
        (pairs, want, have)
        for pairs, want, have in zip(cases, expected, got, strict=True)
        if want != have
    ]
    assert not mismatches, f"{len(mismatches)} désaccords, par ex. {mismatches[:2]}"
    # The cases do exercise the filters: some views are empty, some partial, some whole.
    sizes = {len(e["ids"]) for e in expected}
    assert 0 in sizes and len(published) in sizes and len(sizes) > 5


FOLDS = [
    "Œufs-Été",
    "CŒUR",
    "Ǽ",
    "æsthète",
    "l’Épicerie d'Arras",
    "Straße",
    "ẞ",
    "İ",
    "ΣΟΦΊΑΣ",
    "ﬁ ﬂ ﬀ",
    "e\u0301",
    "Ångström ℃ ①",
    "ǅ",
    "Ⅻ",
    "ｆｕｌｌ",
    "𝐀𝐁",
    "\u0345",
    "ŉ",
    "ﬅ",
    "ᾼ",
]


def test_site_fold_is_carto_text_fold(published: pd.DataFrame, tmp_path: Path) -> None:
    data = site_data(published.iloc[:0], arrondissements=[], version=None)
    got = _node(tmp_path, data, [], FOLDS)["folds"]
    assert got == [fold(text) for text in FOLDS]


# --- time: period, ended, state -----------------------------------------------------------------

DAYS = ["2020-03-23", "2020-04-06", "2020-05-11", "2020-12-31", "2026-12-05", "2026-12-06"]
DAYS += ["2026-12-07", "2030-01-01"]
STATUTS = ["", "", "", "en_cours", "terminee", "a_verifier"]
# Period values of links: days, the other ISO form, impossible days, blanks, junk.
# fmt: off
QUERY_DAYS = DAYS + [
    "", " ", "2020-04-06 ", "\u00a02020-05-11\u2003", "2020-W15-1", "2020-W53-7", "2021-W53-1",
    "2020-W00-1", "2020-W15-8", "2020-02-29", "2021-02-29", "2020-13-01", "2020-04-31",
    "0001-01-01", "0000-01-01", "9999-12-31", "2020/04/06", "06/04/2020", "2020-4-6",
    "2020-04-06T00", "avril", "２０２０-０４-０６", "٢٠٢٠-٠٤-٠٦", "2020-04-06\ufeff",
]
ENDED_FLAGS = ["1", "oui", "OUI", " true ", "True", "0", "non", "", "1 ", "\u00a01", "11", "vrai"]
# fmt: on


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The seed with start and end days and states, published as version 2 of a real store."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'dated.sqlite'}"
    cfg = Settings.from_env({"CARTO_DATABASE_URL": url, "CARTO_TILES": "none"})
    rng = random.Random(12)
    with open_store(cfg, load_gazetteer(cfg.departement)) as store:
        table = store.load().copy()
        starts, ends = [], []
        for _ in range(len(table)):
            pair = sorted(rng.sample(DAYS, 2))
            starts.append(pair[0] if rng.random() < 0.6 else "")
            ends.append(pair[1] if rng.random() < 0.6 else "")
        statuts = [rng.choice(STATUTS) for _ in range(len(table))]
        # The edges, on 2026-12-06: running on its last day, over the day before, over by
        # its statut alone, ended by its date whatever its statut says, starting tomorrow.
        for i, (begin, end, statut) in enumerate(
            [
                ("", "2026-12-06", ""),
                ("2020-04-06", "2026-12-05", ""),
                ("", "", "terminee"),
                ("", "2020-05-11", "en_cours"),
                ("2026-12-07", "", "a_verifier"),
            ]
        ):
            starts[i], ends[i], statuts[i] = begin, end, statut
        table["date_debut"] = starts
        table["date_fin"] = ends
        table["statut"] = statuts
        store.publish(table, author="test", note="dates", base_version=1)
        return store.load()


def _time_cases(data: dict[str, Any]) -> list[list[tuple[str, str]]]:
    rng = random.Random(13)
    cats = [c["code"] for c in data["categories"]]
    cases: list[list[tuple[str, str]]] = [[], [("terminees", "1")], [("du", "2026-12-06")]]
    for _ in range(300):
        pairs: list[tuple[str, str]] = []
        for name, pool in (("du", QUERY_DAYS), ("au", QUERY_DAYS), ("terminees", ENDED_FLAGS)):
            for _ in range(rng.choice((0, 1, 1, 2))):
                pairs.append((name, rng.choice(pool)))
        if rng.random() < 0.3:
            pairs.append(("categorie", rng.choice(cats)))
        if rng.random() < 0.2:
            pairs.append(("q", rng.choice(["arras", "masques", "calais", "gel"])))
        rng.shuffle(pairs)
        cases.append(pairs)
    return cases


@pytest.mark.parametrize("today", [date(2020, 4, 30), date(2026, 12, 6), date(2031, 1, 1)])
def test_site_time_filters_agree_with_python(
    dated: pd.DataFrame, tmp_path: Path, today: date
) -> None:
    """The period filter, « afficher aussi les initiatives terminées » and the state shown in
    the detail give the same initiatives and words in the site as in Python, on that day."""
    gaz = load_gazetteer("62")
    data = site_data(
        dated, arrondissements=[(a.code, a.nom) for a in gaz.arrondissements], version=None
    )
    cases = _time_cases(data)
    result = _node(tmp_path, data, cases, [], today)
    expected = [_python(dated, data, pairs, today) for pairs in cases]
    mismatches = [
        (pairs, want, have)
        for pairs, want, have in zip(cases, expected, result["cases"], strict=True)
        if want != have
    ]
    assert not mismatches, f"{len(mismatches)} désaccords, par ex. {mismatches[:2]}"
    records = [{str(k): v for k, v in r.items()} for r in dated.to_dict("records")]
    assert result["labels"] == [statut_label(r, today) for r in records]
    # The cases do exercise the rules: ended ones hidden by default, periods that cut.
    default = expected[0]
    hidden = int(ended_mask(dated, today).sum())
    assert default["hidden"] == hidden and len(default["ids"]) == len(dated) - hidden
    if today == date(2026, 12, 6):
        assert 0 < hidden < len(dated)
    assert len(expected[1]["ids"]) == len(dated)
    sizes = {len(e["ids"]) for e in expected}
    assert len(sizes) > 4
    assert any(e["start"] and e["end"] for e in expected)
