"""The pypdfium2 PDF reader: same tables as pdfplumber's lattice method, guards before heavy parsing, quick text."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import TRUTH, document_for
from pipelines.extract import extract_document
from pipelines.extract.pdf import _chars, _edges, quick_text
from pipelines.extract.page_layout import TOLERANCE, find_tables

PDFS = [document_for("jiangsu_huaian_hongze_district_gov_2023"), document_for("jiangsu_huaian_hongze_district_gov_2024"),
        TRUTH.parent / "fixtures" / "shanghai_municipal_gov_general_office_2019.chromium.pdf"]


@pytest.mark.parametrize("path", PDFS, ids=lambda p: p.stem)
def test_tables_are_pdfplumbers(path):
    """Our indexed lattice search finds exactly the cells pdfplumber.table finds from the same edges."""
    import pypdfium2 as pdfium
    from pdfplumber.table import Table, cells_to_tables, edges_to_intersections, intersections_to_cells, merge_edges
    from pdfplumber.utils import filter_edges

    pdf = pdfium.PdfDocument(str(path))
    found = 0
    for k in range(len(pdf)):
        page = pdf[k]
        edges, _, _ = _edges(page, page.get_size()[1])
        merged = filter_edges(merge_edges(filter_edges(edges, min_length=1), *[TOLERANCE] * 4), min_length=TOLERANCE)
        theirs = [Table(None, g) for g in cells_to_tables(intersections_to_cells(edges_to_intersections(merged, TOLERANCE, TOLERANCE)))]
        theirs = [(t.bbox, [list(r.cells) for r in t.rows]) for t in theirs if max(sum(c is not None for c in r.cells) for r in t.rows) > 1]
        ours = [(t.bbox, t.rows) for t in find_tables(edges)]
        assert ours == theirs
        found += len(ours)
    assert found >= 2


def test_vertical_text_with_broken_font_metrics_stays_in_its_cell():
    """洪泽 prints 三、本年度办理结果 as stacked characters whose font boxes are 200 pt wide: they are placed by their glyphs."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(PDFS[0]))
    page = pdf[2]
    pieces, _ = _chars(page.get_textpage(), page.get_size()[1])
    stacked = [p for p in pieces if p.text in "本年度办理结果" and p.x0 < 103]
    assert len(stacked) >= 7 and all(p.x1 - p.x0 < 15 for p in stacked)


def test_guards_refuse_hostile_pdfs(tmp_path):
    """A 60 MB drawing hidden in a small file and a 5,000-page file are refused with the reason before any parsing
    (benchmarks/pdf_ocr.py times it)."""
    from scans import hostile_pdfs

    for name, path in hostile_pdfs(tmp_path).items():
        ext = extract_document(path)
        assert ext.fatal.kind == "too_large", ext.fatal
        assert ("MB" in ext.fatal.message) if name == "drawing_bomb" else ("5,000 pages" in ext.fatal.message)
        assert path.stat().st_size < 1_000_000


def test_quick_text_reads_the_head_only():
    head = quick_text(PDFS[0])
    assert "2023" in head and "洪泽区人民政府" in head
    assert quick_text(PDFS[0], max_pages=1).count("\n") < head.count("\n")
    assert quick_text(Path(__file__)) is None  # not a PDF: None, never an exception
