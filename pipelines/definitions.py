"""The Dagster code location of xxgk (``dagster dev`` loads this module, see pyproject [tool.dagster]).

Two executors run the same assets: ``in_process`` (default: each slot step extracts through a warm
process pool, one process per core) and ``dask`` (each step on a Dask worker, see
``pipelines.distributed``). Resources can be given at definition time (``xxgk run``) or at
launch time through run config (the Dask job, whose steps are rebuilt on the workers).
"""

from __future__ import annotations

import dagster as dg

from pipelines.defs.assets import ALL_ASSETS, ALL_CHECKS, REPORT_YEARS
from pipelines.defs.automation import (
    build_warehouse, build_year, nightly_rollup, raw_changes, refresh_inventory, regional_rollup, regional_rollup_after_load,
    validate_and_report,
)
from pipelines.defs.resources import StorageIOManager, WarehouseConfig


def build_definitions(warehouse: WarehouseConfig | None = None, executor: str = "in_process") -> dg.Definitions:
    """Definitions with the given paths (defaults from pipelines.settings / environment), or configured at launch."""
    if executor == "dask":
        from pipelines.distributed import xxgk_dask_executor

        chosen = xxgk_dask_executor
    else:
        chosen = dg.in_process_executor
    if warehouse is None:
        resources = {"warehouse": WarehouseConfig.configure_at_launch(), "io_manager": StorageIOManager.configure_at_launch()} \
            if executor == "dask" else {"warehouse": WarehouseConfig(), "io_manager": StorageIOManager()}
    else:
        resources = {"warehouse": warehouse,
                     "io_manager": StorageIOManager(storage_url=warehouse.storage_url, warehouse_dir=warehouse.warehouse_dir)}
    return dg.Definitions(
        assets=ALL_ASSETS,
        asset_checks=ALL_CHECKS,
        jobs=[refresh_inventory, build_year, build_warehouse, regional_rollup, validate_and_report],
        sensors=[raw_changes, regional_rollup_after_load],
        schedules=[nightly_rollup],
        resources=resources,
        executor=chosen,
    )


_DASK_JOBS: dict[str, dg.JobDefinition] = {}


def dask_job() -> dg.JobDefinition:
    """The whole build on Dask (resources and cluster from run config); reconstructed by name on every worker
    (once per worker process)."""
    if "job" not in _DASK_JOBS:
        _DASK_JOBS["job"] = build_definitions(executor="dask").resolve_job_def("build_warehouse")
    return _DASK_JOBS["job"]


defs = build_definitions()
__all__ = ["ALL_ASSETS", "REPORT_YEARS", "build_definitions", "dask_job", "defs"]
