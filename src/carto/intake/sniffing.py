"""What every upload reader shares without pandas: the upload limit and encoding sniffing.

The communiqué reader runs in a lean worker process (carto.extract.worker) that must not import
pandas; the table reader (carto.intake.reading) imports these from here.
"""

from __future__ import annotations

# The upload limits, here and only here: the pages and .streamlit/config.toml's maxUploadSize
# (in MiB) follow them.
DEFAULT_MAX_BYTES = 20 * 2**20


def bomless_utf16(data: bytes) -> str | None:
    """Spot UTF-16 without BOM: mostly-ASCII text has a NUL in every other byte."""
    sample = data[:2000]
    if len(sample) < 4 or len(sample) % 2:
        sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 4:
        return None
    pairs = len(sample) // 2
    odd_nul = sum(1 for i in range(1, len(sample), 2) if sample[i] == 0)
    even_nul = sum(1 for i in range(0, len(sample), 2) if sample[i] == 0)
    if odd_nul >= 0.9 * pairs and even_nul == 0:
        return "utf-16-le"
    if even_nul >= 0.9 * pairs and odd_nul == 0:
        return "utf-16-be"
    return None
