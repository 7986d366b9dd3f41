"""Processing a work unit: extract (or reuse) its documents, evaluate the rules, decide what is published, write its shards.

A unit (``shards.WorkUnit``) names the documents to (re)evaluate and, for each shard it rewrites,
the documents whose rows are copied unchanged. For each document the extraction record is taken
from the record store (content-addressed: sha256, type, hints, parser version) or made in the
warm worker pool of ``pipelines.workers`` (each document under its time and memory limits) and
stored. The rules are evaluated vectorised over the whole unit
and the generated Great Expectations suites validate the unit once (rule suites: they must agree
with the engine on every instance; table schema suites). Then each shard's Parquet files and
state are written, each file atomically.

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
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.agencies import identity_columns, identity_fingerprint, mirror_reason
from pipelines.extract import PARSER_VERSION
from pipelines.extract.completeness import PARTIAL_ISSUE_KINDS
from pipelines.extract.model import Extraction
from pipelines.extract.narrative import NarrativeFigure
from pipelines.extract.twins import BatchTwins, agency_key, fill_from_copy
from pipelines.inventory import document_path
from pipelines.registry import ERAS
from pipelines.rules.evaluate import MEASURE_COLUMNS, measure, outcome, wide_frames
from pipelines.rules.findings import message, rule_result_rows
from pipelines.rules.narrative_rules import narrative_measures
from pipelines.shards import (
    DocSpec, ShardWork, WorkUnit, held_version, hints_of, shard_file, shard_fingerprint, shard_state_path, twin_digests,
)
from pipelines.warehouse.gx_validation import enqueue
from pipelines.warehouse.records import RecordStore, deserialize, flatten, record_job, record_of, serialize
from pipelines.warehouse.schema import arrow_schema, empty_frame, to_arrow
from pipelines.warehouse.storage import Storage
from pipelines.warehouse.store import SHARD_TABLES
from pipelines.workers import LIMIT_ISSUES, Limits, extract_all, failed_extraction, run_all

BLOCKING_EXTRACTION_ISSUES = {"conflicting_copies"}
PARTIAL_EXTRACTION_ISSUES = PARTIAL_ISSUE_KINDS
REPORTS_TOP = 50  # report ids kept per rule in a shard's summary (the count is exact)
BATCH_DOCS = 500  # documents evaluated at once while the worker pool extracts the next ones (see process_unit)


def code_digest(*paths: Path) -> str:
    """Hash of some source files (names and bytes): versions computed from the code, never bumped by hand."""
    h = hashlib.sha256()
    for f in paths:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


_HERE = Path(__file__).resolve().parent
# the code that turns a record into rows, findings and status: this module, the planner, the record layout and the
# in-table/narrative rule engine (cross-report rules have their own version, see warehouse.loader)
ENGINE_VERSION = PARSER_VERSION + "+" + code_digest(
    _HERE / "process.py", _HERE / "shards.py", _HERE / "warehouse" / "records.py", _HERE / "warehouse" / "schema.py",
    *sorted(p for p in (_HERE / "rules").glob("*.py") if p.name != "cross_rules.py"),
)


def build_inputs(raw_dir: Path, shard_docs: int, limits: Limits) -> dict:
    """The versions a report year is built with: a change to any re-plans it (see ``state.years_to_build``); the
    per-document limits are among them, so documents a limit stopped are read again when the limits change."""
    return {"engine": ENGINE_VERSION, "parser": PARSER_VERSION, "identity": identity_digest(raw_dir), "shard_docs": shard_docs,
            "limits": limits.describe()}


def identity_digest(raw_dir: Path) -> str:
    """What agency resolution depends on (resolver code, division data, raw/agencies.csv): a change re-places every
    report's body, without re-reading any."""
    return identity_fingerprint(raw_dir)


# --------------------------------------------------------------------------------------------
# running units; extraction in the worker pool


def run_units(units: list[WorkUnit], storage: Storage, raw_dir: Path, processes: int = 1,
              progress: Callable[[int], None] | None = None, limits: Limits | None = None) -> list[dict]:
    """Process work units one after the other and return their shards' summaries.

    The documents of a unit that have no record yet are extracted in the warm worker pool
    (``pipelines.workers``: ``processes`` workers, each document under ``limits``), kept across
    units and report years; the unit's rules and Parquet files are done here.
    """
    os.environ.setdefault("XXGK_OCR_CACHE", str(Path(storage.root) / "cache" / "ocr") if storage.local else "off")
    limits = limits or Limits.resolve()
    out: list[dict] = []
    for unit in units:
        out.extend(process_unit(unit, storage, raw_dir, progress, processes, limits))
    return out


