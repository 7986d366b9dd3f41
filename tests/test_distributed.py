"""The same build on Dask (LocalCluster, 2 workers) gives the same warehouse as the single-process run."""

from __future__ import annotations

import dagster as dg

from conftest import COMPARED_TABLES, warehouse_differences
from pipelines.distributed import local_cluster, run_on_dask
from pipelines.runner import build, warehouse_config
from pipelines.synth import generate

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
    assert build(local, instance=dg.DagsterInstance.ephemeral(), report=False)[0] == []
    diff = warehouse_differences(tmp_path / "dask" / "xxgk.duckdb", tmp_path / "local" / "xxgk.duckdb")
    assert diff["reports"][0] == made.documents and diff["cross_rule_results"][0] > 0  # with cross-level findings
    assert {t: d[1:] for t, d in diff.items()} == {t: (0, 0) for t in COMPARED_TABLES}, diff
