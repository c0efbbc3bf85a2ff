"""The communiqué read in a worker process that can be stopped: wall-clock limit, cancel, its own
alarm, and a lean import (issue 18 § 1)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys

import pytest
from communique_files import SENTENCE, docx, odt, sentence_content, stream, text_pdf

from carto.extract import DocumentError
from carto.extract.worker import CANCELLED, ReaderPool, read_isolated, start_reading


def slow_pdf() -> bytes:
    """200 pages sharing one content stream of 45 Ko of drawing: within every limit (about
    9 Mo of content to parse), but many seconds of work."""
    drawing = b"1 0 0 1 0 0 cm 0 0 m 10 10 l S\n" * 1500
    return text_pdf([4] * 200, [stream(sentence_content() + b"\n" + drawing)])


def gone(pid: int) -> bool:
    """The process has ended and been reaped (no zombie left behind)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_communique_reads_the_same_in_a_worker() -> None:
    data = text_pdf([4], [stream(sentence_content())])
    assert SENTENCE in read_isolated(data, "communique.pdf").text


def test_a_refusal_in_the_worker_is_the_same_french_message() -> None:
    with pytest.raises(DocumentError, match="« abime.docx » n'est pas un document Word"):
        read_isolated(b"PK\x03\x04 pas un zip", "abime.docx")


def test_a_runaway_reading_is_stopped_at_the_wall_clock_limit() -> None:
    reading = start_reading(slow_pdf(), "lent.pdf", wall_seconds=1)
    with pytest.raises(DocumentError, match="La lecture de « lent.pdf » a été arrêtée : .* 1 s"):
        reading.result(timeout=120)
    assert reading.done()
    assert gone(reading.pid)


def test_cancel_kills_the_worker(caplog: pytest.LogCaptureFixture) -> None:
    reading = start_reading(slow_pdf(), "lent.pdf")
    assert not reading.done()
    with caplog.at_level(logging.INFO, logger="carto.extract.worker"):
        reading.cancel()
        reading.cancel()  # idempotent
    assert gone(reading.pid)
    with pytest.raises(DocumentError, match=CANCELLED):
        reading.result(timeout=0)
    # An editor's « Annuler » is not an incident: said in the log, not as a warning.
    stopped = [r for r in caplog.records if "reader stopped" in r.getMessage()]
    assert [r.levelno for r in stopped] == [logging.INFO]


def test_a_pool_worker_stopped_by_its_cpu_limit_is_replaced() -> None:
    with ReaderPool(1, cpu_seconds=1) as pool:
        with pytest.raises(DocumentError, match="« lent.pdf » a été arrêtée : .* 1 s de calcul"):
            pool.read(slow_pdf(), "lent.pdf")
        document = pool.read(text_pdf([4], [stream(sentence_content())]), "suivant.pdf")
        assert SENTENCE in document.text


def test_a_worker_left_alone_ends_at_its_own_alarm() -> None:
    """A worker whose parent stops listening (a closed tab, a crashed server) ends by itself."""
    process = subprocess.Popen(
        [sys.executable, "-m", "carto.extract.worker", "--nice", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    header = json.dumps({"filename": "lent.pdf", "wall": 1, "cpu": 60}).encode()
    for payload in (header, slow_pdf()):
        process.stdin.write(len(payload).to_bytes(8, "big") + payload)
    process.stdin.flush()
    try:
        code = process.wait(timeout=120)  # a guard for a broken test, not a measure
    finally:
        process.kill()
    assert code == -signal.SIGALRM


def test_the_worker_imports_neither_pandas_nor_streamlit() -> None:
    script = (
        "import sys\n"
        "from carto.extract.worker import _answer_for\n"
        "for name, data in [\n"
        "    ('a.pdf', PDF), ('a.docx', DOCX), ('a.odt', ODT), ('a.html', HTML), ('a.txt', TXT)\n"
        "]:\n"
        "    assert 'document' in _answer_for(data, name), name\n"
        "print(sorted(m for m in ('pandas', 'numpy', 'pyarrow', 'streamlit') "
        "if m in sys.modules))\n"
    )
    constants = {
        "PDF": text_pdf([4], [stream(sentence_content())]),
        "DOCX": docx([]),
        "ODT": odt([]),
        "HTML": f"<html><body><p>{SENTENCE}</p></body></html>".encode(),
        "TXT": SENTENCE.encode(),
    }
    prelude = "".join(f"{key} = {value!r}\n" for key, value in constants.items())
    out = subprocess.run(
        [sys.executable, "-c", prelude + script], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
