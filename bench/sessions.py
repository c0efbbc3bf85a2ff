"""What one Streamlit visitor costs the server, against a minimal page, in crowds and over a soak.

Every figure here comes from websocket clients that speak Streamlit's protocol (the ones of
concurrency.py): no Chromium competes with the server for the cores.

- CPU per visitor: the server process's CPU time (utime + stime from /proc, all threads) over a
  batch of visitors who each open the page and change one filter, divided by the batch size;
  the median of several batches. CPU time is steadier than wall time on a shared machine.
- The baseline: the same measure on a minimal Streamlit page (a title, a multiselect and an
  18-row dataframe) built here, served by the same Streamlit, with the same settings.
- Crowd: N visitors arriving at once; time to the end of their first page run, p50 and p95.
- Soak: sessions opened and closed in waves; the server's RSS after every 100 sessions.

`python bench/sessions.py` measures the seed (or `--data FILE`) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(BENCH_DIR.parent / "tests"))

from concurrency import SocketRun, socket_viewer  # noqa: E402
from measure import Sample, rss_mb  # noqa: E402
from streamlit_server import StreamlitServer, start_streamlit  # noqa: E402

from carto.config import PROJECT_ROOT  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MINIMAL_PAGE = '''"""The baseline of bench/sessions.py: the least a useful Streamlit page does."""

import pandas as pd
import streamlit as st

st.title("Initiatives solidaires")
categories = ["protection", "soignants", "confines", "isoles", "routiers"]
chosen = st.multiselect("Catégories", categories, key="f_categories")
rows = pd.DataFrame(
    {
        "nom": [f"Initiative {i}" for i in range(18)],
        "categorie": [categories[i % 5] for i in range(18)],
        "commune": ["Arras", "Calais", "Lens"] * 6,
    }
)
st.dataframe(rows[rows["categorie"].isin(chosen)] if chosen else rows, hide_index=True)
'''


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime field 14 and stime field 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Served:
    """A Streamlit server started for a measurement, and what it runs."""

    label: str
    server: StreamlitServer

    @property
    def pid(self) -> int:
        return self.server.process.pid

    def stop(self) -> None:
        self.server.stop()


def start(
    label: str,
    *,
    log_dir: Path,
    script: str = "app.py",
    cwd: Path = PROJECT_ROOT,
    env: Mapping[str, str] | None = None,
) -> Served:
    server = start_streamlit(
        cwd=cwd,
        env={"CARTO_TILES": "none", **(env or {})},
        script=script,
        log_dir=log_dir,
        name=label.replace(" ", "-"),
        streamlit=(sys.executable, "-m", "streamlit"),
    )
    return Served(label, server)


def minimal_page(directory: Path) -> Path:
    """The baseline page, in a folder with the project's .streamlit/config.toml."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ".streamlit").mkdir(exist_ok=True)
    config = PROJECT_ROOT / ".streamlit" / "config.toml"
    (directory / ".streamlit" / "config.toml").write_text(config.read_text(encoding="utf-8"))
    page = directory / "minimal.py"
    page.write_text(MINIMAL_PAGE, encoding="utf-8")
    return page


def _visit(port: int, *, timeout_s: float) -> SocketRun:
    return asyncio.run(socket_viewer(port, timeout_s=timeout_s))


@dataclass(frozen=True)
class CpuResult:
    label: str
    per_visitor_ms: Sample
    errors: tuple[str, ...]


def cpu_per_visitor(
    served: Served, *, batches: int = 5, batch: int = 10, warmup: int = 5, timeout_s: float = 60
) -> CpuResult:
    """Median over `batches` of (server CPU over `batch` visitors) / `batch`, in ms."""
    errors: list[str] = []
    for _ in range(warmup):  # first runs import modules and fill caches
        errors.extend(_visit(served.server.port, timeout_s=timeout_s).errors)
    values: list[float] = []
    for _ in range(batches):
        before = cpu_seconds(served.pid)
        for _ in range(batch):
            errors.extend(_visit(served.server.port, timeout_s=timeout_s).errors)
        values.append((cpu_seconds(served.pid) - before) / batch * 1000)
    return CpuResult(served.label, Sample(tuple(values), unit="ms"), tuple(errors))


@dataclass(frozen=True)
class CrowdResult:
    label: str
    arrivals: int
    open_s: Sample
    errors: tuple[str, ...]


def crowd(served: Served, *, arrivals: int, timeout_s: float = 120) -> CrowdResult:
    """`arrivals` websocket visitors at once: seconds until their first page run ends."""

    async def main() -> list[SocketRun]:
        return await asyncio.gather(
            *(socket_viewer(served.server.port, timeout_s=timeout_s) for _ in range(arrivals))
        )

    _visit(served.server.port, timeout_s=timeout_s)  # a warm server, as after the first visitor
    runs = asyncio.run(main())
    opened = tuple(r.open_s for r in runs if r.open_s == r.open_s)
    return CrowdResult(
        served.label,
        arrivals,
        Sample(opened),
        tuple(e for r in runs for e in r.errors),
    )


