"""Extraction in isolated worker processes, each document under a time limit and a memory limit.

A warm pool (``shared_pool``) of N processes forked from a forkserver that has already imported
the extraction code, so starting or replacing a worker costs a fork, not an import; the pool is
kept for the life of the process (every batch and every report year of a run). A worker
extracts one document at a time under

* a **memory limit** — ``RLIMIT_DATA`` of the worker process: its heap and every private
  writable mapping, counted when committed. An allocation beyond it fails (``MemoryError``);
  the document is recorded as over the limit and the worker is replaced;
* a **time limit** — wall-clock from the moment the document is handed over; at the deadline
  the parent kills the worker (SIGKILL) and starts another;
* a **result limit** — a result larger than ``result_mb`` once pickled is not sent back, so
  the parent never holds more than a batch × ``result_mb`` of results.

A document over a limit, a worker that dies (a crash inside a C library) and an exception that
escapes the extractor each come back as an ``Extraction`` with one error issue naming the
cause (kinds ``resource_limit``, ``worker_crash``, ``extraction_error``): the document is
rejected with that reason and the run goes on. A run's peak memory is therefore bounded by
``workers × memory limit + the parent``, whatever the input.

Defaults: 60 s and 2 GB per document; ``xxgk run --doc-timeout/--doc-memory``, the
``WarehouseConfig`` fields ``doc_timeout``/``doc_memory`` or ``XXGK_DOC_TIMEOUT``/``XXGK_DOC_MEMORY``.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import pickle
import re
import resource
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

MB = 1 << 20
DEFAULT_TIMEOUT = 60.0
DEFAULT_MEMORY_MB = 2048
MIN_MEMORY_MB = 128
RESULT_MB = 4  # the largest bundled report's result is ~50 KB
PRELOAD = ["pipelines.workers", "pipelines.extract", "pipelines.inventory"]
LIMIT_ISSUES = ("resource_limit", "worker_crash")  # issue kinds of documents to try again on the next run


def parse_size(text: str | int | float) -> int:
    """Megabytes in a size such as ``2GB``, ``512MB``, ``1.5G`` or ``800`` (a plain number is MB)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", str(text), re.IGNORECASE)
    if not m:
        raise ValueError(f"not a size: {text!r} (examples: 2GB, 512MB, 800)")
    factor = {"k": 1 / 1024, "": 1, "m": 1, "g": 1024, "t": 1024 * 1024}[m.group(2).lower()]
    return int(float(m.group(1)) * factor)


@dataclass(frozen=True)
class Limits:
    """What one document may use: wall-clock seconds, worker memory (MB) and pickled result size (MB)."""

    seconds: float = DEFAULT_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY_MB
    result_mb: int = RESULT_MB

    def __post_init__(self):
        if not self.seconds > 0:
            raise ValueError(f"the per-document time limit must be positive (got {self.seconds})")
        if self.memory_mb < MIN_MEMORY_MB:
            raise ValueError(f"the per-document memory limit must be at least {MIN_MEMORY_MB} MB (got {self.memory_mb} MB)")

    @classmethod
    def resolve(cls, seconds: float | None = None, memory: str | int | None = None) -> Limits:
        """Limits from explicit values, else ``XXGK_DOC_TIMEOUT`` / ``XXGK_DOC_MEMORY``, else the defaults."""
        env_s, env_m = os.environ.get("XXGK_DOC_TIMEOUT"), os.environ.get("XXGK_DOC_MEMORY")
        seconds = seconds if seconds else float(env_s) if env_s else DEFAULT_TIMEOUT
        memory = memory if memory else env_m if env_m else DEFAULT_MEMORY_MB
        return cls(seconds=float(seconds), memory_mb=parse_size(memory))

    def describe(self) -> str:
        """``60 s, 2048 MB`` (for fingerprints and messages)."""
        return f"{self.seconds:g} s, {self.memory_mb} MB"


@dataclass(frozen=True)
class Failure:
    """Why a job produced no result: its kind (an extraction issue kind) and a sentence."""

    kind: str
    message: str


