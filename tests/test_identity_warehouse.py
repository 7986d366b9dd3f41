"""A warehouse built from the nine truth documents with NO agencies.csv: every body placed by the resolver.

Two more documents re-render known reports under another body's name, as printed and as an OCR
misreading in a markdown heading (``#沐阳县人民政府``). Then raw/agencies.csv is added and the
warehouse rebuilt: the overrides take over without re-reading any document. Copies of the same
report (平潭 2023/2024 as .txt and .html) are counted once by the analyst views and roll-ups.
"""

from __future__ import annotations

import shutil

import dagster as dg
import pytest
from click.testing import CliRunner

from conftest import query as q, RAW, truth_manifest
from pipelines.cli import main
from pipelines.runner import run_pipeline

REQUESTS_SQL = ("SELECT report_year, region_code, sum(new_requests) FROM v_requests_by_region_year "
                "WHERE report_year IN (2023, 2024) AND agency LIKE '平潭%' GROUP BY ALL ORDER BY 1")


def _relpath(source_file: str) -> str:
    return source_file.removeprefix("corpus/")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("identity")
    raw = base / "raw"
    for row in truth_manifest():
        rel = _relpath(row["source_file"])
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(RAW / rel, raw / rel)
    shutil.copy2(RAW / "MANIFEST.csv", raw / "MANIFEST.csv")
    # the 平潭 2023 page published by another body, and an OCR'd markdown heading of the 科委 2024 report
    html = (RAW / "pingtan/pingtan_zone_admin_committee_2023.html").read_text(encoding="utf-8")
    (raw / "jiangsu").mkdir()
    (raw / "jiangsu/shuyang_county_gov_2023.html").write_text(html.replace("平潭综合实验区", "沭阳县"), encoding="utf-8")
    md = (RAW / "incoming/shanghai_municipal_sci_tech_commission_2024.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(md) if line.startswith("根据"))
    (raw / "jiangsu/shuyang_county_gov_2024_ocr.md").write_text(
        "\n".join(["#沐阳县人民政府2024年政府信息公开工作年度报告", *md[start:]]) + "\n", encoding="utf-8")
    assert not (raw / "agencies.csv").exists()
    wh = base / "warehouse"
    run_pipeline(raw, wh, workers=1, progress=False, instance=dg.DagsterInstance.ephemeral())
    return raw, wh


def test_hongze_is_one_body_across_years_and_the_jump_is_checked(built):
    _, wh = built
    rows = q(wh, "SELECT report_year, agency_printed, agency_id, agency_match FROM reports WHERE report_id LIKE '%hongze%' ORDER BY 1")
    assert [r[:2] for r in rows] == [(2023, "洪泽区人民政府"), (2024, "淮安市洪泽区人民政府")]
    assert {r[2] for r in rows} == {"320813:gov"}
    agency = q(wh, "SELECT region_code, level, kind, parent_id, name FROM agencies WHERE agency_id = '320813:gov'")
    assert agency == [("320813", "county", "government_aggregate", "320800:gov", "淮安市洪泽区人民政府")]
    assert q(wh, "SELECT region_code, name FROM agencies WHERE agency_id = '320800:gov'") == [("320800", "淮安市人民政府")]
    jump = q(wh, "SELECT r.report_year, x.instance FROM rule_results x JOIN reports r USING (report_id) "
                 "WHERE x.rule_id = 'Y-JUMP-V21' AND x.outcome = 'fail' AND r.agency_id = '320813:gov'")
    assert jump and {y for y, _ in jump} == {2024} and any("licensing" in i for _, i in jump)


def test_departments_and_misprints_are_placed(built):
    _, wh = built
    kewei = q(wh, "SELECT r.agency_id, a.region_code, a.kind, a.parent_id FROM reports r JOIN agencies a USING (agency_id) "
                  "WHERE r.report_id LIKE '%sci_tech%'")
    assert kewei == [("310000:dept:科学技术委员会", "310000", "department", "310000:gov")]
    shuyang = q(wh, "SELECT report_id, agency_printed, agency_id, agency_match FROM reports WHERE report_id LIKE 'jiangsu/%' ORDER BY 1")
    assert [r[2] for r in shuyang] == ["321322:gov", "321322:gov"]
    assert [r[3] for r in shuyang] == ["registry", "ocr_confusable"]
    assert "沐阳县" in shuyang[1][1]


def test_unresolved_bodies_keep_their_name_and_reason(built):
    _, wh = built
    rows = q(wh, "SELECT agency, agency_unresolved_reason FROM reports WHERE agency_id IS NULL")
    assert rows and all(name and reason for name, reason in rows)  # 平潭综合实验区: a zone the registry cannot know
    assert any("平潭综合实验区" in name for name, _ in rows)
    result = CliRunner().invoke(main, ["agencies", "--warehouse", str(wh), "--unresolved", "--format", "csv"])
    assert result.exit_code == 0 and "平潭综合实验区" in result.output and "unresolved" in result.output


def test_copies_are_counted_once(built):
    _, wh = built
    assert q(wh, REQUESTS_SQL) == [(2023, None, 81.0), (2024, None, 218.0)]  # not 162 and 436
    roles = dict(q(wh, "SELECT report_id, copy_role FROM report_copies WHERE report_id LIKE '%pingtan%2023%'"))
    assert sorted(roles.values()) == ["canonical", "format_copy"]


def test_overrides_added_later_take_over_without_reextraction(built):
    raw, wh = built
    shutil.copy2(RAW / "agencies.csv", raw / "agencies.csv")
    read_once = "SELECT report_id, extracted_at FROM reports WHERE report_id NOT LIKE '%fujian_pingtan%'"  # not twin-fixed
    extracted_before = dict(q(wh, read_once))
    run_pipeline(raw, wh, workers=1, progress=False, instance=dg.DagsterInstance.ephemeral())
    assert dict(q(wh, read_once)) == extracted_before
    assert {r[0] for r in q(wh, "SELECT DISTINCT agency_match FROM reports WHERE agency LIKE '平潭%'")} == {"override"}
    assert q(wh, REQUESTS_SQL) == [(2023, "350128", 81.0), (2024, "350128", 218.0)]
    rollup = q(wh, "SELECT report_year, rollup_value FROM out_region_rollups WHERE region_id = '350000:gov' "
                   "AND code = 't3.new_received.total' ORDER BY 1")
    assert rollup == [(2023, 81.0), (2024, 218.0)]  # the roll-up and the view agree: one copy each
