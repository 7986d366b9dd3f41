"""The verification stage with OCR-like cells: readings confirmed, corrected, or left missing — never guessed.

OCR output is simulated on a real report's Table 三/四/二 (the 平潭 2023 truth): grid lines whose
``source_kind`` is ``ocr`` and whose cells carry a confidence and, sometimes, alternatives — the
interface the OCR reader (helper h2) emits.
"""

from __future__ import annotations

from pipelines.extract.documents import GRID, Cell, Document, Line
from pipelines.extract.model import Extraction
from pipelines.extract.tables import read_tables
from pipelines.extract.verify import OCR_CONFIDENCE_THRESHOLD, ocr_candidates
from robustness.render import load, table_rows

STEM = "pingtan_zone_admin_committee_2023"


def ocr_document(tmp_path, change=None, confidence=0.97, alternatives=None):
    """The report's tables as OCR'd grid lines; ``change`` maps (row label, column) to the misread text."""
    src = load(STEM)
    lines = []
    for r, (kind, cells) in enumerate(table_rows(src)):
        out = []
        for k, text in enumerate(cells):
            key = (cells[0], k)
            if change and key in change:
                text = change[key]
            alts = tuple((alternatives or {}).get(key, ()))
            out.append(Cell(text, line=r + 1, table_index=0, row_index=r, col_index=k, confidence=confidence, alternatives=alts))
        lines.append(Line(out, GRID, "ocr"))
    return Document(path=tmp_path / "scan.pdf", file_type="pdf", lines=lines, text="")


def read(doc):
    ext = Extraction(source_path="scan.pdf", file_type="pdf")
    read_tables(doc, "v2021", ext)
    return ext


def test_confusable_candidates():
    assert set(ocr_candidates("80")) >= {"80", "30", "86", "89"}
    assert "08" not in ocr_candidates("68")  # no redundant leading zero


def test_readings_confirmed_by_the_equalities_are_kept(tmp_path):
    ext = read(ocr_document(tmp_path))
    cell = ext.cell("t3.new_received.natural_person")
    assert cell.value == 80 and cell.source_kind == "ocr" and cell.confidence == 0.97
    assert cell.verification == "confirmed" and cell.recovery == "none"


def test_a_misread_digit_is_corrected_only_when_one_reading_fits(tmp_path):
    """'80' read as '30' (3/8): its row sum and column sums fail, and only 80 satisfies both."""
    ext = read(ocr_document(tmp_path, change={("一、本年新收政府信息公开申请数量", 1): "30"}))
    cell = ext.cell("t3.new_received.natural_person")
    assert cell.value == 80 and cell.recovery == "alternative" and cell.verification == "confirmed"
    assert ext.cell("t3.new_received.total").value == 81  # untouched


def test_compensating_misreadings_are_found_by_the_other_equalities(tmp_path):
    """80|1|81 read as 30|1|31: the row still adds up, but both columns fail; only 80 and 81 satisfy everything."""
    change = {("一、本年新收政府信息公开申请数量", 1): "30", ("一、本年新收政府信息公开申请数量", 7): "31"}
    ext = read(ocr_document(tmp_path, change=change))
    assert [ext.cell(f"t3.new_received.{c}").value for c in ("natural_person", "total")] == [80, 81]
    assert ext.cell("t3.new_received.natural_person").recovery == "alternative"


def test_a_contradiction_no_reading_fixes_stays_missing(tmp_path):
    """80|…|81 read as 30|…|36: no combination of readings satisfies the row and both columns: nothing is chosen."""
    change = {("一、本年新收政府信息公开申请数量", 1): "30", ("一、本年新收政府信息公开申请数量", 7): "36"}
    ext = read(ocr_document(tmp_path, change=change))
    for code in ("t3.new_received.natural_person", "t3.new_received.total"):
        cell = ext.cell(code)
        assert cell.value is None and cell.value_status == "ocr_unverified" and cell.candidates
    assert {i.code for i in ext.issues if i.kind == "ocr_unverified"} >= {"t3.new_received.natural_person"}
    assert ext.cell("t3.carried_over.natural_person").value == 0  # the rest of the table is read


def test_reader_alternatives_are_candidates(tmp_path):
    """The OCR reader's own alternative reading is tried like the confusable digits."""
    key = ("二、上年结转政府信息公开申请数量", 1)
    ext = read(ocr_document(tmp_path, change={key: "4"}, alternatives={key: ("0",)}))
    assert ext.cell("t3.carried_over.natural_person").value == 0
    assert ext.cell("t3.carried_over.natural_person").recovery == "alternative"


def test_cells_no_equality_covers_need_confidence(tmp_path):
    """Table 二 has no equality: OCR readings are kept only at or above the confidence threshold, and marked."""
    sure = read(ocr_document(tmp_path, confidence=OCR_CONFIDENCE_THRESHOLD))
    cell = sure.cell("t2.licensing.decisions")
    assert cell.value == 2629 and cell.verification == "unchecked"
    unsure = read(ocr_document(tmp_path, confidence=0.5))
    cell = unsure.cell("t2.licensing.decisions")
    assert cell.value is None and cell.value_status == "ocr_unverified" and cell.candidates == "2629"
    assert unsure.cell("t3.new_received.natural_person").value == 80  # confirmed cells need no threshold
