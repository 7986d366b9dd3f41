"""Dagster assets: inventory of raw/, per-year extraction and validation in document shards, the DuckDB merge,
and the warehouse-wide rules, roll-ups and report.

Asset graph::

    document_inventory ──► process_report_year ──► warehouse_db ──► cross_rule_results ──► quality_report
                           [reports, cells, document_rule_results,          ├──► out_region_rollups ──┤
                            extraction_issues, printed_subtotals, narrative_figures]  └──► gx_validation ──┘

``process_report_year`` is partitioned by report year (dynamic partitions registered by the
inventory) with a single-run backfill policy: one run covers any range of years. Inside, a
graph plans the run (years -> document shards -> work units, only what changed), hands the
units to ``SLOTS`` parallel steps and publishes the years' manifests. The same graph runs in
this process (each slot step extracts through a warm process pool) or on Dask (each slot step
on a worker); the DuckDB file is written by one serialized step, ``warehouse_db``.

Checks: every in-table and narrative rule of rules.csv is a partitioned check on
``document_rule_results``: after any run or backfill the UI shows, per report year, which rules
failed and for which reports. After the merge, ``gx_validation`` runs the generated Great
Expectations suites over every unit the run wrote (rule suites must agree with the engine; table
schemas), with its checks ``rule_suites_agree`` and ``table_schemas``.
"""


import os
import sys
import warnings

import dagster as dg

from pipelines.defs.resources import WarehouseConfig
from pipelines.registry import load_registry
from pipelines.rules.expressions import IN_TABLE_KINDS
from pipelines.warehouse.store import PARTITIONED_TABLES

REPORT_YEARS = dg.DynamicPartitionsDefinition(name="report_year")
# partitioned asset checks are a preview feature of Dagster 1.13; they are what makes a failure in any year visible
warnings.filterwarnings("ignore", message=".*partitions_def on an AssetCheckSpec.*")
SLOTS = int(os.environ.get("XXGK_SLOTS", "4"))  # slot steps in the graph: the most steps a run can spread its units over
YEARS_TAG = "xxgk/years"  # optional: comma-separated years of the run's range to process (the others are left alone)
DOCUMENT_RULE_KINDS = (*IN_TABLE_KINDS, "narrative")
# steps that write the DuckDB file: on Dask, only a worker holding the resource "warehouse" runs them (see distributed.py)
WRITES_DUCKDB = {"dagster-dask/resource_requirements": '{"warehouse": 1}'}
CROSS_RULE_KINDS = ("cross_year", "cross_level")

_TYPES = {"string": "string", "int64": "int", "float64": "float", "bool": "bool", "timestamp": "timestamp"}
_DESCRIPTIONS = {
    "reports": "One row per document in raw/: metadata, report year, era, scope, status (published / published_partial / quarantined / rejected) and why. Key: report_id.",
    "cells": "One row per statistical cell: indicator code, value as printed, raw text, how it was read and where (line/page/table/row/column). Key: (report_id, code).",
    "document_rule_results": "Findings of the in-table and narrative rules per report: rule_id as in rules.csv, severity, cells, found vs expected, evidence, message (the rule_results view adds the cross-report findings).",
    "extraction_issues": "What the extractor could not read, per document: error (document unusable), warning (part of a table lost), info.",
    "printed_subtotals": "Non-standard subtotal lines of Table 三 (（三）不予公开 … printed with values), checked by T3-SUBTOT.",
    "narrative_figures": "Figures and claims stated in the narrative text (收到申请X件, 占33.9%, 均获维持 …) with their sentence, for the narrative rules.",
    "report_copies": "Copies of the same report (same body, year and scope: another format, a mirror, a re-publication) grouped, with the canonical copy that analyst views and roll-ups count once. Key: report_id.",
    "uncoded_rows": "Printed table rows that map to no code (extra local rows such as 行政检查/行政确认), kept with their values and place.",
}


