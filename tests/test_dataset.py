"""The whole input path: read, validate, geocode; editor corrections; online geocoder switch."""

from __future__ import annotations

from pathlib import Path

import pytest

from carto.errors import ConfigError
from carto.gazetteer import load_gazetteer
from carto.geocoding import ChainGeocoder, OfflineGeocoder
from carto.intake import pipeline as dataset
from carto.intake.reading import read_table

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_data_is_clean_and_fully_placed() -> None:
    loaded = dataset.load(ROOT / "data" / "initiatives.csv")
    assert loaded.ok, [str(i) for i in loaded.errors]
    assert len(loaded.table) >= 16
    assert len(loaded.placed) == len(loaded.table)
    guines = loaded.table[loaded.table["commune"] == "Guînes"]
    assert set(guines["arrondissement"]) == {"Calais"}
    assert set(loaded.table["geocode_status"]) <= {"exact", "fuzzy"}


def test_editor_correction_resolves_unknown_commune_as_manual() -> None:
    raw = read_table(
        b"nom;categorie;commune\nPaniers;isoles;Guinnnes-xyz\nGel;protection;Lillers\n",
        filename="f.csv",
    )
    gaz = load_gazetteer("62")
    before = dataset.prepare(raw, gaz)
    assert not before.ok
    (error,) = before.errors
    assert (error.row, error.column, error.value) == (2, "commune", "Guinnnes-xyz")

    after = dataset.prepare(raw, gaz, corrections={2: "62397"})
    assert after.ok
    first = after.table.iloc[0]
    assert (first["commune"], first["code_insee"], first["geocode_status"]) == (
        "Guînes",
        "62397",
        "manual",
    )
    assert after.table.iloc[1]["geocode_status"] == "exact"


def test_clean_rows_leave_out_rows_with_errors() -> None:
    raw = read_table(
        "nom;categorie;commune\nA;isoles;Guînes\nB;inconnue;Calais\nC;routiers;Arras\n".encode(),
        filename="f.csv",
    )
    loaded = dataset.prepare(raw, load_gazetteer("62"))
    assert list(loaded.clean_rows()["nom"]) == ["A", "C"]


def test_missing_required_column_gives_an_empty_table_and_a_file_level_error() -> None:
    raw = read_table(b"nom;commune\nA;Calais\n", filename="f.csv")
    loaded = dataset.prepare(raw, load_gazetteer("62"))
    assert loaded.table.empty and not loaded.ok
    assert loaded.errors[0].row is None and loaded.errors[0].column == "categorie"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, OfflineGeocoder),
        ("", OfflineGeocoder),
        ("off", OfflineGeocoder),
        ("ban", ChainGeocoder),
    ],
)
def test_online_geocoding_is_off_unless_configured(monkeypatch, tmp_path, value, expected) -> None:
    monkeypatch.setenv("CARTO_STATE_DIR", str(tmp_path))  # the online cache goes there
    if value is None:
        monkeypatch.delenv("CARTO_ONLINE_GEOCODER", raising=False)
    else:
        monkeypatch.setenv("CARTO_ONLINE_GEOCODER", value)
    assert type(dataset.default_geocoder(load_gazetteer("62"))) is expected


def test_unknown_online_geocoder_is_a_config_error(monkeypatch) -> None:
    monkeypatch.setenv("CARTO_ONLINE_GEOCODER", "google")
    with pytest.raises(ConfigError, match="CARTO_ONLINE_GEOCODER"):
        dataset.default_geocoder(load_gazetteer("62"))
