"""A synthetic region (city aggregate report, its own-level office and departments, districts with their bodies)
built end to end: extraction is exact, roll-ups equal the known sums, an injected district mismatch is reported."""

from __future__ import annotations

import csv

import dagster as dg
import duckdb
import pytest

from pipelines.extract import extract_document
from pipelines.runner import run_pipeline
from pipelines.synth import generate


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    base = tmp_path_factory.mktemp("region")
    raw = base / "raw"
    summary = generate(raw, districts=3, bodies_per_district=3, years=(2022, 2023), seed=11, inject=1)
    wh = base / "warehouse"
    run_pipeline(raw, wh, workers=1, progress=False, instance=dg.DagsterInstance.ephemeral())
    return raw, wh, summary


def q(wh, sql, *params):
    con = duckdb.connect(str(wh / "xxgk.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_synthetic_reports_extract_to_their_known_values(region):
    raw, _, summary = region
    assert summary.documents == 2 * 17
    for path in sorted(raw.glob("20*/*")):
        with (raw / "truth" / f"{path.stem}.csv").open(encoding="utf-8") as f:
            truth = {r["code"]: float(r["value"]) for r in csv.DictReader(f)}
        got = {c.code: c.value for c in extract_document(path).cells}
        assert got == truth, path.name


def test_everything_published_and_scopes_read(region):
    _, wh, _ = region
    assert q(wh, "SELECT DISTINCT status FROM reports") == [("published",)]
    scopes = dict(q(wh, "SELECT agency_id, any_value(scope) FROM reports GROUP BY 1"))
    assert scopes["synth-city"] == "region_aggregate" and scopes["synth-d2"] == "region_aggregate"
    assert scopes["synth-d2-office"] == "agency"


def test_rollups_equal_known_sums(region):
    raw, wh, _ = region
    with (raw / "expected_rollups.csv").open(encoding="utf-8") as f:
        expected = {(r["region"], int(r["report_year"]), r["code"]): float(r["children_sum"]) for r in csv.DictReader(f)}
    rows = q(wh, "SELECT region_id, report_year, code, rollup_value, complete FROM out_region_rollups")
    assert rows
    for region_id, year, code, value, complete in rows:
        assert value == pytest.approx(expected[(region_id, year, code)]), (region_id, year, code)
        assert complete
    additive = {c for (c,) in q(wh, "SELECT code FROM indicators WHERE additive")}
    assert {r[2] for r in rows} <= additive
    assert "t2.normative_docs.in_force" not in {r[2] for r in rows}  # a stock is never summed


def test_consistent_regions_match_their_aggregate_report(region):
    _, wh, _ = region
    diffs = q(wh, "SELECT region_id, report_year, code, difference FROM v_rollup_vs_reported WHERE difference <> 0")
    assert {r[0] for r in diffs} == {"synth-city", "synth-d1"}  # only the injected district and the city above it
    assert q(wh, "SELECT count(*) FROM v_rollup_vs_reported WHERE region_id = 'synth-d2' AND difference = 0")[0][0] > 50


def test_injected_mismatch_is_named_by_the_cross_level_rule(region):
    raw, wh, _ = region
    with (raw / "injected.csv").open(encoding="utf-8") as f:
        injected = list(csv.DictReader(f))
    for inj in injected:
        year, cells = int(inj["report_year"]), set(inj["cells"].split())
        district = q(wh, "SELECT report_id FROM reports WHERE agency_id = ? AND report_year = ?", inj["agency_id"], year)[0][0]
        flagged = {r[0] for r in q(wh, "SELECT instance FROM rule_results WHERE report_id = ? AND rule_id = 'L-AGG-V21' "
                                       "AND outcome = 'fail'", district)}
        assert flagged == cells
        city = q(wh, "SELECT evidence, message FROM rule_results WHERE rule_id = 'L-AGG-V21' AND outcome = 'fail' AND "
                     "report_id = (SELECT report_id FROM reports WHERE agency_id = 'synth-city' AND report_year = ?) "
                     "AND instance = 't3.new_received.total'", year)
        assert city and "示例市一区人民政府" in city[0][0] and "parts sum to" in city[0][1]


def test_analyst_views(region):
    _, wh, _ = region
    rows = q(wh, "SELECT report_year, count(*), sum(new_requests) FROM v_requests_by_region_year GROUP BY 1 ORDER BY 1")
    assert [r[:2] for r in rows] == [(2022, 17), (2023, 17)]
    assert q(wh, "SELECT count(*) FROM v_refusal_reasons WHERE reason LIKE '%国家秘密%'")[0][0] == 34
    assert q(wh, "SELECT count(DISTINCT block) FROM v_review_litigation_outcomes")[0][0] == 3