def column_schema(table: str) -> dg.TableSchema:
    """Dagster column schema of a warehouse table, from the registry."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(c.name, _TYPES[c.type], description=c.description,
                           constraints=dg.TableColumnConstraints(nullable=c.nullable))
            for c in load_registry().table(table)
        ]
    )


def _check_severity(rule) -> dg.AssetCheckSeverity:
    """ERROR for error-level rules (blocking), WARN for warnings."""
    return dg.AssetCheckSeverity.ERROR if rule.severity == "error" else dg.AssetCheckSeverity.WARN


def _run_keys(context) -> list[str]:
    """The report years a run processes: its partition range, narrowed by the ``xxgk/years`` tag when set."""
    keys = list(context.partition_keys)
    wanted = context.run.tags.get(YEARS_TAG)
    if wanted:
        chosen = set(wanted.split(","))
        keys = [k for k in keys if k in chosen]
    return keys


def _evaluation(context, asset: str, check: str, partition: str, passed: bool, metadata: dict,
                severity=dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckEvaluation:
    """A check result for one report year, tied to that year's latest materialization of the asset (so the UI shows it
    as the current status of the partition)."""
    from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluationTargetMaterializationData

    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1).records
    target = AssetCheckEvaluationTargetMaterializationData(
        storage_id=records[0].storage_id, run_id=records[0].run_id, timestamp=records[0].timestamp) if records else None
    return dg.AssetCheckEvaluation(asset_key=dg.AssetKey(asset), check_name=check, partition=partition, passed=passed,
                                   severity=severity, metadata=metadata, target_materialization_data=target)


def _tty():
    return sys.stderr if os.environ.get("XXGK_PROGRESS", "1") != "0" else open(os.devnull, "w")


# --------------------------------------------------------------------------------------------
# inventory


@dg.asset(group_name="raw")
def document_inventory(context: dg.AssetExecutionContext, warehouse: WarehouseConfig) -> dg.MaterializeResult:
    """Every document in raw/ with its sha256, size, type and report year (its partition).

    Every other path under raw/ (links, hidden and special files, metadata) goes to the
    ``inventory_skipped`` table with the reason. Registers the report-year partitions found and
    retires years without documents. Files are re-hashed only when their size or mtime changed.
    """
    from pipelines.inventory import changed_partitions, take_stock
    from pipelines.warehouse.schema import conform
    from pipelines.warehouse.store import drop_years, read_inventory, read_loaded, replace_whole, write_inventory

    raw, storage = warehouse.raw, warehouse.storage
    if not raw.exists():
        raise dg.Failure(f"landing zone {raw} does not exist")

    def same(table: str, before, after) -> bool:
        return len(before) == len(after) and conform(table, before).reset_index(drop=True).equals(
            conform(table, after).reset_index(drop=True))

    os.environ.setdefault("XXGK_OCR_CACHE", str(warehouse.warehouse / "cache" / "ocr"))  # as run_units: scans dated from their OCR
    previous = read_inventory(storage)
    stock = take_stock(raw, previous, workers=warehouse.workers, limits=warehouse.limits())
    inventory = stock.documents
    if inventory.empty:  # a wrong path or an unmounted share must not retire every report year
        raise dg.Failure(f"no documents in the landing zone {raw}; nothing was changed")
    unchanged = same("document_inventory", previous, inventory)
    if not unchanged:
        write_inventory(storage, inventory)
    if not same("inventory_skipped", read_loaded(warehouse.warehouse, "inventory_skipped"), stock.skipped):
        replace_whole(warehouse.warehouse, "inventory_skipped", stock.skipped)
    keys = sorted(inventory.partition_key.unique())
    existing = set(context.instance.get_dynamic_partitions(REPORT_YEARS.name))
    new = [k for k in keys if k not in existing]
    if new:
        context.instance.add_dynamic_partitions(REPORT_YEARS.name, new)
    stale = sorted(existing - set(keys))
    if stale:
        drop_years(warehouse.warehouse, storage, stale)
        for key in stale:
            context.instance.delete_dynamic_partition(REPORT_YEARS.name, key)
    changed = changed_partitions(previous, inventory)
    context.log.info(f"{len(inventory)} documents in {len(keys)} partitions; new partitions {new}; retired {stale}; "
                     f"{len(stock.skipped)} other paths skipped (inventory_skipped)")
    return dg.MaterializeResult(
        metadata={
            "documents": len(inventory),
            "unchanged": unchanged,
            "skipped": dg.MetadataValue.json(stock.skipped.reason_kind.value_counts().to_dict()),
            "partitions": dg.MetadataValue.json({k: int((inventory.partition_key == k).sum()) for k in keys}),
            "changed_partitions": dg.MetadataValue.json(sorted(changed)),
            "dagster/column_schema": column_schema("document_inventory"),
        }
    )


# --------------------------------------------------------------------------------------------
# per report year: plan -> slots -> publish


@dg.op(ins={"start": dg.In(dg.Nothing)}, out={"plan": dg.Out(), **{f"slot_{i}": dg.Out() for i in range(SLOTS)}})
def plan_report_years(context: dg.OpExecutionContext, warehouse: WarehouseConfig):
    """Plan the run: which shards of which years change, packed into work units and dealt to the slots."""
    from pipelines.process import build_inputs
    from pipelines.shards import deal, plan_years
    from pipelines.warehouse.store import read_inventory

    keys = _run_keys(context)
    inventory = read_inventory(warehouse.storage)
    plans, units = plan_years(warehouse.storage, warehouse.raw, inventory, keys, build_inputs(warehouse.raw, warehouse.shard_docs, warehouse.limits()),
                              warehouse.unit_docs, parallel=warehouse.processes * max(1, warehouse.slots))
    todo = sum(u.documents for u in units)
    context.log.info(f"{len(keys)} report year(s), {sum(p.documents for p in plans)} documents: "
                     f"{todo} to evaluate in {len(units)} unit(s); {sum(p.unchanged for p in plans)} year(s) unchanged")
    yield dg.Output(plans, "plan", metadata={"documents_to_evaluate": todo, "units": len(units)})
    used = min(SLOTS, max(1, warehouse.slots))
    for i, slot in enumerate(deal(units, used) + [[] for _ in range(SLOTS - used)]):
        yield dg.Output(slot, f"slot_{i}", metadata={"units": len(slot), "documents": sum(u.documents for u in slot)})


@dg.op(out=dg.Out(dg.Nothing))
def process_units(context: dg.OpExecutionContext, warehouse: WarehouseConfig, units: list) -> None:
    """Extract (or reuse), evaluate and write the shards of some work units (their summaries go to the shard states)."""
    from tqdm import tqdm

    from pipelines.process import run_units

    if not units:
        return
    total = sum(u.documents for u in units)
    bar = tqdm(total=total, desc="documents", unit="doc", disable=not warehouse.progress or not total, leave=False,
               file=_tty())
    try:
        out = run_units(units, warehouse.storage, warehouse.raw, warehouse.processes, bar.update, warehouse.limits())
    finally:
        bar.close()
    context.log.info(f"{len(units)} unit(s): {sum(s['evaluated'] for s in out)} documents evaluated, "
                     f"{sum(s['kept'] for s in out)} copied unchanged, {len(out)} shard(s) written")


@dg.op(ins={"plan": dg.In(), "done": dg.In(dg.Nothing)}, out={t: dg.Out(dg.Nothing) for t in PARTITIONED_TABLES})
def publish_report_years(context: dg.OpExecutionContext, warehouse: WarehouseConfig, plan: list):
    """Write each year's manifest (its shards and their summaries) and remove shards of an old layout."""
    from pipelines.extract import PARSER_VERSION
    from pipelines.warehouse.state import publish_years

    summaries, shards = publish_years(warehouse.storage, plan)
    rows = {t: sum(s["rows"].get(t, 0) for s in summaries.values()) for t in PARTITIONED_TABLES}
    cpu: dict[str, float] = {}
    for s in shards:
        for stage, seconds in s.get("cpu", {}).items():
            cpu[stage] = round(cpu.get(stage, 0.0) + seconds, 3)
    for table in PARTITIONED_TABLES:
        metadata = {"rows": rows[table], "documents": sum(s["documents"] for s in summaries.values()),
                    "evaluated": sum(s["evaluated"] for s in shards), "parser_version": PARSER_VERSION}
        if table == "reports":
            metadata["statuses_by_year"] = dg.MetadataValue.json({k: s["statuses"] for k, s in summaries.items()})
            metadata["cpu_seconds_by_stage"] = dg.MetadataValue.json(cpu)
        yield dg.Output(None, table, metadata=metadata)


