"""The worker pool: every job under a time and a memory limit, a job over a limit comes back as a failure naming
it, the worker is replaced and the pool goes on; the pool stays warm; extraction through it equals extraction in
process; peak memory stays under workers × limit + parent."""

from __future__ import annotations

import threading
from pathlib import Path

import psutil
import pytest

import worker_jobs
from conftest import RAW
from pipelines.extract import extract_document
from pipelines.workers import Failure, Limits, WorkerPool, extract_all, parse_size

LIMIT_MB = 256


class PeakMemory:
    """The largest RSS of any child of this process (the forkserver, the workers), sampled every 10 ms."""

    def __init__(self):
        self.per_process = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = psutil.Process()
        while not self._stop.wait(0.01):
            for child in me.children(recursive=True):
                try:
                    self.per_process = max(self.per_process, child.memory_info().rss)
                except psutil.Error:
                    continue

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def test_a_job_over_a_limit_is_stopped_and_the_pool_goes_on():
    pool = WorkerPool(2, Limits(seconds=3, memory_mb=LIMIT_MB))
    try:
        kinds = ["first", "allocate", "hang", "crash", "raise", "oversized", "last"]
        with PeakMemory() as peak:
            results = pool.map(worker_jobs.job, kinds, lambda kind, failure: failure)
        by_kind = dict(zip(kinds, results))
        assert by_kind["first"] == "FIRST" and by_kind["last"] == "LAST"
        assert by_kind["allocate"] == Failure("resource_limit", by_kind["allocate"].message)
        assert f"memory limit of {LIMIT_MB} MB" in by_kind["allocate"].message
        assert by_kind["hang"].kind == "resource_limit" and "after 3 s" in by_kind["hang"].message
        assert by_kind["crash"].kind == "worker_crash" and "SIGSEGV" in by_kind["crash"].message
        assert by_kind["raise"].kind == "extraction_error" and "ValueError: a bug met on this document" in by_kind["raise"].message
        assert by_kind["oversized"].kind == "resource_limit" and "result" in by_kind["oversized"].message
        # the unbounded allocation never took a worker past its limit
        assert 0 < peak.per_process <= LIMIT_MB << 20
        # replaced workers: the pool still works
        assert pool.map(worker_jobs.job, ["again"], lambda kind, failure: failure) == ["AGAIN"]
        assert len(pool.worker_pids()) == 2
    finally:
        pool.close()


def test_the_pool_stays_warm():
    pool = WorkerPool(2, Limits(seconds=30, memory_mb=LIMIT_MB))
    try:
        assert pool.map(worker_jobs.job, list("abcd"), lambda k, f: f) == list("ABCD")
        pids = sorted(pool.worker_pids())
        assert pool.map(worker_jobs.job, list("efgh"), lambda k, f: f) == list("EFGH")
        assert sorted(pool.worker_pids()) == pids  # no worker started for the second batch
        assert pool.map(worker_jobs.limits_seen, [0], lambda k, f: f) == [("30", f"{LIMIT_MB}MB")]  # e.g. for the OCR budget
    finally:
        pool.close()


def test_extraction_in_the_pool_equals_extraction_in_process():
    paths = [RAW / "incoming" / "fujian_pingtan_zone_admin_committee_2023.txt", RAW / "pingtan" / "pingtan_county_gov_2012.html"]
    jobs = [(str(p), p.name, {}) for p in paths]
    pooled = extract_all(jobs, workers=2, limits=Limits(seconds=60, memory_mb=1024))
    for path, ext in zip(paths, pooled):
        here = extract_document(path, source_path=path.name)
        assert [c.to_dict() for c in ext.cells] == [c.to_dict() for c in here.cells]
        assert ext.issues == here.issues and ext.report_year == here.report_year


def test_limits_from_flags_environment_and_defaults(monkeypatch):
    monkeypatch.delenv("XXGK_DOC_TIMEOUT", raising=False)
    monkeypatch.delenv("XXGK_DOC_MEMORY", raising=False)
    assert Limits.resolve() == Limits(60.0, 2048)
    monkeypatch.setenv("XXGK_DOC_TIMEOUT", "90")
    monkeypatch.setenv("XXGK_DOC_MEMORY", "1.5GB")
    assert Limits.resolve() == Limits(90.0, 1536)
    assert Limits.resolve(10, "512MB") == Limits(10.0, 512)
    assert [parse_size(s) for s in ("2GB", "2g", "800", "800MB", "1TB")] == [2048, 2048, 800, 800, 1024 * 1024]
    for bad in ("lots", "-1GB"):
        with pytest.raises(ValueError):
            parse_size(bad)
    with pytest.raises(ValueError, match="at least"):
        Limits(60, 16)


def test_a_run_with_a_document_that_blows_up_stays_within_its_memory_bound(tmp_path, raw_copy):
    """A 12 MB text report (a real one, repeated) next to two normal ones, in a real `xxgk run` with a 300 MB limit:
    the big one is rejected naming the limit, the others are read as usual, and no process of the run goes past its
    share of the documented bound (workers × limit + parent)."""
    import subprocess
    import sys
    import time

    from pipelines.warehouse.store import connect

    raw = raw_copy(["incoming/gansu_ganzhou_district_gov_2016.txt", "incoming/fujian_pingtan_zone_admin_committee_2022.txt"])
    text = (raw / "incoming" / "gansu_ganzhou_district_gov_2016.txt").read_text(encoding="utf-8")
    (raw / "incoming" / "huge.txt").write_text(text * (12_000_000 // len(text.encode())), encoding="utf-8")
    wh = tmp_path / "warehouse"
    cmd = [str(Path(sys.executable).parent / "xxgk"), "run", "--raw", str(raw), "--warehouse", str(wh), "--quiet",
           "--workers", "2", "--doc-memory", f"{LIMIT_MB + 44}MB", "--doc-timeout", "60"]
    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    me, parent_peak, child_peak = psutil.Process(run.pid), 0, 0
    while run.poll() is None:
        try:
            parent_peak = max(parent_peak, me.memory_info().rss)
            child_peak = max([child_peak, *(c.memory_info().rss for c in me.children(recursive=True))])
        except psutil.Error:
            pass
        time.sleep(0.02)
    out, err = run.communicate()
    assert run.returncode == 0, err
    con = connect(wh)
    try:
        rows = dict(con.execute("SELECT report_id, status || ': ' || coalesce(reason, '') FROM reports").fetchall())
        kinds = {k for (k,) in con.execute("SELECT kind FROM extraction_issues WHERE report_id = 'incoming/huge.txt'").fetchall()}
    finally:
        con.close()
    assert rows["incoming/huge.txt"].startswith("rejected: extraction stopped") and "limit" in rows["incoming/huge.txt"]
    assert kinds == {"resource_limit"}
    assert rows["incoming/gansu_ganzhou_district_gov_2016.txt"].startswith("published")
    assert child_peak <= (LIMIT_MB + 44) << 20
    assert parent_peak <= 1 << 30  # the parent never reads a document: Dagster, pandas, GX and one batch of results