def extract_many(jobs: list[tuple[str, str, dict]], workers: int = 0, progress=None,
                 limits: Limits | None = None) -> list[Extraction]:
    """Extract documents ``(path, source_path, hints)`` in the warm worker pool, each under the limits."""
    return extract_all(jobs, workers, limits, progress)


# --------------------------------------------------------------------------------------------
# the unit


class StageClock:
    """CPU seconds spent per stage of a unit (summed over threads and processes for the benchmark's stage breakdown)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    @contextmanager
    def stage(self, name: str):
        """Count the CPU time of a block (of the calling thread) under ``name``."""
        start = time.thread_time()
        try:
            yield
        finally:
            self.add(name, time.thread_time() - start)

    def add(self, name: str, seconds: float) -> None:
        """Count CPU seconds spent elsewhere (a worker process) under ``name``."""
        with self._lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds


def process_unit(unit: WorkUnit, storage: Storage, raw_dir: Path, progress: Callable[[int], None] | None = None,
                 workers: int = 0, limits: Limits | None = None) -> list[dict]:
    """Extract, evaluate and write every shard of a unit; returns the shards' summaries (also saved as shard state).

    The unit's documents go in batches of ``BATCH_DOCS``: while this process evaluates the rules of one batch
    (vectorised over it; a report's rules depend on that report alone), the worker pool extracts the next, so
    neither waits for the other. The last shard's state carries the unit's CPU seconds per stage (``cpu``):
    extraction (records read or made: the workers' CPU included), rules (tables assembled, rules evaluated,
    status), parquet (the GX queue entry and the shards' files).
    """
    raw_dir = Path(raw_dir)
    limits = limits or Limits.resolve()
    clock = StageClock()
    specs = [d for s in unit.shards for d in s.docs]
    batches = [specs[i:i + BATCH_DOCS] for i in range(0, len(specs), BATCH_DOCS)] or [[]]
    records: dict[str, pa.Table] = {}
    decided, held = [], set()

    def fetch(batch: list[DocSpec]) -> dict[str, pa.Table]:
        with clock.stage("extraction"):
            return _records(batch, storage, raw_dir, progress, workers, limits, clock)

    with ThreadPoolExecutor(1, thread_name_prefix="xxgk-records") as prefetch:
        coming = prefetch.submit(fetch, batches[0])
        for i, batch in enumerate(batches):
            got = coming.result()
            if i + 1 < len(batches):
                coming = prefetch.submit(fetch, batches[i + 1])
            records.update(got)
            with clock.stage("rules"):
                tables = _assemble(batch, got, raw_dir)
                held |= _held(tables["cells"])
                if not held:
                    decided.append(_decide(tables))
    if held:  # the twin-fill step (it uses the pool, now free); then the unit is evaluated at once
        with clock.stage("extraction"):
            records.update(_resolve_twins([d for d in specs if d.report_id in held], storage, raw_dir, workers, limits))
        with clock.stage("rules"):
            tables, measures = _decide(_assemble(specs, records, raw_dir))
    else:
        with clock.stage("rules"):
            tables = {t: pa.concat_tables([d[0][t] for d in decided]) for t in decided[0][0]}
            measures = pd.concat([d[1] for d in decided], ignore_index=True) if len(decided) > 1 else decided[0][1]
    issues = tables["extraction_issues"]
    limited = set(issues.filter(pc.is_in(issues.column("kind"), pa.array(LIMIT_ISSUES))).column("report_id").to_pylist())
    out = []
    with clock.stage("parquet"):
        queue_validation(storage, unit, measures)
    for i, shard in enumerate(unit.shards):
        with clock.stage("parquet"):
            last = i == len(unit.shards) - 1
            out.append(_write_shard(storage, shard, tables, raw_dir, held, limited, clock.seconds if last else None))
    return out


def _records(specs: list[DocSpec], storage: Storage, raw_dir: Path, progress, workers: int, limits: Limits,
             clock: StageClock) -> dict[str, pa.Table]:
    """Each document's record: from the store, else extracted now in the worker pool and stored.

    A document stopped by a limit or a worker crash (``workers.LIMIT_ISSUES``) gets a record
    saying so, which is not stored: it is read again when its year is next evaluated.
    """
    store = RecordStore(storage)
    out, missing = {}, []
    for d in specs:
        rec = store.get(d.record_key)
        if rec is None:
            missing.append(d)
        else:
            out[d.report_id] = rec
            if progress:
                progress(1)
    jobs = [(str(document_path(raw_dir, d.report_id)), d.report_id, d.hints_dict, d.record_key, PARSER_VERSION) for d in missing]
    for d, (data, cpu) in zip(missing, run_all(record_job, jobs, _failed_record, workers, limits, progress)):
        out[d.report_id] = deserialize(data)
        clock.add("extraction", cpu)  # the worker's CPU seconds
        if not _limited(out[d.report_id].column("issues")[0].as_py()):
            store.put(d.record_key, out[d.report_id], data)
    return out


def _failed_record(job: tuple, failure) -> tuple[bytes, float]:
    """The record of a document whose extraction job failed (``workers.failed_extraction``: one error issue why)."""
    return serialize(record_of(failed_extraction(job, failure), job[3], job[4])), 0.0


def _limited(issues: list[dict]) -> bool:
    return any(i["kind"] in LIMIT_ISSUES for i in issues)


def _held(cells: pa.Table) -> set[str]:
    """Reports with glued digits that split several ways (another copy of the report may decide them)."""
    mask = pc.equal(cells.column("value_status"), "ambiguous")
    return set(pc.unique(cells.column("report_id").filter(mask)).to_pylist())


def _resolve_twins(held: list[DocSpec], storage: Storage, raw_dir: Path, workers: int, limits: Limits) -> dict[str, pa.Table]:
    """The twin-fill step: fill ambiguous glued digits from another copy of the same report in the year.

    This is the one step where another file matters; the stored record stays what the file says on its own.
    A report with no other copy in its year keeps its own reading (nothing is re-read). The copies are
    extracted in the worker pool, under the limits.
    """
    from pipelines.warehouse.store import read_inventory

    inventory = read_inventory(storage)
    key_of = {d.report_id: (agency_key(raw_dir, d.agency_printed), d.report_year) for d in held}
    copies: dict[tuple, list[tuple]] = {}
    for r in inventory.itertuples(index=False):
        year = None if pd.isna(r.report_year) else int(r.report_year)
        name = r.agency_printed if isinstance(r.agency_printed, str) else r.manifest_agency
        k = (agency_key(raw_dir, name), year)
        if k in set(key_of.values()):
            copies.setdefault(k, []).append((str(document_path(raw_dir, r.source_path)), r.source_path, dict(hints_of(r))))
    held = [d for d in held if len(copies.get(key_of[d.report_id], [])) > 1]
    if not held:
        return {}
    held_ids = {d.report_id for d in held}
    candidates = [job for k in {key_of[d.report_id] for d in held} for job in copies[k] if job[1] not in held_ids]
    own = extract_many([(str(document_path(raw_dir, d.report_id)), d.report_id, d.hints_dict) for d in held], workers, limits=limits)
    twins = BatchTwins(extract_many(candidates, workers, limits=limits) + own, raw_dir)
    out = {}
    for d, ext in zip(held, own):
        fill_from_copy(ext, twins(ext))  # recovery = twin, filled_from = the copy
        out[d.report_id] = record_of(ext, d.record_key, PARSER_VERSION)
    return out


def _assemble(specs: list[DocSpec], records: dict[str, pa.Table], raw_dir: Path) -> dict[str, pa.Table]:
    """The unit's tables from its documents' records; ``reports`` before rules (status: rejected or published)."""
    if not specs:
        tables = {t: arrow_schema(t).empty_table() for t in SHARD_TABLES if t not in ("reports", "document_rule_results")}
        tables["reports"] = empty_frame("reports")
        return tables
    recs = pa.concat_tables([records[d.report_id] for d in specs])
    ids = [d.report_id for d in specs]
    years = [d.report_year for d in specs]
    tables = flatten(recs, ids, years)
    issues = tables["extraction_issues"]
    # the partition's year is authoritative: it is the same reading plus the manifest fallback
    read_years = recs.column("report_year").to_pylist()
    mismatch = [(d, y) for d, y in zip(specs, read_years) if y is not None and y != d.report_year]
    if mismatch:
        values = {
            "report_id": [d.report_id for d, _ in mismatch], "report_year": [d.report_year for d, _ in mismatch],
            "severity": ["warning"] * len(mismatch), "kind": ["year_mismatch"] * len(mismatch),
            "message": [f"extraction reads report year {y}, the inventory {d.report_year}" for d, y in mismatch],
        }
        schema = arrow_schema("extraction_issues")
        extra = pa.table({f.name: values.get(f.name, [None] * len(mismatch)) for f in schema}, schema=schema)
        tables["extraction_issues"] = pa.concat_tables([issues, extra])
    cells = tables["cells"]
    frame = pd.DataFrame({"report_id": cells.column("report_id").to_numpy(zero_copy_only=False),
                          "has_value": cells.column("value").is_valid().to_numpy(zero_copy_only=False),
                          "ambiguous": pc.equal(cells.column("value_status"), "ambiguous").to_numpy(zero_copy_only=False)})
    counts = frame.groupby("report_id").agg(n=("has_value", "size"), v=("has_value", "sum"), a=("ambiguous", "sum"))
    counts = counts.reindex(ids).fillna(0).astype(int)
    fatal = set(issues.filter(pc.equal(issues.column("severity"), "error")).column("report_id").to_pylist())
    kinds: dict[str, list] = {}
    for rid, kind in zip(issues.column("report_id").to_pylist(), issues.column("kind").to_pylist()):
        kinds.setdefault(rid, []).append(kind)
    header = {c: recs.column(c).to_pylist() for c in ("title", "agency_printed", "opening_text", "era", "scope", "origin",
                                                        "parser_version")}
    who = [identity_columns(raw_dir, p, d.manifest_agency, t, o)
           for d, p, t, o in zip(specs, header["agency_printed"], header["title"], header["opening_text"])]
    reports = pd.DataFrame({
        "report_id": ids, "report_year": pd.array(years, dtype="Int64"),
        "source_file": [d.source_file for d in specs], "source_path": ids, "source_url": [d.source_url for d in specs],
        "file_type": [d.file_type for d in specs], "sha256": [d.sha256 for d in specs],
        "size_bytes": [d.size_bytes for d in specs], "title": header["title"],
        **{col: [w[col] for w in who] for col in who[0]}, "agency_printed": header["agency_printed"],
        "opening_text": header["opening_text"],
        "mirror_reason": [mirror_reason(raw_dir, i, kinds.get(i, [])) for i in ids],
        "era": header["era"], "scope": header["scope"], "origin": header["origin"],
        "status": ["rejected" if i in fatal else "published" for i in ids], "reason": None,
        "n_cells": counts.n.to_numpy(), "n_values": counts.v.to_numpy(), "n_ambiguous": counts.a.to_numpy(),
        "n_errors": 0, "n_warnings": 0, "n_not_assessable": 0,
        "parser_version": header["parser_version"],
        "extracted_at": recs.column("extracted_at").to_pandas(),
    })
    tables["reports"] = reports
    return tables


# --------------------------------------------------------------------------------------------
# rules and status


def queue_validation(storage: Storage, unit: WorkUnit, measures: pd.DataFrame) -> None:
    """Queue the unit for the GX validation after the merge (``warehouse.gx_validation``): its shards' new report ids
    and every rule instance's measure. Written before the shards, so a shard whose new rows are in place always has
    its validation queued."""
    shards = [[s.partition_key, s.shard, sorted(d.report_id for d in s.docs)] for s in unit.shards if s.docs]
    if shards:
        name = hashlib.sha256(repr([(s.partition_key, s.shard, s.fingerprint) for s in unit.shards]).encode()).hexdigest()[:16]
        enqueue(storage, f"unit-{name}", measures, shards=shards)


def _decide(tables: dict) -> tuple[dict[str, pa.Table], pd.DataFrame]:
    """The unit's tables with each report's status and findings (``document_rule_results``), and the rule measures."""
    reports = tables["reports"]
    facts = ["report_id", "code", "value"]
    cells = tables["cells"].select([*facts, "recovery"]).to_pandas()
    subs = tables["printed_subtotals"].select(facts).to_pandas()
    figures = tables["narrative_figures"].to_pandas()
    issues = tables["extraction_issues"].to_pandas()
    measures = evaluate(reports, cells, subs, figures)
    reports = decide_status(reports, measures, issues)
    years = dict(zip(reports.report_id, reports.report_year))
    out = {k: v for k, v in tables.items() if k != "reports"}
    out["reports"] = to_arrow("reports", reports)
    out["document_rule_results"] = to_arrow("document_rule_results", rule_result_rows(measures, years))
    return out, measures


def statuses_of(extractions: list[Extraction], raw_dir: Path) -> dict[str, str]:
    """source_path -> status of some extractions as a unit decides it (its rules and status decision; nothing is
    written). For tools that judge the extractor's output, such as the fuzzer."""
    specs = [DocSpec(e.source_path, str(e.report_year or "undated"), e.report_year, "0", e.source_path, e.file_type,
                     "0" * 64, 0, None, None, (), f"doc{i}", "", "", e.agency_printed)
             for i, e in enumerate(extractions)]
    records = {d.report_id: record_of(e, d.record_key, PARSER_VERSION) for d, e in zip(specs, extractions)}
    reports = _decide(_assemble(specs, records, Path(raw_dir)))[0]["reports"]
    return dict(zip(reports.column("report_id").to_pylist(), reports.column("status").to_pylist()))


def evaluate(reports: pd.DataFrame, cells: pd.DataFrame, subtotals: pd.DataFrame, figures: pd.DataFrame) -> pd.DataFrame:
    """Measures of every in-table and narrative rule for some reports (all eras) with their outcome (the GX rule
    suites check them after the merge: ``queue_validation``, ``warehouse.gx_validation``)."""
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
        frames.append(m)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def _narrative(era: str, ids: list[str], cells: pd.DataFrame, figures: pd.DataFrame) -> pd.DataFrame:
    """Narrative-rule measures of some reports (one era)."""
    rows = []
    wanted = set(ids)
    figs_of: dict[str, list] = {}
    if len(figures):
        f = figures[figures.report_id.isin(wanted)]
        for r in f.itertuples(index=False):
            figs_of.setdefault(r.report_id, []).append(NarrativeFigure(
                r.figure, r.value, r.code, r.qualifier, r.sentence, None if pd.isna(r.line) else int(r.line),
                None if pd.isna(r.page) else int(r.page), len(figs_of.get(r.report_id, ())), int(r.occurrence)))
    c = cells[cells.report_id.isin(wanted)]
    values_of: dict[str, dict] = {}
    for rid, code, value in zip(c.report_id, c.code, c.value):
        values_of.setdefault(rid, {})[code] = None if pd.isna(value) else float(value)
    for rid in ids:
        for row in narrative_measures(era, figs_of.get(rid, []), values_of.get(rid, {})):
            row["report_id"] = rid
            rows.append(row)
    return pd.DataFrame(rows, columns=[*MEASURE_COLUMNS, "evidence", "bound"])


def decide_status(reports: pd.DataFrame, measures: pd.DataFrame, issues: pd.DataFrame) -> pd.DataFrame:
    """Fill status, reason and rule counts of each report."""
    reports = reports.copy()
    for col in ("n_errors", "n_warnings", "n_not_assessable"):
        reports[col] = 0
    first_errors: dict[str, list[str]] = {}
    if not measures.empty:
        fails = measures[measures.outcome == "fail"]
        errors = fails[fails.severity == "error"]
        n_err = errors.groupby("report_id").size()
        n_warn = fails[fails.severity == "warning"].groupby("report_id").size()
        n_na = measures[(measures.outcome == "not_assessable") & measures.touched].groupby("report_id").size()
        reports["n_errors"] = reports.report_id.map(n_err).fillna(0).astype(int)
        reports["n_warnings"] = reports.report_id.map(n_warn).fillna(0).astype(int)
        reports["n_not_assessable"] = reports.report_id.map(n_na).fillna(0).astype(int)
        for r in errors.itertuples(index=False):
            msgs = first_errors.setdefault(r.report_id, [])
            if len(msgs) < 3:
                msgs.append(message(r))
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
# writing a shard


def _rows_of(table: pa.Table, ids: set[str]) -> pa.Table:
    if not ids or not table.num_rows:
        return table.slice(0, 0)
    return table.filter(pc.is_in(table.column("report_id"), pa.array(sorted(ids), pa.string())))


def _write_shard(storage: Storage, shard: ShardWork, tables: dict[str, pa.Table], raw_dir: Path,
                 held: set[str], limited: set[str], cpu: dict | None = None) -> dict:
    """Write one shard (its unchanged documents' rows copied from its previous files, plus the new rows) and its state.

    A document stopped by a limit gets a version no plan produces, so it is evaluated again whenever its
    year is planned (the limits are among a year's build inputs: changing them plans every year)."""
    new_ids = {d.report_id for d in shard.docs}
    keep = set(shard.keep)
    final = {}
    for table in SHARD_TABLES:
        parts = [_rows_of(tables[table], new_ids)]
        if keep and shard.previous:
            old = storage.read_table(shard_file(table, shard.partition_key, shard.shard), schema=arrow_schema(table))
            if old is not None:
                parts.insert(0, _rows_of(old, keep))
        final[table] = pa.concat_tables(parts)
        storage.write_table(shard_file(table, shard.partition_key, shard.shard), final[table])
    previous = storage.read_json(shard_state_path(shard.partition_key, shard.shard)) or {}
    reports = final["reports"]
    agency_of = dict(zip(reports.column("report_id").to_pylist(), reports.column("agency_printed").to_pylist()))
    held_now = {**{k: v for k, v in previous.get("held", {}).items() if k in keep},
                **{rid: agency_key(raw_dir, agency_of.get(rid)) for rid in held & new_ids}}
    versions = {k: v for k, v in previous.get("docs", {}).items() if k in keep}
    twins = _twin_versions(storage, raw_dir, shard, held_now)
    for d in shard.docs:
        version = held_version(d.base_version, twins[d.report_id]) if d.report_id in held_now else d.base_version
        versions[d.report_id] = f"retry:{version}" if d.report_id in limited else version
    fingerprint = shard_fingerprint(shard.bits, versions)
    state = {
        "fingerprint": fingerprint, "planned": shard.fingerprint, "docs": versions, "held": held_now,
        "evaluated": len(new_ids), "kept": len(keep), "cpu": cpu or {},
        "summary": shard_summary(final),
    }
    storage.write_json(shard_state_path(shard.partition_key, shard.shard), state)
    return {"partition_key": shard.partition_key, "shard": shard.shard, **state}


def _twin_versions(storage: Storage, raw_dir: Path, shard: ShardWork, held: dict[str, str]) -> dict[str, str]:
    """The other copies' digest of each new document that needed them (as the next run's plan computes it)."""
    wanted = {d.report_id: held[d.report_id] for d in shard.docs if d.report_id in held}
    if not wanted:
        return {}
    from pipelines.warehouse.store import read_inventory

    inventory = read_inventory(storage)
    return twin_digests(raw_dir, inventory[inventory.partition_key == shard.partition_key], wanted)


def shard_summary(tables: dict[str, pa.Table]) -> dict:
    """What the Dagster checks report about a shard: statuses, failures and not-assessable instances per rule, rows."""
    results = tables["document_rule_results"].select(["rule_id", "report_id", "outcome"]).to_pandas()
    fails = results[results.outcome == "fail"]
    rules = {}
    for rule_id, g in fails.groupby("rule_id"):
        ids = sorted(set(g.report_id))
        rules[rule_id] = {"failed": len(g), "reports": len(ids), "report_ids": ids[:REPORTS_TOP]}
    na = results[results.outcome == "not_assessable"].rule_id.value_counts().to_dict()
    eras = {e for e in tables["reports"].column("era").to_pylist() if e}
    return {
        "documents": tables["reports"].num_rows,
        "eras": sorted(eras),
        "statuses": dict(Counter(tables["reports"].column("status").to_pylist())),
        "rules": rules,
        "not_assessable": {k: int(v) for k, v in na.items()},
        "rows": {t: tables[t].num_rows for t in SHARD_TABLES},
    }
