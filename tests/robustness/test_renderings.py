"""The robustness suite: every truth document in every shape, scored cell by cell against the truth.

Every rendering must give 0 wrong and 0 invented values, and every cell it does not read must be
named by an extraction issue (its code, or its whole table) — nothing lost silently. Shapes that
keep every printed value recoverable must read every cell; where a shape destroys information
(digits glued with nothing to separate them, blank cells dropped by a conversion) the cells stay
missing with their reason. ``python tests/robustness/score.py`` prints the table and the totals.
"""

from __future__ import annotations

import pytest

from conftest import load_truth
from pipelines.extract import extract_document
from robustness.render import ORG, SHAPES, T3_LEAVES, _title_first, load, renderings, table_rows
from robustness.score import score, score_rendering

# Shapes whose every printed value survives: they must read the whole truth.
COMPLETE = {"furniture_txt", "furniture_md", "pdf_markdown", "t3_reordered_html", "t3_reordered_md", "grid_ocr_labels",
            "traditional", "local_variants", "t4_vertical_header"}
# Blank cells of these documents vanish in shapes that drop empty cells (pdftotext, space-joined text, pipes).
HAS_BLANKS = {"shanghai_municipal_gov_general_office_2019", "shanghai_municipal_sci_tech_commission_2024"}
DROPS_BLANKS = {"pdftotext", "ocr_text", "cells_per_line", "pipe_rows", "t3_reordered_text"}


@pytest.mark.parametrize(("stem", "shape"), renderings())
def test_rendering_reads_truth_or_says_why(stem, shape, tmp_path):
    counts, ext = score_rendering(stem, shape, tmp_path)
    assert counts["wrong"] == 0 and counts["invented"] == 0, (stem, shape, counts)
    assert counts["silently_missing"] == 0, (stem, shape, counts)
    if shape in COMPLETE or (shape in DROPS_BLANKS and stem not in HAS_BLANKS):
        assert counts["correct"] == counts["cells"], (stem, shape, counts)
    if counts["correct"] < counts["cells"]:
        assert ext.issues and any(i.severity == "warning" for i in ext.issues)


def test_every_shape_is_exercised():
    shapes = {shape for _, shape in renderings()}
    assert shapes == set(SHAPES) and len(renderings()) >= 120


def test_reordered_table_three_reads_columns_from_its_header(tmp_path):
    """总计 printed first and 商业企业/科研机构 swapped: every cell under its own code, columns marked as read from the header."""
    counts, ext = score_rendering("pingtan_zone_admin_committee_2023", "t3_reordered_html", tmp_path)
    assert counts["correct"] == counts["cells"] == 200
    t3 = [c for c in ext.cells if c.table_id == "t3"]
    assert t3 and all(c.column_match == "header" for c in t3)
    assert ext.cell("t3.new_received.commercial_enterprise").value == 1  # printed in the second applicant column


def _unreadable_reordered(stem: str) -> str:
    """Table 三 printed with 总计 first under headers nobody can read (数据1..数据7)."""
    src = load(stem)
    lines = list(_title_first(src))
    for kind, cells in table_rows(src, reordered=True):
        if kind == "header" and (set(cells) & set(T3_LEAVES) or set(cells) & set(ORG) or "申请人情况" in cells):
            if "商业企业" in cells:
                lines.append(" ".join(f"数据{k}" for k in range(1, 8)))
            continue
        lines.append(" ".join(c or "-" for c in cells) if kind != "text" else cells[0])
    return "\n".join(lines + src["epilogue"]) + "\n"


def test_unreadable_headers_with_contradicted_order_give_missing_cells_not_wrong_ones(tmp_path):
    stem = "pingtan_zone_admin_committee_2023"
    path = tmp_path / "reordered_unreadable.txt"
    path.write_text(_unreadable_reordered(stem), encoding="utf-8")
    ext = extract_document(path)
    counts = score(ext, load_truth(stem))
    assert counts["wrong"] == 0 and counts["invented"] == 0 and counts["silently_missing"] == 0
    t3_truth = [c for c in load_truth(stem) if c.startswith("t3.")]
    assert not [c for c in ext.cells if c.table_id == "t3" and c.value is not None]
    reasons = {i.code: i for i in ext.issues if i.code}
    assert all(reasons[c].kind == "columns_unknown" for c in t3_truth)
    assert "cannot be established" in reasons[t3_truth[0]].message
    assert counts["correct"] == counts["cells"] - len(t3_truth)  # Tables 二 and 四 still read


def test_unreadable_headers_in_template_order_are_accepted_by_the_equalities(tmp_path):
    """Applicant columns headed 数据1..数据6 (OCR): the template order is used because every row's 总计 = sum holds."""
    counts, ext = score_rendering("pingtan_zone_admin_committee_2024", "ocr_text", tmp_path)
    assert counts["correct"] == counts["cells"]
    t3 = [c for c in ext.cells if c.table_id == "t3" and c.value is not None]
    assert t3 and all(c.column_match == "order" and c.verification == "confirmed" for c in t3)


def test_traditional_mirror_copy_is_read_and_marked(tmp_path):
    counts, ext = score_rendering("shanghai_municipal_sci_tech_commission_2024", "traditional", tmp_path)
    assert counts["correct"] == counts["cells"]
    assert ext.origin == "third_party_mirror" and any(i.kind == "third_party_mirror" for i in ext.issues)


def test_extra_local_rows_are_kept_as_uncoded_rows(tmp_path):
    counts, ext = score_rendering("shanghai_municipal_gov_general_office_2019", "local_variants", tmp_path)
    assert counts["correct"] == counts["cells"]
    assert {u.label for u in ext.uncoded} >= {"行政检查", "行政确认"}
    assert all(u.table_id == "t2" and u.n_values == 3 for u in ext.uncoded if u.label in ("行政检查", "行政确认"))
    assert ext.cell("t2.licensing.decisions").label_match == "core"  # 行政许可（指行政机关…的行为）: the note is dropped
    assert ext.cell("t2.penalty.decisions").label_match == "prefix"  # 行政处罚：指行政机关…的行为


def test_detached_annotation_is_reattached(tmp_path):
    counts, ext = score_rendering("shanghai_municipal_gov_general_office_2019", "pdf_markdown", tmp_path)
    cell = ext.cell("t2.rules.new_made")
    assert cell.value == 13 and cell.recovery == "reattached" and cell.raw.replace("(", "（").replace(")", "）") == "13（其中修订6件）"


def test_subtotal_column_of_the_organisations_is_recognised(tmp_path):
    """A Table 三 printing 法人或其他组织 with a 小计 column: the five organisations and 总计 under their codes,
    the 小计 kept as a printed subtotal."""
    from robustness.render import _html

    src = load("pingtan_zone_admin_committee_2023")
    rows = []
    for kind, cells in table_rows(src):
        if kind == "header" and "商业企业" in cells:
            cells = [*cells, "小计"]
        elif kind == "row" and len(cells) == 8:
            org = cells[2:7]
            cells = [*cells[:7], str(sum(int(v) for v in org)), cells[7]]
        rows.append((kind, cells))
    path = tmp_path / "subtotal.html"
    path.write_text(_html(src, rows), encoding="utf-8")
    ext = extract_document(path)
    assert score(ext, load_truth("pingtan_zone_admin_committee_2023"))["correct"] == 200
    subtotal = next(s for s in ext.subtotals if s.code == "printed_subtotal.legal_persons.new_received")
    assert subtotal.value == 1  # 商业企业 1 + 0 + 0 + 0 + 0
