"""Great Expectations validation of what a run wrote, after the DuckDB merge (asset ``gx_validation``).

The vectorised rule engine decides, alone and before anything is written, what is published
(``process``). Every work unit queues its new reports for GX (``process.queue_validation``:
the shards' new report ids and every rule instance's measure), and so does every recompute of
the cross-report rules (their measures); this step, after the merge, validates each queued entry
with the generated suites:

* the rule suite of each era (``rules_<era>``) on the entry's rule matrix must agree with the
  engine on every instance (``suites.disagreements``);
* the table schema suites (``table_<name>``) on the new rows of each shard and on the year's
  ``report_copies``.

What it finds goes to the DuckDB table ``gx_findings`` (one row per report and rule or failed
expectation; the rows of the validated reports are replaced, those of reports no longer in the
warehouse removed) in one transaction, after which the queue entries are deleted: a run that
stops before leaves them for the next one. A disagreement means the code of the engine or of
the suite generator is wrong: the report stays as the engine decided (the engine is the
blocking authority; a rule change re-evaluates every report), is listed in ``gx_findings`` and
in the auditor's report, the asset's check ``rule_suites_agree`` fails (severity ERROR) and
``xxgk run`` names it in its summary.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.registry import load_registry
from pipelines.shards import shard_file, year_file
from pipelines.warehouse.schema import arrow_schema, conform, to_arrow
from pipelines.warehouse.store import GX_TABLE, SHARD_TABLES, _transaction, reading, replace_table

COLUMNS = ["report_id", "report_year", "suite", "rule_id", "finding", "detail"]
GX_QUEUE = "state/gx_queue"  # entries waiting for the GX validation after the merge
BATCH_ROWS = 1_000_000  # rows of one table validated at once by its schema suite
MEASURE_ROWS = 2_000_000  # rule measures validated at once by the rule suites
_MEASURES = pa.schema([("report_id", pa.string()), ("rule_id", pa.string()), ("violation", pa.float64()), ("outcome", pa.string())])


def enqueue(storage, name: str, measures: pd.DataFrame, shards: list | None = None, reports: list[str] | None = None) -> None:
    """Queue rule measures (report_id, rule_id, violation, outcome of every instance) for validation after the merge:
    a unit's (``shards``: [partition, shard, new report ids], whose rows the schema suites check too) or the
    cross-report rules' (``reports``: the reports they were recomputed for)."""
    frame = measures[list(_MEASURES.names)] if len(measures) else pd.DataFrame({c: [] for c in _MEASURES.names})
    storage.write_table(f"{GX_QUEUE}/{name}.parquet", pa.Table.from_pandas(frame.reset_index(drop=True), schema=_MEASURES,
                                                                           preserve_index=False))
    storage.write_json(f"{GX_QUEUE}/{name}.json", {"measures": f"{GX_QUEUE}/{name}.parquet", "shards": shards or [],
                                                   "reports": sorted(reports) if reports is not None else None})


def pending(storage) -> list[str]:
    """The queued units (their JSON entries), oldest name first."""
    return [p for p in storage.list(GX_QUEUE) if p.endswith(".json")]


def validate_pending(cfg) -> dict:
    """Validate every queued entry, record the findings in ``gx_findings`` and empty the queue; returns a summary.

    The entries are validated together (GX's cost is mostly per expectation and batch, not per row): the rule
    suites once per era over the queued measures (in batches of at most ``MEASURE_ROWS`` rows), the schema suites
    once per table over the new rows of every queued shard (in batches of at most ``BATCH_ROWS`` rows)."""
    storage = cfg.storage
    entries = pending(storage)
    specs = [spec for spec in (storage.read_json(e) for e in entries) if spec is not None]
    validated = {rid for spec in specs for _, _, new in spec["shards"] for rid in new}
    cross = {rid for spec in specs if spec.get("reports") is not None for rid in spec["reports"]}
    findings = _rule_findings(storage, specs) + _schema_findings(storage, specs)
    frame = pd.DataFrame(findings, columns=COLUMNS).drop_duplicates(["report_id", "suite", "rule_id"], keep="last")
    if entries:
        with _transaction(cfg.warehouse) as con:
            year_of = dict(con.execute("SELECT report_id, report_year FROM reports WHERE report_id IN (SELECT unnest(?))",
                                       [sorted(set(frame.report_id))]).fetchall())
            frame["report_year"] = frame.report_id.map(year_of)
            con.register("_validated", pa.table({"report_id": pa.array(sorted(validated), pa.string())}))
            con.register("_cross", pa.table({"report_id": pa.array(sorted(cross), pa.string())}))
            con.register("_cross_rules", pa.table({"rule_id": pa.array(_cross_rule_ids(), pa.string())}))
            # a unit's entry replaces its reports' findings but the cross-report rules'; a cross entry only those
            replace_table(con, GX_TABLE, to_arrow(GX_TABLE, conform(GX_TABLE, frame)),
                          where="(report_id IN (SELECT report_id FROM _validated) AND rule_id NOT IN (SELECT rule_id FROM _cross_rules))"
                                " OR (report_id IN (SELECT report_id FROM _cross) AND rule_id IN (SELECT rule_id FROM _cross_rules))"
                                " OR report_id NOT IN (SELECT report_id FROM reports)")
            for name in ("_validated", "_cross", "_cross_rules"):
                con.unregister(name)
        for entry, spec in zip(entries, specs):
            if spec.get("measures"):
                storage.delete(spec["measures"])
            storage.delete(entry)
    return {**summary(cfg.warehouse), "entries_validated": len(entries), "reports_validated": len(validated | cross)}