@dg.graph_multi_asset(
    outs={t: dg.AssetOut(group_name="core", description=_DESCRIPTIONS[t], metadata={"dagster/column_schema": column_schema(t)})
          for t in PARTITIONED_TABLES},
    ins={"document_inventory": dg.AssetIn(dagster_type=dg.Nothing)},
    partitions_def=REPORT_YEARS,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def process_report_year(document_inventory):
    """Extract every changed document of the selected report years, evaluate the in-table and narrative rules, decide status.

    Unchanged documents (same content, parser and rule engine) are not re-read or re-evaluated;
    writes parquet/<table>/<year>/<shard>.parquet for the shards that changed.
    """
    outs = plan_report_years(document_inventory)
    done = [process_units.alias(f"process_units_{i}")(outs[i + 1]) for i in range(SLOTS)]
    return publish_report_years(plan=outs[0], done=done)


# --------------------------------------------------------------------------------------------
# checks per report year


def rule_check_specs() -> list[dg.AssetCheckSpec]:
    """One check per in-table and narrative rule of rules.csv, on document_rule_results, per report year."""
    return [
        dg.AssetCheckSpec(name=rule.check_name, asset="document_rule_results", partitions_def=REPORT_YEARS,
                          description=f"[{rule.severity}] {rule.rule_id}: {rule.description}")
        for rule in load_registry().rules if rule.kind in DOCUMENT_RULE_KINDS
    ]


@dg.multi_asset_check(specs=rule_check_specs(), can_subset=True)
def report_year_checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseConfig):
    """Each rule check, for every report year of the run, from the years' manifests.

    A rule fails for a year when any report of that year fails it; the metadata names the
    failing reports. A rule of a format no report of the year is in is not evaluated for that
    year (the UI shows it skipped).
    """
    from pipelines.warehouse.state import year_summary

    op = context.op_execution_context
    rules = [r for r in load_registry().rules if r.kind in DOCUMENT_RULE_KINDS]
    for key in op.partition_keys:  # every year of the range, rebuilt or not: each gets its current status
        summary = year_summary(warehouse.storage, key)
        if summary is None:
            continue
        eras = set(summary.get("eras", []))
        for rule in rules:
            if rule.era not in eras:  # no report of this year is in the rule's format: the check is skipped
                continue
            r = summary["rules"].get(rule.rule_id, {"failed": 0, "reports": 0, "report_ids": []})
            op.log_event(_evaluation(
                op, "document_rule_results", rule.check_name, key, r["failed"] == 0, severity=_check_severity(rule),
                metadata={"failed_instances": r["failed"], "failing_reports": r["reports"],
                          "reports": dg.MetadataValue.json(r["report_ids"]),
                          "not_assessable_instances": summary["not_assessable"].get(rule.rule_id, 0)},
            ))
    yield from ()


