"""What the DuckDB-writing assets do: the merge of report years, and the warehouse-wide tables recomputed for what changed.

Every load appends the reports it inserted, replaced or removed to ``_changes`` (with the body
and year they had). The warehouse-wide assets consume that log:

* ``cross_rule_results`` recomputes the findings of the reports a change can affect: the
  changed bodies in the changed year and the next (Y-* compares a report with the previous
  year's) and the region aggregates above them in that year (L-* compares an aggregate with its
  children) — everything when the rule code or the agency registry changed;
* ``out_region_rollups`` recomputes the regions above the changed bodies, in the changed years;
* ``quality_report`` is rewritten when anything changed.

Each consumer records how far it has read the log (``_consumers``) in the same transaction as
its writes, so a failure leaves it to redo the same changes next time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa

from pipelines.agencies import AgencyRegistry
from pipelines.extract.text import norm
from pipelines.process import ENGINE_VERSION, code_digest, identity_digest
from pipelines.warehouse.reference import reference_frames
from pipelines.warehouse.schema import arrow_schema
from pipelines.warehouse.store import (
    CROSS_TABLE, UNDATED, _transaction, consumer_state, last_change_seq, load_years, mark_consumed, pending_changes, reading,
    replace_table,
)

CHUNK_REPORTS = 10_000  # reports whose cross-year findings are computed at once (bounds memory on a full recompute)
_RULES_DIR = Path(__file__).resolve().parent.parent / "rules"


def load(cfg, keys: list[str]) -> dict[str, dict]:
    """Merge report years into DuckDB (one transaction), with the reference tables (the agencies include the bodies the
    loaded reports resolved to) and the analysis tables of the changed reports refreshed."""
    return load_years(cfg.warehouse, cfg.storage, keys, lambda seen: reference_frames(cfg.raw, seen),
                      inputs=_fingerprint(identity_digest(cfg.raw), code_digest(Path(__file__).with_name("reference.py"))))


def published_violations(warehouse: Path, keys: list[str]) -> dict[str, set[str]]:
    """Per report year, published reports with an error-level failure or without a report year (should be none)."""
    out: dict[str, set[str]] = {}
    with reading(warehouse) as con:
        if con is None:
            return out
        rows = con.execute(
            """SELECT coalesce(CAST(p.report_year AS VARCHAR), ?), p.report_id FROM published_reports p
               WHERE p.report_year IS NULL OR EXISTS (SELECT 1 FROM rule_results r WHERE r.report_id = p.report_id
                     AND r.outcome = 'fail' AND r.severity = 'error')""", [UNDATED]).fetchall()
    for key, rid in rows:
        if key in keys:
            out.setdefault(key, set()).add(rid)
    return out


# --------------------------------------------------------------------------------------------
# consumers of the change log


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _pending(cfg, name: str, fingerprint: str) -> tuple[int, pd.DataFrame | None, bool]:
    """(latest seq, changes to process — None means everything —, whether there is nothing to do)."""
    with reading(cfg.warehouse) as con:
        if con is None:
            return 0, None, True
        state = consumer_state(con, name)
        last, changes = pending_changes(con, name) if state is not None else (last_change_seq(con), None)
    if state is not None and state[1] == fingerprint:
        return last, changes, changes.empty
    return last, None, False


def _saved(cfg, name: str) -> dict | None:
    return cfg.storage.read_json(f"state/assets/{name}.json")


def _save(cfg, name: str, summary: dict) -> None:
    cfg.storage.write_json(f"state/assets/{name}.json", summary)


def body_keys(frame: pd.DataFrame) -> pd.Series:
    """Identity of each report's body across years: agency registry id, else the normalized printed name."""
    out = frame.agency_id.astype(object).copy()
    missing = out.isna()
    out[missing] = "printed:" + frame.agency[missing].fillna("").map(norm)
    return out


