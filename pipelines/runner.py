"""Running the Dagster assets from the command line (``xxgk run``) and summarising the result.

A run is at most three Dagster runs: the inventory (it registers the report-year partitions it
finds), then one run over the whole range of years — the per-year assets, their checks, the
DuckDB merge, the cross-report rules and roll-ups — after which the warehouse is published;
then the Great Expectations validation of what was written and the quality report (published
again). When nothing changed since the last complete run (``warehouse.stamp``), no Dagster run
is started at all.
"""

from __future__ import annotations

import os
from pathlib import Path

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
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


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


def dagster_instance():
    """$DAGSTER_HOME's instance (runs then show in ``dagster dev``), else an in-memory one.

    Partitions are re-registered by the inventory on every run, so nothing is lost with the
    in-memory instance.
    """
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        prepare_dagster_home(Path(os.environ["DAGSTER_HOME"]))
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def warehouse_config(raw_dir: Path, warehouse_dir: Path, workers: int = 0, progress: bool = True, storage_url: str = "",
                     **kwargs):
    """The resource configuration of a build."""
    from pipelines.defs.resources import WarehouseConfig

    return WarehouseConfig(raw_dir=str(raw_dir), warehouse_dir=str(warehouse_dir), storage_url=storage_url or "",
                           workers=workers, progress=progress, **kwargs)


def run_pipeline(
    raw_dir: Path, warehouse_dir: Path, years: list[str] | None = None, workers: int = 0, progress: bool = True,
    instance=None, storage_url: str = "", limits=None, on_published=None, **settings,
) -> str:
    """Inventory raw/, then build every (or the selected) report year and the warehouse-wide tables; returns a summary.

    Holds the writer lock throughout and publishes the warehouse twice: once the new reports are merged with
    their cross-report findings and roll-ups (then ``on_published()`` is called), and after the GX validation and
    the quality report. Raises ``PipelineError`` (after publishing what succeeded) when some steps failed,
    ``StorageError`` (publishing nothing more) when the warehouse cannot be written, ``WarehouseBusy`` when
    another run writes it.
    """
    from pipelines.warehouse.publish import publish_now, read_path, writer_session
    from pipelines.warehouse.stamp import forget_stamp, inputs_digest, save_stamp, unchanged_summary
    from pipelines.warehouse.storage import storage_for
    from pipelines.workers import Limits

    limits = limits or Limits.resolve()
    storage = storage_for(storage_url or warehouse_dir)
    digest = inputs_digest(raw_dir, limits.describe())
    if not years:
        last = unchanged_summary(digest, warehouse_dir, storage, (Path(warehouse_dir) / "reports" / "quality.html",))
        if last is not None:
            return last + "\n  (nothing changed since the last run: nothing was read or written)"
    cfg = warehouse_config(raw_dir, warehouse_dir, workers, progress, storage_url, doc_timeout=limits.seconds,
                           doc_memory=f"{limits.memory_mb}MB", **settings)
    instance = instance or dagster_instance()
    with writer_session(warehouse_dir) as session:
        failed, _ = build(cfg, years, instance, deferred=True)
        publish_now(warehouse_dir)  # readers see the new reports now, before the GX validation and the quality report
        if on_published is not None:
            on_published()
        more, report_written = finish(cfg, instance)
        failed.extend(more)
        text = summarize(warehouse_dir, report_written=report_written) if read_path(warehouse_dir).exists() \
            else "xxgk: no warehouse database was written"
        if failed:
            forget_stamp(storage)
        elif not years:  # the stamp names the published file: saved once it is
            session.on_success.append(lambda: save_stamp(storage, digest, warehouse_dir, text))
    if failed:
        text += "\nPROBLEMS:\n  " + "\n  ".join(failed)
        raise PipelineError(text)
    return text


