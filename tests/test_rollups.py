"""A synthetic region (a real prefecture's aggregate report, its own-level office and departments, three of its real
counties with their bodies) built end to end with no agencies.csv: every body is placed by the resolver, extraction is
exact, roll-ups equal the known sums, an injected district mismatch is reported."""

from __future__ import annotations

import csv

import dagster as dg

import pytest

from conftest import query as q
from pipelines.extract import extract_document
from pipelines.runner import run_pipeline
from pipelines.synth import generate


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    base = tmp_path_factory.mktemp("region")
    raw = base / "raw"
    summary = generate(raw, districts=3, bodies_per_district=3, years=(2022, 2023), seed=11, inject=1)
    assert not (raw / "agencies.csv").exists()
    wh = base / "warehouse"
    run_pipeline(raw, wh, workers=1, progress=False, instance=dg.DagsterInstance.ephemeral())
    return raw, wh, summary


def test_synthetic_reports_extract_to_their_known_values(region):
    raw, _, summary = region
    assert summary.documents == 2 * 17
    for path in sorted(raw.glob("20*/*")):
        with (raw / "truth" / f"{path.stem}.csv").open(encoding="utf-8") as f:
            truth = {r["code"]: float(r["value"]) for r in csv.DictReader(f)}
        got = {c.code: c.value for c in extract_document(path).cells}
        assert got == truth, path.name


def ids(summary):
    """Agency ids of the city, its districts and the second district's office."""
    city = summary.region
    districts = [c for c in city.children if c.aggregate]
    return city.agency_id, [d.agency_id for d in districts], districts[1].children[0].agency_id


def test_everything_published_and_scopes_read(region):
    _, wh, summary = region
    city, districts, d2_office = ids(summary)
    assert q(wh, "SELECT DISTINCT status FROM reports") == [("published",)]
    assert q(wh, "SELECT DISTINCT agency_match FROM reports") == [("registry",)]  # placed from the printed names alone
    scopes = dict(q(wh, "SELECT agency_id, any_value(scope) FROM reports GROUP BY 1"))
    assert scopes[city] == "region_aggregate" and scopes[districts[1]] == "region_aggregate"
    assert scopes[d2_office] == "agency"
    parents = dict(q(wh, "SELECT agency_id, parent_id FROM agencies"))
    assert all(parents[d] == city for d in districts) and parents[d2_office] == districts[1]


def test_rollups_equal_known_sums(region):
    raw, wh, summary = region
    with (raw / "expected_rollups.csv").open(encoding="utf-8") as f:
        expected = {(r["region"], int(r["report_year"]), r["code"]): float(r["children_sum"]) for r in csv.DictReader(f)}
    rows = q(wh, "SELECT region_id, report_year, code, rollup_value, complete FROM out_region_rollups")
    assert rows
    regions = {k[0] for k in expected}
    for region_id, year, code, value, complete in rows:
        if region_id not in regions:  # the province above: its other prefectures did not report
            assert not complete and region_id == summary.region.agency_id.split(":")[0][:2] + "0000:gov"
            continue
        assert value == pytest.approx(expected[(region_id, year, code)]), (region_id, year, code)
        assert complete
    additive = {c for (c,) in q(wh, "SELECT code FROM indicators WHERE additive")}
    assert {r[2] for r in rows} <= additive
    assert "t2.normative_docs.in_force" not in {r[2] for r in rows}  # a stock is never summed


def test_consistent_regions_match_their_aggregate_report(region):
    _, wh, summary = region
    city, districts, _ = ids(summary)
    diffs = q(wh, "SELECT region_id, report_year, code, difference FROM v_rollup_vs_reported WHERE difference <> 0")
    assert {r[0] for r in diffs} == {city, districts[0]}  # only the injected district and the city above it
    assert q(wh, "SELECT count(*) FROM v_rollup_vs_reported WHERE region_id = ? AND difference = 0", districts[1])[0][0] > 50


def test_injected_mismatch_is_named_by_the_cross_level_rule(region):
    raw, wh, summary = region
    city_id, _, _ = ids(summary)
    first_district = next(c for c in summary.region.children if c.aggregate).name
    with (raw / "injected.csv").open(encoding="utf-8") as f:
        injected = list(csv.DictReader(f))
    for inj in injected:
        year, cells = int(inj["report_year"]), set(inj["cells"].split())
        district = q(wh, "SELECT report_id FROM reports WHERE agency_id = ? AND report_year = ?", inj["agency_id"], year)[0][0]
        flagged = {r[0] for r in q(wh, "SELECT instance FROM rule_results WHERE report_id = ? AND rule_id = 'L-AGG-V21' "
                                       "AND outcome = 'fail'", district)}
        assert flagged == cells
        city = q(wh, "SELECT evidence, message FROM rule_results WHERE rule_id = 'L-AGG-V21' AND outcome = 'fail' AND "
                     "report_id = (SELECT report_id FROM reports WHERE agency_id = ? AND report_year = ?) "
                     "AND instance = 't3.new_received.total'", city_id, year)
        assert city and first_district in city[0][0] and "parts sum to" in city[0][1]


def test_analyst_views(region):
    _, wh, _ = region
    rows = q(wh, "SELECT report_year, count(*), sum(new_requests) FROM v_requests_by_region_year GROUP BY 1 ORDER BY 1")
    assert [r[:2] for r in rows] == [(2022, 17), (2023, 17)]
    assert q(wh, "SELECT count(*) FROM v_refusal_reasons WHERE reason LIKE '%国家秘密%'")[0][0] == 34
    assert q(wh, "SELECT count(DISTINCT block) FROM v_review_litigation_outcomes")[0][0] == 3


def test_a_city_aggregate_is_never_summed_with_its_parts(region):
    """report_kind tells aggregates from own and department reports: the parts alone add up to the city's printed total."""
    _, wh, summary = region
    city = summary.region.agency_id
    kinds = dict(q(wh, "SELECT report_kind, count(*) FROM v_requests_by_region_year WHERE report_year = 2023 GROUP BY 1"))
    assert kinds == {"region_aggregate": 4, "own": 4, "department": 9}  # the city + 3 districts; 4 offices; 9 departments
    printed = q(wh, "SELECT new_requests FROM v_requests_by_region_year r JOIN reports USING (report_id) "
                    "WHERE reports.agency_id = ? AND r.report_year = 2023", city)[0][0]
    parts = q(wh, "SELECT sum(new_requests) FROM v_requests_by_region_year WHERE report_year = 2023 "
                  "AND report_kind <> 'region_aggregate'")[0][0]
    everything = q(wh, "SELECT sum(new_requests) FROM v_requests_by_region_year WHERE report_year = 2023")[0][0]
    assert parts == printed and everything > printed