def refresh_cross_rules(cfg, log: Callable[[str], None] | None = None) -> dict:
    """Recompute cross-report findings for what changed since the last time (everything on the first run)."""
    from pipelines.rules.cross_rules import CROSS_MEASURE_COLUMNS, children_of, cross_measures
    from pipelines.rules.evaluate import outcome
    from pipelines.rules.findings import rule_result_rows
    from pipelines.warehouse.gx_validation import enqueue

    name = "cross_rule_results"
    fingerprint = _fingerprint(ENGINE_VERSION, code_digest(_RULES_DIR / "cross_rules.py"), identity_digest(cfg.raw))
    last, changes, nothing = _pending(cfg, name, fingerprint)
    saved = _saved(cfg, name)
    if nothing and saved is not None:
        return {**saved, "skipped_unchanged": True, "reports_evaluated": 0, "instances": 0}
    frames, targets_all = [], set()
    with reading(cfg.warehouse) as con:
        agencies = _agencies(con)
        kids = children_of(agencies)
        meta, targets, removed = _cross_scope(con, changes, agencies)
        for ids in _chunks(meta, targets, kids):
            con.register("_need", pa.table({"report_id": pa.array(sorted(ids["need"]), pa.string())}))
            cells = con.execute("SELECT report_id, code, value, recovery FROM cells WHERE report_id IN "
                                "(SELECT report_id FROM _need)").df()
            con.unregister("_need")
            m = cross_measures(meta[meta.report_id.isin(ids["need"])], cells, agencies, targets=ids["targets"])
            if len(m):
                frames.append(m)
            targets_all |= ids["targets"]
    measures = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CROSS_MEASURE_COLUMNS)
    measures["outcome"] = outcome(measures.violation.astype(float))
    rows = rule_result_rows(measures, {})
    years = set() if changes is None else (
        set(meta[meta.report_id.isin(targets_all)].report_year.astype(int))
        | {int(y) + d for y in changes.report_year.dropna() for d in (0, 1)})
    with _transaction(cfg.warehouse) as con:
        if changes is None:
            replace_table(con, CROSS_TABLE, rows)
        else:
            gone = sorted(targets_all | removed)
            con.register("_gone", pa.table({"report_id": pa.array(gone, pa.string())}))
            replace_table(con, CROSS_TABLE, rows, where="report_id IN (SELECT report_id FROM _gone)")
            con.unregister("_gone")
        mark_consumed(con, name, last, fingerprint)
        # the GX rule suites validate these measures after the merge (gx_validation): queued before the commit
        enqueue(cfg.storage, f"cross-{last}-{fingerprint[:12]}", measures,
                reports=sorted(targets_all))
        by_year = _export_by_year(con, cfg.storage, CROSS_TABLE, years, full=changes is None)
        summary = _cross_summary(con)
    summary.update(rows=sum(by_year.values()) if changes is None else summary["rows"])
    _save(cfg, name, summary)
    if log:
        log(f"cross-report rules: {len(targets_all)} report(s) evaluated, {len(measures)} instances "
            + ("(everything)" if changes is None else f"(after {len(changes)} changed report(s))"))
    return {**summary, "skipped_unchanged": False, "reports_evaluated": len(targets_all), "instances": len(measures)}


def _agencies(con) -> AgencyRegistry:
    """The warehouse's agencies table (registry divisions, resolved bodies, raw/agencies.csv) as a registry."""
    return AgencyRegistry.from_frame(con.execute("SELECT * FROM agencies").df())


def _cross_scope(con, changes: pd.DataFrame | None, agencies: AgencyRegistry):
    """(reports' metadata needed, report ids whose findings are recomputed, report ids removed since)."""
    cols = "report_id, report_year, era, scope, agency_id, agency, status"
    if changes is None:
        meta = con.execute(f"SELECT {cols} FROM reports WHERE report_year IS NOT NULL").df()
        meta["body"] = body_keys(meta)
        return meta, set(meta.report_id), set()
    years = sorted({int(y) + d for y in changes.report_year.dropna() for d in (-1, 0, 1)})
    meta = con.execute(f"SELECT {cols} FROM reports WHERE report_year IN (SELECT unnest(?::BIGINT[]))", [years]).df()
    meta["body"] = body_keys(meta)
    changed = changes.dropna(subset=["report_year"]).assign(body=lambda f: body_keys(f))
    pairs = {(b, int(y) + d) for b, y in zip(changed.body, changed.report_year) for d in (0, 1)}
    for aid, y in zip(changed.agency_id, changed.report_year):  # the region aggregate above a changed body
        agency = agencies.agencies.get(aid) if isinstance(aid, str) else None
        if agency is not None and agency.parent_id:
            pairs.add((agency.parent_id, int(y)))
    hit = [(b, int(y)) in pairs for b, y in zip(meta.body, meta.report_year)]
    targets = set(meta.report_id[hit])
    removed = set(changes.report_id) - set(meta.report_id)
    return meta, targets, removed


