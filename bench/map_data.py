"""Map data under hostile use (issue 8): disk taken by 300 crafted views, 100 KB search text.

Run: .venv/bin/python bench/map_data.py [--rows 20000] [--views 300]

A crafted view here is "every commune but one": each gives a distinct, nearly full payload, the
worst case for the marker files. The views go through carto.map.markers.MarkerFiles with the page's
key (data version + FilterSpec.view_key) and default byte budget, into a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import prepare_dataset  # noqa: E402 (bench folder on the path)

from carto.filters import FilterSpec, apply_filters, search_index  # noqa: E402
from carto.gazetteer import load_gazetteer  # noqa: E402
from carto.map.markers import MarkerFiles, marker_payload, script_json  # noqa: E402

MIB = 2**20


def disk_after_crafted_views(rows: int, views: int) -> tuple[float, int, float]:
    """(MiB on disk, files, seconds) after `views` distinct near-full views of `rows` rows."""
    data = prepare_dataset(load_gazetteer("62"), rows)
    placed = data.placed
    communes = sorted(placed["code_insee"].dropna().unique())
    with tempfile.TemporaryDirectory() as folder:
        files = MarkerFiles(Path(folder))
        start = time.perf_counter()
        for number in range(views):
            skipped = communes[number % len(communes)]
            spec = FilterSpec(communes=tuple(c for c in communes if c != skipped))
            shown = apply_filters(placed, spec)
            files.path_for(
                ("bench", spec.view_key), lambda shown=shown: script_json(marker_payload(shown))
            )
        elapsed = time.perf_counter() - start
        on_disk = list(Path(folder).rglob("*.json"))
        size = sum(f.stat().st_size for f in on_disk)
        files.close()
    return size / MIB, len(on_disk), elapsed


def search_seconds(rows: int, text: str) -> tuple[float, int]:
    """(seconds, rows found) of one filter run with `text`, index built beforehand."""
    table = prepare_dataset(load_gazetteer("62"), rows).table
    index = search_index(table)
    start = time.perf_counter()
    shown = apply_filters(table, FilterSpec(text=text), index=index)
    return time.perf_counter() - start, len(shown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--views", type=int, default=300)
    args = parser.parse_args()
    mib, count, seconds = disk_after_crafted_views(args.rows, args.views)
    print(
        f"{args.views} vues forgées à {args.rows} lignes : {mib:.1f} Mio sur disque "
        f"({count} fichiers), {seconds:.1f} s"
    )
    seconds, found = search_seconds(args.rows, "a " * 50_000)
    print(f"recherche de 100 Ko (« a » répété) : {seconds * 1000:.0f} ms, {found} lignes")


if __name__ == "__main__":
    main()
