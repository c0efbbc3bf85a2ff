"""A communiqué read where it can be stopped: a lean worker process with limits.

The page and the command line never parse an outsider's file in their own process: a worker
started with ``python -m carto.extract.worker`` (a new interpreter, never a fork of the Streamlit
server) reads it, niced so that other visitors keep their core, with a CPU-time limit
(RLIMIT_CPU), a memory limit (RLIMIT_DATA: RLIMIT_AS breaks numpy and pyarrow, which the worker
does not import anyway) and a wall-clock limit that both sides enforce: the parent kills the
worker at the deadline, and the worker's own alarm ends it if the parent is gone.

Requests and answers cross the pipe as length-prefixed frames: a JSON header, then the file's
bytes; the answer is JSON (never pickle: the parent does not trust what a parser may have left).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import queue
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any

from carto.extract.documents import Block, Document, DocumentError, read_document

logger = logging.getLogger(__name__)

# Default limits of one reading. A weekly communiqué reads in about a second.
WALL_SECONDS = 60.0
CPU_SECONDS = 45.0
MEMORY_BYTES = 768 * 2**20
NICE = 10
CANCELLED = "Lecture annulée."

_LENGTH = 8
_MAX_ANSWER = 64 * 2**20


# -- parent side


class _Stopped(Exception):
    """The worker ended without answering."""


class _Worker:
    """One worker process, answering one request after another."""

    def __init__(self, *, memory_bytes: int, nice: int) -> None:
        self.memory_bytes = memory_bytes
        # The worker's stderr, kept for the log when it dies; closed with the worker.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "carto.extract.worker",
                    "--memory",
                    str(memory_bytes),
                    "--nice",
                    str(nice),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                close_fds=True,
                env=_worker_environment(),
            )
        except OSError as exc:
            self._stderr.close()
            logger.exception("communiqué reader: the worker process could not start")
            raise DocumentError(
                "Le lecteur de communiqués n'a pas pu démarrer ; réessayez dans un instant."
            ) from exc
        self.killed = False
        self.cancelled = False  # killed because the editor asked (« Annuler »): not an incident
        self.timed_out = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.killed = True
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.process.kill()

    def close(self) -> None:
        """Stop the worker (at once: it holds nothing worth waiting for) and reap it."""
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._stderr.close()

    def request(
        self, data: bytes, filename: str, *, wall_seconds: float, cpu_seconds: float
    ) -> Document:
        """Read one document; DocumentError (French) when refused or stopped."""
        deadline = time.monotonic() + wall_seconds
        header = json.dumps(
            {"filename": filename, "wall": wall_seconds, "cpu": cpu_seconds}
        ).encode()
        try:
            assert self.process.stdin is not None
            _write_frame(self.process.stdin, header)
            _write_frame(self.process.stdin, data)
            self.process.stdin.flush()
            answer = self._answer(deadline)
        except (_Stopped, OSError, ValueError) as exc:
            raise self._stopped(filename, wall_seconds, cpu_seconds) from exc
        return _decode_answer(answer, filename)

    def _answer(self, deadline: float) -> bytes:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        buffer = bytearray()
        wanted: int | None = None
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while wanted is None or len(buffer) < _LENGTH + wanted:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(timeout=left):
                    self.timed_out = True
                    self.kill()
                    raise _Stopped("wall clock")
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise _Stopped("end of output")
                buffer += chunk
                if wanted is None and len(buffer) >= _LENGTH:
                    wanted = int.from_bytes(buffer[:_LENGTH], "big")
                    if wanted > _MAX_ANSWER:
                        self.kill()
                        raise _Stopped("answer too long")
        return bytes(buffer[_LENGTH : _LENGTH + wanted])

    def _stopped(self, filename: str, wall_seconds: float, cpu_seconds: float) -> DocumentError:
        """Why the worker ended without answering, in French; the details go to the log."""
        self.kill()
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignored
            code = None
        self._stderr.seek(0)
        tail = self._stderr.read()[-4000:].decode("utf-8", "replace")
        logger.log(
            logging.INFO if self.cancelled else logging.WARNING,
            "communiqué reader stopped (%s, exit code %s, killed by the parent: %s): %s",
            filename,
            code,
            self.killed,
            tail,
        )
        start = f"La lecture de « {filename} » a été arrêtée : "
        if code == -signal.SIGXCPU:
            return DocumentError(
                f"{start}elle dépassait {_seconds(cpu_seconds)} s de calcul. Déposez un "
                "communiqué plus simple, ou son texte seul."
            )
        if self.timed_out or code == -signal.SIGALRM:
            return DocumentError(
                f"{start}elle dépassait {_seconds(wall_seconds)} s. Déposez un communiqué plus "
                "simple, ou son texte seul."
            )
        return DocumentError(
            f"{start}le fichier demandait plus que les {self.memory_bytes // 2**20} Mo de "
            "mémoire permis, ou il est abîmé."
        )


def _worker_environment() -> dict[str, str]:
    """The parent's environment, with the folder this carto package was imported from first:
    the worker reads with the same code as the page (a checkout run without install too)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _seconds(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def _write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(len(payload).to_bytes(_LENGTH, "big"))
    stream.write(payload)


def _decode_answer(answer: bytes, filename: str) -> Document:
    message = json.loads(answer)
    if "error" in message:
        if message.get("unexpected"):
            logger.warning("unexpected failure reading « %s »: %s", filename, message["details"])
        elif message.get("details"):
            logger.info("communiqué « %s » refused: %s", filename, message["details"])
        raise DocumentError(str(message["error"]))
    document = message["document"]
    return Document(
        str(document["name"]),
        str(document["format"]),
        [Block(str(text), heading=bool(heading)) for text, heading in document["blocks"]],
    )


class Reading:
    """One document being read in its own worker; the worker ends with the reading."""

    def __init__(
        self,
        data: bytes,
        filename: str,
        *,
        wall_seconds: float,
        cpu_seconds: float,
        memory_bytes: int,
    ) -> None:
        self.filename = filename
        self._worker = _Worker(memory_bytes=memory_bytes, nice=NICE)
        self._finished = threading.Event()
        self._cancelled = False
        self._outcome: Document | DocumentError = DocumentError(CANCELLED)
        self._thread = threading.Thread(
            target=self._run,
            args=(data, wall_seconds, cpu_seconds),
            name=f"carto-reading-{self._worker.pid}",
            daemon=True,
        )
        self._thread.start()

    @property
    def pid(self) -> int:
        """The worker's process id (to check that it is gone)."""
        return self._worker.pid

    def _run(self, data: bytes, wall_seconds: float, cpu_seconds: float) -> None:
        outcome: Document | DocumentError
        try:
            outcome = self._worker.request(
                data, self.filename, wall_seconds=wall_seconds, cpu_seconds=cpu_seconds
            )
        except DocumentError as exc:
            outcome = exc
        except Exception:  # a broken answer: the worker is ours, but say it in French
            logger.exception("communiqué reader: unreadable answer for %s", self.filename)
            outcome = DocumentError(
                f"La lecture de « {self.filename} » a échoué ; réessayez, ou déposez son texte."
            )
        finally:
            self._worker.close()
        self._outcome = DocumentError(CANCELLED) if self._cancelled else outcome
        self._finished.set()

    def done(self) -> bool:
        """True once the document is read, refused, stopped or cancelled."""
        return self._finished.is_set()

    def result(self, timeout: float | None = None) -> Document:
        """The document; DocumentError (French) when refused, stopped or cancelled;
        TimeoutError when `timeout` seconds pass first (the reading goes on)."""
        if not self._finished.wait(timeout):
            raise TimeoutError(f"reading of {self.filename} still running")
        if isinstance(self._outcome, DocumentError):
            raise DocumentError(str(self._outcome))
        return self._outcome

    def cancel(self) -> None:
        """Kill the worker now (idempotent); result() then raises « Lecture annulée. ».

        A reading already done keeps its result."""
        if self._finished.is_set():
            return
        self._cancelled = True
        self._worker.cancelled = True
        self._worker.kill()
        self._finished.wait()


def start_reading(data: bytes, filename: str, *, wall_seconds: float | None = None) -> Reading:
    """Start reading a communiqué in a worker process; the caller polls or waits on it."""
    return Reading(
        data,
        filename,
        wall_seconds=WALL_SECONDS if wall_seconds is None else wall_seconds,
        cpu_seconds=CPU_SECONDS,
        memory_bytes=MEMORY_BYTES,
    )


def read_isolated(data: bytes, filename: str) -> Document:
    """Read a communiqué in a worker process and wait for it (the command line)."""
    return start_reading(data, filename).result()


class ReaderPool:
    """Reusable workers for many documents; a worker that was stopped is replaced."""

    def __init__(
        self,
        size: int = 1,
        *,
        wall_seconds: float = WALL_SECONDS,
        cpu_seconds: float = CPU_SECONDS,
        memory_bytes: int = MEMORY_BYTES,
        nice: int = NICE,
    ) -> None:
        self.size = max(1, size)
        self.nice = nice
        self.wall_seconds = wall_seconds
        self.cpu_seconds = cpu_seconds
        self.memory_bytes = memory_bytes
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._started = 0
        self._all: set[_Worker] = set()
        self._closed = False

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise DocumentError("Le lecteur de communiqués est fermé.")
            if self._idle.empty() and self._started < self.size:
                worker = _Worker(memory_bytes=self.memory_bytes, nice=self.nice)
                self._started += 1
                self._all.add(worker)
                return worker
        return self._idle.get()

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if worker.alive() and not worker.killed and not self._closed:
                self._idle.put(worker)
                return
            self._all.discard(worker)
            closed = self._closed
        worker.close()
        if closed:
            return
        # A stopped worker is replaced at once: a reader waiting for a free worker gets it.
        try:
            fresh = _Worker(memory_bytes=self.memory_bytes, nice=self.nice)
        except DocumentError:
            with self._lock:
                self._started -= 1
            return
        with self._lock:
            if not self._closed:
                self._all.add(fresh)
                self._idle.put(fresh)
                return
        fresh.close()

    def read(self, data: bytes, filename: str) -> Document:
        """Read one document in a worker; DocumentError (French) when refused or stopped."""
        worker = self._take()
        try:
            return worker.request(
                data, filename, wall_seconds=self.wall_seconds, cpu_seconds=self.cpu_seconds
            )
        finally:
            self._give_back(worker)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.close()

    def __enter__(self) -> ReaderPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# -- worker side


def _read_frame(stream: IO[bytes]) -> bytes | None:
    head = stream.read(_LENGTH)
    if len(head) < _LENGTH:
        return None
    size = int.from_bytes(head, "big")
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return payload


def _answer_for(data: bytes, filename: str) -> dict[str, Any]:
    try:
        document = read_document(data, filename)
    except DocumentError as exc:
        details = traceback.format_exc() if exc.__cause__ is not None else ""
        return {"error": str(exc), "details": details}
    except BaseException:  # noqa: BLE001 - the last net: the user gets French, the log the rest
        return {
            "error": f"Le fichier « {filename} » est illisible ou abîmé : enregistrez-le à "
            "nouveau, ou déposez son texte.",
            "details": traceback.format_exc(),
            "unexpected": True,
        }
    blocks = [[block.text, block.heading] for block in document.blocks]
    return {"document": {"name": document.name, "format": document.format, "blocks": blocks}}


def _limit_cpu(seconds: float) -> None:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds)
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _limit_memory(limit: int) -> None:
    import resource

    # A worker ended by its CPU limit (SIGXCPU) must not write a core file.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def main(argv: list[str] | None = None) -> int:
    """The worker: read requests on stdin, answer on stdout, until stdin closes."""
    args = sys.argv[1:] if argv is None else argv
    options = dict(zip(args[::2], args[1::2], strict=False))
    memory = int(options.get("--memory", MEMORY_BYTES))
    nice = int(options.get("--nice", NICE))
    _limit_memory(memory)
    if nice:
        os.nice(nice)
    inbox = sys.stdin.buffer
    outbox = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not break the frames
    while True:
        header = _read_frame(inbox)
        data = _read_frame(inbox) if header is not None else None
        if header is None or data is None:
            return 0
        request = json.loads(header)
        filename = str(request["filename"])
        _limit_cpu(float(request["cpu"]))
        # Ends the worker at the wall-clock limit even if the parent is gone (default action).
        signal.alarm(max(1, math.ceil(float(request["wall"]))))
        answer = _answer_for(data, filename)
        signal.alarm(0)
        payload = json.dumps(answer).encode()
        _write_frame(outbox, payload)
        outbox.flush()


if __name__ == "__main__":
    sys.exit(main())