class WorkerPool:
    """``size`` worker processes, each job under ``limits``; workers are replaced after a limit or a crash."""

    def __init__(self, size: int, limits: Limits, preload: list[str] = PRELOAD):
        self.size = max(1, int(size))
        self.limits = limits
        self.pid = os.getpid()
        self._ctx = mp.get_context("forkserver")
        self._ctx.set_forkserver_preload(preload)  # takes effect when the forkserver first starts
        # Arrow's default allocator (mimalloc) reserves 1 GB of address space at its first allocation, which
        # RLIMIT_DATA counts: workers that build Arrow records use the system allocator (read when the forkserver
        # imports pyarrow, so set before it starts)
        os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
        self._workers: list[_Worker] = []

    def map(self, fn: Callable, items: Iterable, on_failure: Callable[[object, Failure], object],
            progress: Callable[[int], object] | None = None) -> list:
        """``[fn(item) ...]`` in order, computed in the workers; a job that fails gives ``on_failure(item, failure)``."""
        items = list(items)
        results: list = [None] * len(items)
        todo = deque(range(len(items)))
        busy: dict[_Worker, tuple[int, float]] = {}
        try:
            while todo or busy:
                for worker in self._idle(busy):
                    if not todo:
                        break
                    i = todo.popleft()
                    busy[self._send(worker, (fn, items[i]))] = (i, time.monotonic() + self.limits.seconds)
                timeout = max(0.0, min(deadline for _, deadline in busy.values()) - time.monotonic())
                ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout))
                now = time.monotonic()
                for worker, (i, deadline) in list(busy.items()):
                    if worker.conn in ready or worker.process.sentinel in ready:
                        outcome = self._collect(worker)
                    elif now >= deadline:
                        self._replace(worker)
                        outcome = Failure("resource_limit", f"extraction stopped after {self.limits.seconds:g} s: over the "
                                          "per-document time limit (xxgk run --doc-timeout, XXGK_DOC_TIMEOUT)")
                    else:
                        continue
                    del busy[worker]
                    results[i] = on_failure(items[i], outcome) if isinstance(outcome, Failure) else outcome
                    if progress:
                        progress(1)
        except BaseException:
            for worker in busy:  # their answers are no longer wanted: never let them reach the next map
                self._replace(worker)
            raise
        return results

    def close(self) -> None:
        """Stop every worker (politely, then by force)."""
        for worker in self._workers:
            worker.stop()
        self._workers = []

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for monitoring and tests)."""
        return [w.process.pid for w in self._workers if w.process.is_alive()]

    # ------------------------------------------------------------------------------------------

    def _idle(self, busy) -> list[_Worker]:
        while len(self._workers) < self.size:
            self._workers.append(_Worker(self._ctx, self.limits))
        return [w for w in self._workers if w not in busy]

    def _send(self, worker: _Worker, task) -> _Worker:
        try:
            worker.conn.send(task)
            return worker
        except (BrokenPipeError, EOFError, OSError):  # it died while idle (e.g. killed from outside)
            fresh = self._replace(worker)
            fresh.conn.send(task)
            return fresh

    def _collect(self, worker: _Worker) -> object:
        try:
            status, payload = pickle.loads(worker.conn.recv_bytes())
        except (EOFError, OSError):
            worker.process.join(1)
            code = worker.process.exitcode
            self._replace(worker)
            return Failure("worker_crash", f"the extraction process died ({_exit_reason(code)}) while reading this document")
        if status == "ok":
            return payload
        if status == "memory":
            self._replace(worker)
            return Failure("resource_limit", f"extraction stopped: over the per-document memory limit of "
                                             f"{self.limits.memory_mb} MB (xxgk run --doc-memory, XXGK_DOC_MEMORY)")
        if status == "too_large":
            return Failure("resource_limit", f"the extraction result ({payload / MB:.1f} MB) is over the per-document "
                                             f"limit of {self.limits.result_mb} MB")
        return Failure("extraction_error", f"extraction failed: {payload}")

    def _replace(self, worker: _Worker) -> _Worker:
        worker.stop(force=True)
        fresh = _Worker(self._ctx, self.limits)
        self._workers[self._workers.index(worker)] = fresh
        return fresh


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, ctx, limits: Limits):
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_serve, args=(child, limits), name="xxgk-extract", daemon=True)
        self.process.start()
        child.close()
        try:  # the worker says "ready" once its limits are set; a worker that cannot start is a pool failure
            if not self.conn.poll(120) or self.conn.recv() != "ready":
                raise EOFError
        except (EOFError, OSError):
            self.stop(force=True)
            raise RuntimeError(f"an extraction worker process could not start (exit code {self.process.exitcode}); "
                               "see the error printed above") from None

    def stop(self, force: bool = False) -> None:
        if not force:
            try:
                self.conn.send(None)
                self.process.join(2)
            except (BrokenPipeError, EOFError, OSError):
                pass
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


def _serve(conn, limits: Limits) -> None:
    """Worker loop: receive ``(fn, item)``, send back a pickled ``(status, payload)``; exit after running out of memory.

    The limits in force are in ``XXGK_DOC_TIMEOUT`` / ``XXGK_DOC_MEMORY`` for the code that runs here
    (the OCR sizes its own budget from them).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    _die_with_parent()
    memory_bytes, result_bytes = limits.memory_mb * MB, limits.result_mb * MB
    resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    os.environ["XXGK_DOC_TIMEOUT"] = f"{limits.seconds:g}"
    os.environ["XXGK_DOC_MEMORY"] = f"{limits.memory_mb}MB"
    conn.send("ready")
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        fn, item = task
        data, out_of_memory = None, False
        try:
            data = pickle.dumps(("ok", fn(item)), protocol=pickle.HIGHEST_PROTOCOL)
            if len(data) > result_bytes:
                data = pickle.dumps(("too_large", len(data)))
        except MemoryError:
            out_of_memory = True  # answered below, once the failed frames are freed
        except Exception as exc:
            data = pickle.dumps(("error", _describe(exc)))
        if out_of_memory:
            data = pickle.dumps(("memory", None))
        conn.send_bytes(data)
        if out_of_memory:
            return  # a fresh worker replaces this one (its heap may stay fragmented)


