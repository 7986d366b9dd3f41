"""The same build on Dask (LocalCluster, 2 workers) gives the same warehouse as the single-process run."""

from __future__ import annotations

import dagster as dg
import duckdb

from pipelines.distributed import local_cluster, run_on_dask
from pipelines.runner import build, warehouse_config
from pipelines.synth import generate

TABLES = ["reports", "cells", "document_rule_results", "cross_rule_results", "rule_results", "extraction_issues",
          "printed_subtotals", "narrative_figures", "out_region_rollups", "agencies", "indicators", "rules"]


def differences(a, b) -> dict[str, tuple[int, int, int]]:
    """Per table: (rows in a, rows only in a, rows only in b), every column but the extraction timestamp."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
    out = {}
    for t in TABLES:
        cols = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_catalog = 'a' "
                                          "AND table_name = ? ORDER BY ordinal_position", [t]).fetchall()]
        sel = ", ".join(f'"{c}"' for c in cols if c != "extracted_at")
        only = [con.execute(f"SELECT count(*) FROM (SELECT {sel} FROM {x}.{t} EXCEPT ALL SELECT {sel} FROM {y}.{t})").fetchone()[0]
                for x, y in (("a", "b"), ("b", "a"))]
        out[t] = (con.execute(f"SELECT count(*) FROM a.{t}").fetchone()[0], *only)
    con.close()
    return out


def test_dask_run_is_identical_to_single_process(tmp_path):
    raw = tmp_path / "raw"
    made = generate(raw, districts=2, bodies_per_district=2, years=(2022, 2023), seed=5, inject=1)
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.DagsterInstance.local_temp(str(home)) as instance:
        summary = run_on_dask(raw, tmp_path / "dask", instance, cluster=local_cluster(2), report=False)
        runs = instance.get_runs(filters=dg.RunsFilter(job_name="build_warehouse"))
        assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.SUCCESS
    assert "documents in the warehouse" in summary
    local = warehouse_config(raw, tmp_path / "local", workers=1, progress=False)
    assert build(local, instance=dg.DagsterInstance.ephemeral(), report=False) == []
    diff = differences(tmp_path / "dask" / "xxgk.duckdb", tmp_path / "local" / "xxgk.duckdb")
    assert diff["reports"][0] == made.documents and diff["cross_rule_results"][0] > 0  # with cross-level findings
    assert {t: d[1:] for t, d in diff.items()} == {t: (0, 0) for t in TABLES}, diff
