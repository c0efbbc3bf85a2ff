"""Initiatives over time, as visitors and editors meet them: ended ones hidden, a period kept,
« Nouveau » for what the latest publication added, « Nouveautés » per publication, « à vérifier »
for editors. Rules judged on a fixed `today`; publications in a real SQLite store."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from carto.cli import main
from carto.config import PROJECT_ROOT, Settings
from carto.errors import ConfigError
from carto.fields import parse_statut
from carto.filters import FilterSpec, apply_filters
from carto.intake import pipeline
from carto.intake.reading import read_table
from carto.intake.validation import validate_table
from carto.publishing.storage import Store
from carto.timeline import (
    NewsHistory,
    ended_mask,
    is_active_in,
    is_ended,
    nouveau_mask,
    period_mask,
    publication_news,
    review_due,
)

DATA = PROJECT_ROOT / "data" / "initiatives.csv"
TODAY = date(2026, 12, 6)


def rows(*specs: dict[str, str]) -> pd.DataFrame:
    base = {"id": "", "nom": "", "commune": "Arras", "categorie": "isoles", "statut": ""}
    return pd.DataFrame([base | {"date_debut": "", "date_fin": ""} | s for s in specs])


# --- the rules on one day ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "ended"),
    [
        ({"statut": "terminee"}, True),
        ({"date_fin": "2026-12-05"}, True),
        ({"date_fin": "2026-12-06"}, False),  # its last day: still running
        ({"date_fin": "2027-01-31"}, False),
        ({"statut": "en_cours", "date_fin": "2026-11-30"}, True),  # the date wins
        ({}, False),  # no date, no statut: running
        ({"statut": "a_verifier"}, False),
    ],
)
def test_an_initiative_is_ended_by_its_statut_or_a_past_end(row: dict, ended: bool) -> None:
    assert is_ended(row, TODAY) is ended
    assert ended_mask(rows(row), TODAY).tolist() == [ended]


@pytest.mark.parametrize(
    ("row", "start", "end", "active"),
    [
        ({"date_debut": "2020-03-23", "date_fin": "2020-05-11"}, date(2020, 4, 1), None, True),
        ({"date_debut": "2020-03-23", "date_fin": "2020-05-11"}, date(2020, 6, 1), None, False),
        ({"date_debut": "2020-03-23", "date_fin": "2020-05-11"}, None, date(2020, 3, 1), False),
        ({"date_debut": "2020-03-23", "date_fin": "2020-05-11"}, None, date(2020, 3, 23), True),
        ({"date_debut": "2020-03-23", "date_fin": "2020-05-11"}, date(2020, 5, 11), None, True),
        # Missing dates are open-ended: since always, until further notice.
        ({}, date(1999, 1, 1), date(1999, 1, 2), True),
        ({"date_fin": "2020-05-11"}, None, date(2001, 1, 1), True),
        ({"date_debut": "2025-01-01"}, date(2030, 1, 1), None, True),
        ({"date_debut": "2025-01-01"}, None, date(2024, 12, 31), False),
    ],
)
def test_a_period_keeps_what_overlaps_it(
    row: dict, start: date | None, end: date | None, active: bool
) -> None:
    assert is_active_in(row, start, end) is active
    assert period_mask(rows(row), start, end).tolist() == [active]


def test_the_map_hides_ended_initiatives_until_asked() -> None:
    table = rows(
        {"id": "a", "nom": "Courses solidaires"},
        {"id": "b", "nom": "Visières", "statut": "terminee"},
        {"id": "c", "nom": "Masques", "date_fin": "2020-05-11"},
    )
    default = apply_filters(table, FilterSpec(today=TODAY))
    assert default["id"].tolist() == ["a"]
    everything = apply_filters(table, FilterSpec(show_ended=True, today=TODAY))
    assert everything["id"].tolist() == ["a", "b", "c"]
    in_april_2020 = FilterSpec(start=date(2020, 4, 1), end=date(2020, 4, 30), show_ended=True)
    assert apply_filters(table, in_april_2020)["id"].tolist() == ["a", "b", "c"]
    after = FilterSpec(start=date(2020, 6, 1), show_ended=True, today=TODAY)
    assert apply_filters(table, after)["id"].tolist() == ["a", "b"]
    # Nothing ended: the view is the table itself (no copy per visitor).
    assert apply_filters(table.iloc[:1], FilterSpec(today=TODAY)) is not None


@pytest.mark.parametrize(
    ("params", "start", "end", "show_ended"),
    [
        (
            {"du": "2020-04-01", "au": "2020-04-30", "terminees": "1"},
            "2020-04-01",
            "2020-04-30",
            True,
        ),
        ({"du": "2020-04-30", "au": "2020-04-01"}, "2020-04-01", "2020-04-30", False),  # swapped
        ({"du": "31/04/2020", "au": "demain", "terminees": "peut-être"}, None, None, False),
        ({"du": "2020-02-30", "au": ["2020-05-01", "x"]}, None, "2020-05-01", False),
        ({"du": "9" * 5000, "terminees": ["1", "0"]}, None, None, True),
        ({"du": ""}, None, None, False),
    ],
)
def test_a_shared_link_keeps_its_period_and_odd_values_are_ignored(
    params: dict, start: str | None, end: str | None, show_ended: bool
) -> None:
    spec = FilterSpec.from_query(params)
    assert (spec.start, spec.end, spec.show_ended) == (
        date.fromisoformat(start) if start else None,
        date.fromisoformat(end) if end else None,
        show_ended,
    )
    # The link the page writes back gives the same view again.
    again = FilterSpec.from_query(spec.to_query())
    assert again == spec
    assert again.view_key == spec.view_key


def test_the_default_link_stays_short() -> None:
    assert FilterSpec(today=TODAY).to_query() == {}
    assert FilterSpec(today=TODAY).is_empty


# --- import: statut and dates --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("En cours", "en_cours"),
        ("en_cours", "en_cours"),
        ("terminee", "terminee"),
        ("Terminée", "terminee"),
        ("TERMINÉES", "terminee"),
        ("fini", "terminee"),
        ("Finie", "terminee"),
        ("à vérifier", "a_verifier"),
        ("A VERIFIER", "a_verifier"),
        ("peut-être", None),
        ("en pause", None),
    ],
)
def test_statut_spellings(typed: str, stored: str | None) -> None:
    assert parse_statut(typed) == stored


def _validate(csv: str):  # type: ignore[no-untyped-def]
    raw = read_table(csv.encode(), filename="f.csv")
    return validate_table(raw.frame, row_numbers=raw.row_numbers)


def test_an_editor_is_told_of_a_bad_statut_or_an_end_before_the_start() -> None:
    result = _validate(
        "nom;categorie;commune;statut;date_debut;date_fin;verifie_le\n"
        "Courses;isoles;Arras;Fini;1er avril 2020;11/05/2020;30/11/2026\n"
        "Masques;protection;Lens;en pause;;;\n"
        "Visières;protection;Liévin;;2020-05-11;2020-04-01;\n"
        "Gel;protection;Lillers;;2020-04-31;;\n"
    )
    table = result.table
    assert table.loc[0, ["statut", "date_debut", "date_fin", "verifie_le"]].tolist() == [
        "terminee",
        "2020-04-01",
        "2020-05-11",
        "2026-11-30",
    ]
    messages = [str(i) for i in result.issues]
    assert any(
        "ligne 3" in m and "« statut »" in m and "« en pause »" in m and "statut inconnu" in m
        for m in messages
    ), messages
    assert any(
        "ligne 4" in m
        and "« date_fin »" in m
        and "2020-04-01" in m
        and "avant la date de début" in m
        for m in messages
    ), messages
    assert any("ligne 5" in m and "« date_debut »" in m and "2020-04-31" in m for m in messages)
    assert result.error_rows == {3, 4}


# --- publications: Nouveau and Nouveautés in a real store ----------------------------------------


@pytest.fixture(scope="module")
def seed() -> pd.DataFrame:
    return pipeline.load(DATA).table


def _added(seed: pd.DataFrame, ident: str, nom: str, **values: str) -> pd.DataFrame:
    row = seed.iloc[[0]].copy()
    row["id"], row["nom"] = ident, nom
    for column, value in values.items():
        row[column] = value
    return pd.concat([seed, row], ignore_index=True)


def test_nouveau_is_what_the_latest_publication_added_and_a_rollback_adds_nothing(
    tmp_path: Path, seed: pd.DataFrame
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'carto.sqlite'}")
    history = NewsHistory()
    store.bootstrap_from(seed)
    assert nouveau_mask(seed, publication_news(store, history=history)).sum() == 0

    v2 = _added(seed, "pdc-2026-12-01-01", "Épicerie solidaire", date_debut="2026-12-01")
    v2.loc[1, "statut"] = "terminee"  # Roquette's production has stopped
    v2.loc[2, "telephone"] = "03 21 00 00 00"
    store.publish(v2, author="Marie", note="Communiqué du 1er décembre", base_version=1)
    news = publication_news(store, history=history)
    latest = news[0]
    assert latest.number == 2 and latest.note == "Communiqué du 1er décembre"
    assert latest.added == ("Épicerie solidaire (Lillers)",)
    assert latest.ended == (f"{seed.loc[1, 'nom']} ({seed.loc[1, 'commune']})",)
    assert latest.changed == (f"{seed.loc[2, 'nom']} ({seed.loc[2, 'commune']})",)
    lines = latest.lines_fr()
    assert "1 initiative ajoutée : Épicerie solidaire (Lillers)." in lines
    assert any(line.startswith("1 initiative terminée : Roquette") for line in lines)
    assert latest.title_fr().startswith("Publication du ")
    shown = store.load()
    assert shown.loc[nouveau_mask(shown, news), "id"].tolist() == ["pdc-2026-12-01-01"]

    # v3 withdraws an initiative; v4 rolls back to v2: nothing is « Nouveau » again.
    store.publish(v2.iloc[:-1], author="Marie", note="Retrait", base_version=2)
    news = publication_news(store, history=history)
    assert news[0].removed == ("Épicerie solidaire (Lillers)",)
    assert nouveau_mask(store.load(), news).sum() == 0
    store.rollback(2, author="Marie")
    news = publication_news(store, history=history)
    assert news[0].added == () and news[0].back == ("Épicerie solidaire (Lillers)",)
    assert "Retour au contenu de la version 2." in news[0].lines_fr()
    assert nouveau_mask(store.load(), news).sum() == 0
    # Newest first, without version 3 that the rollback withdrew; a fresh history (another
    # process) tells the same story.
    assert [n.number for n in news] == [4, 2, 1]
    assert publication_news(store) == news
    assert news[-1].lines_fr() == ["Première publication de la carte."]


def test_a_rollback_withdraws_the_publications_after_it_from_the_news(
    tmp_path: Path, seed: pd.DataFrame
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'carto.sqlite'}")
    store.bootstrap_from(seed)
    store.publish(_added(seed, "", "Épicerie solidaire"), author="Marie", base_version=1)
    assert publication_news(store)[0].added == ("Épicerie solidaire (Lillers)",)
    store.rollback(1, author="Paul")
    news = publication_news(store)
    # The visitor no longer reads that the épicerie was added; the rollback says it is gone.
    assert [n.number for n in news] == [3, 1]
    assert not any(n.added for n in news)
    assert news[0].removed == ("Épicerie solidaire (Lillers)",)
    assert "1 initiative retirée : Épicerie solidaire (Lillers)." in news[0].lines_fr()
    assert nouveau_mask(store.load(), news).sum() == 0
    # The site's « Nouveautés » are the same list.
    from carto.site.build import store_news

    assert [n.number for n in store_news(store)] == [3, 1]


# --- à vérifier ----------------------------------------------------------------------------------


def test_editors_see_what_to_check() -> None:
    table = rows(
        {"id": "a", "nom": "Vérifiée", "verifie_le": "2026-11-30"},
        {"id": "b", "nom": "Fin passée", "date_fin": "2026-10-01", "verifie_le": "2026-11-30"},
        {"id": "c", "nom": "Ancienne", "verifie_le": "2026-09-01"},
        {"id": "d", "nom": "Du communiqué", "date_publication": "2020-04-06"},
        {"id": "e", "nom": "Finie", "statut": "terminee", "date_fin": "2020-05-11"},
        {"id": "f", "nom": "Douteuse", "statut": "a_verifier", "verifie_le": "2026-12-01"},
    )
    items = review_due(table, today=TODAY, weeks=8)
    by_id = {i.id: i.reasons for i in items}
    assert set(by_id) == {"b", "c", "d", "f"}
    assert by_id["b"] == ("date de fin passée (01/10/2026) sans statut « terminée »",)
    assert by_id["c"] == ("vérifiée le 01/09/2026, il y a plus de 8 semaines",)
    assert "jamais vérifiée depuis sa publication du 06/04/2020" in by_id["d"][0]
    assert [i.id for i in items][0] == "d"  # the oldest check first
    assert {i.id for i in review_due(table, today=TODAY, weeks=20)} == {"b", "d", "f"}


def test_the_review_period_is_configurable() -> None:
    assert Settings.from_env({}).review_weeks == 8
    assert Settings.from_env({"CARTO_REVIEW_WEEKS": "4"}).review_weeks == 4
    with pytest.raises(ConfigError, match="CARTO_REVIEW_WEEKS"):
        Settings.from_env({"CARTO_REVIEW_WEEKS": "huit"})
    with pytest.raises(ConfigError, match="de 1 à 520"):
        Settings.from_env({"CARTO_REVIEW_WEEKS": "99999999"})


def test_carto_a_verifier_lists_the_seed_as_never_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARTO_DATABASE_URL", f"sqlite:///{tmp_path / 'c.sqlite'}")
    monkeypatch.setenv("CARTO_STATE_DIR", str(tmp_path / "state"))
    assert main(["a-verifier", "--date", "2026-12-06"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("18 initiative(s) à vérifier (vérification toutes les 8 semaines) :")
    assert "jamais vérifiée depuis sa publication du 06/04/2020" in out
    assert main(["nouveautes"]) == 0
    assert "Première publication de la carte." in capsys.readouterr().out


def test_an_export_keeps_the_ended_initiatives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: pd.DataFrame
) -> None:
    # An editor exports, edits and re-imports with « Remplacer »: nothing may get lost.
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    monkeypatch.setenv("CARTO_DATABASE_URL", url)
    monkeypatch.setenv("CARTO_STATE_DIR", str(tmp_path / "state"))
    table = seed.copy()
    table.loc[0, "statut"] = "terminee"
    with Store.open(url) as store:
        store.publish(table, author="Marie", base_version=None)
    out = tmp_path / "export.csv"
    assert main(["export", "--format", "csv", "-o", str(out)]) == 0
    exported = pipeline.load(out).table
    assert len(exported) == len(seed)
    assert exported.loc[0, "statut"] == "terminee"


def test_the_map_data_marks_the_new_markers(seed: pd.DataFrame) -> None:
    from carto.map.markers import marker_payload

    placed = seed[seed["latitude"].notna()].reset_index(drop=True)
    payload = marker_payload(placed, new_ids={str(placed.loc[2, "id"]), "absent"})
    assert payload["new"] == [2]
    assert marker_payload(placed)["new"] == []


def test_the_fiche_tells_the_period_and_state() -> None:
    from carto.display import detail_lines

    row = {
        "nom": "Courses",
        "categorie": "isoles",
        "commune": "Arras",
        "date_debut": "2020-03-23",
        "date_fin": "2020-05-11",
        "statut": "en_cours",
        "verifie_le": "2020-05-01",
    }
    lines = {line.label: line.text for line in detail_lines(row, today=TODAY)}
    assert lines["Période"] == "du 23/03/2020 au 11/05/2020"
    assert lines["Statut"] == "Terminée"  # its end date is past, whatever the statut says
    assert lines["Vérifiée le"] == "01/05/2020"
    running = {line.label: line.text for line in detail_lines({**row, "date_fin": ""}, today=TODAY)}
    assert running["Période"] == "depuis le 23/03/2020" and running["Statut"] == "En cours"
