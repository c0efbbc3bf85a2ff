"""Benchmark of Carto solidaire (seed, 1k, 10k, 50k initiatives); writes docs/benchmarks.md.

make bench                          # full run (~30 min on 2 cores, see bench/README.md)
.venv/bin/python bench/run.py --quick           # ~10 min: fewer sizes, repeats, soak sessions
.venv/bin/python bench/run.py --sizes 1000,10000 --repeats 3 --soak 300 --no-browser
.venv/bin/python bench/run.py --exports-only   # (g) exports only, printed (no report written)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
# The Streamlit-server harness is shared with the browser tests (tests/streamlit_server.py).
sys.path.insert(1, str(REPO / "tests"))


def _use_source(argv: list[str]) -> Path | None:
    """--source DIR: measure the code tree DIR (e.g. `git archive` of a commit) instead of this
    checkout. Must run before carto is imported; the server subprocesses get it by PYTHONPATH."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--source", type=Path)
    known, _ = pre.parse_known_args(argv)
    if known.source is None:
        return None
    source = known.source.resolve()
    src = str(source / "src")
    sys.path.insert(0, src)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    vendor = source / "static" / "vendor"
    if not vendor.exists() and (REPO / "static" / "vendor").is_dir():
        # A copy, not a link: Streamlit's static server refuses files outside static/.
        shutil.copytree(REPO / "static" / "vendor", vendor)
    return source


SOURCE = _use_source(sys.argv[1:])

import bombs  # noqa: E402
import browser  # noqa: E402
import datasets  # noqa: E402
import exporting  # noqa: E402
import server  # noqa: E402
import static_site  # noqa: E402
import visitors  # noqa: E402
from measure import Machine, Sample  # noqa: E402

from carto.config import PROJECT_ROOT  # noqa: E402
from carto.gazetteer import Gazetteer, load_gazetteer  # noqa: E402

DEFAULT_OUTPUT = REPO / "docs" / "benchmarks.md"


def describe_code(label: str | None) -> str:
    """Which code was measured: the tree, its commit and uncommitted changes to the app."""
    if label:
        return f"{label} ({PROJECT_ROOT})"
    try:
        head = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(PROJECT_ROOT),
                "status",
                "--porcelain",
                "--",
                "src",
                "app.py",
                "pages",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return str(PROJECT_ROOT)
    changed = [line[3:] for line in dirty if line.strip()]
    text = f"commit {head}"
    if changed:
        text += f" + modifications non commitées : {', '.join(changed)}"
    return text


