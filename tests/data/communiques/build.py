"""Rebuild the test communiqués that are not kept as text: the PDF of the 20 April 2020 one.

Run `python tests/data/communiques/build.py`; the tests also build PDFs with `communique_pdf`.
The text source is `communique-2020-04-20.txt`; each page gets the préfecture's footer and a
page number, as the préfecture's PDFs have, so that reading must drop them.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from fpdf import FPDF

HERE = Path(__file__).resolve().parent
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FOOTER = (
    "Préfecture du Pas-de-Calais – Rue Ferdinand Buisson – 62020 Arras Cedex",
    "Contact presse : 03 21 21 20 00 – pref-communication@pas-de-calais.gouv.fr",
)
# Core PDF fonts know Latin-1 only: what they lack is spelled with what they have.
_LATIN1 = str.maketrans({"’": "'", "œ": "oe", "Œ": "Oe", "–": "-", "…": "...", "\u202f": " "})


class _Communique(FPDF):
    def __init__(self, unicode_font: bool) -> None:
        super().__init__(format="A4")
        self.unicode_font = unicode_font
        if unicode_font:
            self.add_font("dejavu", fname=str(FONT))
        self.set_auto_page_break(auto=True, margin=30)

    def text_of(self, text: str) -> str:
        return text if self.unicode_font else text.translate(_LATIN1)

    def use_font(self, size: float) -> None:
        self.set_font("dejavu" if self.unicode_font else "helvetica", size=size)

    def footer(self) -> None:
        self.set_y(-25)
        self.use_font(8)
        for line in FOOTER:
            self.cell(0, 4, self.text_of(line), align="C", new_x="LMARGIN", new_y="NEXT")
        self.cell(0, 4, f"{self.page_no()}/{{nb}}", align="R")


def _paragraphs(text: str) -> list[str]:
    """Paragraphs separated by blank lines; a line starting with « - » (a theme heading) is a
    paragraph of its own, as it is in the préfecture's layout."""
    out: list[str] = []
    # A word cut at a line's end (« hydro-\nalcoolique ») is one word again.
    text = re.sub(r"(\w-)[ \t]*\n[ \t]*(?=\w)", r"\1", text)
    for block in re.split(r"\n\s*\n", text):
        current: list[str] = []
        for line in block.splitlines():
            if line.strip().startswith("-") and current:
                out.append(" ".join(" ".join(current).split()))
                current = []
            current.append(line)
            if line.strip().startswith("-"):
                out.append(" ".join(" ".join(current).split()))
                current = []
        out.append(" ".join(" ".join(current).split()))
    return [p for p in out if p]


def communique_pdf(text: str, *, page_break_before: tuple[str, ...] = ()) -> bytes:
    """A PDF of a communiqué written as text (paragraphs separated by blank lines)."""
    pdf = _Communique(unicode_font=FONT.is_file())
    pdf.alias_nb_pages()
    pdf.add_page()
    for paragraph in _paragraphs(text):
        if not paragraph:
            continue
        if any(paragraph.startswith(start) for start in page_break_before):
            pdf.add_page()
        pdf.use_font(11)
        pdf.multi_cell(0, 5.5, pdf.text_of(paragraph), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
    return bytes(pdf.output())


def main() -> int:
    source = HERE / "communique-2020-04-20.txt"
    target = source.with_suffix(".pdf")
    target.write_bytes(
        communique_pdf(
            source.read_text(encoding="utf-8"),
            page_break_before=("- Solidaires avec les personnes confinées",),
        )
    )
    print(f"écrit : {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
