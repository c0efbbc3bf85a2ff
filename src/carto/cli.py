"""The `carto` command line: the same rules as the pages. Exit 0 ok, 1 invalid input, 2 usage."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from carto import __version__
from carto.config import PROJECT_ROOT, Settings
from carto.errors import CartoError, ConfigError, NothingToPublish, ReadError, UsageError
from carto.french_args import FrenchParser as _FrenchParser
from carto.models import Issue
from carto.publishing.modes import (
    IMPORT_MODES,
    REMOVAL_CONFIRMATION_TEXT,
    history_mode_text,
    import_mode_text,
)

if TYPE_CHECKING:
    from carto.intake.pipeline import LoadedTable
    from carto.publishing.storage import Store

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _print_issues(issues: Sequence[Issue], *, stream: TextIO | None = None) -> None:
    from carto.geocoding import outside_departement_rows

    for issue in issues:
        print(str(issue), file=stream or sys.stdout)
    outside = outside_departement_rows(issues)
    if outside:
        lines = ",".join(str(row) for row in outside)
        print(
            f"Points hors du département : s'ils sont justes, relancez avec "
            f"--hors-departement {lines}",
            file=stream or sys.stdout,
        )


def _line_numbers(text: str) -> frozenset[int]:
    """--hors-departement 2,5: spreadsheet line numbers (header = line 1)."""
    try:
        lines = frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        lines = frozenset()
    if not lines or min(lines) < 2:
        raise argparse.ArgumentTypeError(
            f"« {text} » : numéros de ligne du fichier attendus (2 ou plus), par ex. 2,5"
        )
    return lines


def _existing_file(path: str) -> Path:
    candidate = Path(path)
    if not candidate.is_file():
        raise UsageError(f"Fichier introuvable : « {path} ».")
    return candidate


def _settings() -> Settings:
    return Settings.from_env()


def _load_file(path: Path, args: argparse.Namespace, *, departement: str) -> LoadedTable:
    """Read, validate and geocode FILE, reading the workbook sheet named by --feuille."""
    from carto.intake.pipeline import load
    from carto.intake.reading import SheetError

    try:
        return load(
            path,
            departement=departement,
            sheet=getattr(args, "feuille", None),
            accept_outside=frozenset().union(*(getattr(args, "hors_departement", None) or ())),
            excluded=frozenset().union(*(getattr(args, "exclure_ligne", None) or ())),
            settings=_settings(),
        )
    except SheetError as exc:
        # Exit 2, not 1: the file may well be valid; the command must say which sheet to read.
        example = ""
        if exc.choices:
            example = f" Option --feuille NOM, par ex. --feuille {shlex.quote(exc.choices[0])}."
        raise UsageError(f"{exc}{example}") from exc


def _source_text(loaded: LoadedTable) -> str:
    """How the file was read: the sheet of a workbook, the encoding and separator of a CSV."""
    if loaded.format in ("xlsx", "ods"):
        return f"{loaded.format}, feuille « {loaded.sheet} »"
    return (
        f"{loaded.format}, encodage {loaded.encoding or '-'}, "
        f"séparateur {_sep_name(loaded.separator)}"
    )


def cmd_validate(args: argparse.Namespace) -> int:
    path = _existing_file(args.file)
    loaded = _load_file(path, args, departement=args.departement or _settings().departement)
    _print_issues(loaded.issues)
    placed = len(loaded.placed)
    print(
        f"{path.name} : {len(loaded.table)} initiatives lues ({_source_text(loaded)}), "
        f"{placed} placées sur la carte, {len(loaded.errors)} erreur(s), "
        f"{len(loaded.warnings)} avertissement(s)."
    )
    return EXIT_OK if loaded.ok else EXIT_INVALID


def cmd_geocode(args: argparse.Namespace) -> int:
    from carto.exports import export_table
    from carto.geocoding import geocode_summary
    from carto.intake.pipeline import ALL_COLUMNS

    path = _existing_file(args.file)
    loaded = _load_file(path, args, departement=args.departement or _settings().departement)
    print(f"{path.name} : lu ({_source_text(loaded)}).", file=sys.stderr)
    _print_issues(loaded.issues, stream=sys.stderr)
    out = Path(args.output)
    table = loaded.table[list(ALL_COLUMNS)]
    # Written like an export (formula-like cells neutralised), read back losslessly by import.
    out.write_bytes(export_table(table, fmt="csv", bom=False, separator=",", columns=ALL_COLUMNS))
    counts = table["geocode_status"].value_counts().to_dict()
    summary = geocode_summary({str(k): int(v) for k, v in counts.items()})
    print(f"{len(table)} lignes écrites dans {out} (communes : {summary}).")
    return EXIT_OK if not (table["geocode_status"] == "failed").any() else EXIT_INVALID


def cmd_gazetteer_build(args: argparse.Namespace) -> int:
    from carto.gazetteer.build import HISTORY_FILE, HISTORY_PACKAGE, build_gazetteer

    departement = args.departement.strip().upper()
    out_dir = Path(args.out) if args.out else PROJECT_ROOT / "src" / "carto" / "data" / departement
    decoupage = (
        Path(args.decoupage_dir)
        if args.decoupage_dir
        else PROJECT_ROOT / "node_modules" / "@etalab" / "decoupage-administratif" / "data"
    )
    history = (
        Path(args.historique)
        if args.historique
        else PROJECT_ROOT / "node_modules" / HISTORY_PACKAGE / "data" / HISTORY_FILE
    )
    report = build_gazetteer(
        departement, out_dir=out_dir, decoupage_dir=decoupage, history_file=history
    )
    print(report)
    from carto.gazetteer.france import build_france_names

    # The national name list sits next to the département's folder (src/carto/data/france).
    names, _ = build_france_names(decoupage, out_dir=out_dir.parent / "france")
    print(f"Liste nationale des noms de communes : {names} ({names.stat().st_size} octets).")
    return EXIT_OK


def cmd_assets_install(args: argparse.Namespace) -> int:
    from carto.map.assets import install_assets

    copied = install_assets(
        node_modules=Path(args.node_modules)
        if args.node_modules
        else PROJECT_ROOT / "node_modules",
        static_dir=Path(args.static_dir) if args.static_dir else PROJECT_ROOT / "static",
    )
    print(f"{len(copied)} fichiers copiés dans static/ (vendor/, geo/).")
    return EXIT_OK


def _open_store(args: argparse.Namespace) -> tuple[Settings, Store]:
    from carto.gazetteer import load_gazetteer
    from carto.publishing.plan import open_store

    cfg = _settings()
    return cfg, open_store(cfg, load_gazetteer(cfg.departement))


def cmd_import(args: argparse.Namespace) -> int:
    from carto.publishing.plan import plan_import, publish_plan

    path = _existing_file(args.file)
    cfg, store = _open_store(args)
    with store:
        loaded = _load_file(path, args, departement=cfg.departement)
        print(f"{path.name} : {len(loaded.table)} initiatives lues ({_source_text(loaded)}).")
        _print_issues(loaded.issues)
        if not loaded.ok:
            print(f"{len(loaded.errors)} erreur(s) : rien n'a été publié.", file=sys.stderr)
            return EXIT_INVALID
        plan = plan_import(loaded, store, mode=args.mode)
        if loaded.excluded:
            print(f"Ligne(s) exclue(s) de l'import : {', '.join(map(str, loaded.excluded))}.")
        print(
            f"Revue ({history_mode_text(plan.mode)}) : {plan.diff.added_count} ajoutée(s), "
            f"{plan.diff.changed_count} modifiée(s), {plan.diff.removed_count} retirée(s), "
            f"{plan.diff.unchanged} inchangée(s)."
        )
        for line in plan.change_lines():
            print(f"  {line}")
        if plan.conflicts:
            _print_issues(plan.conflicts)
            print(
                f"{len(plan.conflicts)} conflit(s) d'identifiant avec la version en ligne : "
                "rien n'a été publié.",
                file=sys.stderr,
            )
            return EXIT_INVALID
        if args.dry_run:
            if plan.needs_removal_confirmation:
                print(f"Publier demandera --confirmer-suppressions {plan.diff.removed_count}.")
            print("--dry-run : rien n'a été publié.")
            return EXIT_OK
        info = publish_plan(
            plan,
            store,
            author=args.author,
            note=args.note or "",
            confirmed_removals=args.confirmer_suppressions,
        )
    print(f"Version {info.number} publiée : {info.row_count} initiatives ({info.checksum[:12]}).")
    _print_notices(info.notices)
    return EXIT_OK


def _print_notices(notices: Sequence[str]) -> None:
    """What followed a publish or rollback (the public site's rebuild), on stderr."""
    for notice in notices:
        print(notice, file=sys.stderr)


def cmd_versions(args: argparse.Namespace) -> int:
    from carto.publishing.history import history_lines, version_history

    _, store = _open_store(args)
    with store:
        entries = version_history(store)
    if not entries:
        print("Aucune version publiée.")
    for line in history_lines(entries):
        print(line)
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    _, store = _open_store(args)
    info = store.rollback(args.version, author=args.author, note=args.note or "")
    print(f"Version {info.number} publiée : contenu de la version {args.version}.")
    _print_notices(info.notices)
    return EXIT_OK


def cmd_site_build(args: argparse.Namespace) -> int:
    from carto.site.build import build_published_site

    cfg = _settings()
    out = Path(args.out) if args.out else cfg.site_dir
    if out is None:
        raise UsageError(
            "Indiquez le dossier du site : carto site build DOSSIER (ou CARTO_SITE_DIR)."
        )
    _, store = _open_store(args)
    with store:
        report = build_published_site(out, store, departement=cfg.departement)
    if report.superseded_by is not None:
        # Another instance already put a later version there: it stays.
        print(
            f"Site public non réécrit : « {report.out_dir} » montre déjà la version "
            f"{report.superseded_by}, plus récente que la version {report.version}."
        )
        return EXIT_OK
    print(
        f"Site public écrit dans {report.out_dir} : version {report.version}, "
        f"{report.initiatives} initiatives ({report.placed} sur la carte)."
    )
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from carto.exports import export_filename, export_table
    from carto.filters import FilterSpec, apply_filters

    _, store = _open_store(args)
    with store:
        table = store.load()
    spec = FilterSpec(
        categories=tuple(args.categorie or ()),
        arrondissements=tuple(args.arrondissement or ()),
        text=args.recherche or "",
        show_ended=True,  # an export re-imported with « Remplacer » must not lose them
    )
    shown = apply_filters(table, spec)
    data = export_table(shown, fmt=args.format, bom=not args.no_bom, separator=args.separateur)
    if args.output == "-":
        sys.stdout.buffer.write(data)
        return EXIT_OK
    out = Path(args.output or export_filename(args.format))
    out.write_bytes(data)
    print(f"{len(shown)} initiatives exportées dans {out}.", file=sys.stderr)
    return EXIT_OK


def cmd_hash_password(args: argparse.Namespace) -> int:
    from carto.auth import hash_password
    from carto.editors_cli import read_new_password

    password = read_new_password(from_stdin=args.stdin, command="hash-password")
    print(f'password_hash = "{hash_password(password)}"')
    return EXIT_OK


def _sep_name(separator: str | None) -> str:
    from carto.intake.reading import SEPARATOR_LABELS

    return "-" if separator is None else SEPARATOR_LABELS.get(separator, repr(separator))


def _default_author() -> str:
    import getpass

    try:
        return f"{getpass.getuser()} (ligne de commande)"
    except (KeyError, OSError):
        return "ligne de commande"


_FEUILLE_HELP = "feuille du classeur .xlsx ou .ods à lire (nécessaire s'il en a plusieurs)"
_OUTSIDE_HELP = (
    "lignes (ex. 2,5) dont le point hors du département est confirmé : gardées avec un "
    "avertissement au lieu d'une erreur"
)


def build_parser() -> argparse.ArgumentParser:
    parser = _FrenchParser(
        prog="carto", description="Carto solidaire : données et carte des initiatives solidaires."
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"carto {__version__}",
        help="afficher la version et quitter",
    )
    sub = parser.add_subparsers(
        dest="command", metavar="COMMANDE", required=True, parser_class=_FrenchParser
    )

    validate = sub.add_parser("validate", help="vérifier un fichier CSV, XLSX ou ODS d'initiatives")
    validate.add_argument("file", metavar="FICHIER")
    validate.add_argument("--departement", help="code du département (défaut : CARTO_DEPARTEMENT)")
    validate.add_argument("--feuille", help=_FEUILLE_HELP)
    validate.add_argument(
        "--hors-departement", type=_line_numbers, action="append", metavar="LIGNE[,LIGNE]",
        help=_OUTSIDE_HELP,
    )  # fmt: skip
    validate.set_defaults(func=cmd_validate)

    geocode = sub.add_parser("geocode", help="géocoder les communes d'un fichier, hors ligne")
    geocode.add_argument("file", metavar="FICHIER")
    geocode.add_argument(
        "-o", "--output", required=True, metavar="FICHIER", help="fichier CSV à écrire"
    )
    geocode.add_argument("--departement")
    geocode.add_argument("--feuille", help=_FEUILLE_HELP)
    geocode.add_argument(
        "--hors-departement", type=_line_numbers, action="append", metavar="LIGNE[,LIGNE]",
        help=_OUTSIDE_HELP,
    )  # fmt: skip
    geocode.set_defaults(func=cmd_geocode)

    gazetteer = sub.add_parser("gazetteer", help="référentiel des communes")
    gsub = gazetteer.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=_FrenchParser
    )
    build = gsub.add_parser("build", help="reconstruire le référentiel depuis les données ouvertes")
    build.add_argument("--departement", required=True)
    build.add_argument(
        "--out", metavar="DOSSIER", help="dossier de sortie (défaut : src/carto/data/<dép>)"
    )
    build.add_argument(
        "--decoupage-dir", metavar="DOSSIER", help="données de @etalab/decoupage-administratif"
    )
    build.add_argument(
        "--historique",
        metavar="FICHIER",
        help="historique-communes.json (noms des anciennes communes)",
    )
    build.set_defaults(func=cmd_gazetteer_build)

    imp = sub.add_parser(
        "import", help="valider, comparer et publier un fichier (nouvelle version)"
    )
    imp.add_argument("file", metavar="FICHIER")
    imp.add_argument(
        "--mode",
        choices=[str(mode) for mode in IMPORT_MODES],
        default=str(IMPORT_MODES[0]),
        help=" ; ".join(f"{mode} ({import_mode_text(mode)})" for mode in IMPORT_MODES),
    )
    imp.add_argument("--note", help="note de version")
    imp.add_argument(
        "--author",
        default=_default_author(),
        metavar="AUTEUR",
        help="auteur (défaut : utilisateur)",
    )
    imp.add_argument("--dry-run", action="store_true", help="montrer la revue sans publier")
    imp.add_argument(
        "--exclure-ligne", type=_line_numbers, action="append", metavar="LIGNE[,LIGNE]",
        help="lignes du fichier à laisser de côté (ni vérifiées ni publiées)",
    )  # fmt: skip
    imp.add_argument(
        "--confirmer-suppressions", type=int, metavar="N",
        help=f"confirmer un import qui retire plus de {REMOVAL_CONFIRMATION_TEXT} des "
        "initiatives publiées, en indiquant leur nombre".replace("%", "%%"),
    )  # fmt: skip
    imp.add_argument("--feuille", help=_FEUILLE_HELP)
    imp.add_argument(
        "--hors-departement", type=_line_numbers, action="append", metavar="LIGNE[,LIGNE]",
        help=_OUTSIDE_HELP,
    )  # fmt: skip
    imp.set_defaults(func=cmd_import)

    versions = sub.add_parser("versions", help="lister les versions publiées")
    versions.set_defaults(func=cmd_versions)

    rollback = sub.add_parser("rollback", help="remettre en ligne le contenu de la version N")
    rollback.add_argument("version", type=int, metavar="N")
    rollback.add_argument("--note")
    rollback.add_argument("--author", default=_default_author(), metavar="AUTEUR")
    rollback.set_defaults(func=cmd_rollback)

    export = sub.add_parser("export", help="exporter la version en ligne (filtrable)")
    export.add_argument("--format", choices=["csv", "geojson", "xlsx"], default="csv")
    export.add_argument(
        "-o", "--output", metavar="FICHIER", help="fichier à écrire (« - » : sortie standard)"
    )
    export.add_argument("--categorie", action="append", help="catégorie (répétable)")
    export.add_argument("--arrondissement", action="append", help="code d'arrondissement")
    export.add_argument("--recherche", help="texte recherché")
    export.add_argument(
        "--separateur",
        choices=[";", ","],
        default=";",
        help="séparateur du CSV : « ; » avec virgule décimale (Excel en français, par défaut) "
        "ou « , » avec point décimal",
    )
    export.add_argument("--no-bom", action="store_true", help="CSV sans BOM UTF-8")
    export.set_defaults(func=cmd_export)

    hp = sub.add_parser("hash-password", help="empreinte argon2id pour .streamlit/secrets.toml")
    hp.add_argument("--stdin", action="store_true", help="lire le mot de passe sur l'entrée")
    hp.set_defaults(func=cmd_hash_password)

    from carto.editors_cli import add_parser as add_editors_parser

    add_editors_parser(sub, _FrenchParser)

    from carto.review_cli import add_parser as add_review_parser

    add_review_parser(sub, _FrenchParser)

    from carto.extract_cli import add_parser as add_extract_parser

    add_extract_parser(sub, _FrenchParser)

    site = sub.add_parser("site", help="site public statique (HTML, JS, données) de la carte")
    ssub = site.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=_FrenchParser
    )
    site_build = ssub.add_parser(
        "build", help="écrire le site public de la version en ligne dans un dossier"
    )
    site_build.add_argument(
        "out", nargs="?", metavar="DOSSIER",
        help="dossier du site : vide, ou écrit par carto site build (défaut : CARTO_SITE_DIR)",
    )  # fmt: skip
    site_build.set_defaults(func=cmd_site_build)

    assets = sub.add_parser("assets", help="fichiers JS/CSS de la carte servis localement")
    asub = assets.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=_FrenchParser
    )
    install = asub.add_parser("install", help="copier Leaflet & co. depuis node_modules")
    install.add_argument("--node-modules", metavar="DOSSIER")
    install.add_argument("--static-dir", metavar="DOSSIER")
    install.set_defaults(func=cmd_assets_install)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (UsageError, ConfigError) as exc:
        print(f"carto : {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ReadError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return EXIT_INVALID
    except NothingToPublish as exc:
        # Not an error: the map is already what the editor asked for.
        print(exc)
        return EXIT_OK
    except CartoError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
