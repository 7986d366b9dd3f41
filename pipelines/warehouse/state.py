"""A report year's manifest: its shards, their fingerprints and summaries, written once the year's work is done.

``state/years/<year>.json`` is what the loader, the checks and the next run's plan read. It is
written after every shard of the year has been written (each shard file and shard state
atomically), so a run that stops halfway leaves the previous manifest in place; the next run
sees the same shards as changed and redoes only the documents whose rows are not there yet.
"""

from __future__ import annotations

from collections import Counter

from pipelines.shards import YearPlan, shard_file, shard_state_path, year_file, year_fingerprint, year_state_path
from pipelines.warehouse.storage import Storage
from pipelines.warehouse.store import SHARD_TABLES

REPORTS_TOP = 50


def publish_years(storage: Storage, plans: list[YearPlan]) -> tuple[dict[str, dict], list[dict]]:
    """Write the manifest of every planned year whose shards were rewritten (unchanged years keep theirs).

    Returns each year's summary and the states of the shards written in this run. A planned shard whose
    state is not the one this run wrote (a step failed) stops the publication of its year.
    """
    out, written = {}, []
    for plan in plans:
        previous = storage.read_json(year_state_path(plan.partition_key)) or {}
        if plan.unchanged and previous.get("fingerprint") == plan.fingerprint:
            out[plan.partition_key] = combine(previous.get("shards", {}), previous.get("copies"))
            continue
        old = previous.get("shards", {}) if previous.get("bits") == plan.bits else {}
        shards = {}
        for shard, fingerprint in plan.shards.items():
            if shard in plan.dirty:
                state = storage.read_json(shard_state_path(plan.partition_key, shard)) or {}
                if state.get("planned") != fingerprint:
                    raise RuntimeError(f"report year {plan.partition_key}: shard {shard} was planned but not written")
                # its fingerprint may now include what the run learnt (reports that need other copies)
                shards[shard] = {"fingerprint": state["fingerprint"], "summary": state["summary"], "held": state["held"]}
                written.append(state)
            else:
                shards[shard] = old[shard]
        fingerprint = year_fingerprint(plan.bits, {s: v["fingerprint"] for s, v in shards.items()})
        copies = write_copies(storage, plan.partition_key, shards)
        storage.write_json(year_state_path(plan.partition_key), {
            "fingerprint": fingerprint, "bits": plan.bits, "documents": plan.documents, "inputs": plan.inputs,
            "shards": shards, "copies": copies})
        for shard in plan.stale:
            for table in SHARD_TABLES:
                storage.delete(shard_file(table, plan.partition_key, shard))
            storage.delete(shard_state_path(plan.partition_key, shard))
        out[plan.partition_key] = combine(shards, copies)
    return out, written


def write_copies(storage: Storage, key: str, shards: dict) -> dict:
    """Group the year's copies of one report (``report_copies``, from all its shards' reports) and write them;
    returns their row count (their GX schema suite runs after the merge, ``warehouse.gx_validation``). Copies share a
    report year, so a year is the whole group."""
    import pyarrow as pa

    from pipelines.identity.copies import report_copies
    from pipelines.warehouse.schema import arrow_schema, conform, to_arrow

    parts = [storage.read_table(shard_file("reports", key, s), schema=arrow_schema("reports")) for s in sorted(shards)]
    parts = [p for p in parts if p is not None]
    reports = pa.concat_tables(parts).to_pandas() if parts else arrow_schema("reports").empty_table().to_pandas()
    copies = conform("report_copies", report_copies(reports))
    storage.write_table(year_file("report_copies", key), to_arrow("report_copies", copies))
    return {"rows": len(copies)}


def combine(shards: dict, copies: dict | None = None) -> dict:
    """One year's summary from its shards' summaries (exact counts; up to REPORTS_TOP report ids per rule)."""
    statuses, na, rows = Counter(), Counter(), Counter()
    rules: dict[str, dict] = {}
    eras, documents = set(), 0
    for entry in shards.values():
        s = entry["summary"]
        documents += s["documents"]
        statuses.update(s["statuses"])
        na.update(s["not_assessable"])
        rows.update(s["rows"])
        eras.update(s.get("eras", []))
        for rule_id, r in s["rules"].items():
            agg = rules.setdefault(rule_id, {"failed": 0, "reports": 0, "report_ids": []})
            agg["failed"] += r["failed"]
            agg["reports"] += r["reports"]
            agg["report_ids"] = sorted(agg["report_ids"] + r["report_ids"])[:REPORTS_TOP]
    if copies:
        rows["report_copies"] = copies["rows"]
    return {"documents": documents, "statuses": dict(statuses), "not_assessable": dict(na), "rows": dict(rows),
            "rules": rules, "eras": sorted(eras)}


def years_to_build(storage: Storage, keys: list[str], changed: set[str], inputs: dict, loaded: dict[str, str]) -> list[str]:
    """Report years a run must plan: documents changed (``changed``, from the inventory), never built, built with
    other code or registry versions (``inputs``), or not loaded into DuckDB as last published (``loaded``)."""
    out = []
    for key in keys:
        manifest = storage.read_json(year_state_path(key))
        if (key in changed or manifest is None or manifest.get("inputs") != inputs
                or loaded.get(key) != manifest.get("fingerprint")):
            out.append(key)
    return out


def year_summary(storage: Storage, key: str) -> dict | None:
    """The summary of a report year as last published (None when the year was never processed)."""
    manifest = storage.read_json(year_state_path(key))
    return None if manifest is None else combine(manifest.get("shards", {}), manifest.get("copies"))