def _chunks(meta: pd.DataFrame, targets: set[str], kids: dict[str, list[str]]):
    """Groups of target reports (by year and body) with every report they are compared with."""
    if not targets:
        return
    t = meta[meta.report_id.isin(targets)]
    wanted = set(t.body) | {kid for aid in set(t[t.scope == "region_aggregate"].agency_id.dropna()) for kid in kids.get(aid, [])}
    index: dict[tuple, list[str]] = {}  # (body, year) -> report ids, for the bodies the targets are compared with
    for body, year, rid in zip(meta.body, meta.report_year, meta.report_id):
        if body in wanted:
            index.setdefault((body, year), []).append(rid)
    for year, group in t.groupby("report_year"):
        bodies = sorted(set(group.body))
        per = max(1, CHUNK_REPORTS * len(bodies) // max(1, len(group)))
        for i in range(0, len(bodies), per):
            chunk = set(bodies[i : i + per])
            chosen = group[group.body.isin(chunk)]
            need = set(chosen.report_id)
            for b in chunk:
                need.update(index.get((b, year - 1), []))
            for aid in set(chosen[chosen.scope == "region_aggregate"].agency_id.dropna()):
                for kid in kids.get(aid, []):
                    need.update(index.get((kid, year), []))
            yield {"targets": set(chosen.report_id), "need": need}


def _cross_summary(con) -> dict:
    rows = con.execute(f"SELECT count(*) FROM {CROSS_TABLE}").fetchall()[0][0]
    fails = con.execute(f"SELECT rule_id, coalesce(CAST(report_year AS VARCHAR), '{UNDATED}'), report_id, count(*) "
                        f"FROM {CROSS_TABLE} WHERE outcome = 'fail' GROUP BY ALL ORDER BY ALL").fetchall()
    na = dict(con.execute(f"SELECT rule_id, count(*) FROM {CROSS_TABLE} WHERE outcome = 'not_assessable' GROUP BY 1").fetchall())
    rules: dict[str, dict] = {}
    for rule_id, year, rid, n in fails:
        r = rules.setdefault(rule_id, {"failed": 0, "by_year": {}, "not_assessable": 0})
        r["failed"] += n
        ids = r["by_year"].setdefault(year, [])
        if len(ids) < 20:
            ids.append(rid)
    for rule_id, n in na.items():
        rules.setdefault(rule_id, {"failed": 0, "by_year": {}, "not_assessable": 0})["not_assessable"] = n
    return {"rows": rows, "rules": rules}


def _export_by_year(con, storage, table: str, years: set[int], full: bool) -> dict[int, int]:
    """Write ``parquet/<table>/<year>.parquet`` for the given years (all years, and no stale file, when ``full``)."""
    present = {y for (y,) in con.execute(f'SELECT DISTINCT report_year FROM "{table}" WHERE report_year IS NOT NULL').fetchall()}
    if full:
        for rel in storage.list(f"parquet/{table}"):
            stem = rel.rsplit("/", 1)[-1].removesuffix(".parquet")
            if stem.isdigit() and int(stem) not in present:
                storage.delete(rel)
        years = present
    out = {}
    for year in sorted(years):
        rel = f"parquet/{table}/{year}.parquet"
        if year not in present:
            storage.delete(rel)
            continue
        arrow = con.sql(f'SELECT * FROM "{table}" WHERE report_year = $year', params={"year": year}).to_arrow_table()
        storage.write_table(rel, arrow.cast(arrow_schema(table)))
        out[year] = arrow.num_rows
    return out


def export_rollups(cfg) -> dict:
    """Write the Parquet copy of ``out_region_rollups`` for the report years changed since the last export (all of
    them the first time) and summarise the table; the table itself is kept in step by every load
    (``facts.refresh_analysis``, inside the load's transaction)."""
    name = "out_region_rollups"
    fingerprint = _fingerprint(ENGINE_VERSION, identity_digest(cfg.raw))
    last, changes, nothing = _pending(cfg, name, fingerprint)
    saved = _saved(cfg, name)
    if nothing and saved is not None:
        return {**saved, "skipped_unchanged": True}
    years = None if changes is None else set(changes.report_year.dropna().astype(int))
    with _transaction(cfg.warehouse) as con:
        _export_by_year(con, cfg.storage, name, years or set(), full=years is None)
        total = con.execute(f"SELECT count(*), count(DISTINCT region_id), count(*) FILTER (WHERE abs(coalesce(difference, 0)) > 1e-6) "
                            f"FROM {name}").fetchall()[0]
        mark_consumed(con, name, last, fingerprint)
    summary = {"rows": total[0], "regions": total[1], "mismatching_cells": total[2]}
    _save(cfg, name, summary)
    return {**summary, "skipped_unchanged": False}


def unless_unchanged(cfg, name: str, compute: Callable[[], dict], outputs: tuple[Path, ...] = ()) -> tuple[dict, bool]:
    """Run ``compute()`` only when the warehouse changed since ``name`` last ran or an output is missing."""
    fingerprint = _fingerprint(ENGINE_VERSION, identity_digest(cfg.raw))
    last, _, nothing = _pending(cfg, name, fingerprint)
    saved = _saved(cfg, name)
    if nothing and saved is not None and all(Path(o).exists() for o in outputs):
        return saved, True
    summary = compute()
    with _transaction(cfg.warehouse) as con:
        mark_consumed(con, name, last, fingerprint)
        con.execute("DELETE FROM _changes WHERE seq <= (SELECT min(seq) FROM _consumers)")
    _save(cfg, name, summary)
    return summary, False

