"""PDF and DOCX: ruled and unruled tables, provenance, broken files, and a filled official template."""

from __future__ import annotations


import pytest

from conftest import RAW, TRUTH, document_for, load_truth
from pipelines.extract import extract_document
from pipelines.extract.metadata import fill_metadata
from pipelines.extract.model import Extraction
from pipelines.extract.pdf import read_pdf
from pipelines.extract.tables import read_tables
from pipelines.extract.text import norm
from pipelines.registry import load_registry

FIXTURES = TRUTH.parent / "fixtures"
HONGZE = ["jiangsu_huaian_hongze_district_gov_2023", "jiangsu_huaian_hongze_district_gov_2024"]


def cells_of(ext):
    return {c.code: (c.value, c.value_status) for c in ext.cells}


@pytest.mark.parametrize("stem", HONGZE)
def test_pdf_text_lines_without_ruled_tables(stem):
    """The same PDF read as text lines only (as if its tables had no rules) gives the truth too."""
    doc = read_pdf(document_for(stem), ruled_tables=False)
    ext = Extraction(source_path=stem, file_type="pdf")
    fill_metadata(doc, ext)
    read_tables(doc, ext.era, ext)
    got = {c.code: c.value for c in ext.cells}
    assert got == load_truth(stem)
    assert all(c.source_kind == "pdf_text" and c.page for c in ext.cells)


def test_pdf_provenance_page_and_bbox():
    ext = extract_document(document_for(HONGZE[0]))
    cell = ext.cell("t4.review.total")  # printed 0 next to 10 + 1 (T4-SUM-V21)
    assert cell.value == 0 and cell.page == 4 and cell.source_kind == "pdf_table"
    x0, top, x1, bottom = map(float, cell.bbox.split(","))
    assert x0 < x1 and top < bottom
    carried = ext.cell("t3.results.unable.unclear_after_correction.total")  # first row after the page break
    assert carried.page == 4 and carried.value == 0


def test_pdf_made_from_html_matches_the_html():
    """A PDF printed from the 上海 2019 HTML (headless Chromium, committed fixture) extracts to the same cells."""
    html = extract_document(document_for("shanghai_municipal_gov_general_office_2019"))
    pdf = extract_document(FIXTURES / "shanghai_municipal_gov_general_office_2019.chromium.pdf")
    assert cells_of(pdf) == cells_of(html)
    assert (pdf.report_year, pdf.era, pdf.agency_printed) == (2019, "v2019", "上海市人民政府办公厅")


def test_encrypted_pdf(tmp_path):
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(str(document_for(HONGZE[0])))
    writer = pypdf.PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as f:
        writer.write(f)
    ext = extract_document(path)
    assert ext.fatal.kind == "encrypted" and "password" in ext.fatal.message and not ext.cells


def test_pdf_without_text_layer(tmp_path):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (600, 800), "white")
    ImageDraw.Draw(img).rectangle([50, 50, 550, 300], outline="black")
    path = tmp_path / "scan.pdf"
    img.save(path, "PDF")
    ext = extract_document(path)  # no text layer: OCR runs and finds no text either
    assert ext.fatal.kind == "no_text" and "OCR found none" in ext.fatal.message


def test_truncated_pdf(tmp_path):
    data = document_for(HONGZE[1]).read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) // 3])
    ext = extract_document(path)
    assert ext.fatal is not None and ext.fatal.kind in ("unreadable", "no_text")
    assert "truncated" in ext.fatal.message or "no text" in ext.fatal.message


def test_not_a_pdf_named_pdf(tmp_path):
    path = tmp_path / "fake.pdf"
    path.write_text("<html>not a pdf</html>", encoding="utf-8")
    assert extract_document(path).fatal.kind == "unreadable"


def _fill_template(values: dict[str, float | None], target, title: str):
    """Write a title and truth values into the blank official 2021 template, locating cells by their printed labels."""
    import docx

    reg = load_registry()
    rows = {r.key: r for r in reg.template("v2021") if not r.is_subtotal}
    d = docx.Document(str(RAW / "incoming" / "template_guobanfa_2021_30_blank.docx"))
    d.paragraphs[0].text = title

    def fmt(v):
        return "" if v is None else (str(int(v)) if float(v).is_integer() else repr(v))

    t2, t3, t4 = d.tables
    for tr in t2.rows:
        label = norm(tr.cells[0].text)
        row = next((r for r in rows.values() if r.table_id == "t2" and any(norm(lb) == label for lb in r.labels)), None)
        if row:
            unique = []  # a merged cell appears once per spanned column in python-docx
            for cell in tr.cells[1:]:
                if all(cell._tc is not u._tc for u in unique):
                    unique.append(cell)
            for cell, code in zip(unique, row.codes):
                cell.text = fmt(values.get(code))
    for tr in t3.rows:
        label = norm(tr.cells[2].text)
        row = next((r for r in rows.values() if r.table_id == "t3" and any(norm(lb) == label for lb in r.labels)), None)
        if row:
            for cell, code in zip(tr.cells[3:10], row.codes):
                cell.text = fmt(values.get(code))
    for cell, code in zip(t4.rows[3].cells, rows["t4"].codes):
        cell.text = fmt(values.get(code))
    d.save(str(target))


def test_docx_filled_official_template_round_trip(tmp_path):
    truth = load_truth("pingtan_zone_admin_committee_2023")
    path = tmp_path / "filled.docx"
    _fill_template(truth, path, "平潭综合实验区2023年度政府信息公开工作年度报告")
    ext = extract_document(path)
    assert {c.code: c.value for c in ext.cells} == truth
    assert (ext.report_year, ext.era, ext.agency_printed) == (2023, "v2021", "平潭综合实验区")
    assert all(c.source_kind == "docx" and c.table_index is not None for c in ext.cells)


def test_blank_template_is_not_a_report():
    ext = extract_document(RAW / "incoming" / "template_guobanfa_2021_30_blank.docx")
    assert ext.fatal.kind == "blank_form" and not ext.is_report
