"""`carto a-verifier` and `carto nouveautes`: the time of initiatives from a shell (carto.timeline).
Registered by `carto.cli`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from carto.config import MAX_REVIEW_WEEKS
from carto.errors import UsageError

EXIT_OK = 0


# The days `--date` may judge at: a computation `MAX_REVIEW_WEEKS` back stays in the calendar.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)
MAX_NEWS = 1000


def _day(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"« {text} » n'est pas une date AAAA-MM-JJ (par ex. 2026-12-06)"
        ) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise argparse.ArgumentTypeError(
            f"« {text} » : une date entre le {FIRST_DAY.isoformat()} et le {LAST_DAY.isoformat()}"
        )
    return day


def _whole(text: str, low: int, high: int, unit: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"« {text} » : un nombre entier {unit}, de {low} à {high}")
    return value


def _weeks(text: str) -> int:
    return _whole(text, 1, MAX_REVIEW_WEEKS, "de semaines")


def _count(text: str) -> int:
    return _whole(text, 1, MAX_NEWS, "de publications")


def _store() -> Any:
    from carto.config import Settings
    from carto.gazetteer import load_gazetteer
    from carto.publishing.plan import open_store

    cfg = Settings.from_env()
    return cfg, open_store(cfg, load_gazetteer(cfg.departement))


def cmd_review_due(args: argparse.Namespace) -> int:
    from carto.timeline import local_today, review_due, review_frame

    cfg, store = _store()
    with store:
        if store.current() is None:
            raise UsageError("Aucune version n'est publiée : rien à vérifier.")
        table = store.load()
    weeks = args.semaines or cfg.review_weeks
    items = review_due(table, today=args.date or local_today(), weeks=weeks)
    if args.csv:
        from carto.exports import neutralise

        frame = review_frame(items).map(neutralise)  # opened in a spreadsheet: no formulas
        if args.csv == "-":
            frame.to_csv(sys.stdout, sep=";", index=False)
        else:
            frame.to_csv(args.csv, sep=";", index=False, encoding="utf-8-sig")
            print(
                f"{len(items)} initiative(s) à vérifier écrites dans {args.csv}.", file=sys.stderr
            )
        return EXIT_OK
    if not items:
        print(f"Aucune initiative à vérifier (vérification toutes les {weeks} semaines).")
        return EXIT_OK
    print(f"{len(items)} initiative(s) à vérifier (vérification toutes les {weeks} semaines) :")
    for item in items:
        where = f" ({item.commune})" if item.commune else ""
        print(f"- {item.id or '(sans identifiant)'} {item.nom}{where} : {' ; '.join(item.reasons)}")
    return EXIT_OK


def cmd_news(args: argparse.Namespace) -> int:
    from carto.timeline import publication_news

    _, store = _store()
    with store:
        news = publication_news(store)
    if not news:
        print("Aucune version n'est publiée.")
        return EXIT_OK
    for entry in news[: args.nombre]:
        note = f" — « {entry.note} »" if entry.note else ""
        print(f"Version {entry.number} : {entry.title_fr()}{note}")
        for line in entry.lines_fr():
            print(f"  {line}")
    return EXIT_OK


def add_parser(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add `a-verifier` and `nouveautes` to the `carto` sub-commands."""
    due = sub.add_parser(
        "a-verifier",
        help="lister les initiatives à vérifier (date de fin passée, vérification ancienne)",
    )
    due.add_argument(
        "--semaines",
        type=_weeks,
        help="vérifier ce qui n'a pas été vérifié depuis N semaines (défaut : CARTO_REVIEW_WEEKS)",
    )
    due.add_argument(
        "--date", type=_day, help="juger à cette date (AAAA-MM-JJ) plutôt qu'aujourd'hui"
    )
    due.add_argument("--csv", metavar="FICHIER", help="écrire la liste en CSV (« - » : sortie)")
    due.set_defaults(func=cmd_review_due)

    news = sub.add_parser("nouveautes", help="ce que chaque publication a ajouté, modifié, terminé")
    news.add_argument(
        "--nombre", type=_count, default=10, help="nombre de publications (défaut 10)"
    )
    news.set_defaults(func=cmd_news)