@dataclass
class Results:
    """Everything one run measured; report.py turns it into Markdown."""

    options: argparse.Namespace
    machine: Machine
    started: datetime
    sizes: list[int]
    rows: dict[int, int] = field(default_factory=dict)
    geocoding: server.GeocodingResult | None = None
    pages: dict[int, server.PageResult] = field(default_factory=dict)
    payloads: dict[int, server.PayloadResult] = field(default_factory=dict)
    naive: dict[int, server.NaiveResult] = field(default_factory=dict)
    profiles: dict[str, tuple[float, list[server.ProfileLine]]] = field(default_factory=dict)
    browser_runs: dict[int, list[browser.ViewerRun]] = field(default_factory=dict)
    server_rss: dict[int, float] = field(default_factory=dict)
    browser_note: str = ""
    seed_rows: int = 0
    visitors: visitors.VisitorResults | None = None
    exports: exporting.ExportResult | None = None
    bombs: bombs.BombResults | None = None
    code: str = ""
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    duration_s: float = 0.0


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k et 10k, peu de répétitions")
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeats", type=int, default=5, help="répétitions des mesures rapides")
    parser.add_argument("--slow-repeats", type=int, default=3, help="répétitions des lentes")
    parser.add_argument("--browser-repeats", type=int, default=3)
    parser.add_argument(
        "--visitor-sizes",
        default="seed,10000",
        help="tailles de (h) CPU par visiteur et (i) foules (seed = data/initiatives.csv)",
    )
    parser.add_argument(
        "--variants",
        default="gc,magic",
        help="réglages de Streamlit comparés à la graine dans le même passage (gc, magic ; vide : "
        "aucun)",
    )
    parser.add_argument(
        "--before",
        default=visitors.BEFORE_REV,
        help="révision git du code « avant » mesurée dans le même passage que (h) et (i) "
        f"(défaut : {visitors.BEFORE_REV}, le code quand l'issue 11 a été ouverte ; vide : sans)",
    )
    parser.add_argument("--batches", type=int, default=7, help="lots de (h) par serveur")
    parser.add_argument("--batch", type=int, default=10, help="visiteurs par lot de (h)")
    parser.add_argument(
        "--arrivals",
        type=int,
        default=50,
        help="(i) clients websocket arrivant ensemble (0 : sans)",
    )
    parser.add_argument(
        "--soak", type=int, default=2000, help="(j) sessions de l'endurance (0 : sans)"
    )
    parser.add_argument(
        "--static-sizes", default="seed,10000", help="(k) site statique : tailles (vide : sans)"
    )
    parser.add_argument("--wrk-seconds", type=int, default=10, help="(k) durée de chaque wrk")
    parser.add_argument("--no-visitors", action="store_true", help="sans (h) à (k)")
    parser.add_argument(
        "--visitors-only",
        action="store_true",
        help="seulement (h) à (k) : sans (a) à (g) ni Chromium (~15 min, dont l'endurance)",
    )
    parser.add_argument("--naive-cap", type=float, default=120.0, help="secondes max du naïf")
    parser.add_argument("--timeout", type=float, default=240.0, help="délai max d'une page")
    parser.add_argument("--no-browser", action="store_true", help="sans Chromium (ni foule)")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--export-sizes", default="1000,4000,20000", help="tailles de (g) exports CSV / XLSX"
    )
    parser.add_argument("--export-repeats", type=int, default=5, help="répétitions de (g)")
    parser.add_argument(
        "--export-cap", type=float, default=120.0, help="secondes CPU max d'un export XLSX"
    )
    parser.add_argument("--no-exports", action="store_true", help="sans (g) exports")
    parser.add_argument("--no-bombs", action="store_true", help="sans (l) communiqués hostiles")
    parser.add_argument("--bomb-repeats", type=int, default=3, help="(l) lectures de chaque bombe")
    parser.add_argument(
        "--bomb-rounds", type=int, default=3, help="(l) tours visiteurs pendant les bombes / repos"
    )
    parser.add_argument(
        "--exports-only",
        action="store_true",
        help="seulement (g) exports, affiché ici ; docs/benchmarks.md n'est pas réécrit",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--source", type=Path, help="arbre de code à mesurer (défaut : ici)")
    parser.add_argument("--source-label", help="description de cet arbre dans le rapport")
    parser.add_argument(
        "--refresh-analysis",
        action="store_true",
        help="ne rien mesurer : recopier bench/ANALYSIS.md à la fin du rapport existant",
    )
    options = parser.parse_args(argv)
    if options.quick:
        options.sizes = "1000,10000"
        options.repeats = min(options.repeats, 3)
        options.slow_repeats = 1
        options.browser_repeats = 2
        options.batches = min(options.batches, 3)
        options.soak = min(options.soak, 300)
        options.wrk_seconds = min(options.wrk_seconds, 5)
        options.static_sizes = "seed"
        options.no_exports = True
        options.timeout = min(options.timeout, 90.0)
        options.export_repeats = min(options.export_repeats, 3)
        options.bomb_repeats = 1
        options.bomb_rounds = min(options.bomb_rounds, 2)
    if options.visitors_only:
        options.no_browser = options.no_profile = options.no_exports = True
    options.export_size_list = [int(s) for s in options.export_sizes.split(",") if s.strip()]
    options.size_list = [int(s) for s in options.sizes.split(",") if s.strip()]

    def sizes(text: str) -> list[int]:
        return [
            datasets.SEED_SIZE if s.strip() == "seed" else int(s)
            for s in text.split(",")
            if s.strip()
        ]

    options.visitor_size_list = sizes(options.visitor_sizes)
    options.static_size_list = sizes(options.static_sizes)
    options.variant_list = [v.strip() for v in options.variants.split(",") if v.strip()]
    for variant in options.variant_list:
        if variant not in visitors.VARIANTS:
            parser.error(f"--variants : {variant!r} inconnu ({', '.join(visitors.VARIANTS)})")
    return options


def run_exports(options: argparse.Namespace, gaz: Gazetteer) -> exporting.ExportResult:
    log("jeux de données des exports (mis en cache dans .cache/bench)")
    data = {size: datasets.prepare_dataset(gaz, size) for size in options.export_size_list}
    return exporting.bench_exports(
        data, repeats=options.export_repeats, cap_s=options.export_cap, log=log
    )


def run(options: argparse.Namespace) -> Results:
    started = time.perf_counter()
    results = Results(
        options=options,
        machine=Machine.describe(chromium=browser.CHROMIUM),
        started=datetime.now().astimezone(),
        sizes=options.size_list,
        code=describe_code(options.source_label),
        load_before=os.getloadavg(),
    )
    gaz = load_gazetteer("62")
    log("jeux de données (mis en cache dans .cache/bench)")
    data = {size: datasets.prepare_dataset(gaz, size) for size in options.size_list}
    results.rows = {size: len(d.placed) for size, d in data.items()}
    # The seed (data/initiatives.csv) and any size the visitor measures need that are not above.
    extra = {
        size for size in [*options.visitor_size_list, *options.static_size_list] if size not in data
    }
    if not options.no_browser or not options.no_bombs:
        extra.add(datasets.SEED_SIZE)
    more = {
        size: datasets.prepare_seed(gaz)
        if size == datasets.SEED_SIZE
        else datasets.prepare_dataset(gaz, size)
        for size in sorted(extra)
    }
    everything = {**more, **data}
    results.seed_rows = (
        len(everything[datasets.SEED_SIZE].table) if datasets.SEED_SIZE in everything else 0
    )

    def repeats_for(size: int) -> int:
        return options.repeats if size <= 10_000 else options.slow_repeats

    if not options.visitors_only:
        geo_size = 10_000 if 10_000 in data else max(data)
        log(f"(a) géocodage hors ligne de {geo_size} lignes")
        results.geocoding = server.bench_geocoding(gaz, data[geo_size], repeats=options.repeats)

        for size, d in data.items():
            log(f"(c) charge utile de la carte, {size}")
            results.payloads[size] = server.bench_payload(gaz, d, repeats=repeats_for(size))
            log(f"(b) temps serveur de la page (AppTest), {size}")
            results.pages[size] = server.bench_page(
                d, repeats=repeats_for(size), timeout_s=options.timeout
            )
        naive_10k: float | None = None
        for size in sorted(data):
            estimate = None
            if naive_10k is not None:
                estimate = naive_10k * size / 10_000
            log(f"(e) notre carte contre la carte naïve, {size}")
            outcome = server.bench_naive(
                data[size].placed,
                repeats=repeats_for(size),
                slow_repeats=options.slow_repeats,
                naive_cap_s=options.naive_cap,
                naive_estimate_s=estimate,
            )
            results.naive[size] = outcome
            if outcome.naive.values:
                naive_10k = outcome.naive.median * 10_000 / size
        if not options.no_profile:
            for size in sorted(data):
                if size < 10_000:
                    continue
                log(f"profil d'un changement de filtre, {size}")
                results.profiles[f"{size}"] = server.profile_filter_change(
                    data[size], timeout_s=options.timeout
                )

    missing_chromium = static_site.missing_tools(browser.CHROMIUM)
    if not options.no_browser and missing_chromium:
        results.browser_note = "non mesuré, Chromium absent / not measured: " + missing_chromium[0]
        log(results.browser_note)
    elif not options.no_browser:
        log_dir = Path(tempfile.mkdtemp(prefix="carto-bench-"))
        browser_data = {datasets.SEED_SIZE: everything[datasets.SEED_SIZE], **data}
        for size, d in browser_data.items():
            log(f"(d)(f) Chromium, un visiteur à la fois sur un serveur chaud, {len(d.table)}")
            app = browser.AppServer.start(d, log_dir=log_dir)
            try:
                results.browser_runs[size] = browser.bench_browser(
                    d,
                    app,
                    repeats=options.browser_repeats if size <= 10_000 else options.slow_repeats,
                    timeout_s=options.timeout,
                )
                results.server_rss[size] = max(app.peak_rss_mb, app.rss()[1])
            finally:
                app.stop()
    if not options.no_visitors:
        results.visitors = visitors.run_visitors(
            everything,
            sizes=options.visitor_size_list,
            variants=options.variant_list,
            before=options.before.strip(),
            batches=options.batches,
            batch=options.batch,
            arrivals=options.arrivals,
            soak_sessions=options.soak,
            static_sizes=options.static_size_list,
            wrk_seconds=options.wrk_seconds,
            timeout_s=options.timeout,
            log=log,
        )
    if not options.no_exports:
        results.exports = run_exports(options, gaz)
    if not options.no_bombs:
        results.bombs = bombs.run_bombs(
            everything[datasets.SEED_SIZE].database_url,
            repeats=options.bomb_repeats,
            rounds=options.bomb_rounds,
            visits=6,
            timeout_s=options.timeout,
            log=log,
            code=results.code,
        )
    results.duration_s = time.perf_counter() - started
    results.load_after = os.getloadavg()
    return results


def main(argv: list[str] | None = None) -> int:
    from report import exports_markdown, refresh_analysis, write_report

    options = parse_args(argv)
    if options.refresh_analysis:
        log(f"analyse recopiée : {refresh_analysis(options.output)}")
        return 0
    if options.exports_only:
        started = time.perf_counter()
        machine = Machine.describe(chromium=browser.CHROMIUM)
        print(f"Code mesuré : {describe_code(options.source_label)}")
        print(f"Processeur : {machine.cpu} — {machine.cores} cœurs ; charge {os.getloadavg()}")
        result = run_exports(options, load_gazetteer("62"))
        print("\n".join(exports_markdown(result)))
        log(f"fini ({(time.perf_counter() - started) / 60:.1f} min)")
        return 0
    results = run(options)
    path = write_report(results, options.output)
    log(f"écrit : {path} ({results.duration_s / 60:.1f} min)")
    return 0


# Re-exported for report.py's type hints.
__all__ = ["Results", "Sample", "main"]

if __name__ == "__main__":
    sys.exit(main())