# --------------------------------------------------------------------------------------------
# DuckDB: one serialized writer


@dg.multi_asset(
    specs=[dg.AssetSpec("warehouse_db", deps=list(PARTITIONED_TABLES), group_name="out")],
    check_specs=[dg.AssetCheckSpec(
        name="published_pass_blocking_rules", asset="warehouse_db", partitions_def=REPORT_YEARS,
        description="No published report has an error-level rule failure or a missing report year (the load fails otherwise)",
    )],
    partitions_def=REPORT_YEARS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
    op_tags=WRITES_DUCKDB,
)
def warehouse_db(context: dg.AssetExecutionContext, warehouse: WarehouseConfig):
    """Merge the run's report years into warehouse/xxgk.duckdb in one transaction, by report_id.

    Only reports whose version changed are deleted and re-inserted (Arrow inserts from the
    shard files); a year whose manifest is the one already loaded is not read. Tables: reports,
    cells, document_rule_results, extraction_issues, printed_subtotals, narrative_figures,
    indicators, rules, agencies; views: published_reports, published_cells, quarantine,
    t2_wide, t3_wide, t4_wide, old_table and their published_* variants.
    """
    from pipelines.warehouse.loader import load, published_violations

    keys = _run_keys(context)
    counts = load(warehouse, keys)
    changed = sum(c.get("reports_changed", 0) for c in counts.values())
    context.log.info(f"DuckDB: {changed} report(s) inserted, replaced or removed in {len(keys)} year(s)")
    yield dg.MaterializeResult(asset_key="warehouse_db", metadata={
        "reports_changed": changed, "years": dg.MetadataValue.json({k: v for k, v in counts.items()})})
    bad = published_violations(warehouse.warehouse, list(context.partition_keys))
    for key in context.partition_keys:
        offending = bad.get(key, {})
        context.log_event(_evaluation(context, "warehouse_db", "published_pass_blocking_rules", key, not offending,
                                      metadata={"offending_reports": dg.MetadataValue.json(sorted(offending)[:50])}))
    if bad:
        raise dg.Failure("published reports with error-level failures or no report year: "
                         + "; ".join(f"{k}: {', '.join(sorted(v)[:5])}" for k, v in bad.items()))