def _cross_rule_ids() -> list[str]:
    return sorted(r.rule_id for r in load_registry().rules if r.kind in ("cross_year", "cross_level"))


def _rule_findings(storage, specs: list[dict]) -> list[tuple]:
    """Disagreements between the rule suites and the engine over the measures of every entry (each era's suite once
    per batch of ``MEASURE_ROWS`` measures)."""
    from pipelines.rules.suites import disagreements

    era_of = {r.rule_id: r.era for r in load_registry().rules}
    found = []
    for measures in _measure_batches(storage, specs):
        for era, group in measures.groupby(measures.rule_id.map(era_of)):
            for r in disagreements(group, era).itertuples(index=False):
                found.append((r.report_id, None, f"rules_{era}", r.rule_id, "disagreement",
                              f"the rule engine says {r.engine}, the GX suite rules_{era} says {r.gx}"))
    return found


def _measure_batches(storage, specs: list[dict]):
    """The queued measures as frames of at most ``MEASURE_ROWS`` rows, so that the memory of the validation does not
    grow with the queue (a full rebuild queues every report's measures).

    Splitting the rows anywhere gives the same disagreements: every rule expectation bounds the largest violation
    of a (report, rule) pair, and the instances over the bound are found in whichever batch holds them."""
    parts, rows = [], 0
    for spec in specs:
        table = storage.read_table(spec["measures"])
        start = 0
        while table is not None and start < table.num_rows:
            piece = table.slice(start, MEASURE_ROWS - rows)
            parts.append(piece)
            rows += piece.num_rows
            start += piece.num_rows
            if rows >= MEASURE_ROWS:
                yield pa.concat_tables(parts).to_pandas()
                parts, rows = [], 0
    if rows:
        yield pa.concat_tables(parts).to_pandas()


def _schema_findings(storage, specs: list[dict]) -> list[tuple]:
    """Schema-suite failures of the new rows of every queued shard and of the touched years' report_copies."""
    from pipelines.rules.suites import validate_table

    found = []
    shards = [(key, shard, new) for spec in specs for key, shard, new in spec["shards"]]
    for table in SHARD_TABLES:
        batch, rows = [], 0
        for i, (key, shard, new) in enumerate(shards):
            part = storage.read_table(shard_file(table, key, shard), schema=arrow_schema(table))
            if part is not None and part.num_rows:
                part = part.filter(pc.is_in(part.column("report_id"), pa.array(new, pa.string())))
                batch.append(part)
                rows += part.num_rows
            if batch and (rows >= BATCH_ROWS or i == len(shards) - 1):
                frame = pa.concat_tables(batch).to_pandas()
                if len(frame):
                    found.extend(_schema_rows(validate_table(frame, table)))
                batch, rows = [], 0
    for key in sorted({key for key, _, _ in shards}):
        found.extend(_copies_findings(storage, key))
    return found


def _copies_findings(storage, key: str) -> list[tuple]:
    copies = storage.read_table(year_file("report_copies", key), schema=arrow_schema("report_copies"))
    if copies is None or not copies.num_rows:
        return []
    from pipelines.rules.suites import validate_table

    return _schema_rows(validate_table(copies.to_pandas(), "report_copies"))


def _schema_rows(problems: list[tuple[str, list[str]]]) -> list[tuple]:
    out = []
    for text, ids in problems:
        table, what = text.split(": ", 1)
        for rid in ids or ["(unknown)"]:
            out.append((rid, None, f"table_{table}", what.split(" failed")[0], "schema", text))
    return out


def summary(warehouse) -> dict:
    """What ``gx_findings`` holds: disagreements and schema findings (counts, and up to 50 report ids each)."""
    out = {"disagreements": 0, "schema_findings": 0, "disagreeing_reports": [], "schema_reports": []}
    with reading(warehouse) as con:
        if con is None or not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                                          [GX_TABLE]).fetchone()[0]:
            return out
        for finding, key in (("disagreement", "disagreements"), ("schema", "schema_findings")):
            n, ids = con.execute(f"SELECT count(*), list(DISTINCT report_id ORDER BY report_id)[1:50] FROM {GX_TABLE} "
                                 "WHERE finding = ?", [finding]).fetchone()
            out[key] = n
            out["disagreeing_reports" if finding == "disagreement" else "schema_reports"] = list(ids or [])
    return out
