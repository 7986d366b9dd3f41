"""Readers during a run, a second writer, kill -9 then rerun — with real `xxgk run` processes.

* A read-only DuckDB connection stays open and `xxgk sql` and the DuckDB CLI (1.5.6, the release
  on the registry) poll the warehouse while `xxgk run` builds it from the bundled samples: the
  run succeeds, and every poll sees the warehouse before the run or after it — never a mix
  (cross-table invariants hold and the whole state equals one of the two).
* A second `xxgk run` on the same warehouse exits at once with the lock message.
* `kill -9` during extraction and again while the staged database is being written, then a
  rerun: the warehouse equals a clean run, no temporary file is left, no worker outlives its run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil
import pytest

from conftest import RAW, SUBSET
from pipelines.warehouse.publish import STORAGE_VERSION, staged_path, writer_of

BIN = Path(sys.executable).parent
XXGK = str(BIN / "xxgk")
DUCKDB_CLI = str(BIN / "duckdb")

# the warehouse as a reader sees it, and invariants across its tables that a half-written load would break
STATE_SQL = """
SELECT (SELECT count(*) FROM reports) AS reports,
       (SELECT count(*) FROM cells) AS cells,
       (SELECT count(*) FROM rule_results) AS findings,
       (SELECT count(*) FROM out_region_rollups) AS rollups,
       (SELECT string_agg(partition_key || ':' || fingerprint, ',' ORDER BY partition_key) FROM _loaded_partitions) AS loaded,
       (SELECT count(*) FROM reports r
         WHERE n_cells <> (SELECT count(*) FROM cells c WHERE c.report_id = r.report_id)) AS torn_reports,
       (SELECT count(*) FROM cells WHERE report_id NOT IN (SELECT report_id FROM reports)) AS orphan_cells,
       (SELECT count(*) FROM (SELECT DISTINCT coalesce(CAST(report_year AS VARCHAR), 'undated') AS k FROM reports)
         WHERE k NOT IN (SELECT partition_key FROM _loaded_partitions)) AS unloaded_years
""".strip()


def xxgk_run(raw: Path, wh: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen([XXGK, "run", "--raw", str(raw), "--warehouse", str(wh), "--quiet", "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def finished(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out, err


def state_via_sql(wh: Path) -> dict:
    r = subprocess.run([XXGK, "sql", "--warehouse", str(wh), "--format", "json", STATE_SQL], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def state_via_cli(wh: Path) -> dict:
    r = subprocess.run([DUCKDB_CLI, "-readonly", "-json", str(wh / "xxgk.duckdb"), "-c", STATE_SQL], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def state_of(con: duckdb.DuckDBPyConnection) -> dict:
    cur = con.execute(STATE_SQL)
    return dict(zip([d[0] for d in cur.description], cur.fetchone()))


def digest(db: Path) -> dict[str, tuple[int, str]]:
    """Rows of every table (timestamps of the run left out), hashed."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall():
            cols = [c for c, t in con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() AND table_name = ? "
                "ORDER BY column_index", [table]).fetchall() if not t.startswith("TIMESTAMP")]
            rows = con.execute(f'SELECT {", ".join(f"{chr(34)}{c}{chr(34)}" for c in cols)} FROM "{table}" ORDER BY ALL').fetchall()
            out[table] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        return out
    finally:
        con.close()


def leftovers(wh: Path) -> list[str]:
    return sorted(str(p.relative_to(wh)) for p in wh.rglob("*") if p.name.endswith(".tmp") or ".staged" in p.name)


def test_readers_during_a_run_and_a_second_writer(clean_subset, tmp_path):
    raw, clean = clean_subset
    wh = tmp_path / "warehouse"
    shutil.copytree(clean, wh)  # the warehouse before the run: the subset
    held = duckdb.connect(str(wh / "xxgk.duckdb"), read_only=True)  # e.g. a notebook, open for the whole run
    try:
        old = state_of(held)
        assert old["reports"] == len(SUBSET)
        run = xxgk_run(RAW, wh)  # all the bundled samples
        while writer_of(wh) is None and run.poll() is None:
            time.sleep(0.05)
        holder = writer_of(wh)
        assert holder and holder["pid"] == run.pid

        second = subprocess.run([XXGK, "run", "--raw", str(RAW), "--warehouse", str(wh), "--quiet"], capture_output=True, text=True)
        assert second.returncode == 1
        message = second.stderr.strip()
        assert len(message.splitlines()) == 1 and "Traceback" not in message
        assert f"a run is already writing to {wh}, started at " in message and f"pid {run.pid}" in message

        seen = []
        while run.poll() is None:  # once a second, xxgk sql and the DuckDB CLI in turn
            seen.append(state_via_sql(wh) if len(seen) % 2 == 0 else state_via_cli(wh))
            time.sleep(1)
        code, out, err = finished(run)
        assert code == 0, err
        assert out.startswith(f"xxgk: 41 documents in the warehouse ({wh / 'xxgk.duckdb'})")

        new = state_via_sql(wh)
        assert new != old and new["reports"] == 41
        assert seen, "the run ended before any reader polled"
        for state in seen + [new]:
            assert state["torn_reports"] == state["orphan_cells"] == state["unloaded_years"] == 0
            assert state in (old, new)  # the warehouse before the run or after it, never between
        assert state_of(held) == old  # the open connection kept the old file, and never blocked the run
    finally:
        held.close()
    assert state_via_cli(wh) == new  # the published file opens in the DuckDB CLI release on the registry
    con = duckdb.connect(str(wh / "xxgk.duckdb"), read_only=True)
    try:
        tags = con.execute("SELECT tags FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    finally:
        con.close()
    assert tags["storage_version"].startswith(STORAGE_VERSION)
    assert leftovers(wh) == [] and writer_of(wh) is None


def test_kill_9_then_rerun_equals_a_clean_run(clean_subset, tmp_path):
    raw, clean = clean_subset
    wh = tmp_path / "warehouse"
    markers = {
        "extraction": lambda: (wh / "records").exists(),  # the first extraction records are being stored
        "database load": lambda: staged_path(wh).exists(),
    }
    for moment, reached in markers.items():
        run = xxgk_run(raw, wh)
        while run.poll() is None and not reached():
            time.sleep(0.005)
        processes = psutil.Process(run.pid).children(recursive=True) if run.poll() is None else []
        os.kill(run.pid, signal.SIGKILL)
        run.communicate()
        assert run.returncode == -signal.SIGKILL, f"the run ended before {moment}"
        gone, alive = psutil.wait_procs(processes, timeout=30)
        assert not alive, f"processes outlived the killed run: {alive}"
        assert not (wh / "xxgk.duckdb").exists()  # nothing was published halfway
    assert leftovers(wh)  # the kills left temporary files behind ...

    code, out, err = finished(xxgk_run(raw, wh))
    assert code == 0, err
    assert "temporary file(s) left by an interrupted run" in err
    assert leftovers(wh) == []  # ... and the rerun removed them
    assert digest(wh / "xxgk.duckdb") == digest(clean / "xxgk.duckdb")
    assert sorted(p.relative_to(wh) for p in (wh / "parquet").rglob("*.parquet")) == \
        sorted(p.relative_to(clean) for p in (clean / "parquet").rglob("*.parquet"))
