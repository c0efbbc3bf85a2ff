"""`carto extract FILE -o CANDIDATES.csv`: a communiqué turned into candidate initiatives
(carto.extract). Registered by `carto.cli`.

The file is read by a worker process with CPU, memory and wall-clock limits
(carto.extract.worker.read_isolated), as on the page: a hostile file is stopped there and
refused in French (exit 1); the details (the worker's exit, its last words) go to a journal
file, never to the terminal as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carto.errors import UsageError
from carto.text import cell_text

if TYPE_CHECKING:
    from carto.extract import Document

EXIT_OK, EXIT_INVALID = 0, 1
JOURNAL = "carto-extract.log"  # under CARTO_STATE_DIR unless --journal
logger = logging.getLogger("carto")


def cmd_extract(args: argparse.Namespace) -> int:
    from carto.config import Settings
    from carto.extract import extract_candidates
    from carto.extract.output import (
        candidates_csv,
        onto_published,
        published_by_name,
        review_csv,
    )
    from carto.gazetteer import load_gazetteer

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"Fichier introuvable : « {args.file} ».")
    settings = Settings.from_env()
    departement = args.departement or settings.departement
    journal = Path(args.journal) if args.journal else settings.state_dir / JOURNAL
    document = _read(path, journal)  # DocumentError (a CartoError): French message, exit 1
    extraction = extract_candidates(document, load_gazetteer(departement))
    candidates = extraction.candidates
    when = extraction.published.isoformat() if extraction.published else "date non trouvée"
    print(
        f"{path.name} ({document.format}) : « {extraction.title or 'sans titre'} », {when} ; "
        f"{len(candidates)} initiative(s) candidate(s).",
        file=sys.stderr,
    )
    rows: list[Mapping[str, Any]] = [c.row() for c in candidates]
    matches = published_by_name(rows, _published_rows(args.no_map))
    written: list[Mapping[str, Any]] = []
    for number, (candidate, row, match) in enumerate(
        zip(candidates, rows, matches, strict=True), start=1
    ):
        place = candidate.zone or candidate.commune
        flags = f" [{' ; '.join(candidate.remarques)}]" if candidate.remarques else ""
        if match is not None:
            done = "mise à jour" if args.update else "écartée (--mettre-a-jour pour la compléter)"
            flags += f" — déjà sur la carte : « {cell_text(match.get('nom'))} », {done}"
        print(
            f"  {number}. {candidate.nom} — {candidate.categorie or 'thème ?'} — {place} "
            f"(confiance {candidate.confiance:.2f}){flags}",
            file=sys.stderr,
        )
        if match is None:
            written.append(row)
        elif args.update:
            written.append(onto_published(row, match))
    if extraction.ignored_places:
        print(
            "  lieux hors du département, ignorés : " + ", ".join(extraction.ignored_places),
            file=sys.stderr,
        )
    if not candidates:
        print("Aucune initiative trouvée : rien n'a été écrit.", file=sys.stderr)
        return EXIT_INVALID
    _write(args.output, candidates_csv(written))
    if args.revue:
        _write(args.revue, review_csv(candidates))
    return EXIT_OK


def _read(path: Path, journal: Path) -> Document:
    """The communiqué read by a worker process with limits; DocumentError (French) when it is
    refused or stopped, the details written to `journal`."""
    from carto.extract import DocumentError
    from carto.extract.documents import MAX_BYTES
    from carto.extract.worker import read_isolated

    try:
        size = path.stat().st_size
        if size > MAX_BYTES:  # refused unread
            raise DocumentError(
                f"Le fichier « {path.name} » fait {size / 2**20:.1f} Mo : un communiqué ne peut "
                f"pas dépasser {MAX_BYTES // 2**20} Mo."
            )
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"Fichier « {path} » illisible ({exc.strerror}).") from exc
    with _journal(journal) as details:
        try:
            return read_isolated(data, path.name)
        except DocumentError as exc:
            if not details:  # a plain refusal (format, empty file): its message says it all
                raise
            logger.warning("carto extract %s : refusé : %s", path, exc)
            raise DocumentError(f"{exc} Détails dans « {journal} ».") from exc


class _Details(logging.FileHandler):
    """The journal file, opened at its first record; knows whether it wrote something, and
    drops what it cannot write (logging would print a traceback)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        self.written = 0
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            super().emit(record)  # opens the file at the first record
        except OSError:
            self.failed = True
        self.written += 1

    def handleError(self, record: logging.LogRecord) -> None:
        self.failed = True

    def __bool__(self) -> bool:
        return self.written > 0 and not self.failed


@contextmanager
def _journal(path: Path) -> Iterator[_Details | None]:
    """Records of the `carto` loggers (the reader's details) appended to `path` while reading;
    never printed. None when the folder cannot be made (the details are then dropped)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        yield None
        return
    handler = _Details(path)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()


def _published_rows(skip: bool) -> list[dict[str, Any]]:
    """The initiatives on the map now (to say « déjà sur la carte »), as the page compares them;
    none with --sans-carte, or when the store cannot be read (said on stderr)."""
    if skip:
        return []
    from carto.config import Settings
    from carto.errors import CartoError
    from carto.publishing.storage import Store

    try:
        with Store.open(**Settings.from_env().store_options()) as store:
            current = store.current()
            table = store.load(current.number) if current is not None else None
    except CartoError as exc:
        print(f"  carte non comparée : {exc}", file=sys.stderr)
        return []
    if table is None:
        return []
    return [{str(k): v for k, v in row.items()} for row in table.to_dict(orient="records")]


def _write(target: str, text: str) -> None:
    if target == "-":
        sys.stdout.write(text)
        return
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Impossible d'écrire « {target} » ({exc.strerror}).") from exc


def add_parser(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    extract = sub.add_parser(
        "extract",
        help="lire un communiqué (.pdf, .html, .docx, .odt, .txt) en initiatives candidates",
    )
    extract.add_argument("file", metavar="FICHIER")
    extract.add_argument(
        "-o",
        "--output",
        required=True,
        help="CSV des candidates à écrire (colonnes du schéma, relu par carto validate/import)",
    )
    extract.add_argument(
        "--revue",
        metavar="CSV",
        help="écrire aussi un CSV de revue : phrase d'origine, confiance, remarques",
    )
    extract.add_argument(
        "--mettre-a-jour",
        dest="update",
        action="store_true",
        help="une candidate déjà sur la carte (nom proche, même commune) est écrite comme mise à "
        "jour de l'initiative publiée (son id ; ses valeurs gardées, les vides complétés) ; "
        "sans cette option elle est écartée",
    )
    extract.add_argument(
        "--sans-carte",
        dest="no_map",
        action="store_true",
        help="ne pas comparer avec la version en ligne",
    )
    extract.add_argument("--departement", help="département du référentiel (défaut : 62)")
    extract.add_argument(
        "--journal",
        metavar="FICHIER",
        help=f"fichier où ajouter les détails d'un refus (défaut : {JOURNAL} dans CARTO_STATE_DIR)",
    )
    extract.set_defaults(func=cmd_extract)
