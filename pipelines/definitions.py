"""The Dagster code location of xxgk (``dagster dev`` loads this module, see pyproject [tool.dagster]).

Runs use the in-process executor: each step already parallelises its documents with a
process pool, and the multiprocess executor would add ~4 s per step.
"""

from __future__ import annotations

import dagster as dg

from pipelines.defs.assets import ALL_ASSETS, REPORT_YEARS
from pipelines.defs.automation import build_year, nightly_rollup, raw_changes, regional_rollup, regional_rollup_after_load
from pipelines.defs.resources import WarehouseConfig


def build_definitions(warehouse: WarehouseConfig | None = None) -> dg.Definitions:
    """Definitions with the given paths (defaults from pipelines.settings / environment)."""
    return dg.Definitions(
        assets=ALL_ASSETS,
        jobs=[build_year, regional_rollup],
        sensors=[raw_changes, regional_rollup_after_load],
        schedules=[nightly_rollup],
        resources={"warehouse": warehouse or WarehouseConfig()},
        executor=dg.in_process_executor,
    )


defs = build_definitions()
__all__ = ["ALL_ASSETS", "REPORT_YEARS", "build_definitions", "defs"]
