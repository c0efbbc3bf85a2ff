"""(l) Hostile communiqués (issue 18): what each bomb costs the reader, and what another visitor
of the public map notices while bombs are read.

- Each bomb is built here (the issue's cases: a Word file of 100,000 empty paragraphs, an
  OpenDocument file of 20 MB of empty paragraphs, an HTML page of 8,000 nested <div>, a PDF of
  200 pages sharing one 60 MB Flate stream; and two HTML pages too long, which cost the most
  today) and read by the worker the page and `carto extract`
  use (carto.extract.worker.start_reading, default limits): wall time until its outcome, the
  worker's peak memory (VmHWM from /proc, polled), and the outcome (the French refusal).
- The visitor: a websocket client of Streamlit's protocol (concurrency.py) opens the public map
  (seed) and changes one filter, on a warm server. Rounds alternate: visitors while the bombs
  are read one after another without pause (until each was read once), each in a fresh worker
  started by this process as the server starts one for an editor's upload; then as many
  visitors with nothing else running (idle). Taking turns spreads the other processes' load of
  a shared machine over both.

`python bench/bombs.py` measures and rewrites the (l) section of docs/benchmarks.md only.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(BENCH_DIR.parent / "tests"))

import sessions  # noqa: E402
from measure import Sample, fmt_seconds  # noqa: E402

SENTENCE = "Épicerie solidaire à Arras : colis pour les personnes isolées."
RATIO_TARGET = 2.0  # another visitor's page run, while a bomb is read, against its idle median
SECTION_START = "<!-- (l) bombes : bench/bombs.py -->"
SECTION_END = "<!-- /(l) -->"


# -- the bombs


def docx_bomb(paragraphs: int = 100_000) -> bytes:
    """A Word file of `paragraphs` empty <w:p/> and one sentence (1.4 KB; 43.6 s before)."""
    body = "<w:p/>" * paragraphs + f"<w:p><w:r><w:t>{SENTENCE}</w:t></w:r></w:p>"
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{body}</w:body></w:document>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr("word/document.xml", xml)
    return buffer.getvalue()


def odt_bomb(megabytes: int = 20) -> bytes:
    """An OpenDocument text of `megabytes` MB of empty <text:p/> and one sentence (41 KB)."""
    count = megabytes * 2**20 // len("<text:p/>")
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        "<office:body><office:text>"
        + "<text:p/>" * count
        + f"<text:p>{SENTENCE}</text:p></office:text></office:body></office:document-content>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text"
        )  # stored, first, as the format wants
        archive.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:'
            'names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path='
            '"content.xml" manifest:media-type="text/xml"/></manifest:manifest>',
        )
        archive.writestr("content.xml", xml)
    return buffer.getvalue()


def html_bomb(depth: int = 8_000) -> bytes:
    """An HTML page of `depth` nested <div> around one sentence (88 KB; 27 s before)."""
    return ("<!DOCTYPE html><html><body>" + "<div>" * depth + SENTENCE + "</div>" * depth).encode()


def pdf_bomb(pages: int = 200, megabytes: int = 60) -> bytes:
    """A PDF of `pages` pages sharing one Flate content stream of `megabytes` MB (93 KB)."""
    operator = b"BT /F1 1 Tf 0 0 Td (a) Tj ET\n"
    stream = zlib.compress(operator * (megabytes * 2**20 // len(operator)), 9)
    first_page = 5
    kids = " ".join(f"{first_page + i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode()
        + stream
        + b"\nendstream",
    ]
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 3 0 R >> >> >>"
    )
    objects += [page] * pages
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def html_paragraphs(count: int = 19_000) -> bytes:
    """An HTML page of `count` paragraphs of text (1.8 MB): refused for its length, but after
    its whole tree is parsed."""
    return ("<html><body>" + f"<p>{SENTENCE}</p>" * count + "</body></html>").encode()


def html_one_paragraph(megabytes: int = 19) -> bytes:
    """An HTML page of one paragraph of `megabytes` MB (under the 20 MB upload limit)."""
    text = (SENTENCE + "\n") * (megabytes * 2**20 // len((SENTENCE + "\n").encode()))
    return f"<html><body><p>{text}</p></body></html>".encode()


# (label, file name, builder)
BOMBS: list[tuple[str, str, Callable[[], bytes]]] = [
    ("Word, 100 000 paragraphes vides", "bombe.docx", docx_bomb),
    ("OpenDocument, 20 Mo de paragraphes vides", "bombe.odt", odt_bomb),
    ("HTML, 8 000 `<div>` imbriquées", "bombe.html", html_bomb),
    ("PDF, 200 pages sur un flux Flate de 60 Mo", "bombe.pdf", pdf_bomb),
    ("HTML, 19 000 paragraphes de texte", "paragraphes.html", html_paragraphs),
    ("HTML, un paragraphe de 19 Mo", "gros.html", html_one_paragraph),
]


# -- measures


@dataclass(frozen=True)
class BombResult:
    label: str
    filename: str
    size_bytes: int
    seconds: Sample
    peak_mb: float  # the worker's highest VmHWM seen over the repeats
    outcome: str  # the French refusal (or « lu : N paragraphes »)


@dataclass
class BombResults:
    bombs: list[BombResult] = field(default_factory=list)
    idle_open: Sample = field(default_factory=lambda: Sample(()))
    idle_filter: Sample = field(default_factory=lambda: Sample(()))
    busy_open: Sample = field(default_factory=lambda: Sample(()))
    busy_filter: Sample = field(default_factory=lambda: Sample(()))
    bombs_read: int = 0  # readings done while the visitors of the busy rounds ran
    rounds: int = 0
    visits_per_round: int = 0
    errors: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    measured: str = ""  # when, which code, which load (the report's header may be another run's)

    def ratio(self, which: str) -> float:
        idle = getattr(self, f"idle_{which}").median
        busy = getattr(self, f"busy_{which}").median
        return busy / idle if idle == idle and idle > 0 else float("nan")

    @property
    def passed(self) -> bool | None:
        ratios = [self.ratio("open"), self.ratio("filter")]
        if any(r != r for r in ratios):
            return None
        return max(ratios) <= RATIO_TARGET


def _peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def read_bomb(label: str, filename: str, data: bytes, *, repeats: int) -> BombResult:
    """Each bomb read `repeats` times by a fresh worker: wall time to the outcome, peak memory."""
    from carto.extract import DocumentError
    from carto.extract.worker import start_reading

    times: list[float] = []
    peak = 0.0
    outcome = ""
    for _ in range(repeats):
        start = time.perf_counter()
        reading = start_reading(data, filename)
        while not reading.done():
            peak = max(peak, _peak_mb(reading.pid))
            time.sleep(0.02)  # polling the worker's memory, not a measured wait
        times.append(time.perf_counter() - start)
        try:
            document = reading.result(timeout=0)
            outcome = f"lu : {len(document.blocks)} paragraphe(s)"
        except DocumentError as exc:
            outcome = str(exc)
    return BombResult(label, filename, len(data), Sample(tuple(times)), peak, outcome)


class _Bombing:
    """Bombs read one after another, each in a fresh worker, until stopped."""

    def __init__(self, bombs: list[tuple[str, bytes]]) -> None:
        self.bombs = bombs
        self.read = 0
        self._stop = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-bombs", daemon=True)

    def _run(self) -> None:
        from carto.extract.worker import start_reading

        index = 0
        while not self._stop.is_set():
            filename, data = self.bombs[index % len(self.bombs)]
            reading = start_reading(data, filename)
            self._started.set()
            while not reading.done() and not self._stop.is_set():
                time.sleep(0.01)
            if reading.done():
                self.read += 1
            reading.cancel()  # the visitors are gone: the bomb being read is stopped
            index += 1

    def __enter__(self) -> _Bombing:
        self._thread.start()
        self._started.wait()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def visitor_during_bombs(
    served: sessions.Served,
    bombs: list[tuple[str, bytes]],
    *,
    rounds: int,
    visits: int,
    timeout_s: float,
) -> BombResults:
    """Rounds of visitors while bombs are read, until each bomb has been read once (at least
    `visits` of them), then as many visitors with nothing else running."""
    port = served.server.port
    out = BombResults(rounds=rounds, visits_per_round=visits)
    for _ in range(3):  # warm-up: first runs import modules and fill caches
        out.errors += sessions._visit(port, timeout_s=timeout_s).errors
    runs: dict[str, list[sessions.SocketRun]] = {"idle": [], "busy": []}
    for _ in range(rounds):
        with _Bombing(bombs) as bombing:
            # Visitors until every bomb has been read once, and at least `visits` of them.
            count = 0
            while count < visits or bombing.read < len(bombs):
                runs["busy"].append(sessions._visit(port, timeout_s=timeout_s))
                count += 1
        for _ in range(count):  # as many with nothing else running
            runs["idle"].append(sessions._visit(port, timeout_s=timeout_s))
        out.bombs_read += bombing.read
    for kind, done in runs.items():
        for run in done:
            out.errors += run.errors
        setattr(out, f"{kind}_open", Sample(tuple(r.open_s for r in done if r.open_s == r.open_s)))
        setattr(
            out,
            f"{kind}_filter",
            Sample(tuple(r.filter_s for r in done if r.filter_s == r.filter_s)),
        )
    return out


def run_bombs(
    database_url: str,
    *,
    repeats: int,
    rounds: int,
    visits: int,
    timeout_s: float,
    log: Callable[[str], None],
    code: str = "",
) -> BombResults | None:
    """None (said in the log) when the measured code has no reading worker (--source)."""
    try:
        import carto.extract.worker  # noqa: F401
    except ImportError:
        log("(l) non mesuré : ce code n'a pas de processus de lecture (carto.extract.worker)")
        return None
    started = time.perf_counter()
    # The reader logs each stopped worker (for the server log): not the bench's output.
    logging.getLogger("carto.extract.worker").setLevel(logging.ERROR)
    built = [(label, filename, build()) for label, filename, build in BOMBS]
    results: list[BombResult] = []
    for label, filename, data in built:
        log(f"(l) bombe lue par le processus de lecture : {label}")
        results.append(read_bomb(label, filename, data, repeats=repeats))
    with tempfile.TemporaryDirectory(prefix="carto-bench-bombs-") as tmp:
        env = {"CARTO_DATABASE_URL": database_url}
        served = sessions.start("bombs", log_dir=Path(tmp), env=env)
        try:
            log(
                f"(l) visiteur de la carte (graine) : {rounds} tours de visites pendant la lecture "
                "des bombes, puis autant au repos"
            )
            out = visitor_during_bombs(
                served,
                [(filename, data) for _, filename, data in built],
                rounds=rounds,
                visits=visits,
                timeout_s=timeout_s,
            )
        finally:
            served.stop()
    out.bombs = results
    out.duration_s = time.perf_counter() - started
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    when = f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    out.measured = f"{when}, {code}, charge {load} à la fin"
    return out


# -- report


def _ms(sample: Sample) -> str:
    if not sample.values:
        return "—"
    return (
        f"{fmt_seconds(sample.median)} ({fmt_seconds(sample.low)}–{fmt_seconds(sample.high)}, "
        f"n={len(sample.values)})"
    )


def target_row(b: BombResults | None) -> tuple[str, str, str, bool | None]:
    name = "visiteur de la carte pendant la lecture d'une bombe / au repos (médianes)"
    if b is None:
        return (name, f"≤ {RATIO_TARGET:g}×", "—", None)
    measured = f"ouverture {b.ratio('open'):.2f}×, filtre {b.ratio('filter'):.2f}×"
    return (name, f"≤ {RATIO_TARGET:g}×", measured, b.passed)


def markdown(b: BombResults) -> list[str]:
    status = {None: "non mesuré", True: "**PASS**", False: "**FAIL**"}[b.passed]
    out = [
        SECTION_START,
        "## (l) Communiqués hostiles (issue 18)",
        "",
        "Chaque bombe est construite par `bench/bombs.py` et lue par le processus de lecture de "
        "la page et de `carto extract` (`carto.extract.worker.start_reading`, limites par "
        "défaut) : temps mural jusqu'à l'issue (démarrage du processus compris), pic mémoire du "
        "processus (VmHWM relevé toutes les 20 ms), issue.",
        "",
        "| bombe | taille | temps | pic mémoire du lecteur | issue |",
        "|---|---|---|---|---|",
    ]
    for r in b.bombs:
        outcome = r.outcome.replace("|", "\\|")
        out.append(
            f"| {r.label} | {r.size_bytes / 1024:.1f} Ko | {_ms(r.seconds)} | "
            f"{r.peak_mb:.0f} Mo | {outcome} |"
        )
    out += [
        "",
        "Un autre visiteur pendant ce temps : client websocket du protocole de Streamlit "
        "(ouverture de la carte, graine, puis un filtre ; serveur chaud), l'un après l'autre. "
        "Tours alternés : des visites pendant que les bombes ci-dessus sont lues l'une après "
        "l'autre sans pause, chacune par un nouveau processus de lecture, jusqu'à ce que "
        f"chacune ait été lue une fois (au moins {b.visits_per_round} visites), puis autant de "
        f"visites au repos ; {b.rounds} tours, {b.bombs_read} lectures de bombes pendant les "
        "visites.",
        "",
        "| exécution de la page | au repos | pendant les bombes | rapport |",
        "|---|---|---|---|",
        f"| ouverture | {_ms(b.idle_open)} | {_ms(b.busy_open)} | {b.ratio('open'):.2f}× |",
        f"| changement de filtre | {_ms(b.idle_filter)} | {_ms(b.busy_filter)} | "
        f"{b.ratio('filter'):.2f}× |",
        "",
        f"Objectif : pendant une bombe, ≤ {RATIO_TARGET:g}× la médiane au repos — {status}"
        + (f" ; erreurs : {len(b.errors)} ({'; '.join(b.errors[:3])})" if b.errors else "")
        + f". Durée de la section : {b.duration_s:.0f} s ; mesuré le {b.measured}.",
        SECTION_END,
    ]
    return out


def raw(b: BombResults | None) -> dict[str, Any] | None:
    if b is None:
        return None
    return {
        "bombs": [
            {
                "label": r.label,
                "bytes": r.size_bytes,
                "seconds": r.seconds.to_json(),
                "peak_mb": r.peak_mb,
                "outcome": r.outcome,
            }
            for r in b.bombs
        ],
        **{
            f"{kind}_{what}": getattr(b, f"{kind}_{what}").to_json()
            for kind in ("idle", "busy")
            for what in ("open", "filter")
        },
        "bombs_read": b.bombs_read,
        "errors": b.errors,
    }


def replace_section(path: Path, lines: list[str]) -> Path:
    """Write the (l) section into an existing report: in place, or before « ## Reproduire »."""
    text = path.read_text(encoding="utf-8")
    section = "\n".join(lines)
    if SECTION_START in text and SECTION_END in text:
        head, rest = text.split(SECTION_START, 1)
        tail = rest.split(SECTION_END, 1)[1]
        text = head + section + tail
    else:
        head, sep, tail = text.partition("## Reproduire")
        text = head + section + "\n\n" + sep + tail
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    from datasets import prepare_seed
    from run import DEFAULT_OUTPUT, describe_code, log

    from carto.gazetteer import load_gazetteer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="lectures de chaque bombe")
    parser.add_argument("--rounds", type=int, default=3, help="tours repos / bombes")
    parser.add_argument("--visits", type=int, default=6, help="visites par tour")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--print-only", action="store_true", help="ne pas réécrire le rapport")
    options = parser.parse_args(argv)
    seed = prepare_seed(load_gazetteer("62"))
    results = run_bombs(
        seed.database_url,
        repeats=options.repeats,
        rounds=options.rounds,
        visits=options.visits,
        timeout_s=options.timeout,
        log=log,
        code=describe_code(None),
    )
    if results is None:
        return 1
    lines = markdown(results)
    print("\n".join(lines))
    if not options.print_only:
        log(f"section (l) écrite : {replace_section(options.output, lines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
