"""Completeness: a report cut short, or with lines repeated, says which tables and cells it lost — never confident guesses."""

from __future__ import annotations

import pandas as pd

from conftest import RAW, document_for, load_truth
from pipelines.extract import extract_document
from pipelines.extract.completeness import LOSS_KINDS
from pipelines.process import decide_status

STEM = "shanghai_municipal_sci_tech_commission_2024"


def status_of(ext) -> str:
    """The pipeline's status decision for an extraction that passes every rule."""
    reports = pd.DataFrame([{"report_id": "r", "report_year": 2024, "status": "rejected" if ext.fatal else "published",
                             "n_ambiguous": sum(c.value_status == "ambiguous" for c in ext.cells)}])
    issues = pd.DataFrame([{"report_id": "r", **i.to_dict()} for i in ext.issues],
                          columns=["report_id", "severity", "kind", "message", "location", "table_id", "code", "printed"])
    return decide_status(reports, pd.DataFrame(), issues).status.iloc[0]


def test_truncated_report_names_every_lost_cell(tmp_path):
    text = document_for(STEM).read_text(encoding="utf-8")
    cut = text[: text.index("（四）无")]  # the file ends inside Table 三
    path = tmp_path / "truncated.md"
    path.write_text(cut, encoding="utf-8")
    ext = extract_document(path)
    truth = load_truth(STEM)
    got = {c.code: c.value for c in ext.cells}
    assert all(got[c] == truth[c] for c in got if got[c] is not None)  # what is read is right
    named = {i.code for i in ext.issues if i.code} | {i.table_id for i in ext.issues if i.kind == "table_missing"}
    lost = [c for c, v in truth.items() if v is not None and got.get(c) is None]
    assert lost and all(c in named or c.split(".")[0] in named for c in lost)
    assert {i.kind for i in ext.issues} & LOSS_KINDS
    assert status_of(ext) == "published_partial"


def test_complete_report_is_published():
    assert status_of(extract_document(document_for(STEM))) == "published"


def test_duplicated_zero_line_never_becomes_a_confident_value(tmp_path):
    """A '0 |' line repeated in a table flattened one cell per line: the row spans more cells than every other
    row, so it is not read (the original prints 规章 0 | 0 | (blank))."""
    lines = (RAW / "incoming" / "hubei_wuhan_hanyang_district_gov_office_2022.excerpt.txt").read_text(encoding="utf-8").split("\n")
    original = extract_document(RAW / "incoming" / "hubei_wuhan_hanyang_district_gov_office_2022.excerpt.txt")
    assert [original.cell(f"t2.rules.{c}").value_status for c in ("issued", "repealed", "in_force")] == ["number", "number", "blank"]
    k = lines.index("规章 |") + 1
    path = tmp_path / "dup.txt"
    path.write_text("\n".join(lines[: k + 1] + [lines[k]] + lines[k + 1 :]), encoding="utf-8")
    ext = extract_document(path)
    assert all(ext.cell(f"t2.rules.{c}") is None for c in ("issued", "repealed", "in_force"))
    issue = next(i for i in ext.issues if i.code == "t2.rules.in_force")
    assert issue.kind == "row_shape" and "repeated" in issue.message
    assert ext.cell("t2.normative_docs.issued").value == 5  # the other rows are read
