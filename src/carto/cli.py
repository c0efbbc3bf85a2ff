"""The `carto` command line: the same rules as the pages. Exit 0 ok, 1 invalid input, 2 usage."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from carto import __version__
from carto.config import PROJECT_ROOT, Settings
from carto.errors import CartoError, ConfigError, ReadError

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class UsageError(CartoError):
    """The command line itself is wrong (exit 2)."""


def _print_issues(issues: Sequence[object], *, stream=sys.stdout) -> None:  # type: ignore[no-untyped-def]
    for issue in issues:
        print(str(issue), file=stream)


def _existing_file(path: str) -> Path:
    candidate = Path(path)
    if not candidate.is_file():
        raise UsageError(f"Fichier introuvable : « {path} ».")
    return candidate


def _settings() -> Settings:
    return Settings.from_env()


def cmd_validate(args: argparse.Namespace) -> int:
    from carto.dataset import load

    path = _existing_file(args.file)
    loaded = load(path, departement=args.departement or _settings().departement)
    _print_issues(loaded.issues)
    placed = len(loaded.placed)
    print(
        f"{path.name} : {len(loaded.table)} initiatives lues ({loaded.format}, "
        f"encodage {loaded.encoding or '-'}, séparateur {_sep_name(loaded.separator)}), "
        f"{placed} placées sur la carte, {len(loaded.errors)} erreur(s), "
        f"{len(loaded.warnings)} avertissement(s)."
    )
    return EXIT_OK if loaded.ok else EXIT_INVALID


def cmd_geocode(args: argparse.Namespace) -> int:
    from carto.dataset import ALL_COLUMNS, load

    path = _existing_file(args.file)
    loaded = load(path, departement=args.departement or _settings().departement)
    _print_issues(loaded.issues, stream=sys.stderr)
    out = Path(args.output)
    table = loaded.table[list(ALL_COLUMNS)]
    table.to_csv(out, index=False, encoding="utf-8")
    counts = table["geocode_status"].value_counts().to_dict()
    summary = ", ".join(f"{k} : {v}" for k, v in sorted(counts.items()))
    print(f"{len(table)} lignes écrites dans {out} ({summary}).")
    return EXIT_OK if not (table["geocode_status"] == "failed").any() else EXIT_INVALID


def cmd_gazetteer_build(args: argparse.Namespace) -> int:
    from carto.gazetteer import build_gazetteer

    departement = args.departement.strip().upper()
    out_dir = Path(args.out) if args.out else PROJECT_ROOT / "src" / "carto" / "data" / departement
    decoupage = (
        Path(args.decoupage_dir)
        if args.decoupage_dir
        else PROJECT_ROOT / "node_modules" / "@etalab" / "decoupage-administratif" / "data"
    )
    report = build_gazetteer(departement, out_dir=out_dir, decoupage_dir=decoupage)
    print(report)
    return EXIT_OK


def cmd_assets_install(args: argparse.Namespace) -> int:
    from carto.assets import install_assets

    copied = install_assets(
        node_modules=Path(args.node_modules)
        if args.node_modules
        else PROJECT_ROOT / "node_modules",
        static_dir=Path(args.static_dir) if args.static_dir else PROJECT_ROOT / "static",
    )
    print(f"{len(copied)} fichiers copiés dans static/vendor.")
    return EXIT_OK


def _sep_name(separator: str | None) -> str:
    return {";": "point-virgule", ",": "virgule", "\t": "tabulation", None: "-"}.get(
        separator, repr(separator)
    )


class _FrenchParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"carto : erreur d'utilisation : {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _FrenchParser(
        prog="carto", description="Carto solidaire : données et carte des initiatives solidaires."
    )
    parser.add_argument("--version", action="version", version=f"carto {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_FrenchParser)

    validate = sub.add_parser("validate", help="vérifier un fichier CSV/XLSX d'initiatives")
    validate.add_argument("file")
    validate.add_argument("--departement", help="code du département (défaut : CARTO_DEPARTEMENT)")
    validate.set_defaults(func=cmd_validate)

    geocode = sub.add_parser("geocode", help="géocoder les communes d'un fichier, hors ligne")
    geocode.add_argument("file")
    geocode.add_argument("-o", "--output", required=True, help="fichier CSV à écrire")
    geocode.add_argument("--departement")
    geocode.set_defaults(func=cmd_geocode)

    gazetteer = sub.add_parser("gazetteer", help="référentiel des communes")
    gsub = gazetteer.add_subparsers(dest="action", required=True, parser_class=_FrenchParser)
    build = gsub.add_parser("build", help="reconstruire le référentiel depuis les données ouvertes")
    build.add_argument("--departement", required=True)
    build.add_argument("--out", help="dossier de sortie (défaut : src/carto/data/<dép>)")
    build.add_argument("--decoupage-dir", help="données de @etalab/decoupage-administratif")
    build.set_defaults(func=cmd_gazetteer_build)

    assets = sub.add_parser("assets", help="fichiers JS/CSS de la carte servis localement")
    asub = assets.add_subparsers(dest="action", required=True, parser_class=_FrenchParser)
    install = asub.add_parser("install", help="copier Leaflet & co. depuis node_modules")
    install.add_argument("--node-modules")
    install.add_argument("--static-dir")
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
    except CartoError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
