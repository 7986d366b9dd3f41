"""Running the Dagster assets from the command line (``xxgk run``) and summarising the result.

A run holds the warehouse's writer lock and writes a staged copy of the DuckDB file that is
published once, at the end (``pipelines.warehouse.publish``). A failed report year is reported
and the others are published; a storage failure (disk full, read-only) stops the run, and
nothing is published.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from pipelines.defs.assets import ALL_ASSETS, REPORT_YEARS, document_inventory, process_report_year, warehouse_db
from pipelines.defs.automation import regional_rollup
from pipelines.defs.resources import WarehouseConfig
from pipelines.warehouse.publish import StorageError, read_path, storage_problem, writer_session
from pipelines.warehouse.store import connect, db_path
from pipelines.workers import Limits

_INSTANCE_HEADER = "# Dagster instance of xxgk"
_INSTANCE_YAML = _INSTANCE_HEADER + """ (DAGSTER_HOME={home}); rewritten by xxgk when it starts with this line.
telemetry:
  enabled: false
# DuckDB has a single writer: runs (sensor, schedule, backfill) queue and execute one at a time.
concurrency:
  runs:
    max_concurrent_runs: 1
"""
_QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}  # step failures are reported by run_pipeline


def prepare_dagster_home(home: Path) -> Path:
    """Create ``home`` with xxgk's ``dagster.yaml`` (one run at a time); a hand-written file is left alone."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    text = _INSTANCE_YAML.format(home=home)
    current = cfg.read_text(encoding="utf-8") if cfg.exists() else None
    if current is None or (current.startswith(_INSTANCE_HEADER) and current != text):
        cfg.write_text(text, encoding="utf-8")
    return cfg


def dagster_instance() -> dg.DagsterInstance:
    """$DAGSTER_HOME's instance (runs then show in ``dagster dev``), else an in-memory one.

    The in-memory instance is about twice as fast on small partitions (no SQLite event log);
    partitions are re-registered by the inventory on every run, so nothing is lost.
    """
    if os.environ.get("DAGSTER_HOME"):
        prepare_dagster_home(Path(os.environ["DAGSTER_HOME"]))
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def run_pipeline(
    raw_dir: Path, warehouse_dir: Path, years: list[str] | None = None, workers: int = 0, progress: bool = True,
    instance: dg.DagsterInstance | None = None, limits: Limits | None = None,
) -> str:
    """Materialize the inventory, then every (or the selected) report year; returns a printable summary.

    Holds the writer lock and publishes the warehouse once, at the end. Raises ``PipelineError``
    (after publishing what succeeded) when some steps failed, ``StorageError`` (publishing
    nothing) when the warehouse cannot be written, ``WarehouseBusy`` when another run writes it.
    """
    limits = limits or Limits.resolve()
    resources = {
        "warehouse": WarehouseConfig(raw_dir=str(raw_dir), warehouse_dir=str(warehouse_dir), workers=workers, progress=progress,
                                     doc_timeout=limits.seconds, doc_memory=f"{limits.memory_mb}MB")
    }
    failed = []
    with writer_session(warehouse_dir):
        instance = instance or dagster_instance()
        result = dg.materialize([document_inventory], instance=instance, resources=resources, run_config=_QUIET,
                                raise_on_error=False)
        if not result.success:
            raise PipelineError(f"xxgk run: the inventory of {raw_dir} failed: {step_problems(result, warehouse_dir)[0]}")
        keys = sorted(instance.get_dynamic_partitions(REPORT_YEARS.name))
        if years:
            years = expand_years(years)
            unknown = sorted(set(years) - set(keys))
            keys = [k for k in keys if k in set(years)]
            if unknown:
                failed.append(f"no documents for report year(s) {', '.join(unknown)}")
        for key in keys:
            res = dg.materialize(
                ALL_ASSETS,
                selection=dg.AssetSelection.assets(process_report_year, warehouse_db),  # the inventory ran above
                partition_key=key,
                instance=instance,
                resources=resources,
                run_config=_QUIET,
                raise_on_error=False,
            )
            if not res.success:
                failed.extend(f"report year {key}: {p}" for p in step_problems(res, warehouse_dir))
        res = dg.materialize(ALL_ASSETS, selection=regional_rollup.selection, instance=instance, resources=resources,
                             run_config=_QUIET, raise_on_error=False)
        if not res.success:
            failed.extend(f"cross-report rules, roll-ups or the quality report: {p}" for p in step_problems(res, warehouse_dir))
        wrote_report = any(e.asset_key == dg.AssetKey("quality_report") for e in res.get_asset_materialization_events())
        text = (summarize(warehouse_dir, keys, wrote_report)
                if read_path(warehouse_dir).exists() else "xxgk: no warehouse database was written")
    if failed:
        text += "\nPROBLEMS:\n  " + "\n  ".join(failed)
        raise PipelineError(text)
    return text


