"""Areas drawn as areas: the `zone` cell read as the département, arrondissements, EPCI or
communes, its outline, and what filters, detail and exports make of it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from shapely.geometry import Point, shape

from carto.cli import main
from carto.display import detail_lines
from carto.errors import ZoneError
from carto.exports import export_table
from carto.filters import FilterSpec, apply_filters, facets, memberships, search_index
from carto.gazetteer import Gazetteer, load_gazetteer
from carto.geocoding.offline import OfflineGeocoder
from carto.geocoding.table import geocode_table
from carto.intake.pipeline import load
from carto.publishing.storage import Store
from carto.zones import Zone, resolve_zone, zone_from_key, zone_geometry

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "initiatives.csv"

MELOKO = "pdc-2020-04-06-12"
JEVEUXAIDER = "pdc-2020-04-06-18"
# The seed's area initiatives (docs/schema.md says why each zone was chosen).
AREA_IDS = {f"pdc-2020-04-06-{n}" for n in ("05", "07", "09", "10", "12", "13", "18")}


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return load_gazetteer("62")


@pytest.fixture(scope="module")
def seed() -> pd.DataFrame:
    return load(DATA).table


def epci_siren(gaz: Gazetteer, name: str) -> str:
    return next(e.siren for e in gaz.epcis if e.nom == name)


# -- resolution


@pytest.mark.parametrize(
    ("text", "key", "label"),
    [
        ("Pas-de-Calais", "departement:62", "Pas-de-Calais (département)"),
        ("département", "departement:62", "Pas-de-Calais (département)"),
        ("62", "departement:62", "Pas-de-Calais (département)"),
        ("Département du Pas-de-Calais", "departement:62", "Pas-de-Calais (département)"),
        ("arrondissement de Calais", "arrondissement:626", "Arrondissement de Calais"),
        ("Arrondissement d'Arras", "arrondissement:621", "Arrondissement d'Arras"),
        ("ARRONDISSEMENT D’ARRAS", "arrondissement:621", "Arrondissement d'Arras"),
        ("arrondissement de Montreuil", "arrondissement:624", "Arrondissement de Montreuil"),
        ("arrondissement de Boulogne", "arrondissement:623", "Arrondissement de Boulogne-sur-Mer"),
        ("Arras", "communes:62041", "Arras"),  # a bare name stays the commune
        ("CU d'Arras", "epci:200033579", "CU d'Arras"),
        ("Communauté urbaine d’Arras", "epci:200033579", "CU d'Arras"),
        ("cu d arras", "epci:200033579", "CU d'Arras"),
        ("200033579", "epci:200033579", "CU d'Arras"),
        ("Béthune-Bruay", "epci:200072460", "CA de Béthune-Bruay, Artois-Lys Romane"),
        ("Artois-Lys Romane", "epci:200072460", "CA de Béthune-Bruay, Artois-Lys Romane"),
        ("CA de Béthune-Bruay", "epci:200072460", "CA de Béthune-Bruay, Artois-Lys Romane"),
        ("Lens-Liévin", "epci:246200364", "CA de Lens - Liévin"),
        ("communauté d'agglomération de Lens-Lievin", "epci:246200364", "CA de Lens - Liévin"),
        ("Pays de Saint-Omer", "epci:200069037", "CA du Pays de Saint-Omer"),
        (
            "200069037 ; 246200364",
            "epci:200069037+epci:246200364",
            "CA du Pays de Saint-Omer ; CA de Lens - Liévin",
        ),
        ("Béthune ; Auchel", "communes:62048+62119", "Auchel, Béthune"),
        ("62160, 62413", "communes:62160+62413", "Boulogne-sur-Mer, Harnes"),
        # The whole département holds every other part.
        ("Pas-de-Calais ; Calais", "departement:62", "Pas-de-Calais (département)"),
    ],
)
def test_zone_texts_resolve(gaz: Gazetteer, text: str, key: str, label: str) -> None:
    zone = resolve_zone(text, gaz)
    assert (zone.key, zone.label) == (key, label)
    assert zone_from_key(zone.key, gaz) == zone


def test_meloko_of_the_communique_resolves_to_its_four_epci(gaz: Gazetteer) -> None:
    # The communiqué's own words, commas and all, as the seed had them before.
    text = "Béthune-Bruay, Lens-Liévin, Pays de Saint-Omer, Communauté urbaine d’Arras"
    zone = resolve_zone(text, gaz)
    names = [
        "CU d'Arras",
        "CA du Pays de Saint-Omer",
        "CA de Béthune-Bruay, Artois-Lys Romane",
        "CA de Lens - Liévin",
    ]
    assert zone.key == "+".join(f"epci:{epci_siren(gaz, n)}" for n in names)
    assert zone.label == " ; ".join(names)
    assert zone.arrondissements == ("621", "622", "625", "627")
    members = {c for n in names for c in gaz.epci(epci_siren(gaz, n)).communes}  # type: ignore[union-attr]
    assert set(zone.communes) == members
    assert resolve_zone(" ; ".join(names), gaz) == zone


def test_every_seed_zone_resolves(gaz: Gazetteer) -> None:
    raw = pd.read_csv(DATA, dtype=str, keep_default_na=False)
    areas = raw[raw["zone"] != ""]
    assert set(areas["id"]) == AREA_IDS
    for _, row in areas.iterrows():
        zone = resolve_zone(row["zone"], gaz)
        # The marker's commune lies in its zone.
        assert row["code_insee"] in zone.communes, (row["id"], zone.key)
    jeveuxaider = areas[areas["id"] == JEVEUXAIDER].iloc[0]
    assert resolve_zone(jeveuxaider["zone"], gaz).communes == tuple(
        c.code_insee for c in gaz.communes
    )


@pytest.mark.parametrize(
    ("text", "part", "suggested"),
    [
        ("Calaisis", "Calaisis", "Arrondissement de Calais"),
        ("Montreuillois", "Montreuillois", "Arrondissement de Montreuil"),
        ("Artois", "Artois", "CC du Sud Artois"),  # three EPCI hold « Artois »: none is taken
        ("CU d'Arras ; Lens-Lieven ; Xyzzy", "Lens-Lieven", "CA de Lens - Liévin"),
        ("Béthune, Xyzzyville", "Xyzzyville", None),
        ("arrondissement de Lille", "arrondissement de Lille", None),
        ("<script>alert(1)</script>", "<script>alert(1)</script>", None),
        ("999999999", "999999999", None),
        ("Boulogne", "Boulogne", "Boulogne-sur-Mer"),  # Boulogne-Billancourt exists too
    ],
)
def test_unknown_zones_name_the_part_in_french(
    gaz: Gazetteer, text: str, part: str, suggested: str | None
) -> None:
    with pytest.raises(ZoneError) as caught:
        resolve_zone(text, gaz)
    message = str(caught.value)
    assert f"Zone « {part} » non reconnue" in message
    assert caught.value.part == part
    if suggested is not None:
        assert suggested in caught.value.suggestions


@pytest.mark.parametrize("text", ["", " ; ; ", ";" * 500, "a;" * 101, "x" * 5000])
def test_empty_or_oversized_zones_are_refused(gaz: Gazetteer, text: str) -> None:
    with pytest.raises(ZoneError):
        resolve_zone(text, gaz)


@pytest.mark.parametrize(
    "key", ["", "epci:1", "departement:59", "arrondissement:591", "communes:59350", "x:y", "+"]
)
def test_keys_not_ours_have_no_zone_nor_geometry(gaz: Gazetteer, key: str) -> None:
    assert zone_from_key(key, gaz) is None
    assert zone_geometry(key, gaz) is None


# -- geometry


def _covers_points(gaz: Gazetteer, zone: Zone) -> None:
    outline = shape(zone_geometry(zone.key, gaz))
    assert outline.is_valid
    for code in zone.communes:
        commune = gaz.by_insee(code)
        assert commune is not None
        assert outline.covers(Point(commune.point.longitude, commune.point.latitude)), code


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Pas-de-Calais", "Polygon"),
        ("arrondissement de Calais", "Polygon"),
        ("CU d'Arras", "Polygon"),
        # The four EPCI of Méloko touch one another (Pays de Saint-Omer borders Béthune-Bruay,
        # Lens - Liévin borders Béthune-Bruay and the CU d'Arras): one outline.
        ("Béthune-Bruay ; Lens-Liévin ; Pays de Saint-Omer ; CU d'Arras", "Polygon"),
        ("Calais ; Arras", "MultiPolygon"),
        ("CC Flandre Lys", "MultiPolygon"),  # its 4 Pas-de-Calais communes, in two pieces
        ("CA du Boulonnais ; CA de Lens - Liévin", "MultiPolygon"),
    ],
)
def test_zone_outlines_are_valid_and_cover_their_communes(
    gaz: Gazetteer, text: str, kind: str
) -> None:
    zone = resolve_zone(text, gaz)
    geometry = zone_geometry(zone.key, gaz)
    assert geometry is not None and geometry["type"] == kind
    _covers_points(gaz, zone)
    # A union: the parts do not overlap (their areas add up to the whole, at most).
    outline = shape(geometry)
    parts = list(getattr(outline, "geoms", [outline]))
    assert sum(p.area for p in parts) == pytest.approx(outline.area)


def test_meloko_outline_is_the_union_not_four_overlapping_pieces(gaz: Gazetteer) -> None:
    zone = resolve_zone("Béthune-Bruay ; Lens-Liévin ; Pays de Saint-Omer ; CU d'Arras", gaz)
    outline = shape(zone_geometry(zone.key, gaz))
    epcis = [
        shape(zone_geometry(f"epci:{s}", gaz)) for s in zone.key.replace("epci:", "").split("+")
    ]
    assert outline.area == pytest.approx(sum(e.area for e in epcis), rel=1e-3)
    assert zone_geometry(zone.key, gaz) is zone_geometry(zone.key, gaz)  # cached


def test_epci_of_two_departements_keeps_its_pas_de_calais_members(gaz: Gazetteer) -> None:
    flandre_lys = next(e for e in gaz.epcis if e.nom == "CC Flandre Lys")
    assert all(c.startswith("62") for c in flandre_lys.communes)
    assert len(flandre_lys.communes) == 4 and len(flandre_lys.communes_ailleurs) == 4
    assert {c for e in gaz.epcis for c in e.communes} == {c.code_insee for c in gaz.communes}


# -- derived columns, import warnings


def test_seed_gets_zone_columns(seed: pd.DataFrame) -> None:
    areas = seed[seed["zone_key"] != ""]
    assert set(areas["id"]) == AREA_IDS
    points = seed[seed["zone_key"] == ""]
    assert set(points["zone_label"]) == set(points["zone_communes"]) == {""}
    meloko = seed[seed["id"] == MELOKO].iloc[0]
    assert meloko["zone_arrondissements"] == "621 622 625 627"
    assert "62498" in meloko["zone_communes"].split()  # Lens
    # The marker stays at its commune.
    assert meloko["commune"] == "Béthune" and meloko["latitude"] == pytest.approx(50.53, abs=0.02)


def test_an_unknown_zone_warns_and_stays_a_point(gaz: Gazetteer) -> None:
    frame = pd.DataFrame(
        {
            "nom": ["Masques", "Paniers"],
            "commune": ["Calais", "Arras"],
            "portee": ["secteur", "secteur"],
            "zone": ["Calaisis", "CU d'Arras"],
        }
    )
    table, issues = geocode_table(frame, OfflineGeocoder(gaz))
    assert list(table["zone_key"]) == ["", "epci:200033579"]
    assert table.loc[0, "latitude"] == pytest.approx(gaz.find("Calais")[0].point.latitude)
    (issue,) = issues
    assert (issue.severity, issue.row, issue.column, issue.value) == (
        "warning",
        2,
        "zone",
        "Calaisis",
    )
    text = str(issue)
    assert "ligne 2" in text and "colonne « zone »" in text and "« Calaisis »" in text
    assert "Arrondissement de Calais" in text and "point à Calais" in text


def test_validate_of_the_seed_warns_about_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DATA)]) == 0
    out = capsys.readouterr().out
    assert "0 erreur(s), 0 avertissement(s)" in out


# -- filters


def test_area_initiatives_count_in_every_arrondissement_they_cover(seed: pd.DataFrame) -> None:
    counts = facets(seed, FilterSpec(), ("arrondissement_code",))["arrondissement_code"]
    codes = ("621", "622", "623", "624", "625", "626", "627")
    assert set(counts) == set(codes)
    assert min(counts.values()) >= 1  # no more « Saint-Omer (0) »
    for code in ("621", "622", "625", "627"):
        shown = apply_filters(seed, FilterSpec(arrondissements=(code,)))
        assert MELOKO in set(shown["id"]), code
    for code in codes:
        shown = apply_filters(seed, FilterSpec(arrondissements=(code,)))
        assert JEVEUXAIDER in set(shown["id"]), code
        assert counts[code] == len(shown)
    calais = apply_filters(seed, FilterSpec(arrondissements=("623",)))
    assert MELOKO not in set(calais["id"])


def test_area_initiatives_count_in_every_commune_they_cover(seed: pd.DataFrame) -> None:
    lens = apply_filters(seed, FilterSpec(communes=("62498",)))
    assert {MELOKO, JEVEUXAIDER} <= set(lens["id"])
    counts = facets(seed, FilterSpec(), ("code_insee",))["code_insee"]
    assert counts["62498"] == len(lens)
    assert len(counts) == 887  # JeVeuxAider covers every commune


def test_memberships_hold_own_value_then_zone(seed: pd.DataFrame) -> None:
    own = memberships(seed, "arrondissement_code")
    by_id = dict(zip(seed["id"], own, strict=True))
    assert by_id[MELOKO] == ("622", "621", "625", "627")
    assert by_id["pdc-2020-04-06-01"] == ("622",)
    assert memberships(seed, "categorie").tolist() == [(c,) for c in seed["categorie"]]


def test_search_finds_an_area_initiative_by_its_zone_label(seed: pd.DataFrame) -> None:
    index = search_index(seed)
    shown = apply_filters(seed, FilterSpec(text="Pays de Saint-Omer"), index=index)
    assert MELOKO in set(shown["id"])
    shown = apply_filters(seed, FilterSpec(text="artois lys romane"), index=index)
    assert {MELOKO, "pdc-2020-04-06-13"} <= set(shown["id"])


# -- detail and exports


def test_detail_of_an_area_says_zone(seed: pd.DataFrame) -> None:
    for _, row in seed[seed["id"].isin(AREA_IDS)].iterrows():
        lines = {line.label: line.text for line in detail_lines(row.to_dict())}
        assert lines["Zone"] == row["zone_label"]
        assert "Commune" not in lines and "Portée" not in lines
    jeveuxaider = seed[seed["id"] == JEVEUXAIDER].iloc[0].to_dict()
    lines = {line.label: line.text for line in detail_lines(jeveuxaider)}
    assert lines["Zone"] == "Pas-de-Calais (département)"
    point = seed[seed["id"] == "pdc-2020-04-06-14"].iloc[0].to_dict()
    assert "Commune" in {line.label for line in detail_lines(point)}


def test_geojson_export_gives_areas_their_outline(seed: pd.DataFrame, gaz: Gazetteer) -> None:
    collection = json.loads(export_table(seed, fmt="geojson", gazetteer=gaz))
    kinds = {f["properties"]["id"]: f["geometry"]["type"] for f in collection["features"]}
    assert {i for i, k in kinds.items() if k in ("Polygon", "MultiPolygon")} == AREA_IDS
    assert {kinds[i] for i in set(kinds) - AREA_IDS} == {"Point"}
    # Properties are the same for an area as for a point.
    keys = {tuple(sorted(f["properties"])) for f in collection["features"]}
    assert len(keys) == 1


def test_cli_export_of_the_published_seed_has_polygons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARTO_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("CARTO_STATE_DIR", str(tmp_path / "state"))
    out = tmp_path / "seed.geojson"
    assert main(["export", "--format", "geojson", "-o", str(out)]) == 0
    features = json.loads(out.read_text(encoding="utf-8"))["features"]
    areas = [f for f in features if f["geometry"]["type"] in ("Polygon", "MultiPolygon")]
    assert {f["properties"]["id"] for f in areas} == AREA_IDS
    for feature in areas:
        assert shape(feature["geometry"]).is_valid


def test_a_version_published_before_zones_still_loads(tmp_path: Path, seed: pd.DataFrame) -> None:
    """A base made before the zone columns existed: upgraded on open, its rows stay points."""
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    with Store.open(url) as store:
        store.publish(seed, author="test", base_version=None)
    connection = sqlite3.connect(tmp_path / "old.sqlite")
    for column in ("zone_key", "zone_label", "zone_communes", "zone_arrondissements"):
        connection.execute(f"ALTER TABLE initiatives DROP COLUMN {column}")
    connection.commit()
    connection.close()
    with Store.open(url) as store:
        table = store.load()
        assert len(table) == len(seed)
        assert set(table["zone_key"]) == {""}
        assert set(table["zone"]) == set(seed["zone"])
        collection = json.loads(export_table(table, fmt="geojson"))
        assert {f["geometry"]["type"] for f in collection["features"]} == {"Point"}
        # Publishing again stores the zones.
        store.publish(seed, author="test", base_version=1)
        assert set(store.load()["zone_key"]) == set(seed["zone_key"])
        # And rolling back to the old version copies what it has.
        store.rollback(1, author="test")
        assert set(store.load()["zone_key"]) == {""}


def _old_base(path: Path, table: pd.DataFrame) -> str:
    """A SQLite base as published before the zone columns existed."""
    url = f"sqlite:///{path}"
    with Store.open(url) as store:
        store.publish(table, author="test", base_version=None)
    connection = sqlite3.connect(path)
    for column in ("zone_key", "zone_label", "zone_communes", "zone_arrondissements"):
        connection.execute(f"ALTER TABLE initiatives DROP COLUMN {column}")
    connection.commit()
    connection.close()
    return url


def test_the_map_page_shows_a_version_published_before_zones(db: str, seed: pd.DataFrame) -> None:
    from apptest import map_page, shown_count

    _old_base(Path(db.removeprefix("sqlite:///")), seed)
    at = map_page()
    assert not at.exception
    assert [e.value for e in at.error] == []
    assert shown_count(at) == (len(seed), len(seed))


def test_a_read_only_base_published_before_zones_still_loads(
    tmp_path: Path, seed: pd.DataFrame
) -> None:
    from test_storage_readonly import _unwritable

    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "old.sqlite"
    url = _old_base(path, seed)
    with _unwritable(path, folder), Store.open(url) as store:
        assert store.read_only
        table = store.load()
        assert len(table) == len(seed) and set(table["zone_key"]) == {""}
        assert list(table.columns) == list(seed.columns)
