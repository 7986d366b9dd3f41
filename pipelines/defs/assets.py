"""Dagster assets: inventory of raw/, per-year extraction and validation, and the DuckDB load.

Asset graph::

    document_inventory ──► [reports, cells, document_rule_results, extraction_issues, printed_subtotals, narrative_figures]
                           (one multi-asset, partitioned by report year)  ──► warehouse_db ──► cross_rule_results

The year partitions are dynamic: ``document_inventory`` registers every report year it finds
in raw/ (plus ``undated`` for documents whose year cannot be read) and removes years that no
longer have documents. A partition's step processes all of that year's documents in batches
with a process pool, so one run handles ~100,000 documents without one step per document.
"""


import os
from pathlib import Path

import dagster as dg

from pipelines.defs.resources import WarehouseConfig
from pipelines.extract import PARSER_VERSION
from pipelines.registry import load_registry
from pipelines.rules.expressions import IN_TABLE_KINDS
from pipelines.warehouse.store import PARTITIONED_TABLES

REPORT_YEARS = dg.DynamicPartitionsDefinition(name="report_year")

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
DOCUMENT_RULE_KINDS = (*IN_TABLE_KINDS, "narrative")


def column_schema(table: str) -> dg.TableSchema:
    """Dagster column schema of a warehouse table, from the registry."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(c.name, _TYPES[c.type], description=c.description,
                           constraints=dg.TableColumnConstraints(nullable=c.nullable))
            for c in load_registry().table(table)
        ]
    )


def rule_check_specs() -> list[dg.AssetCheckSpec]:
    """One check per in-table and narrative rule of rules.csv, on the document_rule_results asset."""
    specs = []
    for rule in load_registry().rules:
        if rule.kind in DOCUMENT_RULE_KINDS:
            specs.append(
                dg.AssetCheckSpec(
                    name=rule.check_name,
                    asset="document_rule_results",
                    description=f"[{rule.severity}] {rule.rule_id}: {rule.description}",
                )
            )
    return specs


def schema_check_specs() -> list[dg.AssetCheckSpec]:
    """One Great Expectations schema check per partitioned table."""
    return [
        dg.AssetCheckSpec(name="schema", asset=table, description=f"GX suite table_{table}: columns, non-null, allowed values, keys")
        for table in PARTITIONED_TABLES
    ]


@dg.asset(group_name="raw", description=None)
def document_inventory(context: dg.AssetExecutionContext, warehouse: WarehouseConfig) -> dg.MaterializeResult:
    """Every document in raw/ with its sha256, size, type and report year (its partition).

    Every other path under raw/ (links, hidden and special files, metadata) goes to the
    ``inventory_skipped`` table with the reason. Registers the report-year partitions found and
    retires years without documents. Files are re-hashed only when their size or mtime changed.
    """
    from pipelines.inventory import changed_partitions, take_stock
    from pipelines.warehouse.schema import conform
    from pipelines.warehouse.store import drop_partition, load_whole, read_loaded, read_parquet, write_parquet

    raw, wh = Path(warehouse.raw_dir), Path(warehouse.warehouse_dir)
    if not raw.exists():
        raise dg.Failure(f"landing zone {raw} does not exist")

    def same(table: str, before, after) -> bool:
        return len(before) == len(after) and conform(table, before).reset_index(drop=True).equals(
            conform(table, after).reset_index(drop=True))

    os.environ.setdefault("XXGK_OCR_CACHE", str(wh / "cache" / "ocr"))  # as process_partition: scans dated from their OCR
    previous = read_parquet(wh, "document_inventory")
    stock = take_stock(raw, previous, workers=warehouse.workers, limits=warehouse.limits())
    inventory = stock.documents
    if inventory.empty:  # a wrong path or an unmounted share must not retire every report year
        raise dg.Failure(f"no documents in the landing zone {raw}; nothing was changed")
    unchanged = same("document_inventory", previous, inventory)
    if not unchanged:
        write_parquet(wh, "document_inventory", inventory)
    if not same("inventory_skipped", read_loaded(wh, "inventory_skipped"), stock.skipped):
        load_whole(wh, "inventory_skipped", stock.skipped)
    keys = sorted(inventory.partition_key.unique())
    existing = set(context.instance.get_dynamic_partitions(REPORT_YEARS.name))
    new = [k for k in keys if k not in existing]
    if new:
        context.instance.add_dynamic_partitions(REPORT_YEARS.name, new)
    stale = sorted(existing - set(keys))
    for key in stale:
        drop_partition(wh, key)
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


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            table, deps=["document_inventory"], group_name="core", description=_DESCRIPTIONS[table],
            metadata={"dagster/column_schema": column_schema(table)},
        )
        for table in PARTITIONED_TABLES
    ],
    check_specs=rule_check_specs() + schema_check_specs(),
    partitions_def=REPORT_YEARS,
    code_version=PARSER_VERSION,
    name="process_report_year",
)
def process_report_year(context: dg.AssetExecutionContext, warehouse: WarehouseConfig):
    """Extract every document of one report year, evaluate the in-table rules (GX suites), decide status.

    Unchanged documents (same sha256 and parser version) are not re-read. Writes one Parquet
    file per table under warehouse/parquet/<table>/<year>.parquet.
    """
    from tqdm import tqdm

    from pipelines.process import process_partition
    from pipelines.warehouse.store import read_parquet

    key = context.partition_key
    raw, wh = Path(warehouse.raw_dir), Path(warehouse.warehouse_dir)
    inventory = read_parquet(wh, "document_inventory")
    n = int((inventory.partition_key == key).sum())
    bar = tqdm(total=n, desc=f"report year {key}", unit="doc", disable=not warehouse.progress, leave=False, file=_tty())
    try:
        out = process_partition(raw, wh, inventory, key, workers=warehouse.workers or None, progress=bar.update,
                                limits=warehouse.limits())
    finally:
        bar.close()
    context.log.info(
        f"{key}: {out.documents} documents ("
        + ("inputs unchanged, nothing written" if out.skipped else f"{out.extracted} extracted, {out.reused} unchanged")
        + f"); statuses {dict(out.statuses)}"
    )
    for table in PARTITIONED_TABLES:
        yield dg.MaterializeResult(
            asset_key=table,
            data_version=dg.DataVersion(out.fingerprint[:16]),
            metadata={"rows": out.rows.get(table, 0), "documents": out.documents, "parser_version": PARSER_VERSION,
                      "skipped_unchanged": out.skipped,
                      **({"statuses": dg.MetadataValue.json(dict(out.statuses))} if table == "reports" else {})},
        )
    for rule in load_registry().rules:
        if rule.kind not in DOCUMENT_RULE_KINDS:
            continue
        failures = out.rule_failures.get(rule.rule_id, 0)
        reports = sorted(out.rule_reports.get(rule.rule_id, set()))
        yield dg.AssetCheckResult(
            asset_key="document_rule_results",
            check_name=rule.check_name,
            passed=failures == 0,
            severity=_check_severity(rule),
            metadata={
                "failed_instances": failures,
                "reports": dg.MetadataValue.json(reports[:50]),
                "not_assessable_instances": out.rule_not_assessable.get(rule.rule_id, 0),
            },
        )
    for table in PARTITIONED_TABLES:
        problems = [p for p in out.schema_problems if p.startswith(f"{table}:")]
        yield dg.AssetCheckResult(
            asset_key=table, check_name="schema", passed=not problems,
            metadata={"problems": dg.MetadataValue.json(problems[:20])},
        )


@dg.asset(
    deps=list(PARTITIONED_TABLES),
    partitions_def=REPORT_YEARS,
    group_name="out",
    check_specs=[
        dg.AssetCheckSpec(
            name="published_pass_blocking_rules", asset="warehouse_db", blocking=True,
            description="No published report has an error-level rule failure or a missing report year",
        )
    ],
)
def warehouse_db(context: dg.AssetExecutionContext, warehouse: WarehouseConfig):
    """Load one report year into warehouse/xxgk.duckdb (one transaction) and refresh the views.

    Tables: reports, cells, document_rule_results, extraction_issues, printed_subtotals, narrative_figures, indicators,
    rules, agencies. Views: published_reports, published_cells, quarantine, t2_wide, t3_wide,
    t4_wide, old_table and their published_* variants.
    """
    from pipelines.warehouse.reference import reference_frames
    from pipelines.warehouse.state import saved_fingerprint
    from pipelines.warehouse.store import UNDATED, connect, load_partition

    key = context.partition_key
    wh = Path(warehouse.warehouse_dir)
    fingerprint = saved_fingerprint(wh, key)
    counts = load_partition(wh, key, reference_frames(Path(warehouse.raw_dir), wh), fingerprint)
    if counts is None:
        context.log.info(f"{key}: already loaded with the same inputs; DuckDB not touched")
    yield dg.MaterializeResult(
        data_version=dg.DataVersion((fingerprint or "none")[:16]),
        metadata={"skipped_unchanged": counts is None, **{f"rows_{t}": n for t, n in (counts or {}).items()}},
    )
    year = None if key == UNDATED else int(key)
    con = connect(wh, read_only=True)
    try:
        bad = con.execute(
            """SELECT p.report_id, count(*) FROM published_reports p JOIN rule_results r USING (report_id)
               WHERE r.outcome = 'fail' AND r.severity = 'error' AND p.report_year IS NOT DISTINCT FROM ?
               GROUP BY p.report_id""",
            [year],
        ).fetchall()
        undated = con.execute(
            "SELECT count(*) FROM published_reports WHERE report_year IS NULL AND ? IS NULL", [year]
        ).fetchone()[0]
    finally:
        con.close()
    yield dg.AssetCheckResult(
        check_name="published_pass_blocking_rules",
        passed=not bad and not undated,
        metadata={"offending_reports": dg.MetadataValue.json([b[0] for b in bad]), "undated_published": undated},
    )


def cross_check_specs() -> list[dg.AssetCheckSpec]:
    """One check per cross-year / cross-level rule of rules.csv."""
    return [
        dg.AssetCheckSpec(name=r.check_name, asset="cross_rule_results", description=f"[{r.severity}] {r.rule_id}: {r.description}")
        for r in load_registry().rules if r.kind in ("cross_year", "cross_level")
    ]


@dg.asset(deps=[warehouse_db], group_name="out", check_specs=cross_check_specs())
def cross_rule_results(context: dg.AssetExecutionContext, warehouse: WarehouseConfig):
    """Findings across reports: the same body in consecutive years (Y-*) and region aggregates vs their parts (L-*).

    Reads the loaded warehouse year by year; writes warehouse/parquet/cross_rule_results.parquet
    and the DuckDB table of the same name (part of the rule_results view).
    """
    from pipelines.rules.cross_rules import evaluate_cross
    from pipelines.warehouse.state import compute_unless_unchanged
    from pipelines.warehouse.store import CROSS_TABLE, load_whole

    wh, raw = Path(warehouse.warehouse_dir), Path(warehouse.raw_dir)

    def compute() -> dict:
        rows, measures = evaluate_cross(wh, raw, log=context.log.info)
        summary = {"rows": load_whole(wh, CROSS_TABLE, rows), "instances": len(measures), "rules": {}}
        for rule_id, m in (measures.groupby("rule_id") if len(measures) else []):
            fails = m[m.outcome == "fail"]
            summary["rules"][rule_id] = {
                "failed": len(fails), "reports": sorted(set(fails.report_id))[:50],
                "not_assessable": int((m.outcome == "not_assessable").sum()),
            }
        return summary

    summary, skipped, fingerprint = compute_unless_unchanged(wh, raw, "cross_rule_results", compute)
    if skipped:
        context.log.info("warehouse unchanged since the last cross-report run; nothing written")
    yield dg.MaterializeResult(
        data_version=dg.DataVersion(fingerprint[:16]),
        metadata={"rows": summary["rows"], "instances": summary["instances"], "skipped_unchanged": skipped},
    )
    for rule in load_registry().rules:
        if rule.kind not in ("cross_year", "cross_level"):
            continue
        r = summary["rules"].get(rule.rule_id, {"failed": 0, "reports": [], "not_assessable": 0})
        yield dg.AssetCheckResult(
            check_name=rule.check_name,
            passed=r["failed"] == 0,
            severity=_check_severity(rule),
            metadata={"failed_instances": r["failed"], "reports": dg.MetadataValue.json(r["reports"]),
                      "not_assessable_instances": r["not_assessable"]},
        )


@dg.asset(deps=[warehouse_db], group_name="out", metadata={"dagster/column_schema": column_schema("out_region_rollups")})
def out_region_rollups(context: dg.AssetExecutionContext, warehouse: WarehouseConfig) -> dg.MaterializeResult:
    """Each region's children summed (additive cells only), next to the region's own aggregate report.

    One row per (region, report year, code); key (region_id, report_year, code). The DuckDB table
    out_region_rollups (and the view v_rollup_vs_reported) is kept in step by every load; this writes
    its Parquet copy and summarises it.
    """
    from pipelines.rollups import export_rollups
    from pipelines.warehouse.state import compute_unless_unchanged

    wh, raw = Path(warehouse.warehouse_dir), Path(warehouse.raw_dir)

    def compute() -> dict:
        return export_rollups(wh)

    summary, skipped, fingerprint = compute_unless_unchanged(wh, raw, "out_region_rollups", compute)
    return dg.MaterializeResult(
        data_version=dg.DataVersion(fingerprint[:16]),
        metadata={**summary, "skipped_unchanged": skipped},
    )


@dg.asset(deps=[cross_rule_results, out_region_rollups], group_name="out")
def quality_report(context: dg.AssetExecutionContext, warehouse: WarehouseConfig) -> dg.MaterializeResult:
    """The auditor's report in Chinese (warehouse/reports/quality.html, findings pages, letters, quality.xlsx) and the GX Data Docs."""
    from pipelines.quality import write_report
    from pipelines.warehouse.state import compute_unless_unchanged

    wh, raw = Path(warehouse.warehouse_dir), Path(warehouse.raw_dir)
    summary, skipped, fingerprint = compute_unless_unchanged(
        wh, raw, "quality_report", lambda: {"path": str(write_report(wh, raw_dir=raw))}, outputs=(wh / "reports" / "quality.html",)
    )
    context.log.info(("unchanged: " if skipped else "wrote ") + summary["path"])
    return dg.MaterializeResult(
        data_version=dg.DataVersion(fingerprint[:16]),
        metadata={"path": dg.MetadataValue.path(summary["path"]), "skipped_unchanged": skipped},
    )


ALL_ASSETS = [document_inventory, process_report_year, warehouse_db, cross_rule_results, out_region_rollups, quality_report]


def _check_severity(rule) -> dg.AssetCheckSeverity:
    """ERROR for error-level rules (blocking), WARN for warnings."""
    return dg.AssetCheckSeverity.ERROR if rule.severity == "error" else dg.AssetCheckSeverity.WARN


def _tty():
    import sys

    return sys.stderr if os.environ.get("XXGK_PROGRESS", "1") != "0" else open(os.devnull, "w")
