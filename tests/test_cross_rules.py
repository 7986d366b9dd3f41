"""Cross-year and cross-level rules: passing, failing and not-assessable cases."""

from __future__ import annotations

from conftest import document_for, extract_with_copies
from pipelines.agencies import Agency, AgencyRegistry
from pipelines.rules.cross_rules import Report, cross_level_measures, cross_year_measures


def report_of(stem, key="fj-pingtan-zone"):
    doc = document_for(stem)
    ext = extract_with_copies(doc)
    values = {c.code: c.value for c in ext.cells if c.value is not None}
    direct = sum(1 for c in ext.cells if c.recovery == "none" and c.value is not None)
    return Report(stem, ext.report_year, ext.era, ext.scope, key, key, values, {c.code for c in ext.cells}, direct, True)


def outcomes(rows, rule_prefix, instance=None):
    return {(r["instance"]): ("not_assessable" if r["violation"] is None else "fail" if r["violation"] > 0 else "pass")
            for r in rows if r["rule_id"].startswith(rule_prefix) and (instance is None or r["instance"] == instance)}


def test_pingtan_series_carry_over_holds_and_stock_breaks():
    reports = [report_of(s) for s in (
        "fujian_pingtan_zone_admin_committee_2021", "fujian_pingtan_zone_admin_committee_2022",
        "pingtan_zone_admin_committee_2023", "pingtan_zone_admin_committee_2024",
    )]
    rows = cross_year_measures(reports)
    by_report = lambda rid: [r for r in rows if r["report_id"] == rid]  # noqa: E731
    carry_2022 = outcomes(by_report("fujian_pingtan_zone_admin_committee_2022"), "Y-CARRY", "col=total")
    assert carry_2022 == {"col=total": "pass"}  # 上年结转 1 = 2021 结转下年 1
    roll_2024 = outcomes(by_report("pingtan_zone_admin_committee_2024"), "Y-T2-ROLL", "doc=normative_docs")
    assert roll_2024 == {"doc=normative_docs": "fail"}  # 470 + 62 - 33 = 499, printed 440
    row = next(r for r in by_report("pingtan_zone_admin_committee_2024") if r["rule_id"].startswith("Y-T2-ROLL") and r["instance"] == "doc=normative_docs")
    assert (row["found"], row["expected"]) == (440, 499) and "2023" in row["evidence"]
    roll_2022 = outcomes(by_report("fujian_pingtan_zone_admin_committee_2022"), "Y-T2-ROLL", "doc=normative_docs")
    assert roll_2022 == {"doc=normative_docs": "not_assessable"}  # 2022's glued '8855698' is ambiguous


def test_jump_and_clone():
    a = Report("a", 2023, "v2021", "unknown", "x", "x", {"t2.licensing.decisions": 550.0}, set())
    b = Report("b", 2024, "v2021", "unknown", "x", "x", {"t2.licensing.decisions": 9487.0}, set())
    rows = cross_year_measures([a, b])
    jump = {r["instance"]: r["violation"] for r in rows if r["rule_id"] == "Y-JUMP-V21" and "licensing" in r["instance"]}
    assert jump["t2.licensing.decisions <="] > 0 and jump["t2.licensing.decisions >="] == 0
    same = {f"t3.new_received.c{i}": float(i) for i in range(30)}
    c = Report("c", 2023, "v2021", "unknown", "y", "y", same, set())
    d = Report("d", 2024, "v2021", "unknown", "y", "y", dict(same), set())
    clone = [r for r in cross_year_measures([c, d]) if r["rule_id"] == "Y-CLONE-V21"]
    assert clone and clone[0]["violation"] > 0


def registry():
    return AgencyRegistry([
        Agency("city", "示例市人民政府", (), "990100", "city", "", "government_aggregate"),
        Agency("office", "示例市人民政府办公室", (), "990100", "department", "city", "government_office"),
        Agency("d1", "甲区人民政府", (), "990101", "county", "city", "government_aggregate"),
        Agency("d2", "乙区人民政府", (), "990102", "county", "city", "government_aggregate"),
    ])


def rep(rid, agency, value, scope="agency"):
    return Report(rid, 2023, "v2021", scope, agency, agency, {"t3.new_received.total": value}, set())


def test_cross_level_aggregate_pass_fail_uncertain():
    parts = [rep("o", "office", 5), rep("a", "d1", 10), rep("b", "d2", 20)]
    ok = cross_level_measures([rep("c", "city", 35, "region_aggregate"), *parts], registry())
    assert outcomes(ok, "L-AGG", "t3.new_received.total") == {"t3.new_received.total": "pass"}
    bad = cross_level_measures([rep("c", "city", 40, "region_aggregate"), *parts], registry())
    row = next(r for r in bad if r["rule_id"] == "L-AGG-V21" and r["instance"] == "t3.new_received.total")
    assert row["violation"] > 0 and "甲区人民政府" in row["evidence"] and "乙区人民政府" in row["evidence"]
    assert outcomes(bad, "L-DISTRICTS", "t3.new_received.total") == {"t3.new_received.total": "pass"}  # 30 <= 40
    missing = cross_level_measures([rep("c", "city", 35, "region_aggregate"), *parts[:2]], registry())
    na = [r for r in missing if r["rule_id"] == "L-AGG-V21"]
    assert na and all(r["violation"] is None for r in na) and "乙区人民政府" in na[0]["missing"]


def test_cross_level_only_for_declared_aggregates():
    rows = cross_level_measures([rep("c", "city", 99, "agency"), rep("o", "office", 5)], registry())
    assert not rows  # an own-level (本级) report is not the region total (L-SCOPE)
