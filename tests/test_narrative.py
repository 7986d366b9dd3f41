"""Narrative figures and narrative rules on real reports: what the text states against the tables."""

from __future__ import annotations

import pytest

from conftest import document_for, extract_with_copies
from pipelines.extract.narrative import NarrativeFigure
from pipelines.rules.narrative_rules import narrative_measures


def findings(stem: str):
    doc = document_for(stem)
    ext = extract_with_copies(doc)
    rows = narrative_measures(ext.era, ext.narrative, {c.code: c.value for c in ext.cells})
    return ext, rows


def outcome(row):
    v = row["violation"]
    return "not_assessable" if v is None else ("fail" if v > 0 else "pass")


def failing(rows):
    return {r["rule_id"] for r in rows if outcome(r) == "fail"}


def test_figures_keep_their_sentence_and_place():
    ext, _ = findings("shanghai_municipal_gov_general_office_2019")
    by = {(f.figure, f.qualifier): f for f in ext.narrative}
    merged = by[("granted_or_partial", None)]
    assert merged.value == 258 and "予以公开及部分公开258件" in merged.sentence and merged.line
    assert by[("pct", "granted_or_partial")].value == 33.9
    assert by[("says_all_upheld", "均获维持")].value == 1


def test_shanghai_2019_narrative_contradictions():
    """MANIFEST: 258 vs 275, 265 vs 337, parts 716 ≠ 805, 33.9% ≠ 32.0%, 均获维持 with pending cases."""
    _, rows = findings("shanghai_municipal_gov_general_office_2019")
    assert failing(rows) == {"N-CAT-GRANTPART-V19", "N-CAT-UNABLE-V19", "N-CAT-SUM-V19", "N-PCT-V19", "N-LEGAL-OUTCOME-V19"}
    grant = next(r for r in rows if r["rule_id"] == "N-CAT-GRANTPART-V19")
    assert (grant["found"], grant["expected"], grant["bound"]) == (258, 275, "at least")  # 总计 column printed blank
    pcts = {r["instance"]: outcome(r) for r in rows if r["rule_id"] == "N-PCT-V19"}
    assert pcts == {"pct:granted_or_partial": "fail", "pct:denied": "pass", "pct:unable": "pass", "pct:not_processed": "pass"}
    passes = {r["rule_id"] for r in rows if outcome(r) == "pass"}
    assert {"N-RECV-V19", "N-DONE-V19", "N-CARRY-V19"} <= passes
    # 不予公开35 equals the printed parts but the blank 总计/applicant cells could hold more: not a failure, not a pass
    open_ = {r["rule_id"] for r in rows if outcome(r) == "not_assessable"}
    assert {"N-CAT-DENY-V19", "N-CAT-NOPROC-V19"} <= open_


@pytest.mark.parametrize("stem,expected", [
    ("shanghai_municipal_sci_tech_commission_2024", {"N-CLAIM-V21"}),  # 所有申请均已办理完成 but 1 carried forward
    ("pingtan_zone_admin_committee_2023", {"N-T2-INFORCE-V21"}),  # 393 stated, 470 printed
    ("fujian_pingtan_zone_admin_committee_2023", {"N-T2-INFORCE-V21"}),  # its flattened twin
    ("jiangsu_huaian_hongze_district_gov_2024", {"N-RECV-V21"}),  # 区政府办 17 vs 95
    ("gansu_ganzhou_district_gov_2016", {"N-OLD-RESTATE", "N-OLD-SELF"}),  # 76 staff vs 4; all 当面 vs 16 网络
    ("pingtan_zone_admin_committee_2024", set()),
    ("jiangsu_huaian_hongze_district_gov_2023", set()),
])
def test_manifest_narrative_findings(stem, expected):
    _, rows = findings(stem)
    assert failing(rows) == expected
    for r in rows:
        if outcome(r) == "fail":
            assert r["evidence"], r  # every narrative warning quotes its sentence


def test_trap_received_includes_carry_over():
    """平潭 2022 '收到申请75件' = 新收 74 + 上年结转 1: must not be flagged."""
    _, rows = findings("fujian_pingtan_zone_admin_committee_2022")
    recv = next(r for r in rows if r["rule_id"] == "N-RECV-V21")
    assert outcome(recv) == "pass"


def test_trap_information_processing_fee_is_not_table_two():
    ext, rows = findings("jiangsu_huaian_hongze_district_gov_2024")
    fee = [f for f in ext.narrative if f.figure == "info_processing_fee"]
    assert fee and fee[0].value == 0
    assert not any("admin_fees" in r["cells"] for r in rows)


def fig(name, value, qualifier=None):
    return NarrativeFigure(name, value, None, qualifier, f"…{name} {value}…", 1, None, 0)


def test_narrative_rule_pass_fail_not_assessable():
    table = {"t3.new_received.total": 21.0, "t3.carried_over.total": 0.0}
    rows = {r["rule_id"]: r for r in narrative_measures("v2021", [fig("received", 21)], table)}
    assert outcome(rows["N-RECV-V21"]) == "pass"
    rows = {r["rule_id"]: r for r in narrative_measures("v2021", [fig("received", 17)], table)}
    assert outcome(rows["N-RECV-V21"]) == "fail"
    rows = {r["rule_id"]: r for r in narrative_measures("v2021", [fig("received", 17)], {})}
    assert outcome(rows["N-RECV-V21"]) == "not_assessable"  # table absent: nothing to compare
    rows = {r["rule_id"]: r for r in narrative_measures("v2021", [], table)}
    assert outcome(rows["N-RECV-V21"]) == "not_assessable"  # not stated in the text


def test_template_hole():
    rows = narrative_measures("v2021", [fig("template_hole", 1, "信息  条")], {})
    assert [outcome(r) for r in rows if r["rule_id"] == "N-BLANK-V21"] == ["fail"]
