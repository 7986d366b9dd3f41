"""The Dagster code location of xxgk (``dagster dev`` loads this module, see pyproject [tool.dagster]).

Runs use the in-process executor: each step already parallelises its documents with a
process pool, and the multiprocess executor would add ~4 s per step.
"""

from __future__ import annotations

import dagster as dg

from pipelines.defs.assets import (
    REPORT_YEARS,
    cross_rule_results,
    document_inventory,
    process_report_year,
    quality_report,
    warehouse_db,
)
from pipelines.defs.resources import WarehouseConfig

ALL_ASSETS = [document_inventory, process_report_year, warehouse_db, cross_rule_results, quality_report]

build_year = dg.define_asset_job(
    "build_report_year",
    selection=dg.AssetSelection.assets(process_report_year, warehouse_db),
    partitions_def=REPORT_YEARS,
    description="Extract, validate and load one report year",
)
cross_reports = dg.define_asset_job(
    "cross_report_rules", selection=dg.AssetSelection.assets(cross_rule_results, quality_report),
    description="Cross-year and cross-level rules over the whole warehouse, then the quality report",
)
refresh_inventory = dg.define_asset_job(
    "refresh_inventory", selection=dg.AssetSelection.assets(document_inventory),
    description="Scan raw/ and register report-year partitions",
)


def build_definitions(warehouse: WarehouseConfig | None = None) -> dg.Definitions:
    """Definitions with the given paths (defaults from pipelines.settings / environment)."""
    return dg.Definitions(
        assets=ALL_ASSETS,
        jobs=[build_year, refresh_inventory, cross_reports],
        resources={"warehouse": warehouse or WarehouseConfig()},
        executor=dg.in_process_executor,
    )


defs = build_definitions()
