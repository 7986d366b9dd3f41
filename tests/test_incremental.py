"""Incremental runs: the raw/ sensor re-runs only the affected report year; an unchanged rerun writes nothing;
a new parser version re-extracts."""

from __future__ import annotations

import hashlib
import shutil

import dagster as dg
import duckdb
import pytest

from conftest import RAW
from pipelines import process
from pipelines.definitions import ALL_ASSETS
from pipelines.defs.automation import YEAR_ASSETS, raw_changes
from pipelines.defs.resources import WarehouseConfig
from pipelines.inventory import scan
from pipelines.runner import run_pipeline
from pipelines.warehouse.publish import LOCK_FILE

DOCS = ["incoming/gansu_ganzhou_district_gov_2016.txt", "pingtan/pingtan_zone_admin_committee_2023.html"]


def data_files(wh):
    """The warehouse's files (the Dagster instance and the writer's lock file excluded)."""
    return [p for p in sorted(wh.rglob("*")) if p.is_file() and ".dagster" not in p.parts and p.name != LOCK_FILE]


def snapshot(wh):
    """Every data file of the warehouse with its content hash."""
    return {str(p.relative_to(wh)): hashlib.sha256(p.read_bytes()).hexdigest() for p in data_files(wh)}


@pytest.fixture
def built(tmp_path, raw_copy):
    raw = raw_copy(DOCS)
    wh = tmp_path / "warehouse"
    instance = dg.DagsterInstance.ephemeral()
    run_pipeline(raw, wh, workers=1, progress=False, instance=instance)
    return raw, wh, instance


def test_unchanged_rerun_writes_nothing(built):
    raw, wh, instance = built
    before = snapshot(wh)
    mtimes = {p: p.stat().st_mtime_ns for p in data_files(wh)}
    run_pipeline(raw, wh, workers=1, progress=False, instance=instance)
    assert snapshot(wh) == before
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def test_sensor_runs_only_the_affected_year(built):
    raw, wh, instance = built
    resources = {"warehouse": WarehouseConfig(raw_dir=str(raw), warehouse_dir=str(wh), workers=1, progress=False)}
    context = dg.build_sensor_context(instance=instance, resources=resources)
    assert isinstance(raw_changes(context), dg.SkipReason)  # nothing new

    shutil.copy2(RAW / "incoming" / "fujian_pingtan_zone_admin_committee_2023.txt", raw / "incoming" / "new_2023.txt")
    before = snapshot(wh)
    result = raw_changes(dg.build_sensor_context(instance=instance, resources=resources))
    assert [r.partition_key for r in result.run_requests] == ["2023"]
    for request in result.run_requests:  # what the daemon would launch
        dg.materialize(ALL_ASSETS, selection=dg.AssetSelection.assets(*YEAR_ASSETS), partition_key=request.partition_key,
                       instance=instance, resources=resources)
    after = snapshot(wh)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert any(k.endswith("2023.parquet") for k in changed)
    assert not [k for k in changed if k.endswith("2016.parquet")]  # the other year is not touched
    con = duckdb.connect(str(wh / "xxgk.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM reports WHERE report_id = 'incoming/new_2023.txt'").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM reports WHERE report_year = 2016").fetchone()[0] == 1
    finally:
        con.close()
    again = raw_changes(dg.build_sensor_context(instance=instance, resources=resources, cursor=result.cursor))
    assert isinstance(again, dg.SkipReason)


def test_new_parser_version_reextracts(built, monkeypatch):
    raw, wh, _ = built
    inventory = scan(raw)
    monkeypatch.setattr(process, "PARSER_VERSION", "9999.1+test")
    out = process.process_partition(raw, wh, inventory, "2023", workers=1)
    assert not out.skipped and out.extracted == out.documents == 1 and out.reused == 0
    cells = process.read_parquet(wh, "cells", "2023")
    assert set(cells.parser_version) == {"9999.1+test"}
    again = process.process_partition(raw, wh, inventory, "2023", workers=1)
    assert again.skipped


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


def test_failed_load_leaves_the_warehouse_as_it_was(built):
    """A load that breaks halfway (a damaged Parquet file) rolls back: DuckDB keeps every previous row."""
    from pipelines.warehouse.reference import reference_frames
    from pipelines.warehouse.store import loaded_fingerprint, load_partition, parquet_path

    raw, wh, _ = built

    def contents():
        con = duckdb.connect(str(wh / "xxgk.duckdb"), read_only=True)
        try:
            return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("reports", "cells", "document_rule_results")}
        finally:
            con.close()

    before, fingerprint = contents(), loaded_fingerprint(wh, "2023")
    assert before["cells"] > 0 and fingerprint
    parquet_path(wh, "document_rule_results", "2023").write_bytes(b"not a parquet file")  # reports and cells load first
    with pytest.raises(Exception, match="(?i)parquet"):
        load_partition(wh, "2023", reference_frames(raw), fingerprint="changed")
    assert contents() == before
    assert loaded_fingerprint(wh, "2023") == fingerprint