# --------------------------------------------------------------------------------------------
# warehouse-wide


def cross_check_specs() -> list[dg.AssetCheckSpec]:
    """One check per cross-year / cross-level rule of rules.csv."""
    return [
        dg.AssetCheckSpec(name=r.check_name, asset="cross_rule_results", description=f"[{r.severity}] {r.rule_id}: {r.description}")
        for r in load_registry().rules if r.kind in CROSS_RULE_KINDS
    ]


@dg.asset(deps=["warehouse_db"], group_name="out", check_specs=cross_check_specs(), op_tags=WRITES_DUCKDB)
def cross_rule_results(context: dg.AssetExecutionContext, warehouse: WarehouseConfig):
    """Findings across reports: the same body in consecutive years (Y-*) and region aggregates vs their parts (L-*).

    Recomputed only for the reports a change can affect (the changed bodies in their year and
    the next, the region aggregates above them), all of them when the rules or the agency
    registry changed. DuckDB table cross_rule_results (part of the rule_results view) and
    parquet/cross_rule_results/<year>.parquet.
    """
    from pipelines.warehouse.loader import refresh_cross_rules

    summary = refresh_cross_rules(warehouse, log=context.log.info)
    yield dg.MaterializeResult(metadata={k: summary[k] for k in ("rows", "instances", "reports_evaluated", "skipped_unchanged")})
    for rule in load_registry().rules:
        if rule.kind not in CROSS_RULE_KINDS:
            continue
        r = summary["rules"].get(rule.rule_id, {"failed": 0, "by_year": {}, "not_assessable": 0})
        yield dg.AssetCheckResult(
            check_name=rule.check_name, passed=r["failed"] == 0, severity=_check_severity(rule),
            metadata={"failed_instances": r["failed"], "failing_reports_by_year": dg.MetadataValue.json(r["by_year"]),
                      "not_assessable_instances": r["not_assessable"]},
        )


@dg.asset(deps=["warehouse_db"], group_name="out", metadata={"dagster/column_schema": column_schema("out_region_rollups")},
          op_tags=WRITES_DUCKDB)