def step_problems(result: dg.ExecuteInProcessResult, warehouse_dir: Path) -> list[str]:
    """One entry per failed step: its error and where it was raised (the root cause, not Dagster's wrappers).

    A storage failure (disk full, read-only file system …) raises ``StorageError`` instead:
    the run stops there, since every later step would fail the same way.
    """
    out = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        problem = storage_problem(error)
        while error is not None and error.cause is not None:
            error = error.cause
        if error is None:
            out.append(f"step {event.step_key} failed")
            continue
        message = error.message.strip()
        if problem:
            raise StorageError(f"cannot write the warehouse {warehouse_dir}: {problem} ({message.splitlines()[0]}); "
                               f"nothing was published, {db_path(warehouse_dir)} is as before")
        if error.cls_name == "Failure":  # a message written for people
            out.append(message.split(": ", 1)[-1])
        else:
            out.append(f"{message}\n" + "".join(error.stack).rstrip())
    return out or ["the run failed"]


def expand_years(specs: list[str]) -> list[str]:
    """'2019-2021' -> 2019, 2020, 2021; single years and 'undated' pass through."""
    out = []
    for spec in specs:
        for part in str(spec).split(","):
            part = part.strip()
            if "-" in part and part.replace("-", "").isdigit():
                lo, hi = (int(x) for x in part.split("-", 1))
                out.extend(str(y) for y in range(lo, hi + 1))
            elif part:
                out.append(part)
    return out


class PipelineError(RuntimeError):
    """Some partitions failed; the message holds the summary and the problems."""


def summarize(warehouse_dir: Path, keys: list[str] | None = None, report_written: bool = True) -> str:
    """Documents read, published, quarantined, rejected, and failed rule instances by rule; the report only when written."""
    from pipelines.cli import _format_table
    from pipelines.quality import written_outputs

    con = connect(warehouse_dir, read_only=True)
    try:
        total = con.execute("SELECT count(*) FROM reports").fetchone()[0]
        statuses = dict(con.execute("SELECT status, count(*) FROM reports GROUP BY status").fetchall())
        by_year = con.execute(
            "SELECT coalesce(CAST(report_year AS VARCHAR), 'undated'), count(*), "
            "count(*) FILTER (WHERE status IN ('published','published_partial')) FROM reports GROUP BY 1 ORDER BY 1"
        ).fetchall()
        skipped = con.execute("SELECT reason_kind, count(*) FROM inventory_skipped GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
        rules = con.execute(
            """SELECT rule_id, severity, count(*) AS instances, count(DISTINCT report_id) AS reports
               FROM rule_results WHERE outcome = 'fail' GROUP BY rule_id, severity
               ORDER BY severity, rule_id"""
        ).fetchall()
    finally:
        con.close()
    report = written_outputs(warehouse_dir) if report_written else None  # files the report wrote and that exist
    written = report and report["html"] and report["workbook"]
    lines = [
        f"xxgk: {total} documents in the warehouse ({Path(warehouse_dir) / 'xxgk.duckdb'})",
        f"  quality report: {report['html']} ({len(report['letters'])} letters, workbook {Path(report['workbook']).name})"
        if written else "  quality report: not written (see the problems below)",
        "  " + ", ".join(f"{s} {statuses.get(s, 0)}" for s in ("published", "published_partial", "quarantined", "rejected")),
        "  by report year (documents/published): " + ", ".join(f"{y}: {n}/{p}" for y, n, p in by_year),
    ]
    if skipped:
        lines.append(f"  other paths in raw/, not documents: {sum(n for _, n in skipped)} ("
                     + ", ".join(f"{k} {n}" for k, n in skipped) + "; see the inventory_skipped table)")
    if rules:
        lines.append("violations by rule (failed instances, reports):")
        lines.extend("  " + ln for ln in _format_table([list(r) for r in rules], ["rule_id", "severity", "instances", "reports"]))
    else:
        lines.append("no rule violations")
    return "\n".join(lines)
