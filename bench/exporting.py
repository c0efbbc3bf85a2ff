"""(g) Exports: `carto export --format xlsx` against `--format csv` on the same published rows.

Both commands run in this process through `carto.cli.main`, side by side (csv, xlsx, csv,
xlsx…) so that a load change on the shared machine hits both alike, and are timed in CPU time
of the process (time.process_time: steadier than wall time on 2 shared cores). Each command
opens the store, loads the version and writes the file to a temporary folder, as an operator
would; `export_table` alone (the formatting work only, without the store) is timed the same
way. Older code (`run.py --source`) may be quadratic: a size whose XLSX export would take more
than `cap_s` by a quadratic estimate from the previous size is not run.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from datasets import BenchDataset
from measure import Sample

from carto.cli import main as carto_main
from carto.exports import export_table

FORMATS = ("csv", "xlsx")
TARGET_SIZE = 20_000
TARGET_RATIO = 3.0


@dataclass(frozen=True)
class ExportSize:
    """One size: CPU seconds of the command and of export_table alone, per format."""

    rows: int
    command: dict[str, Sample]
    function: dict[str, Sample]
    file_bytes: dict[str, int] = field(default_factory=dict)
    note: str = ""

    def ratio(self, kind: str = "command") -> float:
        samples = self.command if kind == "command" else self.function
        if not (samples["xlsx"].values and samples["csv"].values):
            return float("nan")
        return samples["xlsx"].median / samples["csv"].median


@dataclass(frozen=True)
class ExportResult:
    sizes: dict[int, ExportSize]
    repeats: int

    @property
    def target(self) -> ExportSize | None:
        return self.sizes.get(TARGET_SIZE)


def cpu_seconds(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.process_time()
    fn()
    return time.process_time() - start


@contextlib.contextmanager
def _store_env(data: BenchDataset) -> Iterator[None]:
    saved = {k: v for k, v in os.environ.items() if k.startswith("CARTO_")}
    for key in saved:
        del os.environ[key]
    os.environ["CARTO_DATABASE_URL"] = data.database_url
    try:
        yield
    finally:
        for key in [k for k in os.environ if k.startswith("CARTO_")]:
            del os.environ[key]
        os.environ.update(saved)


def _quiet_command(argv: list[str]) -> None:
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        code = carto_main(argv)
    if code != 0:
        raise RuntimeError(f"carto {' '.join(argv)} : code de sortie {code}")


def bench_export_size(data: BenchDataset, *, repeats: int) -> ExportSize:
    command: dict[str, list[float]] = {fmt: [] for fmt in FORMATS}
    function: dict[str, list[float]] = {fmt: [] for fmt in FORMATS}
    sizes: dict[str, int] = {}
    table = data.table
    with tempfile.TemporaryDirectory(prefix="carto-bench-export-") as tmp, _store_env(data):
        # Warm-up (imports, first store connection) with the CSV: older XLSX code may be slow.
        _quiet_command(["export", "--format", "csv", "-o", str(Path(tmp) / "warm.csv")])
        for _ in range(repeats):
            for fmt in FORMATS:
                out = Path(tmp) / f"initiatives.{fmt}"
                argv = ["export", "--format", fmt, "-o", str(out)]
                command[fmt].append(cpu_seconds(lambda argv=argv: _quiet_command(argv)))
                sizes[fmt] = out.stat().st_size
            for fmt in FORMATS:
                function[fmt].append(cpu_seconds(lambda fmt=fmt: export_table(table, fmt=fmt)))
    return ExportSize(
        rows=len(table),
        command={fmt: Sample(tuple(v)) for fmt, v in command.items()},
        function={fmt: Sample(tuple(v)) for fmt, v in function.items()},
        file_bytes=sizes,
    )


def bench_exports(
    data: dict[int, BenchDataset],
    *,
    repeats: int,
    cap_s: float,
    log: Callable[[str], None] = print,
) -> ExportResult:
    results: dict[int, ExportSize] = {}
    previous: ExportSize | None = None
    for size in sorted(data):
        if previous is not None and previous.function["xlsx"].values:
            scale = len(data[size].table) / max(previous.rows, 1)
            estimate = previous.function["xlsx"].median * scale**2
            if estimate > cap_s:
                note = (
                    f"non mesuré : XLSX estimé à {estimate:.0f} s CPU (quadratique) > {cap_s:.0f} s"
                )
                log(f"(g) exports, {size} : {note}")
                empty = {fmt: Sample((), note=note) for fmt in FORMATS}
                results[size] = ExportSize(len(data[size].table), empty, dict(empty), note=note)
                continue
        log(f"(g) exports CSV / XLSX, {size}")
        previous = results[size] = bench_export_size(data[size], repeats=repeats)
    return ExportResult(sizes=results, repeats=repeats)
