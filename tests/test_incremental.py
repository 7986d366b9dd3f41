"""Incremental runs: the raw/ sensor re-runs only the affected report year; an unchanged rerun writes nothing; a new
parser version re-extracts; only changed reports are touched in DuckDB; a broken load changes nothing."""

from __future__ import annotations

import hashlib
import shutil

import dagster as dg
import pytest

from conftest import RAW, query
from pipelines import process
from pipelines.definitions import build_definitions
from pipelines.defs.automation import raw_changes
from pipelines.runner import run_pipeline, warehouse_config
from pipelines.warehouse.stamp import STAMP
from pipelines.warehouse.storage import storage_for
from pipelines.warehouse.publish import LOCK_FILE
from pipelines.warehouse.store import PARTITIONED_TABLES, read_inventory

DOCS = ["incoming/gansu_ganzhou_district_gov_2016.txt", "pingtan/pingtan_zone_admin_committee_2023.html"]


def data_files(wh):
    """The warehouse's files (the Dagster instance and the writer's lock file excluded)."""
    return [p for p in sorted(wh.rglob("*")) if p.is_file() and ".dagster" not in p.parts and p.name != LOCK_FILE]


def snapshot(wh):
    """Every data file of the warehouse with its content hash."""
    return {str(p.relative_to(wh)): hashlib.sha256(p.read_bytes()).hexdigest() for p in data_files(wh)}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One build of DOCS, copied for each test (each test changes its own copy)."""
    base = tmp_path_factory.mktemp("template")
    for rel in [*DOCS, "MANIFEST.csv", "agencies.csv"]:
        (base / "raw" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(RAW / rel, base / "raw" / rel)
    run_pipeline(base / "raw", base / "warehouse", workers=1, progress=False, instance=dg.DagsterInstance.ephemeral())
    return base


@pytest.fixture
def built(tmp_path, template):
    """A fresh copy of the template build (files keep their mtimes) and a new Dagster instance."""
    shutil.copytree(template / "raw", tmp_path / "raw")
    shutil.copytree(template / "warehouse", tmp_path / "warehouse")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("report_year", sorted(read_inventory(storage_for(tmp_path / "warehouse")).partition_key.unique()))
    return tmp_path / "raw", tmp_path / "warehouse", instance


def test_unchanged_rerun_writes_nothing(built):
    """Nothing changed: no Dagster run at all; and through Dagster (no record of the last run) nothing is written either."""
    raw, wh, instance = built
    before = snapshot(wh)
    mtimes = {p: p.stat().st_mtime_ns for p in data_files(wh)}
    runs = len(instance.get_runs())
    summary = run_pipeline(raw, wh, workers=1, progress=False, instance=instance)
    assert "nothing changed" in summary and len(instance.get_runs()) == runs
    (wh / STAMP).unlink()
    del before[STAMP]
    run_pipeline(raw, wh, workers=1, progress=False, instance=instance)
    assert len(instance.get_runs()) > runs
    after = snapshot(wh)
    assert {k: v for k, v in after.items() if k != STAMP} == before
    assert {p: p.stat().st_mtime_ns for p in mtimes if p.name != "last_run.json"} == {
        p: t for p, t in mtimes.items() if p.name != "last_run.json"}


def test_sensor_runs_only_the_affected_year(built):
    raw, wh, instance = built
    resources = {"warehouse": warehouse_config(raw, wh, workers=1, progress=False)}
    context = dg.build_sensor_context(instance=instance, resources=resources)
    assert isinstance(raw_changes(context), dg.SkipReason)  # nothing new

    shutil.copy2(RAW / "incoming" / "fujian_pingtan_zone_admin_committee_2023.txt", raw / "incoming" / "new_2023.txt")
    before = snapshot(wh)
    result = raw_changes(dg.build_sensor_context(instance=instance, resources=resources))
    assert [r.partition_key for r in result.run_requests] == ["2023"]
    job = build_definitions(resources["warehouse"]).resolve_job_def("build_report_year")
    for request in result.run_requests:  # what the daemon would launch
        assert job.execute_in_process(instance=instance, partition_key=request.partition_key).success
    after = snapshot(wh)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert any("/2023/" in k for k in changed)
    assert not [k for k in changed if "/2016/" in k or k.endswith("2016.json")]  # the other year is not touched
    assert query(wh, "SELECT count(*) FROM reports WHERE report_id = 'incoming/new_2023.txt'") == [(1,)]
    assert query(wh, "SELECT count(*) FROM reports WHERE report_year = 2016") == [(1,)]
    again = raw_changes(dg.build_sensor_context(instance=instance, resources=resources, cursor=result.cursor))
    assert isinstance(again, dg.SkipReason)


def counting_extraction(monkeypatch) -> list[str]:
    """The report ids of the documents the run sends to the extraction workers (appended as they are sent)."""
    calls = []
    real = process.run_all

    def counting(fn, items, *args, **kwargs):
        items = list(items)
        calls.extend(job[1] for job in items)
        return real(fn, items, *args, **kwargs)

    monkeypatch.setattr(process, "run_all", counting)
    return calls


def test_new_parser_version_reextracts(built, monkeypatch):
    """A new parser version misses every extraction record: each document is read again, and its cells say so."""
    raw, wh, instance = built
    calls = counting_extraction(monkeypatch)
    monkeypatch.setattr(process, "PARSER_VERSION", "9999.1+test")
    monkeypatch.setattr("pipelines.extract.PARSER_VERSION", "9999.1+test")
    (wh / STAMP).unlink()  # a real parser change is a code change, which the record of the last run notices
    run_pipeline(raw, wh, workers=1, progress=False, instance=instance)
    assert sorted(calls) == sorted(DOCS)
    assert query(wh, "SELECT DISTINCT parser_version FROM cells") == [("9999.1+test",)]
    calls.clear()
    (wh / STAMP).unlink()
    run_pipeline(raw, wh, workers=1, progress=False, instance=instance)
    assert calls == []  # the records of the new version are reused


def test_only_changed_reports_are_touched(built):
    """Adding a report re-reads only that document and inserts only its rows; removing one deletes only its rows; a
    file moved to another path reuses its extraction record (same content)."""
    raw, wh, instance = built
    process_patch = pytest.MonkeyPatch()
    calls = counting_extraction(process_patch)
    try:
        rowids = dict(query(wh, "SELECT report_id, min(rowid) FROM cells GROUP BY 1"))
        shutil.copy2(RAW / "incoming" / "shanghai_municipal_sci_tech_commission_2024.md", raw / "incoming" / "new_2024.txt")
        run_pipeline(raw, wh, workers=1, progress=False, instance=instance)
        assert calls == ["incoming/new_2024.txt"]
        assert dict(query(wh, "SELECT report_id, min(rowid) FROM cells WHERE report_id <> 'incoming/new_2024.txt' GROUP BY 1")) == rowids

        calls.clear()
        (raw / "incoming" / "new_2024.txt").rename(raw / "incoming" / "moved_2024.txt")
        run_pipeline(raw, wh, workers=1, progress=False, instance=instance)
        assert calls == []  # same bytes, same record
        ids = {r[0] for r in query(wh, "SELECT report_id FROM reports")}
        assert "incoming/moved_2024.txt" in ids and "incoming/new_2024.txt" not in ids
        assert query(wh, "SELECT count(*) FROM cells WHERE report_id = 'incoming/new_2024.txt'") == [(0,)]
        assert query(wh, "SELECT count(*) FROM rule_results WHERE report_id = 'incoming/new_2024.txt'") == [(0,)]
    finally:
        process_patch.undo()


def test_failed_load_leaves_the_warehouse_as_it_was(built):
    """A load that breaks halfway (a damaged Parquet shard) rolls back: DuckDB keeps every previous row and state."""
    from pipelines.shards import shard_file
    from pipelines.warehouse.loader import load
    from pipelines.warehouse.store import loaded_fingerprint

    raw, wh, instance = built

    def contents():
        return {t: query(wh, f"SELECT count(*) FROM {t}")[0][0] for t in ("reports", "cells", "document_rule_results")}

    shutil.copy2(RAW / "incoming" / "fujian_pingtan_zone_admin_committee_2023.txt", raw / "incoming" / "new_2023.txt")
    cfg = warehouse_config(raw, wh, workers=1, progress=False)
    job = build_definitions(cfg).resolve_job_def("build_report_year")
    before, fingerprint = contents(), loaded_fingerprint(wh, "2023")
    assert before["cells"] > 0 and fingerprint
    # extract and write the year's shards, without loading: then damage a shard the load reads after reports and cells
    selection = [dg.AssetKey("document_inventory"), *(dg.AssetKey(t) for t in PARTITIONED_TABLES)]
    assert job.execute_in_process(instance=instance, partition_key="2023", asset_selection=selection).success
    (wh / shard_file("document_rule_results", "2023", "0")).write_bytes(b"not a parquet file")
    with pytest.raises(Exception, match="(?i)parquet"):
        load(cfg, ["2023"])
    assert contents() == before
    assert loaded_fingerprint(wh, "2023") == fingerprint


def test_dagster_home_runs_one_run_at_a_time(tmp_path):
    """The instance xxgk creates queues sensor/backfill runs one at a time (DuckDB has one writer)."""
    from pipelines.runner import prepare_dagster_home

    home = tmp_path / "dagster_home"
    prepare_dagster_home(home)
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
    finally:
        instance.dispose()
    custom = "telemetry:\n  enabled: false\n"
    (home / "dagster.yaml").write_text(custom, encoding="utf-8")
    prepare_dagster_home(home)
    assert (home / "dagster.yaml").read_text(encoding="utf-8") == custom  # a hand-written file is kept
