"""Timing helpers, the machine description and the result records of the benchmark."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Sample:
    """Repeated measurements of one quantity (seconds, bytes, MB...)."""

    values: tuple[float, ...]
    unit: str = "s"
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def low(self) -> float:
        return min(self.values) if self.values else float("nan")

    @property
    def high(self) -> float:
        return max(self.values) if self.values else float("nan")

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile (q in 0..100)."""
        if not self.values:
            return float("nan")
        ordered = sorted(self.values)
        rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
        return ordered[rank - 1]

    def to_json(self) -> dict[str, Any]:
        return {"values": list(self.values), "unit": self.unit, "note": self.note}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def repeat(
    fn: Callable[[], Any],
    *,
    times: int,
    setup: Callable[[], Any] | None = None,
    budget_s: float | None = None,
) -> Sample:
    """Run `fn` `times` times (after `setup` each time, not timed); stop early past `budget_s`."""
    values: list[float] = []
    spent = 0.0
    for _ in range(times):
        if setup is not None:
            setup()
        gc.collect()
        elapsed, _ = timed(fn)
        values.append(elapsed)
        spent += elapsed
        if budget_s is not None and spent > budget_s:
            break
    return Sample(tuple(values))


def fmt_seconds(value: float) -> str:
    if value != value:  # NaN
        return "—"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 100:
        return f"{value:.2f} s"
    return f"{value:.0f} s"


def fmt_bytes(value: float) -> str:
    if value != value:
        return "—"
    # Decimal units (1 Mo = 10^6 octets), as in the targets.
    if value < 1e3:
        return f"{value:.0f} o"
    if value < 1e6:
        return f"{value / 1e3:.0f} Ko"
    return f"{value / 1e6:.2f} Mo"


def fmt(sample: Sample) -> str:
    """Median and spread, e.g. '212 ms (198–240 ms, n=5)'."""
    if not sample.values:
        return "— " + (f"({sample.note})" if sample.note else "")
    one = {"B": fmt_bytes, "MB": lambda v: f"{v:.0f} Mo"}.get(sample.unit, fmt_seconds)
    text = one(sample.median)
    if len(sample.values) > 1:
        text += f" ({one(sample.low)}–{one(sample.high)}, n={len(sample.values)})"
    else:
        text += " (n=1)"
    if sample.note:
        text += f" — {sample.note}"
    return text


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def chromium_version(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "absent"
    return out.stdout.strip() or "inconnue"


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    ram_gb: float
    system: str
    versions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def describe(cls, *, chromium: str) -> Machine:
        cpu = "inconnu"
        for line in _read("/proc/cpuinfo").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        ram_kb = 0
        for line in _read("/proc/meminfo").splitlines():
            if line.startswith("MemTotal:"):
                ram_kb = int(line.split()[1])
        versions = {"python": platform.python_version()}
        for name in ("streamlit", "folium", "streamlit-folium", "pandas", "geopy", "playwright"):
            versions[name] = _version(name)
        versions["chromium"] = chromium_version(chromium)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return cls(
            cpu=cpu,
            cores=cores or 0,
            ram_gb=round(ram_kb / 1024**2, 1),
            system=f"{platform.system()} {platform.release()}",
            versions=versions,
        )


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS = VmHWM) of a process, in MiB; NaN when it is gone."""
    values = {"VmRSS": float("nan"), "VmHWM": float("nan")}
    for line in _read(f"/proc/{pid}/status").splitlines():
        key = line.split(":", 1)[0]
        if key in values:
            values[key] = int(line.split()[1]) / 1024
    return values["VmRSS"], values["VmHWM"]
