"""Spreadsheets written by a real office suite: LibreOffice (`soffice --headless --convert-to`).

Tests write a CSV (or a workbook) themselves, then have LibreOffice save it as XLSX, ODS or CSV,
exactly as an editor's « Enregistrer sous » would. The `office` fixture (tests/conftest.py) gives
one Office per test session, with its own LibreOffice profile (`-env:UserInstallation`) so that
parallel runs do not share, lock or corrupt one profile. Without soffice the tests are skipped,
unless CARTO_REQUIRE_OFFICE=1 (.ci/run), which makes them fail instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REQUIRE_ENV = "CARTO_REQUIRE_OFFICE"
# LibreOffice's numbers of the character sets its CSV filter reads and writes.
CHARSETS = {"utf-8": 76, "cp1252": 1}
# The export filter of each target format.
FILTERS = {
    "ods": "calc8",
    "xlsx": "Calc MS Excel 2007 XML",
    "csv": "Text - txt - csv (StarCalc)",
    "odt": "writer8",
}
TIMEOUT_S = 180


def soffice_path() -> str | None:
    return shutil.which("soffice")


def missing_reason() -> str:
    return (
        "LibreOffice absent : soffice introuvable (paquets Debian libreoffice-calc-nogui et "
        "libreoffice-writer-nogui)"
    )


def required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def _csv_options(separator: str, charset: str) -> str:
    """LibreOffice's CSV filter options: separator, quote, character set, first line."""
    return f"{ord(separator)},34,{CHARSETS[charset]},1"


@dataclass
class Office:
    """A headless LibreOffice with a private profile under `profile`."""

    soffice: str
    profile: Path

    def convert(
        self,
        source: Path,
        fmt: str,
        out_dir: Path,
        *,
        separator: str = ";",
        charset: str = "utf-8",
    ) -> Path:
        """Save `source` as `fmt` (ods, xlsx, csv) in `out_dir`; returns the file written.

        A CSV source is read with `separator` and `charset`; a CSV target is written with them.
        """
        out_dir.mkdir(parents=True, exist_ok=True)
        target = f"{fmt}:{FILTERS[fmt]}"
        if fmt == "csv":
            # Three tokens: given a fourth (first line, for reading) it writes UTF-8 regardless.
            target += f":{ord(separator)},34,{CHARSETS[charset]}"
        command = [
            self.soffice,
            f"-env:UserInstallation={self.profile.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            target,
            "--outdir",
            str(out_dir),
        ]
        if source.suffix.lower() == ".csv":
            command.append(f"--infilter=CSV:{_csv_options(separator, charset)}")
        command.append(str(source))
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
        written = out_dir / f"{source.stem}.{fmt}"
        if result.returncode != 0 or not written.is_file():
            raise RuntimeError(
                f"soffice n'a pas écrit {written.name} (code {result.returncode}) : "
                f"{result.stdout}{result.stderr}"
            )
        return written
