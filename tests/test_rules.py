"""Each rule kind on a passing, a failing and a not-assessable (blank is missing) case.

The rules are the real ones from rules.csv; measures come from the rule engine and the
pass/fail decision from the generated Great Expectations suite, which must agree.
"""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.rules.evaluate import measure, outcome, wide_frames
from pipelines.rules.suites import failed_measures


def evaluate(era: str, reports: dict[str, dict[str, float | None]]) -> pd.DataFrame:
    rows = [{"report_id": rid, "code": code, "value": value} for rid, cells in reports.items() for code, value in cells.items()]
    values, present = wide_frames(pd.DataFrame(rows), list(reports))
    m = measure(era, values, present)
    m["outcome"] = outcome(m.violation)
    gx = failed_measures(m, era)
    assert set(gx.index) == set(m.index[m.outcome == "fail"]), "GX and the engine disagree"
    return m


def result(m: pd.DataFrame, report: str, rule: str, instance: str = "") -> str:
    sel = m[(m.report_id == report) & (m.rule_id == rule) & (m.instance == instance)]
    assert len(sel) == 1, (rule, instance, len(sel))
    return sel.outcome.iloc[0]


def t4(review):
    return {f"t4.review.{k}": v for k, v in zip(("maintained", "corrected", "other", "pending", "total"), review)}


def test_sum_block_total():
    m = evaluate("v2021", {"ok": t4([1, 0, 0, 1, 2]), "bad": t4([10, 1, 0, 0, 0]), "blank": t4([1, 0, 0, 1, None])})
    assert result(m, "ok", "T4-SUM-V21", "blk=review") == "pass"
    assert result(m, "bad", "T4-SUM-V21", "blk=review") == "fail"
    row = m[(m.report_id == "bad") & (m.rule_id == "T4-SUM-V21") & (m.instance == "blk=review")].iloc[0]
    assert (row.found, row.expected) == (0, 11)
    assert result(m, "blank", "T4-SUM-V21", "blk=review") == "not_assessable"


def t3_row(row, values):
    cols = ("natural_person", "commercial_enterprise", "research_institution", "public_welfare_org", "legal_service_org", "other_org", "total")
    return {f"t3.{row}.{c}": v for c, v in zip(cols, values)}


def test_sum_row_total_blank_total_is_not_zero():
    """上海 2019 leaves 总计 blank where the parts sum to 272: not assessable, never a failure."""
    m = evaluate("v2019", {
        "ok": t3_row("new_received", [821, 35, None, None, 2, 1, 859]),
        "bad": t3_row("new_received", [821, 35, 0, 0, 2, 1, 860]),
        "blank_total": t3_row("results.granted", [258, 12, None, None, 1, 1, None]),
    })
    assert result(m, "ok", "T3-COL-V19", "row=new_received") == "not_assessable"  # blank parts are missing
    assert result(m, "bad", "T3-COL-V19", "row=new_received") == "fail"
    assert result(m, "blank_total", "T3-COL-V19", "row=results.granted") == "not_assessable"
    full = evaluate("v2019", {"ok": t3_row("new_received", [821, 35, 0, 0, 2, 1, 859])})
    assert result(full, "ok", "T3-COL-V19", "row=new_received") == "pass"


def test_identity_conservation():
    def cons(new, carried, processed, forward):
        return {"t3.new_received.total": new, "t3.carried_over.total": carried,
                "t3.total_processed.total": processed, "t3.carried_forward.total": forward}

    m = evaluate("v2021", {"ok": cons(34, 2, 35, 1), "bad": cons(34, 2, 35, 0), "blank": cons(34, 2, 35, None)})
    assert result(m, "ok", "T3-CONS-V21", "col=total") == "pass"
    assert result(m, "bad", "T3-CONS-V21", "col=total") == "fail"
    assert result(m, "blank", "T3-CONS-V21", "col=total") == "not_assessable"  # 上海科委 2024 prints it blank


def test_identity_template_signature():
    single = {"t3.results.other.total": 0}
    split = {f"t3.results.other.{k}.total": 0 for k in ("no_correction", "unpaid_fee", "misc")}
    m = evaluate("v2021", {"single": single, "split": split, "none": {"t3.new_received.total": 1}})
    assert result(m, "single", "T3-SPLIT-V21", "col=total") == "fail"  # 洪泽 2023/2024
    assert result(m, "split", "T3-SPLIT-V21", "col=total") == "pass"
    assert result(m, "none", "T3-SPLIT-V21", "col=total") == "not_assessable"


def test_nonneg_and_integer():
    m = evaluate("v2021", {"neg": t4([-1, 0, 0, 0, -1]), "frac": {"t3.new_received.total": 2.5}, "ok": {"t3.new_received.total": 2}})
    assert result(m, "neg", "T4-NN-V21", "blk=review,c=maintained") == "fail"
    assert result(m, "ok", "T3-INT-V21", "row=new_received,col=total") == "pass"
    assert result(m, "frac", "T3-INT-V21", "row=new_received,col=total") == "fail"
    assert result(m, "ok", "T3-NN-V21", "row=carried_over,col=total") == "not_assessable"


@pytest.mark.parametrize("total,expected", [(10931, "fail"), (10891, "pass"), (None, "not_assessable")])
def test_bound_channels(total, expected):
    seed = {"old.proactive.total": total, "old.proactive.channel.gazette": 224, "old.proactive.channel.website": 2697,
            "old.proactive.channel.weibo": 425, "old.proactive.channel.wechat": 351, "old.proactive.channel.other": 7194}
    m = evaluate("old2014", {"seed": seed})
    assert result(m, "seed", "O-CH-SUM") == expected
    assert m[(m.rule_id == "O-CH-SUM")].severity.iloc[0] == "warning"


def test_bound_in_force():
    m = evaluate("v2021", {
        "ok": {"t2.normative_docs.issued": 62, "t2.normative_docs.repealed": 33, "t2.normative_docs.in_force": 440},
        "bad": {"t2.normative_docs.issued": 10, "t2.normative_docs.repealed": 0, "t2.normative_docs.in_force": 5},
    })
    assert result(m, "ok", "T2-VALID-V21", "doc=normative_docs") == "pass"
    assert result(m, "bad", "T2-VALID-V21", "doc=normative_docs") == "fail"
