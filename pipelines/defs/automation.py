"""Jobs, the raw/ sensor and the roll-up schedule.

* ``raw_changes`` (sensor): compares raw/ with the last inventory by sha256 (files are re-hashed
  only when their size or mtime changed) and, for every report year whose documents were added,
  changed or removed, requests one run of [inventory + that year's partition + its DuckDB load]
  (inside, only the changed documents are read). Years that appear for the first time are
  registered as partitions in the same evaluation. Unchanged raw/ -> no run.
* ``regional_rollup_after_load`` (run-status sensor): after such a run succeeds, requests the
  ``regional_rollup`` job (cross-report rules, roll-ups, quality report).
* ``nightly_rollup`` (schedule): the same job every night at 02:00 Asia/Shanghai — during the
  reporting season (departments publish by 31 Jan, governments by 31 Mar) the municipal office
  gets a fresh roll-up each morning; with no new reports the run writes nothing.
"""

import hashlib

import dagster as dg

from pipelines.defs.assets import (
    REPORT_YEARS, cross_rule_results, document_inventory, gx_validation, out_region_rollups, process_report_year, quality_report,
    warehouse_db,
)
from pipelines.defs.resources import WarehouseConfig

# what report years need: a fresh inventory, then the years' extraction and their DuckDB merge
YEAR_ASSETS = [document_inventory, process_report_year, warehouse_db]
WAREHOUSE_WIDE = [cross_rule_results, out_region_rollups, gx_validation, quality_report]
AFTER_PUBLISH = [gx_validation, quality_report]  # what `xxgk run` does after publishing the merged warehouse

refresh_inventory = dg.define_asset_job(
    "refresh_inventory", selection=dg.AssetSelection.assets(document_inventory),
    description="Inventory raw/ and register its report years as partitions",
)
build_year = dg.define_asset_job(
    "build_report_year",
    selection=dg.AssetSelection.assets(*YEAR_ASSETS),
    partitions_def=REPORT_YEARS,
    description="Refresh the inventory, then extract, validate and load report years (one run for any range of years)",
)
build_warehouse = dg.define_asset_job(
    "build_warehouse",
    selection=dg.AssetSelection.assets(process_report_year, warehouse_db, *WAREHOUSE_WIDE),
    partitions_def=REPORT_YEARS,
    description="Report years (any range, one run) and then the warehouse-wide rules, roll-ups and report: what `xxgk run` runs",
)
regional_rollup = dg.define_asset_job(
    "regional_rollup",
    selection=dg.AssetSelection.assets(*WAREHOUSE_WIDE),
    description="Cross-year and cross-level rules, regional roll-ups, the GX validation and the quality report (only what "
                "changed is recomputed)",
)
validate_and_report = dg.define_asset_job(
    "validate_and_report",
    selection=dg.AssetSelection.assets(*AFTER_PUBLISH),
    description="The GX validation of what the last runs wrote and the quality report (what `xxgk run` runs once the merged "
                "warehouse is published)",
)
nightly_rollup = dg.ScheduleDefinition(
    name="nightly_regional_rollup",
    job=regional_rollup,
    cron_schedule="0 2 * * *",
    execution_timezone="Asia/Shanghai",
    description="Municipal roll-up every night (writes nothing when no report changed)",
)


def inventory_fingerprint(frame) -> str:
    """Identity of a landing zone's contents."""
    rows = sorted(zip(frame.source_path, frame.sha256))
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@dg.sensor(
    job=build_year,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="New or changed files in raw/ (by sha256) -> rebuild only the report years they belong to",
)
def raw_changes(context: dg.SensorEvaluationContext, warehouse: WarehouseConfig):
    """Request runs for the report years whose documents changed since the last inventory."""
    from pipelines.inventory import changed_partitions, scan
    from pipelines.warehouse.store import read_inventory

    previous = read_inventory(warehouse.storage)
    current = scan(warehouse.raw, previous)
    fingerprint = inventory_fingerprint(current)
    changed = changed_partitions(previous, current)
    if not changed:
        return dg.SkipReason("raw/ unchanged since the last inventory")
    if context.cursor == fingerprint:
        return dg.SkipReason("runs for this state of raw/ were already requested")
    keys = sorted(k for k in changed if k in set(current.partition_key))
    known = set(context.instance.get_dynamic_partitions(REPORT_YEARS.name))
    new = [k for k in keys if k not in known]
    context.log.info(f"changed report years: {sorted(changed)}; new partitions: {new}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=k, run_key=f"raw-{k}-{fingerprint[:16]}") for k in keys],
        dynamic_partitions_requests=[REPORT_YEARS.build_add_request(new)] if new else [],
        cursor=fingerprint,
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[build_year],
    request_job=regional_rollup,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="After a report year is loaded: cross-report rules, roll-ups and the quality report",
)
def regional_rollup_after_load(context: dg.RunStatusSensorContext):
    """Request one regional roll-up per successful year build."""
    return dg.RunRequest(run_key=f"rollup-after-{context.dagster_run.run_id}")
