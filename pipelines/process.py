"""Processing one report-year partition: extract, evaluate the rules, decide what is published.

Documents are handled in batches (``BATCH_SIZE``) by a process pool, so a partition of
~100,000 documents streams through memory; the large tables (cells, rule_results) are written
batch by batch into Parquet row groups. A document whose bytes (sha256) and parser version are
unchanged since the previous run is not read again: its rows (cells, findings, status) are
copied from the previous Parquet files. A partition whose inputs did not change at all is not
touched (see ``partition_fingerprint``).

Status of a report:

* ``rejected`` – not a readable report (unreadable/empty file, not a report, no table,
  local form outside the vocabulary);
* ``quarantined`` – an error-level rule fails, the document prints two copies of a table that
  disagree, or its report year cannot be read;
* ``published_partial`` – passes every blocking rule but some cells could not be read (any
  issue kind of ``extract.completeness.PARTIAL_ISSUE_KINDS``: ambiguous glued digits, rows of the
  wrong shape, tables or cells missing, unverified OCR, damaged bytes), or the copy is a
  third-party mirror;
* ``published`` – everything else.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pipelines.agencies import identity_columns, identity_fingerprint, mirror_reason, opening_text, resolve_reports
from pipelines.extract import PARSER_VERSION
from pipelines.extract.completeness import PARTIAL_ISSUE_KINDS
from pipelines.extract.model import CellRecord, Extraction, Issue, UncodedRow
from pipelines.extract.twins import BatchTwins, agency_key, fill_from_copy
from pipelines.identity.copies import report_copies
from pipelines.inventory import document_path
from pipelines.extract.narrative import NarrativeFigure
from pipelines.registry import ERAS
from pipelines.rules.evaluate import MEASURE_COLUMNS, measure, outcome, wide_frames
from pipelines.rules.narrative_rules import narrative_measures
from pipelines.rules.findings import columns, message, rule_result_rows
from pipelines.rules.suites import check_agreement, validate_table
from pipelines.warehouse.schema import arrow_schema, conform, to_arrow
from pipelines.warehouse.state import load_state, save_state
from pipelines.warehouse.publish import temp_path
from pipelines.warehouse.store import PARTITIONED_TABLES, parquet_path, read_parquet, write_parquet
from pipelines.workers import LIMIT_ISSUES, Limits, extract_all

BATCH_SIZE = 500
BLOCKING_EXTRACTION_ISSUES = {"conflicting_copies"}
PARTIAL_EXTRACTION_ISSUES = PARTIAL_ISSUE_KINDS


@dataclass
class PartitionOutput:
    """What processing a partition wrote and found (used for asset metadata and checks)."""

    key: str
    documents: int = 0
    extracted: int = 0
    reused: int = 0
    statuses: Counter = field(default_factory=Counter)
    rule_failures: Counter = field(default_factory=Counter)
    rule_reports: dict = field(default_factory=dict)
    rule_not_assessable: Counter = field(default_factory=Counter)
    rows: Counter = field(default_factory=Counter)
    schema_problems: list = field(default_factory=list)
    skipped: bool = False
    fingerprint: str = ""

    def count_findings(self, results: pd.DataFrame) -> None:
        """Add stored findings (``document_rule_results`` rows) to the per-rule counts behind the Dagster checks."""
        if results.empty:
            return
        fails = results[results.outcome == "fail"]
        self.rule_failures.update(fails.rule_id.value_counts().to_dict())
        for rule_id, g in fails.groupby("rule_id"):
            self.rule_reports.setdefault(rule_id, set()).update(g.report_id)
        na = results[results.outcome == "not_assessable"]
        self.rule_not_assessable.update(na.rule_id.value_counts().to_dict())


# --------------------------------------------------------------------------------------------
# extraction


def extract_many(jobs: list[tuple], workers: int, progress=None, limits: Limits | None = None) -> list[Extraction]:
    """Extract documents in the warm worker pool, each under the time and memory limits (``pipelines.workers``)."""
    return extract_all(jobs, workers, limits, progress)


def _hints(row) -> dict:
    hints = {}
    if row.manifest_year is not None and not pd.isna(row.manifest_year):
        hints["report_year"] = int(row.manifest_year)
    if row.manifest_agency:
        hints["agency"] = row.manifest_agency
    return hints


# --------------------------------------------------------------------------------------------
# frames


def _cells_frame(report_id: str, year, records: list[CellRecord]) -> pd.DataFrame:
    rows = [r.to_dict() for r in records]
    frame = pd.DataFrame(rows, columns=list(CellRecord.__dataclass_fields__))
    frame.insert(0, "report_year", year)
    frame.insert(0, "report_id", report_id)
    frame["parser_version"] = PARSER_VERSION
    return frame


def extraction_frames(ext: Extraction, inv, raw_dir: Path) -> dict[str, pd.DataFrame]:
    """Rows of one extraction for reports (without status), cells, printed_subtotals, extraction_issues."""
    report_id = inv.source_path
    # the partition's year is authoritative: it is the same reading plus the manifest fallback
    year = None if inv.report_year is None or pd.isna(inv.report_year) else int(inv.report_year)
    if ext.report_year is not None and ext.report_year != year:
        ext.add("warning", "year_mismatch", f"extraction reads report year {ext.report_year}, the inventory {year}")
    opening = opening_text(ext.text)
    cells = _cells_frame(report_id, year, ext.cells)
    subs = _cells_frame(report_id, year, ext.subtotals)[
        ["report_id", "report_year", "code", "value", "raw", "label", "source_kind", "page", "line", "context"]
    ]
    issues = pd.DataFrame(
        [{"report_id": report_id, "report_year": year, **i.to_dict()} for i in ext.issues],
        columns=["report_id", "report_year", *Issue.__dataclass_fields__],
    )
    uncoded = pd.DataFrame(
        [{"report_id": report_id, "report_year": year, **u.to_dict()} for u in ext.uncoded],
        columns=["report_id", "report_year", *UncodedRow.__dataclass_fields__],
    )
    report = {
        "report_id": report_id,
        "report_year": year,
        "source_file": inv.source_file,
        "source_path": inv.source_path,
        "source_url": inv.manifest_source,
        "file_type": inv.file_type,
        "sha256": inv.sha256,
        "size_bytes": int(inv.size_bytes),
        "title": ext.title,
        "agency_printed": ext.agency_printed,
        **identity_columns(raw_dir, ext.agency_printed, inv.manifest_agency, ext.title, opening),
        "opening_text": opening,
        "mirror_reason": mirror_reason(raw_dir, inv.source_path, [i.kind for i in ext.issues]),
        "era": ext.era,
        "scope": ext.scope,
        "origin": ext.origin,
        "status": "rejected" if ext.fatal else "published",
        "reason": None,
        "n_cells": len(ext.cells),
        "n_values": sum(1 for c in ext.cells if c.value is not None),
        "n_ambiguous": sum(1 for c in ext.cells if c.value_status == "ambiguous"),
        "n_errors": 0,
        "n_warnings": 0,
        "n_not_assessable": 0,
        "parser_version": PARSER_VERSION,
        "extracted_at": datetime.now(timezone.utc),
    }
    figures = pd.DataFrame(
        [{"report_id": report_id, "report_year": year, **{k: v for k, v in f.to_dict().items() if k != "offset"}}
         for f in ext.narrative],
        columns=columns("narrative_figures"),
    )
    return {"reports": pd.DataFrame([report]), "cells": cells, "printed_subtotals": subs, "extraction_issues": issues,
            "narrative_figures": figures, "uncoded_rows": uncoded}


# --------------------------------------------------------------------------------------------
# rules and status


def evaluate(reports: pd.DataFrame, cells: pd.DataFrame, subtotals: pd.DataFrame, figures: pd.DataFrame) -> pd.DataFrame:
    """Measures of every in-table and narrative rule for the reports of one batch (all eras), with GX outcomes."""
    frames = []
    parts = [f[["report_id", "code", "value"]] for f in (cells, subtotals) if len(f)]
    all_facts = pd.concat(parts, ignore_index=True) if parts else cells[["report_id", "code", "value"]]
    for era, group in reports[reports.status != "rejected"].groupby("era"):
        if era not in ERAS:
            continue
        ids = group.report_id.tolist()
        facts = all_facts[all_facts.report_id.isin(ids)]
        values, present = wide_frames(facts, ids)
        m = pd.concat([measure(era, values, present), _narrative(era, ids, cells, figures)], ignore_index=True)
        m["outcome"] = outcome(m.violation)
        check_agreement(m, era, "rule engine")
        frames.append(m)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def _narrative(era: str, ids: list[str], cells: pd.DataFrame, figures: pd.DataFrame) -> pd.DataFrame:
    """Narrative-rule measures of some reports (one era)."""
    rows = []
    by_report = {rid: g for rid, g in figures[figures.report_id.isin(ids)].groupby("report_id")} if len(figures) else {}
    values_by_report = {rid: dict(zip(g.code, g.value)) for rid, g in cells[cells.report_id.isin(ids)].groupby("report_id")}
    for rid in ids:
        g = by_report.get(rid)
        figs = [] if g is None else [
            NarrativeFigure(r.figure, r.value, r.code, r.qualifier, r.sentence,
                            None if pd.isna(r.line) else int(r.line), None if pd.isna(r.page) else int(r.page), k,
                            int(r.occurrence))
            for k, r in enumerate(g.itertuples(index=False))
        ]
        values = {k: (None if pd.isna(v) else float(v)) for k, v in values_by_report.get(rid, {}).items()}
        for row in narrative_measures(era, figs, values):
            row["report_id"] = rid
            rows.append(row)
    return pd.DataFrame(rows, columns=[*MEASURE_COLUMNS, "evidence", "bound"])


def decide_status(reports: pd.DataFrame, measures: pd.DataFrame, issues: pd.DataFrame) -> pd.DataFrame:
    """Fill status, reason and rule counts of each report."""
    reports = reports.copy()
    for col in ("n_errors", "n_warnings", "n_not_assessable"):
        reports[col] = 0
    if not measures.empty:
        fails = measures[measures.outcome == "fail"]
        n_err = fails[fails.severity == "error"].groupby("report_id").size()
        n_warn = fails[fails.severity == "warning"].groupby("report_id").size()
        n_na = measures[(measures.outcome == "not_assessable") & measures.touched].groupby("report_id").size()
        reports["n_errors"] = reports.report_id.map(n_err).fillna(0).astype(int)
        reports["n_warnings"] = reports.report_id.map(n_warn).fillna(0).astype(int)
        reports["n_not_assessable"] = reports.report_id.map(n_na).fillna(0).astype(int)
        first_errors = (
            fails[fails.severity == "error"].groupby("report_id")
            .apply(lambda g: [message(r) for r in g.head(3).itertuples(index=False)], include_groups=False)
        )
    else:
        first_errors = pd.Series(dtype=object)
    by_report = {rid: g for rid, g in issues.groupby("report_id")} if not issues.empty else {}
    statuses, reasons = [], []
    for r in reports.itertuples(index=False):
        iss = by_report.get(r.report_id)
        kinds = set(iss.kind) if iss is not None else set()
        fatal = iss[iss.severity == "error"] if iss is not None else None
        if r.status == "rejected" or (fatal is not None and len(fatal)):
            statuses.append("rejected")
            reasons.append("; ".join(fatal.message) if fatal is not None and len(fatal) else "not readable")
            continue
        reason = []
        status = "published"
        if r.n_errors:
            status = "quarantined"
            msgs = first_errors.get(r.report_id, [])
            more = r.n_errors - len(msgs)
            reason.append(f"{r.n_errors} error-level rule failure(s): " + "; ".join(msgs) + (f"; +{more} more" if more > 0 else ""))
        blocking = kinds & BLOCKING_EXTRACTION_ISSUES
        if blocking:
            status = "quarantined"
            reason.extend(iss[iss.kind.isin(blocking)].message.tolist()[:3])
        if r.report_year is None or pd.isna(r.report_year):
            status = "quarantined"
            reason.append("report year could not be read")
        partial = kinds & PARTIAL_EXTRACTION_ISSUES
        if status == "published" and (partial or r.n_ambiguous):
            status = "published_partial"
        if partial:
            reason.extend(sorted({m for m in iss[iss.kind.isin(partial)].message.tolist()})[:4])
        statuses.append(status)
        reasons.append("; ".join(reason) or None)
    reports["status"] = statuses
    reports["reason"] = reasons
    return reports


# --------------------------------------------------------------------------------------------
# the partition


class _Writer:
    """Streams row groups of one table to a temporary file, renamed into place on close."""

    def __init__(self, warehouse: Path, table: str, key: str):
        self.table = table
        self.path = parquet_path(warehouse, table, key)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = temp_path(self.path)
        self.writer = pq.ParquetWriter(self.tmp, arrow_schema(table), compression="zstd")
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        if len(frame):
            self.writer.write_table(to_arrow(self.table, frame))
            self.rows += len(frame)

    def commit(self) -> None:
        self.writer.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self.writer.close()
        finally:
            if self.tmp.exists():
                self.tmp.unlink()


def partition_fingerprint(docs: pd.DataFrame, raw_dir: Path, limits: Limits) -> str:
    """Identity of a partition's inputs: its documents' paths and hashes, the parser version, the agency registry
    and the per-document limits (documents stopped by a limit are read again when the limits change)."""
    h = hashlib.sha256(PARSER_VERSION.encode())
    h.update(limits.describe().encode())
    h.update(identity_fingerprint(raw_dir).encode())
    for path, sha in sorted(zip(docs.source_path, docs.sha256)):
        h.update(f"{path}\t{sha}\n".encode())
    return h.hexdigest()


def _saved_output(warehouse: Path, key: str, fingerprint: str) -> PartitionOutput | None:
    """The previous result of this partition when its inputs have not changed and its files are all there."""
    o = load_state(warehouse, key, fingerprint)
    if o is None or not all(parquet_path(warehouse, t, key).exists() for t in PARTITIONED_TABLES):
        return None
    return PartitionOutput(
        key=key, documents=o["documents"], skipped=True, fingerprint=fingerprint,
        statuses=Counter(o["statuses"]), rule_failures=Counter(o["rule_failures"]),
        rule_reports={k: set(v) for k, v in o["rule_reports"].items()},
        rule_not_assessable=Counter(o["rule_not_assessable"]), rows=Counter(o["rows"]),
        schema_problems=o["schema_problems"],
    )


def _save_output(warehouse: Path, out: PartitionOutput) -> None:
    save_state(warehouse, out.key, out.fingerprint, {
        "documents": out.documents, "statuses": dict(out.statuses), "rule_failures": dict(out.rule_failures),
        "rule_reports": {k: sorted(v) for k, v in out.rule_reports.items()},
        "rule_not_assessable": dict(out.rule_not_assessable), "rows": dict(out.rows),
        "schema_problems": out.schema_problems,
    })


def process_partition(
    raw_dir: Path, warehouse: Path, inventory: pd.DataFrame, key: str, workers: int | None = None, progress=None,
    limits: Limits | None = None,
) -> PartitionOutput:
    """Extract and validate every document of one partition and write its Parquet files.

    Nothing is written when the partition's inputs (documents, parser version, agencies) are
    unchanged since the last successful run: the saved result is returned with ``skipped``.
    """
    raw_dir, warehouse = Path(raw_dir), Path(warehouse)
    os.environ.setdefault("XXGK_OCR_CACHE", str(warehouse / "cache" / "ocr"))  # OCR results live with the warehouse
    workers = workers or max(1, (os.cpu_count() or 1))
    docs = inventory[inventory.partition_key == key].sort_values("source_path")
    limits = limits or Limits.resolve()
    fingerprint = partition_fingerprint(docs, raw_dir, limits)
    saved = _saved_output(warehouse, key, fingerprint)
    if saved is not None:
        if progress:
            progress(len(docs))
        return saved
    out = PartitionOutput(key=key, documents=len(docs), fingerprint=fingerprint)
    previous = read_parquet(warehouse, "reports", key)
    prev_cells_path = parquet_path(warehouse, "cells", key)
    reusable = set()
    if len(previous) and prev_cells_path.exists():
        inv_sha = dict(zip(docs.source_path, docs.sha256))
        prev_cells = pq.read_table(prev_cells_path, columns=["report_id", "recovery"]).to_pandas()
        # documents that needed another copy of the report are re-read: that copy may have changed
        twin_ids = set(prev_cells.loc[prev_cells.recovery.isin(["twin", "ambiguous"]), "report_id"])
        # documents stopped by a limit or a worker crash are tried again
        prev_issues = read_parquet(warehouse, "extraction_issues", key)
        limited_ids = set(prev_issues.loc[prev_issues.kind.isin(LIMIT_ISSUES), "report_id"])
        for r in previous.itertuples(index=False):
            if (inv_sha.get(r.report_id) == r.sha256 and r.parser_version == PARSER_VERSION
                    and r.report_id not in twin_ids | limited_ids):
                reusable.add(r.report_id)
    writers = {t: _Writer(warehouse, t, key) for t in ("cells", "document_rule_results")}
    small: dict[str, list[pd.DataFrame]] = {
        "reports": [], "printed_subtotals": [], "extraction_issues": [], "narrative_figures": [], "uncoded_rows": [],
    }
    try:
        new_docs = docs[~docs.source_path.isin(reusable)]
        held: list[Extraction] = []
        inv_by_path = {r.source_path: r for r in docs.itertuples(index=False)}
        for start in range(0, len(new_docs), BATCH_SIZE):
            batch = new_docs.iloc[start : start + BATCH_SIZE]
            jobs = [(str(document_path(raw_dir, r.source_path)), r.source_path, _hints(r)) for r in batch.itertuples(index=False)]
            exts = extract_many(jobs, workers, progress, limits)
            ambiguous = [any(c.value_status == "ambiguous" for c in e.cells) for e in exts]
            held.extend(e for e, amb in zip(exts, ambiguous) if amb)  # finished after the batch loop, with their twins
            ready = [extraction_frames(e, inv_by_path[e.source_path], raw_dir) for e, amb in zip(exts, ambiguous) if not amb]
            _finish_batch(ready, writers, small, out)
            out.extracted += len(exts)
        if held:
            resolved = _resolve_twins(held, docs, raw_dir, inv_by_path, workers, limits)
            _finish_batch([extraction_frames(e, inv_by_path[e.source_path], raw_dir) for e in resolved], writers, small, out)
        if reusable:
            _reuse(warehouse, key, sorted(reusable), writers, small, out, progress, raw_dir)
        for w in writers.values():
            w.commit()
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    for table, frames in small.items():
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns(table))
        write_parquet(warehouse, table, frame, key)
        out.rows[table] = len(frame)
        if table == "reports":  # copies of one report share its year, so they are grouped within the partition
            copies = conform("report_copies", report_copies(frame))
            out.schema_problems.extend(validate_table(copies, "report_copies") if len(copies) else [])
            write_parquet(warehouse, "report_copies", copies, key)
            out.rows["report_copies"] = len(copies)
    out.rows["cells"] = writers["cells"].rows
    out.rows["document_rule_results"] = writers["document_rule_results"].rows
    _save_output(warehouse, out)
    return out


def _finish_batch(frames: list[dict], writers, small, out: PartitionOutput) -> None:
    """Evaluate the rules on a batch of extractions, decide their status and write their rows."""
    if not frames:
        return
    joined = {}
    for k in frames[0]:
        parts = [f[k] for f in frames if len(f[k])]
        joined[k] = pd.concat(parts, ignore_index=True) if parts else frames[0][k]
    reports, cells, subs, issues = joined["reports"], joined["cells"], joined["printed_subtotals"], joined["extraction_issues"]
    figures = joined["narrative_figures"]
    measures = evaluate(reports, cells, subs, figures)
    reports = decide_status(reports, measures, issues)
    years = dict(zip(reports.report_id, reports.report_year))
    results = rule_result_rows(measures, years)
    out.count_findings(results)
    out.statuses.update(reports.status.value_counts().to_dict())
    frames = {
        "reports": conform("reports", reports),
        "cells": conform("cells", cells),
        "document_rule_results": conform("document_rule_results", results),
        "printed_subtotals": conform("printed_subtotals", subs),
        "extraction_issues": conform("extraction_issues", issues),
        "narrative_figures": conform("narrative_figures", figures),
        "uncoded_rows": conform("uncoded_rows", joined["uncoded_rows"]),
    }
    for table, frame in frames.items():
        if len(frame):
            out.schema_problems.extend(validate_table(frame, table))
    writers["cells"].write(frames["cells"])
    writers["document_rule_results"].write(frames["document_rule_results"])
    for table in small:
        small[table].append(frames[table])


def _resolve_twins(held: list[Extraction], docs: pd.DataFrame, raw_dir: Path, inv_by_path, workers: int,
                   limits: Limits) -> list[Extraction]:
    """The twin-fill step: fill ambiguous glued digits from another copy of the same report (recovery = twin, filled_from).

    The other copies are extracted in the worker pool, under the limits.
    """
    keys = {e.source_path: (agency_key(raw_dir, e.agency_printed), e.report_year) for e in held}
    wanted = {k for k in keys.values()}
    candidates = []
    for r in docs.itertuples(index=False):
        ak = agency_key(raw_dir, r.agency_printed or r.manifest_agency)
        if (ak, None if pd.isna(r.report_year) else int(r.report_year)) in wanted and r.source_path not in keys:
            candidates.append((str(document_path(raw_dir, r.source_path)), r.source_path, _hints(r)))
    twins = BatchTwins(extract_many(candidates, workers, limits=limits) + held, raw_dir)
    for ext in held:
        fill_from_copy(ext, twins(ext))
    return held


def _reuse(warehouse: Path, key: str, ids: list[str], writers, small, out, progress, raw_dir: Path) -> None:
    """Copy unchanged documents' rows from the previous files.

    The parser version covers the extraction code and the whole registry (rules included), so
    an unchanged document with an unchanged parser version has unchanged cells, findings and
    status: nothing is re-read or re-evaluated.
    """
    wanted = set(ids)
    for table in small:
        prev = read_parquet(warehouse, table, key)
        small[table].append(prev[prev.report_id.isin(wanted)].copy())
    reports = resolve_reports(raw_dir, small["reports"][-1])  # raw/agencies.csv or the resolver may have changed
    small["reports"][-1] = reports
    out.statuses.update(reports.status.value_counts().to_dict())
    for table, writer in writers.items():
        path = parquet_path(warehouse, table, key)
        if not path.exists():
            continue
        pf = pq.ParquetFile(path)
        for i in range(pf.num_row_groups):
            group = pf.read_row_group(i).to_pandas()
            group = group[group.report_id.isin(wanted)]
            if group.empty:
                continue
            writer.write(group)
            if table == "document_rule_results":
                out.count_findings(group)
    out.reused += len(ids)
    if progress:
        progress(len(ids))
