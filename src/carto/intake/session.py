"""One uploaded file on its way to publication, each step done once per input.

A Streamlit page reruns its whole script on every click. Kept for the browser session, an
`ImportSession` makes a click that changes nothing upstream (ticking « Je confirme », typing the
version note) reuse the file already read, validated, geocoded and compared: at 20,000 rows those
steps take seconds, the reuse a few microseconds. It lives above `publishing` (it caches the
review too), hence its own module rather than `dataset`, which `publishing` imports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping

from carto.errors import ReadError
from carto.gazetteer import Gazetteer
from carto.intake.pipeline import LoadedTable, prepare
from carto.intake.reading import DEFAULT_MAX_BYTES, DEFAULT_MAX_ROWS, RawTable, read_table
from carto.publishing.plan import ImportPlan, plan_import
from carto.publishing.storage import Store


def file_digest(data: bytes) -> str:
    """A short fingerprint of a file's bytes, the same for the same file dropped again."""
    return hashlib.sha256(data).hexdigest()[:16]


class ImportSession:
    """The steps of one file (read, validated and geocoded, compared), each kept until its input
    changes: another sheet, other commune corrections, another mode or base version.

    Only the latest result of each step is kept (and the reading errors, which are small), so
    memory stays at one file's worth. `reads`, `loads` and `plans` count the work really done.
    Not thread-safe: one per browser session.
    """

    def __init__(
        self,
        data: bytes,
        *,
        filename: str,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> None:
        self.data = data
        self.filename = filename
        self.digest = file_digest(data)
        self._limits = {"max_bytes": max_bytes, "max_rows": max_rows}
        self._raw: tuple[frozenset[str | None], RawTable] | None = None
        self._read_errors: dict[str | None, ReadError] = {}
        self._loaded: tuple[tuple[object, ...], LoadedTable] | None = None
        self._plans: dict[tuple[object, ...], ImportPlan] = {}
        self._plans_of: LoadedTable | None = None
        self.reads = 0
        self.loads = 0
        self.plans = 0

    def raw(self, *, sheet: str | None = None) -> RawTable:
        """The file read as strings (`sheet`: see `read_table`); raises ReadError, SheetError."""
        if self._raw is not None and sheet in self._raw[0]:
            return self._raw[1]
        if sheet in self._read_errors:
            # Raised afresh each time: a traceback would keep the frames of every rerun alive.
            raise self._read_errors[sheet].with_traceback(None)
        self.reads += 1
        try:
            raw = read_table(self.data, filename=self.filename, sheet=sheet, **self._limits)
        except ReadError as exc:
            self._read_errors[sheet] = exc
            raise
        # Asking next for the sheet that was picked (raw.sheet) is the same read.
        self._raw = (frozenset({sheet, raw.sheet}), raw)
        return raw

    def loaded(
        self,
        gazetteer: Gazetteer,
        *,
        sheet: str | None = None,
        corrections: Mapping[int, str] | None = None,
        accept_outside: Collection[int] = frozenset(),
        excluded: Collection[int] = frozenset(),
    ) -> LoadedTable:
        """The file validated and geocoded, with the communes an editor picked per line, the
        lines whose point outside the département the editor confirmed and the lines the
        editor left out."""
        raw = self.raw(sheet=sheet)
        key = (
            gazetteer.departement,
            sheet,
            frozenset((corrections or {}).items()),
            frozenset(accept_outside),
            frozenset(excluded),
        )
        if self._loaded is not None and self._loaded[0] == key:
            return self._loaded[1]
        self.loads += 1
        loaded = prepare(
            raw,
            gazetteer,
            corrections=corrections,
            accept_outside=frozenset(accept_outside),
            excluded=frozenset(excluded),
        )
        self._loaded = (key, loaded)
        return loaded

    def plan(
        self, loaded: LoadedTable, store: Store, *, mode: str, base_version: int | None
    ) -> ImportPlan:
        """The comparison of `loaded` with a published version (immutable, so cacheable).

        One plan per mode is kept, so that switching between replace and merge is free.
        """
        if loaded is not self._plans_of:
            self._plans, self._plans_of = {}, loaded
        key = (mode, base_version, id(store))
        if key not in self._plans:
            self.plans += 1
            self._plans[key] = plan_import(loaded, store, mode=mode, base_version=base_version)
        return self._plans[key]
