"""Clear failure at the edges of `xxgk run`: one line and exit 1, the previous warehouse intact.

Disk full and a read-only file system are real: the warehouse lives on a small tmpfs mounted in
a private mount namespace (``unshare --map-root-user --mount``, no privileges needed on the
host), filled with a file until the next write fails with ENOSPC, then remounted read-only.
Those runs start from the warehouse of the ``clean_subset`` fixture (three reports).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from conftest import RAW
from pipelines import process
from pipelines.runner import PipelineError, build, run_pipeline, warehouse_config
from pipelines.warehouse.store import connect
from pipelines.workers import Limits

XXGK = str(Path(sys.executable).parent / "xxgk")
FIRST = "incoming/gansu_ganzhou_district_gov_2016.txt"
SECOND = "incoming/fujian_pingtan_zone_admin_committee_2022.txt"
NEW_YEAR = "incoming/fujian_pingtan_zone_admin_committee_2024.txt"  # not in the subset

# runs inside the namespace; every step's exit status and stderr are kept in $OUT for the assertions
SCRIPT = r"""
set -u
run() { name=$1; shift; "$XXGK" run --quiet --workers 1 --warehouse "$WH" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err"; echo $? > "$OUT/$name.rc"; }
fill_leaving() { avail=$(df --output=avail -B1 "$WH" | tail -1); fallocate -l $((avail - $1)) "$WH/filler"; }
mount -t tmpfs -o size=32m tmpfs "$WH"
cp -a "$CLEAN/." "$WH/"
sha256sum < "$WH/xxgk.duckdb" > "$OUT/before.sha"
dbsize=$(stat -c %s "$WH/xxgk.duckdb")
fill_leaving $((dbsize + 400000))               # the staged copy fits, the load's writes do not
run full_in_load --raw "$RAW"
rm "$WH/filler"; fill_leaving 300000             # not even the staged copy fits
run full_at_copy --raw "$RAW"
rm "$WH/filler"
sha256sum < "$WH/xxgk.duckdb" > "$OUT/after_full.sha"
ls -a "$WH" > "$OUT/after_full.ls"
mount -o remount,ro "$WH"
run read_only --raw "$RAW"
mount -o remount,rw "$WH"
run empty --raw "$EMPTY"
sha256sum < "$WH/xxgk.duckdb" > "$OUT/after_all.sha"
"$XXGK" sql --warehouse "$WH" --format csv "SELECT count(*) FROM reports" > "$OUT/count"
"""


def test_disk_full_read_only_and_empty_landing_zone(clean_subset, tmp_path):
    """The subset's warehouse on a 32 MB tmpfs; a run that would add a fourth report meets a full disk (twice), a
    read-only file system, an empty landing zone: each time one line, exit 1, not a byte of the database changed."""
    subset_raw, clean = clean_subset
    raw, empty, out, wh = (tmp_path / name for name in ("raw", "empty", "out", "warehouse"))
    shutil.copytree(subset_raw, raw)
    shutil.copy2(RAW / NEW_YEAR, raw / NEW_YEAR)
    for folder in (empty, out, wh):
        folder.mkdir()
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(tmp_path), "XXGK": XXGK, "WH": str(wh), "OUT": str(out),
           "CLEAN": str(clean), "RAW": str(raw), "EMPTY": str(empty)}
    done = subprocess.run(["unshare", "--map-root-user", "--mount", "bash", "-c", SCRIPT], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    def result(name: str) -> tuple[int, str]:
        return int((out / f"{name}.rc").read_text()), (out / f"{name}.err").read_text().strip()

    for name in ("full_in_load", "full_at_copy"):
        code, err = result(name)
        assert code == 1 and len(err.splitlines()) == 1, err
        assert err.startswith(f"xxgk run: cannot write the warehouse {wh}: the disk is full") and "No space left on device" in err
        assert "rollback" not in err.lower() and f"{wh / 'xxgk.duckdb'} is as before" in err
    assert (out / "after_full.sha").read_text() == (out / "before.sha").read_text()  # not a byte changed
    assert not [n for n in (out / "after_full.ls").read_text().split() if ".staged" in n or n.endswith(".tmp")]

    code, err = result("read_only")
    assert code == 1 and err == f"xxgk run: cannot write to the warehouse directory {wh}: Read-only file system"
    code, err = result("empty")
    assert code == 1 and err == f"xxgk run: the inventory of {empty} failed: no documents in the landing zone {empty}; nothing was changed"
    assert (out / "after_all.sha").read_text() == (out / "before.sha").read_text()
    assert (out / "count").read_text().split() == ["count_star()", "3"]  # and it still opens, whole


def test_missing_directories_are_one_line(tmp_path):
    for args, expected in (
        (["--raw", str(tmp_path / "nowhere")], f"xxgk run: the landing zone {tmp_path / 'nowhere'} does not exist or is not a directory"),
        (["--raw", str(RAW), "--warehouse", str(tmp_path / "no" / "such" / "warehouse")],
         f"xxgk run: cannot create the warehouse directory {tmp_path / 'no' / 'such' / 'warehouse'}: {tmp_path / 'no' / 'such'} does not exist"),
    ):
        r = subprocess.run([XXGK, "run", *args], capture_output=True, text=True)
        assert r.returncode == 1 and r.stderr.strip() == expected


def test_a_document_gone_after_the_inventory_and_a_failed_quality_report(tmp_path, raw_copy, monkeypatch):
    """raw/ changing under a run costs that document (rejected, with the reason), not the run; a report that was not
    written is not named in the summary."""
    raw = raw_copy([FIRST, SECOND])
    wh = tmp_path / "warehouse"
    real = process.run_units

    def remove_then_process(*args, **kwargs):
        (raw / SECOND).unlink(missing_ok=True)  # raw/ changes after the inventory read it
        return real(*args, **kwargs)

    def broken_report(*args, **kwargs):
        raise RuntimeError("the chart renderer is missing")

    monkeypatch.setattr(process, "run_units", remove_then_process)
    monkeypatch.setattr("pipelines.quality.write_report", broken_report)
    with pytest.raises(PipelineError) as failure:
        run_pipeline(raw, wh, workers=1, progress=False, instance=dg.DagsterInstance.ephemeral(), limits=Limits())
    text = str(failure.value)
    assert [ln for ln in text.splitlines() if ln.startswith("  quality report:")] == ["  quality report: not written (see the problems below)"]
    assert "RuntimeError: the chart renderer is missing" in text
    con = connect(wh)  # published: the years that succeeded are there
    try:
        rows = dict(con.execute("SELECT report_id, status || ': ' || coalesce(reason, '') FROM reports").fetchall())
    finally:
        con.close()
    assert rows[FIRST].startswith("published")
    assert rows[SECOND].startswith("rejected") and "not found" in rows[SECOND].lower()


def test_a_document_stopped_by_a_limit_is_read_again_when_the_limits_change(tmp_path, raw_copy):
    """Its record is not kept; the limits are among the build's inputs, so the next run with other limits reads it."""
    raw = raw_copy([FIRST])
    wh = tmp_path / "warehouse"

    def run(seconds: float) -> dict:
        cfg = warehouse_config(raw, wh, workers=1, progress=False, doc_timeout=seconds)
        assert build(cfg, instance=dg.DagsterInstance.ephemeral(), report=False)[0] == []
        con = connect(wh)
        try:
            return {"status": con.execute("SELECT status FROM reports").fetchall(),
                    "kinds": {k for (k,) in con.execute("SELECT kind FROM extraction_issues").fetchall()},
                    "messages": [m for (m,) in con.execute("SELECT message FROM extraction_issues").fetchall()]}
        finally:
            con.close()

    stopped = run(0.001)
    assert stopped["status"] == [("rejected",)] and stopped["kinds"] == {"resource_limit"}
    assert "time limit" in stopped["messages"][0]
    assert not list((wh / "records").rglob("*.arrow"))  # not cached: it is read again
    again = run(60)
    assert again["status"] == [("published",)] and "resource_limit" not in again["kinds"]