def _exit_reason(code: int | None) -> str:
    """``signal SIGSEGV`` / ``exit code 1``."""
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _describe(exc: BaseException) -> str:
    """``ValueError: message (at tables.py:123)`` — the innermost frame of the traceback."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its parent (the forkserver) exits, e.g. after ``kill -9`` of the run."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# ----------------------------------------------------------------------------------------------
# the warm pool of this process, and extraction jobs

_shared: WorkerPool | None = None


def shared_pool(size: int, limits: Limits) -> WorkerPool:
    """This process's warm pool, created (or re-created when size or limits change) on demand."""
    global _shared
    if _shared is not None and _shared.pid == os.getpid() and (_shared.size, _shared.limits) == (max(1, size), limits):
        return _shared
    if _shared is not None and _shared.pid == os.getpid():
        _shared.close()
    _shared = WorkerPool(size, limits)
    return _shared


@atexit.register
def _close_shared() -> None:
    if _shared is not None and _shared.pid == os.getpid():
        _shared.close()


def run_all(fn: Callable, items: Iterable, on_failure: Callable[[object, Failure], object], workers: int = 0,
            limits: Limits | None = None, progress: Callable[[int], object] | None = None) -> list:
    """``[fn(item) ...]`` in this process's warm pool (``workers``: 0 = one per core), each item under ``limits``."""
    items = list(items)
    if not items:
        return []
    pool = shared_pool(workers or os.cpu_count() or 1, limits or Limits.resolve())
    return pool.map(fn, items, on_failure, progress)


def extract_all(jobs: list[tuple], workers: int = 0, limits: Limits | None = None,
                progress: Callable[[int], object] | None = None) -> list:
    """Extract documents ``(path, source_path, hints)`` in the warm pool, in order.

    Always in worker processes (even for one document), so every document is under the limits.
    """
    return run_all(extract_job, jobs, failed_extraction, workers, limits, progress)


def extract_job(job: tuple):
    """Run the extractor on one job (inside a worker)."""
    from pipelines.extract import extract_document

    path, source_path, hints = job
    return extract_document(Path(path), source_path=source_path, hints=hints)


def failed_extraction(job: tuple, failure: Failure):
    """The ``Extraction`` of a document whose job failed: no cells, one error issue saying why."""
    from pipelines.extract.documents import file_type_of
    from pipelines.extract.model import ERROR, Extraction

    ext = Extraction(source_path=job[1], file_type=file_type_of(Path(job[0])), is_report=False)
    ext.add(ERROR, failure.kind, failure.message)
    return ext