def build(cfg, years: list[str] | None = None, instance=None, executor: str = "in_process",
          report: bool = True, deferred: bool = False) -> tuple[list[str], bool]:
    """The Dagster runs of a build; returns the problems (empty when everything succeeded) and whether the quality
    report was written. ``report``: also write the quality report; ``deferred``: leave the GX validation and the
    quality report to ``finish`` (run after the warehouse is published)."""
    from pipelines.defs.assets import REPORT_YEARS, YEARS_TAG
    from pipelines.definitions import build_definitions

    instance = instance or dagster_instance()
    defs = build_definitions(cfg, executor=executor)
    result = defs.resolve_job_def("refresh_inventory").execute_in_process(instance=instance, run_config=_QUIET,
                                                                       raise_on_error=False)
    if not result.success:
        raise PipelineError(f"xxgk run: the inventory of {cfg.raw} failed: {step_problems(result, cfg.warehouse)[0]}")
    keys = list(instance.get_dynamic_partitions(REPORT_YEARS.name))
    failed = []
    if years:
        wanted = expand_years(years)
        chosen = [k for k in keys if k in set(wanted)]
        unknown = sorted(set(wanted) - set(keys))
        if unknown:
            failed.append(f"no documents for report year(s) {', '.join(unknown)}")
    else:
        chosen = _years_to_build(cfg, keys, result)
    job = defs.resolve_job_def("build_warehouse")
    left_out = {"quality_report", "gx_validation"} if deferred else set() if report else {"quality_report"}
    selection = [k for k in job.asset_layer.executable_asset_keys if k.path[-1] not in left_out] if left_out else None
    if chosen:
        positions = [keys.index(k) for k in chosen]
        tags = {RANGE_START: keys[min(positions)], RANGE_END: keys[max(positions)]}
        if len(chosen) < max(positions) - min(positions) + 1:
            tags[YEARS_TAG] = ",".join(chosen)
        res = job.execute_in_process(instance=instance, tags=tags, run_config=_QUIET, raise_on_error=False,
                                     asset_selection=selection)
    else:  # no year to rebuild: the warehouse-wide assets (they recompute only what is still pending)
        job = defs.resolve_job_def("regional_rollup")
        selection = [k for k in job.asset_layer.executable_asset_keys if k.path[-1] not in left_out] if left_out else None
        res = job.execute_in_process(instance=instance, run_config=_QUIET, raise_on_error=False, asset_selection=selection)
    return _outcome(cfg, res, failed)


def finish(cfg, instance=None, executor: str = "in_process") -> tuple[list[str], bool]:
    """The GX validation of what the last builds wrote and the quality report (the Dagster job
    ``validate_and_report``); returns the problems and whether the quality report was written."""
    from pipelines.definitions import build_definitions

    res = build_definitions(cfg, executor=executor).resolve_job_def("validate_and_report").execute_in_process(
        instance=instance or dagster_instance(), run_config=_QUIET, raise_on_error=False)
    return _outcome(cfg, res, [])


def _outcome(cfg, res, failed: list[str]) -> tuple[list[str], bool]:
    from pipelines.defs.resources import clear_run_outputs

    clear_run_outputs(cfg.storage, res.run_id)
    if not res.success:
        failed.extend(step_problems(res, cfg.warehouse))
    wrote_report = any(e.asset_key.path == ["quality_report"] for e in res.get_asset_materialization_events())
    return failed, wrote_report


def _years_to_build(cfg, keys: list[str], inventory_run) -> list[str]:
    """Years whose documents changed (the inventory says), never built, built with other versions, or not loaded."""
    from pipelines.process import build_inputs
    from pipelines.warehouse.store import reading
    from pipelines.warehouse.state import years_to_build

    changed: set[str] = set()
    for event in inventory_run.get_asset_materialization_events():
        meta = event.event_specific_data.materialization.metadata
        if "changed_partitions" in meta:
            changed |= set(meta["changed_partitions"].value)
    with reading(cfg.warehouse) as con:
        loaded = dict(con.execute("SELECT partition_key, fingerprint FROM _loaded_partitions").fetchall()) \
            if con is not None and con.execute("SELECT count(*) FROM information_schema.tables "
                                               "WHERE table_name = '_loaded_partitions'").fetchall()[0][0] else {}
    return years_to_build(cfg.storage, keys, changed, build_inputs(cfg.raw, cfg.shard_docs, cfg.limits()), loaded)


def step_problems(result, warehouse_dir: Path) -> list[str]:
    """One entry per failed step: its error and where it was raised (the root cause, not Dagster's wrappers).

    A storage failure (disk full, read-only file system …) raises ``StorageError`` instead:
    the run stops there, since every later step would fail the same way.
    """
    from pipelines.warehouse.publish import StorageError, storage_problem

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
                               f"nothing was published, {Path(warehouse_dir) / 'xxgk.duckdb'} is as before")
        if error.cls_name == "Failure":  # a message written for people
            out.append(message.split(": ", 1)[-1])
        else:
            out.append(f"step {event.step_key}: {message}\n" + "".join(error.stack).rstrip())
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
    from pipelines.warehouse.gx_validation import summary as gx_summary
    from pipelines.warehouse.store import connect

    con = connect(warehouse_dir, read_only=True)
    try:
        total = con.execute("SELECT count(*) FROM reports").fetchall()[0][0]
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
    gx = gx_summary(warehouse_dir)
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
    if gx["disagreements"] or gx["schema_findings"]:
        lines.append(f"  GREAT EXPECTATIONS: {gx['disagreements']} rule instance(s) on which the GX rule suites and the rule "
                     f"engine disagree, {gx['schema_findings']} schema finding(s) — see the gx_findings table "
                     f"(reports: {', '.join((gx['disagreeing_reports'] + gx['schema_reports'])[:5])})")
    if rules:
        lines.append("violations by rule (failed instances, reports):")
        lines.extend("  " + ln for ln in _format_table([list(r) for r in rules], ["rule_id", "severity", "instances", "reports"]))
    else:
        lines.append("no rule violations")
    return "\n".join(lines)
