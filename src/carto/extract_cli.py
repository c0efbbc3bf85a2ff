"""`carto extract FILE -o CANDIDATES.csv`: a communiqué turned into candidate initiatives
(carto.extract). Registered by `carto.cli`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from carto.errors import UsageError

EXIT_OK, EXIT_INVALID = 0, 1


def cmd_extract(args: argparse.Namespace) -> int:
    from carto.config import Settings
    from carto.extract import extract_candidates, read_path
    from carto.extract.output import candidates_csv, review_csv
    from carto.gazetteer import load_gazetteer

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"Fichier introuvable : « {args.file} ».")
    departement = args.departement or Settings.from_env().departement
    document = read_path(path)  # DocumentError (a CartoError): French message, exit 1
    extraction = extract_candidates(document, load_gazetteer(departement))
    candidates = extraction.candidates
    when = extraction.published.isoformat() if extraction.published else "date non trouvée"
    print(
        f"{path.name} ({document.format}) : « {extraction.title or 'sans titre'} », {when} ; "
        f"{len(candidates)} initiative(s) candidate(s).",
        file=sys.stderr,
    )
    for number, candidate in enumerate(candidates, start=2):
        place = candidate.zone or candidate.commune
        flags = f" [{' ; '.join(candidate.remarques)}]" if candidate.remarques else ""
        print(
            f"  ligne {number} : {candidate.nom} — {candidate.categorie or 'thème ?'} — {place} "
            f"(confiance {candidate.confiance:.2f}){flags}",
            file=sys.stderr,
        )
    if extraction.ignored_places:
        print(
            "  lieux hors du département, ignorés : " + ", ".join(extraction.ignored_places),
            file=sys.stderr,
        )
    if not candidates:
        print("Aucune initiative trouvée : rien n'a été écrit.", file=sys.stderr)
        return EXIT_INVALID
    _write(args.output, candidates_csv(candidates))
    if args.revue:
        _write(args.revue, review_csv(candidates))
    return EXIT_OK


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
    extract.add_argument("--departement", help="département du référentiel (défaut : 62)")
    extract.set_defaults(func=cmd_extract)