@dataclass
class SoakResult:
    label: str
    sessions: int = 0
    seconds: float = 0.0
    rss_mb: list[tuple[int, float]] = field(default_factory=list)  # (sessions done, RSS)
    errors: list[str] = field(default_factory=list)

    @property
    def growth(self) -> float:
        """RSS at the end relative to RSS after the first 100 sessions (0.05 = +5 %)."""
        base = next((rss for done, rss in self.rss_mb if done >= 100), float("nan"))
        return self.rss_mb[-1][1] / base - 1 if self.rss_mb else float("nan")


def soak(
    served: Served,
    *,
    sessions: int = 2000,
    parallel: int = 4,
    every: int = 100,
    timeout_s: float = 60,
    progress: Callable[[str], None] = lambda _: None,
) -> SoakResult:
    """Open and close `sessions` sessions, `parallel` at a time; RSS every `every` sessions."""
    result = SoakResult(served.label)
    start = time.perf_counter()

    async def wave(count: int) -> list[SocketRun]:
        return await asyncio.gather(
            *(socket_viewer(served.server.port, timeout_s=timeout_s) for _ in range(count))
        )

    done = 0
    while done < sessions:
        count = min(parallel, sessions - done)
        for run in asyncio.run(wave(count)):
            result.errors.extend(run.errors)
        before = done
        done += count
        if done // every != before // every or done == sessions:
            current, _ = rss_mb(served.pid)
            result.rss_mb.append((done, current))
            progress(f"  {done} sessions : RSS {current:.0f} Mo")
    result.sessions = done
    result.seconds = time.perf_counter() - start
    return result


def _markdown(cpus: list[CpuResult], crowds: list[CrowdResult]) -> str:
    lines = [
        "| page | CPU serveur par visiteur (médiane, étendue) | erreurs |",
        "|---|---|---|",
    ]
    for r in cpus:
        v = r.per_visitor_ms
        lines.append(
            f"| {r.label} | {v.median:.0f} ms ({v.low:.0f}–{v.high:.0f}, n={len(v.values)}) "
            f"| {len(r.errors)} |"
        )
    if crowds:
        lines += ["", "| page | arrivées | p50 | p95 | erreurs |", "|---|---|---|---|---|"]
        for c in crowds:
            lines.append(
                f"| {c.label} | {c.arrivals} | {c.open_s.median:.2f} s "
                f"| {c.open_s.percentile(95):.2f} s | {len(c.errors)} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="fichier d'initiatives servi (défaut : graine)")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--crowd", type=int, default=50)
    parser.add_argument("--soak", type=int, default=0, help="sessions du test d'endurance")
    parser.add_argument(
        "--gc",
        choices=("config", "on", "off", "both"),
        default="config",
        help="runner.postScriptGC de la carte : config.toml, forcé, ou les deux",
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="CLÉ=VALEUR", help="variable de la carte"
    )
    options = parser.parse_args(argv)
    env = {"CARTO_DATA": str(options.data)} if options.data else {}
    env.update(item.split("=", 1) for item in options.env)
    with tempfile.TemporaryDirectory(prefix="carto-bench-sessions-") as tmp:
        log_dir = Path(tmp)
        page = minimal_page(log_dir / "minimal")
        cpus, crowds = [], []
        gc_env = {"on": "true", "off": "false"}
        maps = [
            (
                f"carte (postScriptGC {mode})",
                {"env": {**env, "STREAMLIT_RUNNER_POST_SCRIPT_GC": gc_env[mode]}},
            )
            for mode in (
                {"both": ("on", "off")}.get(options.gc)
                or ((options.gc,) if options.gc != "config" else ())
            )
        ] or [("carte", {"env": env})]
        for label, kwargs in [("page minimale", {"script": page.name, "cwd": page.parent}), *maps]:
            served = start(label, log_dir=log_dir, **kwargs)  # type: ignore[arg-type]
            try:
                cpus.append(cpu_per_visitor(served, batches=options.batches, batch=options.batch))
                if options.crowd:
                    crowds.append(crowd(served, arrivals=options.crowd))
                if options.soak and label.startswith("carte"):
                    result = soak(served, sessions=options.soak, progress=print)
                    print(
                        f"endurance : {result.sessions} sessions en {result.seconds:.0f} s, "
                        f"RSS {result.growth:+.1%} depuis 100 sessions, "
                        f"{len(result.errors)} erreurs"
                    )
            finally:
                served.stop()
        print(_markdown(cpus, crowds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
