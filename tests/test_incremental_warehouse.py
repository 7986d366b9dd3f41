"""Incremental runs give the warehouse a fresh build would: documents changed, removed and added across three report
years, with cross-year findings (the next year's reports), cross-level findings (the district above) and roll-ups
recomputed only for what the changes affect."""

from __future__ import annotations

import shutil

import dagster as dg
import duckdb

from conftest import COMPARED_TABLES, warehouse_differences
from pipelines.runner import build, warehouse_config
from pipelines.synth import generate


def test_incremental_equals_fresh_build(tmp_path):
    raw = tmp_path / "raw"
    generate(raw, districts=2, bodies_per_district=2, years=(2022, 2023, 2024), seed=11)
    wh = tmp_path / "incremental"
    cfg = warehouse_config(raw, wh, workers=1, progress=False)
    instance = dg.DagsterInstance.ephemeral()
    assert build(cfg, instance=instance, report=False)[0] == []

    (raw / "2022" / "d2-b1_2022.txt").unlink()  # a body's report of the first year
    shutil.copy2(raw / "2024" / "city-office_2024.txt", raw / "2024" / "copy_of_office_2024.txt")
    assert build(cfg, instance=instance)[0] == []  # with the report: every consumer has seen the changes, they are pruned
    changed = raw / "2023" / "d1-b1_2023.txt"
    text = changed.read_text(encoding="utf-8")
    assert "行政许可\t" in text
    changed.write_text(text.replace("行政许可\t", "行政许可\t9", 1), encoding="utf-8")  # a district body's figure
    assert build(cfg, instance=instance, report=False)[0] == []

    fresh = tmp_path / "fresh"
    assert build(warehouse_config(raw, fresh, workers=1, progress=False), instance=dg.DagsterInstance.ephemeral(),
                 report=False)[0] == []
    diff = warehouse_differences(wh / "xxgk.duckdb", fresh / "xxgk.duckdb")
    assert {t: d[1:] for t, d in diff.items()} == {t: (0, 0) for t in COMPARED_TABLES}, diff
    con = duckdb.connect(str(wh / "xxgk.duckdb"), read_only=True)
    try:  # the change is visible where it should be: the district's aggregate no longer equals its parts
        failed = con.execute("SELECT DISTINCT rule_id FROM cross_rule_results WHERE report_id = '2023/d1_2023.md' "
                             "AND outcome = 'fail'").fetchall()
    finally:
        con.close()
    assert ("L-AGG-V21",) in failed