def out_region_rollups(context: dg.AssetExecutionContext, warehouse: WarehouseConfig) -> dg.MaterializeResult:
    """Each region's children summed (additive cells only), next to the region's own aggregate report.

    One row per (region, report year, code); key (region_id, report_year, code). The DuckDB table
    out_region_rollups (and the view v_rollup_vs_reported) is kept in step by every load
    (``facts.refresh_analysis``); this writes its Parquet copy for the years that changed
    (parquet/out_region_rollups/<year>.parquet) and summarises it.
    """
    from pipelines.warehouse.loader import export_rollups

    return dg.MaterializeResult(metadata=export_rollups(warehouse))


@dg.asset(deps=["warehouse_db"], group_name="out", op_tags=WRITES_DUCKDB, check_specs=[
    dg.AssetCheckSpec(name="rule_suites_agree", asset="gx_validation",
                      description="The generated GX rule suites (expectations/rules_<era>.json) agree with the rule engine on "
                                  "every rule instance of every report (see the gx_findings table)"),
    dg.AssetCheckSpec(name="table_schemas", asset="gx_validation",
                      description="Every row written passes its table's generated GX schema suite (expectations/table_<name>.json)"),
])
def gx_validation(context: dg.AssetExecutionContext, warehouse: WarehouseConfig):
    """Great Expectations after the merge: the generated suites validate every work unit the run wrote.

    The rule suites must agree with the rule engine on every rule instance, the table schema
    suites must pass on every new row. The engine alone decided what was published; what GX
    finds is recorded in the DuckDB table gx_findings (a disagreement flags the report there, in
    the auditor's report and in this asset's checks). Nothing queued: nothing to do.
    """
    from pipelines.warehouse.gx_validation import validate_pending

    summary = validate_pending(warehouse)
    context.log.info(f"GX: {summary['entries_validated']} queued unit(s), {summary['reports_validated']} report(s) validated; "
                     f"{summary['disagreements']} disagreement(s), {summary['schema_findings']} schema finding(s) in gx_findings")
    yield dg.MaterializeResult(metadata={k: (dg.MetadataValue.json(v) if isinstance(v, list) else v) for k, v in summary.items()})
    yield dg.AssetCheckResult(check_name="rule_suites_agree", passed=summary["disagreements"] == 0,
                              severity=dg.AssetCheckSeverity.ERROR,
                              metadata={"disagreements": summary["disagreements"],
                                        "reports": dg.MetadataValue.json(summary["disagreeing_reports"])})
    yield dg.AssetCheckResult(check_name="table_schemas", passed=summary["schema_findings"] == 0,
                              severity=dg.AssetCheckSeverity.ERROR,
                              metadata={"findings": summary["schema_findings"],
                                        "reports": dg.MetadataValue.json(summary["schema_reports"])})


@dg.asset(deps=[cross_rule_results, out_region_rollups, gx_validation], group_name="out", op_tags=WRITES_DUCKDB)
def quality_report(context: dg.AssetExecutionContext, warehouse: WarehouseConfig) -> dg.MaterializeResult:
    """The auditor's report in Chinese (warehouse/reports/quality.html, findings pages, letters, quality.xlsx) and the GX Data Docs."""
    from pipelines.quality import write_report
    from pipelines.warehouse.loader import unless_unchanged

    wh = warehouse.warehouse
    summary, skipped = unless_unchanged(warehouse, "quality_report",
                                        lambda: {"path": str(write_report(wh, raw_dir=warehouse.raw))},
                                        outputs=(wh / "reports" / "quality.html",))
    context.log.info(("unchanged: " if skipped else "wrote ") + summary["path"])
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(summary["path"]), "skipped_unchanged": skipped})


ALL_ASSETS = [document_inventory, process_report_year, warehouse_db, cross_rule_results, out_region_rollups, gx_validation,
              quality_report]
ALL_CHECKS = [report_year_checks]
