"""Great Expectations after the merge (``warehouse.gx_validation``): every unit a run writes is validated by the
generated suites once DuckDB has it; what GX finds is visible in gx_findings, in Dagster and in the run's summary."""

from __future__ import annotations

import shutil

import dagster as dg
import pandas as pd

from conftest import query
from pipelines.rules.evaluate import TOLERANCE
from pipelines.rules.suites import distinct_values, validate_table
from pipelines.runner import finish, summarize, warehouse_config
from pipelines.shards import shard_file
from pipelines.warehouse.gx_validation import enqueue, pending
from pipelines.warehouse.publish import writer_session
from pipelines.warehouse.storage import storage_for


def test_every_unit_validated_after_publish(clean_subset):
    """A clean run leaves nothing queued, and the GX result of what it wrote is in the warehouse: no findings."""
    raw, wh = clean_subset
    assert pending(storage_for(wh)) == []
    assert query(wh, "SELECT count(*) FROM gx_findings") == [(0,)]
    assert query(wh, "SELECT count(*) FROM reports") == [(3,)]


def _queue(storage, rows: list[dict], shards: list) -> None:
    enqueue(storage, "unit-test", pd.DataFrame(rows, columns=["report_id", "rule_id", "violation", "outcome"]), shards=shards)


def test_disagreement_flagged(clean_subset, tmp_path):
    """A unit whose engine outcome contradicts the GX rule suite (an instance over the tolerance the engine let pass)
    is flagged: a gx_findings row naming the report and the rule, a failed ERROR check, a line in the summary; the
    report itself stays as the engine decided and the queue entry is consumed."""
    raw, src = clean_subset
    wh = tmp_path / "warehouse"
    shutil.copytree(src, wh)
    storage = storage_for(wh)
    (rid, year, era), = query(wh, "SELECT report_id, report_year, era FROM reports WHERE era = 'v2021' LIMIT 1")
    status_before = query(wh, "SELECT status FROM reports WHERE report_id = ?", rid)
    rule = query(wh, "SELECT rule_id FROM rules WHERE era = 'v2021' AND kind = 'sum' ORDER BY rule_id LIMIT 1")[0][0]
    other = query(wh, "SELECT rule_id FROM rules WHERE era = 'v2021' AND kind = 'sum' ORDER BY rule_id LIMIT 1 OFFSET 1")[0][0]
    shard = next(int(p.rsplit("/", 1)[1].split(".")[0]) for p in storage.list(f"parquet/reports/{year}"))
    assert storage.exists(shard_file("reports", str(year), shard))
    _queue(storage, [{"report_id": rid, "rule_id": rule, "violation": TOLERANCE + 5.0, "outcome": "pass"},
                     {"report_id": rid, "rule_id": other, "violation": 0.0, "outcome": "pass"}],
           [[str(year), shard, [rid]]])
    cfg = warehouse_config(raw, wh, workers=1, progress=False)
    instance = dg.DagsterInstance.ephemeral()
    with writer_session(wh):
        failed, _ = finish(cfg, instance)
    assert failed == []
    assert query(wh, "SELECT report_id, suite, rule_id, finding FROM gx_findings") == [(rid, "rules_v2021", rule, "disagreement")]
    assert query(wh, "SELECT status FROM reports WHERE report_id = ?", rid) == status_before
    assert pending(storage) == []
    checks = {e.check_name: e for run in instance.get_runs() for e in
              (ev.dagster_event.event_specific_data for ev in instance.all_logs(run.run_id)
               if ev.dagster_event and ev.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION")}
    assert not checks["rule_suites_agree"].passed and checks["rule_suites_agree"].severity == dg.AssetCheckSeverity.ERROR
    assert rid in checks["rule_suites_agree"].metadata["reports"].value
    assert checks["table_schemas"].passed
    assert "GREAT EXPECTATIONS: 1 rule instance(s)" in summarize(wh, report_written=False)
    from pipelines.quality import write_report

    html = write_report(wh, with_data_docs=False).read_text(encoding="utf-8")
    assert rid in html and "disagreement" in html and rule in html

    # validated again without the contradiction: the finding is replaced
    _queue(storage, [{"report_id": rid, "rule_id": rule, "violation": TOLERANCE + 5.0, "outcome": "fail"}], [[str(year), shard, [rid]]])
    with writer_session(wh):
        finish(cfg, instance)
    assert query(wh, "SELECT count(*) FROM gx_findings") == [(0,)]


def test_schema_suite_on_distinct_values_names_the_reports():
    """The column expectations run on the distinct values of each column (same outcome); a failure is then located
    on the whole frame and names the offending reports; the key's uniqueness is checked on every row."""
    rows = [{"report_id": f"r{i}", "code": f"c{i % 3}", "value": float(i)} for i in range(9)]
    frame = pd.DataFrame(rows)
    small = distinct_values(frame, ["report_id", "code"])
    assert list(small.columns) == list(frame.columns) and len(small) == 9
    assert set(small.code) == {"c0", "c1", "c2"}
    from pipelines.registry import load_registry

    cols = [c.name for c in load_registry().table("report_copies")]
    good = pd.DataFrame([{c: None for c in cols} | {"report_id": f"r{i}", "copy_group": "g", "canonical_report_id": "r0",
                                                    "is_canonical": i == 0, "copy_role": "canonical" if i == 0 else "format_copy",
                                                    "reason": "x"} for i in range(3)])
    problems = validate_table(good, "report_copies")
    assert problems == []
    bad = good.copy()
    bad.loc[2, "copy_role"] = "not-a-role"
    bad = pd.concat([bad, bad.iloc[[1]]], ignore_index=True)
    found = validate_table(bad, "report_copies")
    assert {t.split(" ")[1] for t, _ in found} - {t.split(" ")[1] for t, _ in problems} == \
        {"expect_column_values_to_be_in_set", "expect_column_values_to_be_unique"}
    ids = {t.split(" ")[1]: i for t, i in found}
    assert ids["expect_column_values_to_be_in_set"] == ["r2"] and ids["expect_column_values_to_be_unique"] == ["r1"]


def test_new_report_published_before_gx_and_report(clean_subset, tmp_path):
    """`xxgk run` publishes the merged warehouse (the new report, its findings) before the GX validation and the
    quality report run, then publishes again: a reader opening the published file at that moment sees the report,
    and the queue entry of its unit still waiting for GX; after the run the queue is empty."""
    from conftest import RAW
    from pipelines.runner import run_pipeline
    from pipelines.warehouse.publish import published_path

    raw_src, src = clean_subset
    raw, wh = tmp_path / "raw", tmp_path / "warehouse"
    shutil.copytree(raw_src, raw)
    shutil.copytree(src, wh)
    new = "pingtan/pingtan_zone_admin_committee_2024.html"
    shutil.copy2(RAW / new, raw / new)
    seen = {}

    def reader():
        import duckdb

        con = duckdb.connect(str(published_path(wh)), read_only=True)
        seen["status"] = con.execute("SELECT status FROM reports WHERE report_id = ?", [new]).fetchall()
        con.close()
        seen["queued"] = len(pending(storage_for(wh)))

    run_pipeline(raw, wh, workers=1, progress=False, instance=dg.DagsterInstance.ephemeral(), on_published=reader)
    assert seen["status"] and seen["status"][0][0].startswith("published")
    assert seen["queued"] >= 1
    assert pending(storage_for(wh)) == []
    assert query(wh, "SELECT count(*) FROM gx_findings") == [(0,)]


def test_rule_measures_validated_in_batches_agree_with_one_batch(tmp_path, monkeypatch):
    """The queued measures are validated in bounded batches (a full rebuild queues every report's): any split of the
    rows gives the disagreements of one batch — here a report's instances of one rule spread over several batches,
    with disagreements both ways (GX fails what the engine passed, and the reverse)."""
    import pipelines.warehouse.gx_validation as gxv
    from pipelines.registry import load_registry
    from pipelines.rules.suites import all_suite_specs

    # what makes any split safe: every rule expectation bounds each (report, rule) pair's largest violation
    for era in ("old2014", "v2019", "v2021"):
        for e in all_suite_specs()[f"rules_{era}"]["expectations"]:
            assert e["type"] == "expect_column_values_to_be_between" and set(e["kwargs"]) == {"column", "max_value"}
    storage = storage_for(tmp_path)
    rules = [r.rule_id for r in load_registry().rules_for("v2021")][:3]
    big, small = TOLERANCE + 3.0, 0.0
    for n, rows in enumerate([
        [("a", rules[0], small, "pass"), ("a", rules[0], big, "pass"), ("b", rules[1], big, "fail")],  # a: GX fails it
        [("a", rules[0], small, "pass"), ("c", rules[2], small, "fail"), ("c", rules[2], None, "not_assessable")],  # c: GX passes
        [("d", rules[1], big, "fail"), ("d", rules[1], small, "pass"), ("b", rules[1], small, "pass")],
    ]):
        enqueue(storage, f"e{n}", pd.DataFrame(rows, columns=["report_id", "rule_id", "violation", "outcome"]), shards=[])
    specs = [storage.read_json(e) for e in pending(storage)]
    whole = sorted(set(gxv._rule_findings(storage, specs)))
    assert {(f[0], f[3]) for f in whole} == {("a", rules[0]), ("c", rules[2])}
    for size in (1, 2, 4):
        monkeypatch.setattr(gxv, "MEASURE_ROWS", size)
        assert sorted(set(gxv._rule_findings(storage, specs))) == whole
