"""OCR on scans made here from the bundled real reports, scored against the hand-checked truth.

The scans are generated once per session (``tests/scans.py``: image-only PDFs at 150/300 dpi,
a degraded scan with a red seal over Table 三, a Chromium screenshot of an HTML report) into a
directory the xdist workers share; generation is deterministic, so the files have the same
sha256 everywhere and the OCR cache of the session (conftest) serves every test that reads them.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from pathlib import Path

import pytest

from conftest import RAW, document_for, load_truth
from pipelines.extract import extract_document
from pipelines.extract.ocr import cached_text
from pipelines.extract.ocr import engine as ocr_engine

HONGZE = {2023: "jiangsu_huaian_hongze_district_gov_2023", 2024: "jiangsu_huaian_hongze_district_gov_2024"}
SHANGHAI = "shanghai_municipal_gov_general_office_2019"
TABLE_PAGES = [1, 2, 3, 4]  # title and the three tables; page 5 is narrative only


@pytest.fixture(autouse=True)
def _generous_budget(monkeypatch):
    """The default OCR budget follows the worker's time limit; on a loaded test machine CPU time inflates: give room."""
    monkeypatch.setenv("XXGK_OCR_DOC_SECONDS", "600")


@pytest.fixture(scope="session")
def scans(tmp_path_factory):
    """A function building (once, shared by the workers) a named scan fixture and returning its path."""
    import scans as make

    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "scans"
    folder.mkdir(exist_ok=True)

    def build(name: str) -> Path:
        out = folder / name
        with open(folder / f".{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not out.exists():
                tmp = folder / f".tmp-{name}"
                if name == "shanghai_2019.png":
                    make.html_screenshot(RAW / "incoming" / f"{SHANGHAI}.html", tmp, tables_only=True)
                else:  # hongze_<year>_<dpi or degraded>.pdf
                    _, year, kind = Path(name).stem.split("_")
                    src = document_for(HONGZE[int(year)])
                    if kind == "degraded":
                        make.image_only_pdf(src, tmp, 200, pages=TABLE_PAGES, degraded=True)
                    else:
                        make.image_only_pdf(src, tmp, int(kind), pages=None if kind == "150" else TABLE_PAGES)
                tmp.rename(out)
        return out

    return build


def score(ext, stem: str) -> dict:
    """Counts against the truth file (as tools/score_truth.py counts) and the codes not read."""
    truth = load_truth(stem)
    got = {c.code: c for c in ext.cells}
    counts = {"correct": 0, "wrong": 0, "missing": 0, "invented": 0}
    missing = []
    for code, want in truth.items():
        have = got[code].value if code in got else None
        if want is None:
            counts["correct" if have is None else "invented"] += 1
        elif have is None:
            counts["missing"] += 1
            missing.append(code)
        else:
            counts["correct" if have == want else "wrong"] += 1
    counts["invented"] += sum(1 for c, r in got.items() if c not in truth and r.value is not None)
    counts["accuracy"] = counts["correct"] / len(truth)
    counts["missing_codes"] = missing
    return counts


def printed_contradictions(stem: str, era: str) -> set[str]:
    """Codes in an error-level equality that the printed table itself breaks (per the truth file, printed values).

    No OCR reading of such a cell can be confirmed by the table: verification leaves it missing
    (``ocr_unverified``, the reading among its candidates) unless an alternative fixes the equality.
    """
    from pipelines.rules.expressions import linear_constraints

    truth = load_truth(stem)
    out: set[str] = set()
    for _, coeffs in linear_constraints(era):
        if all(truth.get(c) is not None for c in coeffs) and abs(sum(k * truth[c] for c, k in coeffs.items())) > 1e-6:
            out |= set(coeffs)
    return out


def assert_scan_scores(ext, stem: str, minimum: float, unverifiable: int, era: str = "v2021") -> dict:
    """0 wrong, 0 invented, every loss explained; the cells of equalities the printed table breaks left
    ``ocr_unverified`` with the printed reading among the candidates; the rest read at ``minimum`` or better."""
    s = score(ext, stem)
    assert s["wrong"] == 0 and s["invented"] == 0, s
    assert_losses_explained(ext, s["missing_codes"])
    contradicted = printed_contradictions(stem, era)
    assert len(contradicted) == unverifiable
    cells = {c.code: c for c in ext.cells}
    truth = load_truth(stem)
    for code in contradicted:
        assert cells[code].value_status == "ocr_unverified", code
        assert f"{truth[code]:g}" in cells[code].candidates.split("|"), code
    assert s["correct"] / (len(truth) - len(contradicted)) >= minimum, s
    return s


def assert_losses_explained(ext, missing: list[str]) -> None:
    """Every truth cell not read is in the extraction with a non-number status, or its table has a warning."""
    got = {c.code: c for c in ext.cells}
    warned_tables = {m for i in ext.issues if i.severity in ("warning", "info") for m in ("t2", "t3", "t4")
                     if _TABLE_WORDS[m] in i.message or i.kind.startswith("ocr_") or i.kind in ("row_shape", "unplaced_rows")}
    for code in missing:
        cell = got.get(code)
        assert (cell is not None and cell.value_status != "number") or code.split(".")[0] in warned_tables, code


_TABLE_WORDS = {"t2": "Table 二", "t3": "Table 三", "t4": "Table 四"}


@pytest.mark.parametrize("name,year,minimum", [
    ("hongze_2023_150.pdf", 2023, 0.99),
    ("hongze_2024_150.pdf", 2024, 0.99),
    ("hongze_2023_300.pdf", 2023, 0.99),
    ("hongze_2023_degraded.pdf", 2023, 0.95),
])
def test_scanned_report_scores_against_truth(scans, name, year, minimum):
    """Image-only renderings of the real 洪泽 reports (150/300 dpi, and a rotated, blurred, JPEG-noisy scan with a red seal over Table 三).

    洪泽 2023 prints Table 四 with totals that contradict their parts (行政复议 10+1+0+0 but 总计 0;
    复议后起诉 5+0+0+0 but 总计 0): OCR reads them as printed, but no equality can confirm an OCR
    reading there, so those 10 cells stay missing as ``ocr_unverified`` with the printed reading
    among the candidates; every other cell must be read (the text-layer copy of the same report
    keeps them as printed and the rule T4-SUM-V21 quarantines it).
    """
    ext = extract_document(scans(name))
    assert_scan_scores(ext, HONGZE[year], minimum, unverifiable=10 if year == 2023 else 0)
    assert (ext.report_year, ext.era) == (year, "v2021")
    ocr_cells = [c for c in ext.cells if c.value is not None]
    assert ocr_cells and all(c.source_kind == "ocr" and c.page and c.bbox for c in ocr_cells)


def test_html_screenshot_scores_against_truth(scans):
    """The 上海 2019 HTML report as a headless-Chromium screenshot (a long PNG cut into pages at blank rows)."""
    ext = extract_document(scans("shanghai_2019.png"))
    assert_scan_scores(ext, SHANGHAI, 0.95, unverifiable=0, era="v2019")
    assert (ext.report_year, ext.era, ext.file_type) == (2019, "v2019", "image")


def test_rerun_reads_the_cache_and_runs_no_ocr(tmp_path, scans, monkeypatch):
    """OCR runs once per (sha256, page, version): the second extraction does not call the engine at all."""
    import pypdf

    one = tmp_path / "page4.pdf"
    writer = pypdf.PdfWriter()
    writer.add_page(pypdf.PdfReader(str(scans("hongze_2023_150.pdf"))).pages[3])
    writer.write(one)
    monkeypatch.setenv("XXGK_OCR_CACHE", str(tmp_path / "cache"))
    calls = []
    for method in ("detect", "recognize"):
        real = getattr(ocr_engine.Engine, method)
        monkeypatch.setattr(ocr_engine.Engine, method, lambda self, *a, _real=real, _m=method, **k: calls.append(_m) or _real(self, *a, **k))
    from pipelines.extract.documents import read_document

    first = read_document(one)
    assert "detect" in calls and "recognize" in calls
    calls.clear()
    second = read_document(one)
    assert calls == []  # the engine was not called
    assert [[(c.text, c.bbox, c.confidence) for c in line.cells] for line in second.lines] == \
           [[(c.text, c.bbox, c.confidence) for c in line.cells] for line in first.lines]
    t4 = ["10", "1", "0", "0", "0", "0", "0", "0", "0", "0", "5", "0", "0", "0", "0"]  # Table 四 of 洪泽 2023 as printed
    assert any([c.text for c in line.cells] == t4 for line in first.lines)
    assert "行政复议" in cached_text(hashlib.sha256(one.read_bytes()).hexdigest())


def test_time_budget_leaves_pages_unread_with_the_reason(tmp_path, scans, monkeypatch):
    monkeypatch.setenv("XXGK_OCR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XXGK_OCR_PAGE_SECONDS", "0")
    ext = extract_document(scans("hongze_2024_150.pdf"))
    assert ext.fatal is not None and ext.fatal.kind == "no_text"
    assert "OCR stopped" in ext.fatal.message and "XXGK_OCR_PAGE_SECONDS" in ext.fatal.message
    monkeypatch.setenv("XXGK_OCR_PAGE_SECONDS", "30")
    monkeypatch.setenv("XXGK_OCR_MAX_PAGES", "1")
    ext = extract_document(scans("hongze_2024_150.pdf"))
    budget = [i for i in ext.issues if i.kind == "ocr_budget"]
    assert budget and "page(s) 2-5 not OCR'd" in budget[0].message and "XXGK_OCR_MAX_PAGES" in budget[0].message
    assert ext.report_year == 2024 and not ext.cells  # page 1 (title) read; the tables are on the pages not read


def test_long_screenshot_is_cut_into_pages_at_blank_rows():
    import numpy as np

    from pipelines.extract.ocr import _cut_long

    img = np.full((5000, 1000, 3), 255, np.uint8)
    for top in range(0, 5000, 40):  # text lines 20 px tall, 20 px apart
        img[top + 10 : top + 30, 50:950] = 0
    parts = _cut_long(img)
    assert len(parts) > 2 and sum(p.shape[0] for p in parts) == 5000
    assert all(not (p[0] == 0).any() for p in parts[1:])  # every cut is a blank row, never through a text line


def test_scanned_page_inside_a_text_pdf(tmp_path, scans):
    """A text PDF whose page 4 is a scan: that page is OCR'd, the others read from the text layer; all cells right."""
    import pypdf

    text = pypdf.PdfReader(str(document_for(HONGZE[2023])))
    scan = pypdf.PdfReader(str(scans("hongze_2023_150.pdf")))
    writer = pypdf.PdfWriter()
    for k in range(5):
        writer.add_page(scan.pages[k] if k == 3 else text.pages[k])
    mixed = tmp_path / "mixed.pdf"
    writer.write(mixed)
    ext = extract_document(mixed)
    assert_scan_scores(ext, HONGZE[2023], 1.0, unverifiable=10)  # page 4 holds Table 四 and its printing error
    kinds: dict[int, set] = {}
    for c in ext.cells:
        kinds.setdefault(c.page, set()).add(c.source_kind)
    assert kinds[4] == {"ocr"} and "pdf_table" in kinds[3] and "ocr" not in kinds[3]


def test_ocr_cells_carry_confidence_and_alternatives(scans):
    from pipelines.extract.documents import read_document

    doc = read_document(scans("hongze_2023_degraded.pdf"))
    cells = [c for line in doc.lines if line.source_kind == "ocr" for c in line.cells if c.text.isdigit()]
    assert cells and all(0 <= c.confidence <= 1 and c.page and c.bbox for c in cells)
    unsure = [c for c in cells if c.confidence < 0.9]
    assert unsure and any(c.alternatives for c in unsure)  # cells under the seal: the engine's other digits
    assert all(a.replace(".", "").isdigit() for c in cells for a in c.alternatives)  # numbers get numeric alternatives
    assert doc.meta["ocr_pages"] == "1-4"


def test_inventory_reads_without_ocr(scans, tmp_path):
    """quick_text: a text PDF's title from its text layer; a scan gives None (no OCR), then its cached OCR text."""
    from pipelines.extract.pdf import quick_text

    head = quick_text(document_for(HONGZE[2024]))
    assert "2024" in head and "政府信息公开工作年度报告" in head
    scan = scans("hongze_2024_150.pdf")
    assert quick_text(scan) is None
    extract_document(scan)
    assert "2024年政府信息公开工作年度报告" in cached_text(hashlib.sha256(scan.read_bytes()).hexdigest()).replace(" ", "")


def test_xxgk_run_publishes_a_scanned_report(tmp_path, scans):
    """A scan-only PDF through the whole pipeline: published or published_partial with reasons, never rejected."""
    import duckdb

    from pipelines.runner import run_pipeline

    raw = tmp_path / "raw" / "incoming"
    raw.mkdir(parents=True)
    scan = scans("hongze_2024_150.pdf")
    extract_document(scan)  # OCR now (or from the session's cache): the run's worker then reads the cache
    shutil.copy2(scan, raw / "hongze_2024_scan.pdf")
    shutil.copy2(RAW / "agencies.csv", tmp_path / "raw" / "agencies.csv")
    run_pipeline(tmp_path / "raw", tmp_path / "wh", workers=1)
    con = duckdb.connect(str(tmp_path / "wh" / "xxgk.duckdb"), read_only=True)
    status, reason, year = con.execute("SELECT status, reason, report_year FROM reports").fetchone()
    assert status in ("published", "published_partial"), (status, reason)
    assert year == 2024
    kinds = {k for (k,) in con.execute("SELECT DISTINCT source_kind FROM cells").fetchall()}
    assert kinds == {"ocr"}
