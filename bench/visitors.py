"""The public map at scale, for bench/run.py: what a Streamlit visitor costs the server, crowds of
websocket clients, the soak, and the static site under nginx — in one run, so they compare.

- CPU per visitor: every server of the comparison (the minimal page, the map at each size, the
  map with a setting changed) is started at once; batches of visitors (open + one filter change,
  one after the other) go to each server in turn, and each batch is measured as the server
  process's CPU time (utime + stime, /proc) divided by its visitors. Medians of the batches:
  taking turns spreads the other processes' load of a shared machine over every server.
- Crowd: N websocket clients arrive at once on a warm server that is alone to run; seconds
  until their first page run ends (p50, p95), and errors.
- Soak: sessions opened and closed, a few at a time, on a fresh server; RSS every 100 sessions.
- Before and after: the app as it was when issue 11 was opened (BEFORE_REV, `git archive`) is
  one more server of the CPU comparison and of the crowds, on its own seed store.
- Static site: `carto site build` of the same store, served by nginx, loaded by wrk.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sessions
import static_site
from datasets import CACHE_DIR, SEED_SIZE, BenchDataset
from measure import Sample

# The settings compared with the map as configured (.streamlit/config.toml), at seed size:
# Streamlit's defaults for what the project changed. (label, environment)
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "gc": (
        "postScriptGC activé (défaut de Streamlit)",
        {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "true"},
    ),
    "magic": (
        "magicEnabled activé (défaut de Streamlit)",
        {"STREAMLIT_RUNNER_MAGIC_ENABLED": "true"},
    ),
}
MINIMAL = "minimal"
# The code when issue 11 was opened (the last commit before its changes to the app): measured
# beside today's in the same run, so that « before » and « after » share the machine's state.
BEFORE_REV = "2df257d"
BEFORE = "before"


def before_tree(rev: str, log: Callable[[str], None]) -> Path | None:
    """The app as it was at `rev` (`git archive`), with its own browser files, under
    .cache/bench; None (said in the log) when git or the revision is missing."""
    repo = Path(__file__).resolve().parents[1]
    tree = CACHE_DIR / f"tree-{rev}"
    if (tree / ".ready").is_file():
        return tree
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    try:
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", rev], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        (tree / "node_modules").symlink_to(repo / "node_modules")
        subprocess.run(
            [sys.executable, "-m", "carto.cli", "assets", "install"],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree / "src")},
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        log(f"  code « avant » {rev} non mesuré : {error}")
        shutil.rmtree(tree, ignore_errors=True)
        return None
    (tree / ".ready").write_text(rev)
    return tree


def size_key(size: int) -> str:
    return "seed" if size == SEED_SIZE else str(size)


@dataclass
class Measured:
    """One server of the comparison: its label and CPU per visitor (ms), batch by batch."""

    key: str
    label: str
    per_visitor_ms: Sample = field(default_factory=lambda: Sample((), unit="ms"))
    errors: list[str] = field(default_factory=list)


@dataclass
class VisitorResults:
    batch: int = 0
    batches: int = 0
    cpu: dict[str, Measured] = field(default_factory=dict)
    crowds: dict[str, sessions.CrowdResult] = field(default_factory=dict)
    crowd_wall_s: dict[str, float] = field(default_factory=dict)
    soak: sessions.SoakResult | None = None
    soak_note: str = ""
    sites: list[static_site.SiteResult] = field(default_factory=list)
    duration_s: float = 0.0


def _errors_of(run: sessions.SocketRun) -> list[str]:
    return list(run.errors)


def cpu_comparison(
    servers: list[tuple[str, str, sessions.Served]],
    *,
    batches: int,
    batch: int,
    warmup: int,
    timeout_s: float,
) -> dict[str, Measured]:
    """Batches of `batch` visitors to each server in turn; CPU time per visitor per batch."""
    out = {key: Measured(key, label) for key, label, _ in servers}
    for key, _, served in servers:
        for _ in range(warmup):
            out[key].errors += _errors_of(sessions._visit(served.server.port, timeout_s=timeout_s))
    values: dict[str, list[float]] = {key: [] for key, _, _ in servers}
    for _ in range(batches):
        for key, _, served in servers:
            before = sessions.cpu_seconds(served.pid)
            for _ in range(batch):
                run = sessions._visit(served.server.port, timeout_s=timeout_s)
                out[key].errors += _errors_of(run)
            values[key].append((sessions.cpu_seconds(served.pid) - before) / batch * 1000)
    for key, measured in out.items():
        measured.per_visitor_ms = Sample(tuple(values[key]), unit="ms")
    return out


def run_visitors(
    data: dict[int, BenchDataset],
    *,
    sizes: list[int],
    variants: list[str],
    before: str,
    batches: int,
    batch: int,
    arrivals: int,
    soak_sessions: int,
    static_sizes: list[int],
    wrk_seconds: int,
    timeout_s: float,
    log: Callable[[str], None],
) -> VisitorResults:
    started = time.perf_counter()
    results = VisitorResults(batch=batch, batches=batches)
    tmp = Path(tempfile.mkdtemp(prefix="carto-bench-visitors-"))
    try:
        page = sessions.minimal_page(tmp / "minimal")
        plan: list[tuple[str, str, dict[str, object]]] = [
            (
                MINIMAL,
                "page Streamlit minimale (titre, multiselect, tableau de 18 lignes)",
                {"script": page.name, "cwd": page.parent},
            )
        ]
        for size in sizes:
            env = {"CARTO_DATABASE_URL": data[size].database_url}
            name = "graine" if size == SEED_SIZE else f"{size:,}".replace(",", " ")
            plan.append(
                (size_key(size), f"carte, {name} ({len(data[size].table)} lignes)", {"env": env})
            )
            if size == SEED_SIZE and before:
                tree = before_tree(before, log)
                if tree is not None:
                    plan.append(
                        (
                            BEFORE,
                            f"carte, graine, code avant l'issue 11 ({before})",
                            {
                                "cwd": tree,
                                "env": {
                                    # Its own store, filled from its own seed file.
                                    "CARTO_DATABASE_URL": f"sqlite:///{tmp / 'before.sqlite'}",
                                    "CARTO_STATE_DIR": str(tmp / "before-state"),
                                    "PYTHONPATH": str(tree / "src"),
                                },
                            },
                        )
                    )
            if size == SEED_SIZE:
                for variant in variants:
                    label, extra = VARIANTS[variant]
                    plan.append(
                        (f"seed+{variant}", f"carte, graine, {label}", {"env": {**env, **extra}})
                    )
        started_servers: list[tuple[str, str, sessions.Served]] = []
        try:
            for key, label, kwargs in plan:
                log(f"  serveur : {label}")
                served = sessions.start(key, log_dir=tmp, **kwargs)  # type: ignore[arg-type]
                started_servers.append((key, label, served))
            log(
                f"(h) CPU serveur par visiteur : {len(started_servers)} serveurs à tour de rôle, "
                f"{batches} lots de {batch} visiteurs"
            )
            results.cpu = cpu_comparison(
                started_servers, batches=batches, batch=batch, warmup=5, timeout_s=timeout_s
            )
            for key, measured in results.cpu.items():
                log(f"  {key} : {measured.per_visitor_ms.median:.1f} ms/visiteur")
            # Crowds: one server at a time runs (the others are idle, their CPU is not used).
            if arrivals:
                for key, _, served in started_servers:
                    if key != MINIMAL and "+" in key:
                        continue
                    log(f"(i) foule de {arrivals} clients websocket : {key}")
                    begin = time.perf_counter()
                    results.crowds[key] = sessions.crowd(
                        served, arrivals=arrivals, timeout_s=timeout_s
                    )
                    results.crowd_wall_s[key] = time.perf_counter() - begin
        finally:
            for _, _, served in started_servers:
                served.stop()
        if soak_sessions and SEED_SIZE in data:
            log(f"(j) endurance : {soak_sessions} sessions ouvertes et fermées, graine")
            served = sessions.start(
                "soak", log_dir=tmp, env={"CARTO_DATABASE_URL": data[SEED_SIZE].database_url}
            )
            try:
                results.soak = sessions.soak(
                    served, sessions=soak_sessions, timeout_s=timeout_s, progress=log
                )
            finally:
                served.stop()
        for size in static_sizes:
            label = "graine" if size == SEED_SIZE else f"{size:,}".replace(",", " ")
            log(f"(k) site statique sous nginx + wrk : {label}")
            site = tmp / f"site-{size_key(size)}"
            try:
                static_site.build_site(data[size].database_url, site, tmp / f"state-{size}")
            except Exception as error:  # the report says what failed; the bench goes on
                results.sites.append(
                    static_site.SiteResult(label, error=f"carto site build : {error}"[:300])
                )
                continue
            results.sites.append(
                static_site.bench_site(label, site, seconds=wrk_seconds, visit=True)
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results.duration_s = time.perf_counter() - started
    return results
