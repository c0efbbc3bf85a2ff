"""What identifies an initiative: its `id`, given when it enters the store and kept for good.

The one rule that the diff, the merge, « Nouveau », the pages, the markers and the static site
use. A stored row always has an id (`carto.publishing.storage` gives one to a row that enters
without, and migrates older stores once). Rows not yet stored (a file without an id column, a
communiqué's candidates) are matched to published ones by their folded nom + commune
(`name_key`), which is how they inherit an id.

An id is short and readable in a link (« 62-k4q7m2 »: the département code and six letters or
digits without look-alikes), never derived from the name, so a rename keeps it, and never one
the store has held before.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Collection, Mapping
from typing import Any

from carto.text import cell_text, fold_key

# Letters and digits that cannot be mistaken for one another when read aloud or retyped.
ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
ID_LENGTH = 6


def row_id(row: Mapping[str, Any]) -> str:
    """The row's id as stored and compared ("" when it has none yet)."""
    return cell_text(row.get("id")).strip()


def name_key(row: Mapping[str, Any]) -> tuple[str, str]:
    """Folded (nom, commune): how a row without id is matched to a published initiative."""
    return fold_key(cell_text(row.get("nom"))), fold_key(cell_text(row.get("commune")))


def row_key(row: Mapping[str, Any]) -> str:
    """A row's key for lookups and messages: its id, else « nom — commune » (or the nom)."""
    if rid := row_id(row):
        return rid
    nom, commune = cell_text(row.get("nom")).strip(), cell_text(row.get("commune")).strip()
    return f"{nom} — {commune}" if commune else nom


def _with_prefix(prefix: str, code: str) -> str:
    return f"{prefix}-{code}" if prefix else code


def new_id(prefix: str, taken: Collection[str]) -> str:
    """A fresh random id (« 62-k4q7m2 ») that is not in `taken`."""
    while True:
        code = "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))
        if (candidate := _with_prefix(prefix, code)) not in taken:
            return candidate


def derived_id(prefix: str, seed: str, taken: Collection[str]) -> str:
    """An id computed from `seed` (a place in the store's history, never a name), not in
    `taken`: the same store gives the same ids whether it is migrated or read in memory."""
    attempt = 0
    while True:
        digest = hashlib.sha256(f"{seed}:{attempt}".encode()).digest()
        number = int.from_bytes(digest[:8], "big")
        code = ""
        for _ in range(ID_LENGTH):
            number, index = divmod(number, len(ID_ALPHABET))
            code += ID_ALPHABET[index]
        if (candidate := _with_prefix(prefix, code)) not in taken:
            return candidate
        attempt += 1


def fill_ids(
    ids: list[str], taken: set[str], make: Callable[[int, set[str]], str]
) -> tuple[list[str], int]:
    """`ids` with each empty one replaced by `make(position, taken)`; adds them to `taken`.
    Returns the filled list and how many were made."""
    made = 0
    filled = list(ids)
    for position, rid in enumerate(filled):
        if not rid:
            filled[position] = make(position, taken)
            taken.add(filled[position])
            made += 1
    return filled, made
