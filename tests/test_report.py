"""`xxgk report` for auditors, end to end, rendered in headless Chromium.

A landing zone of real reports — 平潭 2020 (T3-SUM-V19 fails: （七）总计 21 where the rows sum
to 27), 洪泽区 2023/2024 (T4-SUM-V21 fails on page 4; ×17 jump in 行政许可 between the years),
平潭 2023/2024 (stock roll-forward), 甘州区 2016 (old format), 上海市政府办公厅 2019 (narrative
quotes), an unnamed 某区审计局 (body not in the registry), a traditional-character mirror — plus
a synthetic city whose district prints a table that differs from its parts (roll-up vs
aggregate). One pipeline run, one `xxgk report`, then every output is checked as a reader sees
it: the Chinese summary, a findings page, the letters (HTML and PDF), the workbook read back
with openpyxl, and the Data Docs loading nothing from the network. Screenshots go to
tests/output/.
"""

from __future__ import annotations

import csv
import html
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
from openpyxl import load_workbook
from pypdf import PdfReader

import pipelines.quality as quality
from conftest import RAW, ROOT
from pipelines.report.browser import Browser
from pipelines.runner import run_pipeline
from pipelines.synth import generate

DOCS = [
    "incoming/fujian_pingtan_zone_admin_committee_2020.txt",
    "incoming/jiangsu_huaian_hongze_district_gov_2023.pdf",
    "incoming/jiangsu_huaian_hongze_district_gov_2024.pdf",
    "pingtan/pingtan_zone_admin_committee_2023.html",
    "pingtan/pingtan_zone_admin_committee_2024.html",
    "incoming/fujian_pingtan_zone_admin_committee_2024.txt",  # the same report as text: a copy, counted and listed once
    "incoming/gansu_ganzhou_district_gov_2016.txt",
    "incoming/shanghai_municipal_gov_general_office_2019.html",
    "incoming/shanghai_municipal_gov_general_office_2020.excerpt_mirror_trad.txt",
    "incoming/unknown_district_audit_bureau_2020_p9.excerpt.txt",
]
OUTPUT = ROOT / "tests" / "output"
HONGZE_2023 = "incoming/jiangsu_huaian_hongze_district_gov_2023.pdf"


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _write(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def landing_zone(base: Path) -> Path:
    """The real documents above plus a synthetic city (2023, 2024) with one injected district, in one raw/."""
    raw = base / "raw"
    for rel in DOCS:
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(RAW / rel, raw / rel)
    synth = base / "synth"
    generate(synth, districts=2, bodies_per_district=2, years=(2023, 2024), seed=7, inject=1)
    for year in ("2023", "2024"):
        shutil.copytree(synth / year, raw / "synth" / year)
    manifest = [r for r in _rows(RAW / "MANIFEST.csv") if r["file"] in DOCS]
    manifest += [{**r, "file": f"synth/{r['file']}"} for r in _rows(synth / "MANIFEST.csv")]
    _write(raw / "MANIFEST.csv", manifest)
    shutil.copy2(RAW / "agencies.csv", raw / "agencies.csv")  # overrides; every other body is placed by the resolver
    return raw


def sql(wh: Path, query: str, *params):
    con = duckdb.connect(str(wh / "xxgk.duckdb"), read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()


def test_report_for_auditors(tmp_path):
    raw = landing_zone(tmp_path)
    wh = tmp_path / "warehouse"
    summary = run_pipeline(raw, wh, workers=1, progress=False, instance=dg.DagsterInstance.ephemeral())
    assert f"quality report: {wh / 'reports' / 'quality.html'}" in summary
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "report", "--warehouse", str(wh), "--raw", str(raw)],
                          capture_output=True, text=True, check=True)
    reports = wh / "reports"
    assert proc.stdout.splitlines()[0] == str(reports / "quality.html"), proc.stdout
    assert "note:" not in proc.stdout, proc.stdout  # nothing missing: PDFs printed, every Data Docs asset local
    manifest = json.loads((reports / "manifest.json").read_text(encoding="utf-8"))
    for key in ("html", "workbook", "data_docs"):
        assert Path(manifest[key]).exists(), key
    OUTPUT.mkdir(exist_ok=True)
    with Browser() as browser:
        check_summary(browser, wh)
        check_findings_page(browser, wh, raw)
        check_letters(browser, wh, manifest)
        check_workbook(browser, wh, tmp_path)
        check_data_docs(browser, manifest)
    check_pages_are_bounded(wh, raw)


def check_summary(browser: Browser, wh: Path) -> None:
    """quality.html: Chinese, failures first, not-assessable folded away, charts inline, every loss counted."""
    page = wh / "reports" / "quality.html"
    assert page.stat().st_size < 1_000_000
    source = page.read_text(encoding="utf-8")
    assert "<script src" not in source and source.count('class="marks"') >= 3  # Vega-Lite charts as inline SVG
    browser.screenshot(page, OUTPUT / "quality.png", 1280, 2600)
    assert not [u for u in browser.requests if not u.startswith(("file:", "data:"))], browser.requests
    text = browser.text()
    for needle in ("政府信息公开工作年度报告核查报告", "错误（须更正）", "表三 （七）总计与各项办理结果之和不符",
                   "表四 总计与各项结果之和不符", "汇总报告与下级合计核对", "跨年度变化", "与上年相比变化超过十倍",
                   "表二「行政许可」·处理决定数量", "未识别的单位", "某区审计局", "个单元格无法读取", "项无法判断"):
        assert needle in text, needle
    for english in ("the sum of", "not assessable", "the text states", "compared with"):
        assert english not in text, english
    severities = browser.evaluate("[...document.querySelectorAll('#rules td:nth-child(2)')].slice(0, 3).map(e => e.innerText)")
    assert severities[:2] == ["错误（须更正）", "错误（须更正）"], severities  # the two error rules come first
    # the injected district: its printed aggregate differs from the sum of its bodies
    differing = sql(wh, "SELECT count(*), min(region_name) FROM v_rollup_vs_reported WHERE abs(difference) > 0")[0]
    assert differing[0] > 0 and f"{differing[0]} 个指标不一致" in text and differing[1] in text


def check_findings_page(browser: Browser, wh: Path, raw: Path) -> None:
    """A findings page: what, where (page/line/table cell), found vs expected, quote, file and source links."""
    page = wh / "reports" / "findings" / "0001.html"
    browser.screenshot(page, OUTPUT / "quality_findings.png", 1280, 2600)
    text = browser.text()
    for needle in ("表四「行政复议」·总计 印为 0", "第4页", "应等于四项结果之和 11（相差 -11）", "隔离（须整改）",
                   "“（七）总计” 21，应等于各项办理结果之和 27（相差 -6）", "原文：“予以公开及部分公开258件",
                   "整改：核对该类四项结果的件数", "对比：2023年度报告", "第三方转载副本", "未能读取任何统计表"):
        assert needle in text, needle
    copies = sql(wh, "SELECT canonical_report_id FROM report_copies WHERE NOT is_canonical")
    assert copies and all(f"副本：与 {c} 是同一份报告（同一报告的另一种文件格式）" in text for (c,) in copies)
    # failures first: every report with a failure comes before every report without one
    has_fail = browser.evaluate("[...document.querySelectorAll('section.report')].map(s => s.querySelectorAll('tr.fail').length > 0)")
    assert has_fail == sorted(has_fail, reverse=True) and any(has_fail)
    # every failure row is actionable: cells or a quote, and what to correct
    rows = browser.evaluate("[...document.querySelectorAll('tr.fail')].map(r => [r.cells[2].innerText.trim() || r.cells[4].innerText.includes('原文'), r.cells[4].innerText.includes('整改：')])")
    assert rows and all(where and fix for where, fix in rows)
    listed = sql(wh, "SELECT count(*) FROM rule_results WHERE outcome = 'fail'")[0][0]
    assert len(rows) == listed  # one page holds every failure of this warehouse
    # not assessable: folded, never shown among the failures
    assert browser.evaluate("[...document.querySelectorAll('details')].filter(d => d.open && d.innerText.includes('无法判断')).length") == 0
    assert "无法判断" in text and "not assessable" not in browser.evaluate("document.querySelector('table.findings').innerText")
    # links: the document in raw/ and its published source
    links = browser.evaluate("[...document.querySelectorAll('.meta a')].map(a => [a.innerText, a.getAttribute('href')])")
    hrefs = dict(links)
    target = (page.parent / hrefs[HONGZE_2023]).resolve()
    assert target == (raw / HONGZE_2023).resolve() and target.exists()
    source = sql(wh, "SELECT source_url FROM reports WHERE report_id = ?", "pingtan/pingtan_zone_admin_committee_2024.html")[0][0]
    assert source and source in text


def check_letters(browser: Browser, wh: Path, manifest: dict) -> None:
    """One letter per body with failures (or a quarantined report), as HTML with a print stylesheet and as PDF."""
    letters = wh / "reports" / "letters"
    bodies = {r[0] for r in sql(wh, "SELECT coalesce(agency_id, 'printed:' || agency_printed) FROM reports WHERE (status = 'quarantined' "
                                    "OR report_id IN (SELECT report_id FROM rule_results WHERE outcome = 'fail')) "
                                    "AND report_id NOT IN (SELECT report_id FROM report_copies WHERE NOT is_canonical)")}
    html_files = sorted(p for p in letters.glob("*.html") if p.name != "index.html")
    assert len(html_files) == len(bodies) == len(manifest["letters"]) == len(manifest["pdfs"])
    assert {quality.letter_file(b) for b in bodies} == {p.stem for p in html_files}
    hongze_id = sql(wh, "SELECT agency_id FROM reports WHERE report_id = ?", HONGZE_2023)[0][0]
    hongze = letters / f"{quality.letter_file(hongze_id)}.html"
    source = hongze.read_text(encoding="utf-8")
    assert "@page" in source and "@media print" in source
    browser.screenshot(hongze, OUTPUT / "letter_hongze.png", 900, 1800)
    text = browser.text()
    for needle in ("关于淮安市洪泽区人民政府政府信息公开工作年度报告有关问题的整改通知", "2 项为错误，须予更正", "表四「行政复议」·总计 印为 0",
                   "整改要求：", "与上年相比变化超过十倍", "（盖章）"):
        assert needle in text, needle
    pdf = PdfReader(hongze.with_suffix(".pdf"))
    first = pdf.pages[0]
    assert round(float(first.mediabox.width)) == 595 and round(float(first.mediabox.height)) == 842  # A4
    pdf_text = "".join(p.extract_text() for p in pdf.pages)
    assert "整改通知" in pdf_text and "T4-SUM-V21" in pdf_text
    for pdf_path in manifest["pdfs"]:
        assert Path(pdf_path).read_bytes()[:5] == b"%PDF-"
    pingtan = sql(wh, "SELECT agency_id FROM reports WHERE report_id = ?", "pingtan/pingtan_zone_admin_committee_2024.html")[0][0]
    assert (letters / f"{quality.letter_file(pingtan)}.html").read_text(encoding="utf-8").count("2024年度报告") == 1  # copies once
    injected = sql(wh, "SELECT DISTINCT agency_id FROM reports WHERE report_id IN "
                       "(SELECT report_id FROM rule_results WHERE rule_id LIKE 'L-AGG%' AND outcome = 'fail')")
    assert injected  # the injected district's aggregate: warnings only, so a request to verify
    assert all("核实通知" in (letters / f"{quality.letter_file(a)}.html").read_text(encoding="utf-8") for (a,) in injected)
    browser.open(letters / "index.html")
    assert browser.evaluate("document.querySelectorAll('#letters tr[data-text]').length") == len(bodies)


def check_workbook(browser: Browser, wh: Path, tmp_path: Path) -> None:
    """quality.xlsx read back with openpyxl: every finding, roll-ups, published tables; a preview rendered in Chromium."""
    book = load_workbook(wh / "reports" / "quality.xlsx", read_only=True)
    sheets = {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets}
    for title in ("说明", "问题清单", "无法判断", "未识别单位", "汇总核对", "跨年变化", "未能读取", "报告清单", "已发布·表二", "已发布·表三", "已发布·表四", "已发布·统计表"):
        assert title in sheets, title
    findings = sheets["问题清单"]
    header = findings[0]
    assert len(findings) - 1 == sql(wh, "SELECT count(*) FROM rule_results WHERE outcome = 'fail'")[0][0]
    t4 = [dict(zip(header, r)) for r in findings[1:] if r[header.index("规则编号")] == "T4-SUM-V21"]
    assert len(t4) == 2 and all(r["问题"] == "表四 总计与各项结果之和不符" and r["文件"] == HONGZE_2023 for r in t4)
    assert any("表四「行政复议」·总计 印为 0（第4页" in r["涉及的单元格（印出值·位置）"] for r in t4)
    assert t4[0]["来源"] == sql(wh, "SELECT source_url FROM reports WHERE report_id = ?", HONGZE_2023)[0][0]
    assert len(sheets["汇总核对"]) - 1 == sql(wh, "SELECT count(*) FROM v_rollup_vs_reported")[0][0]
    assert any(r[0] == "某区审计局" for r in sheets["未识别单位"][1:])
    lost = sql(wh, "SELECT count(*) FROM extraction_issues WHERE severity <> 'info'")[0][0]
    assert len(sheets["未能读取"]) - 1 == lost and any(r[3] == "粘连数字有多种拆法，未读取" for r in sheets["未能读取"][1:])
    t3 = sheets["已发布·表三"]
    codes = t3[1]
    published = sql(wh, "SELECT count(DISTINCT report_id) FROM published_cells WHERE table_id = 't3'")[0][0]
    assert len(t3) - 2 == published
    row = dict(zip(codes, t3[2]))
    report_file = t3[2][5]
    for code, value in sql(wh, "SELECT code, value FROM cells WHERE report_id = ? AND table_id = 't3' AND value IS NOT NULL", report_file):
        assert math.isclose(row[code], value), code
    assert t3[0][codes.index("t3.total_processed.total")] == "表三「（七）总计」·总计"
    # a preview of what a reader of the workbook sees
    parts = []
    for title in ("问题清单", "汇总核对", "已发布·表三"):
        rows = sheets[title][:12]
        frame = pd.DataFrame(rows[1:], columns=[str(c) for c in rows[0]]).iloc[:, :12]
        frame = frame.astype(object).where(frame.notna(), "").map(lambda v: str(v).replace("\n", "；"))
        parts.append(f"<h2>{html.escape(title)}（{len(sheets[title]) - 1} 行）</h2>" + frame.to_html(index=False, na_rep=""))
    preview = tmp_path / "xlsx_preview.html"
    preview.write_text("<meta charset='utf-8'><style>body{font-family:'WenQuanYi Micro Hei';font-size:11px}"
                       "td,th{border:1px solid #ccc;padding:2px 4px;max-width:260px}table{border-collapse:collapse}</style>"
                       "<h1>quality.xlsx（openpyxl 读回）</h1>" + "".join(parts), encoding="utf-8")
    browser.screenshot(preview, OUTPUT / "quality_xlsx.png", 1600, 1800)
    assert "表四 总计与各项结果之和不符" in browser.text()


def check_data_docs(browser: Browser, manifest: dict) -> None:
    """GX Data Docs render offline: nothing requested from the network, the index tables filled, Bootstrap applied."""
    index = Path(manifest["data_docs"])
    before = len(browser.requests)
    browser.screenshot(index, OUTPUT / "data_docs.png", 1280, 900)
    loaded = browser.requests[before:]
    assert loaded and all(u.startswith(("file:", "data:")) for u in loaded), loaded
    assert browser.evaluate("document.querySelectorAll('table.ge-index-page-validation-results-table tbody tr').length") > 0
    assert browser.evaluate("getComputedStyle(document.querySelector('.nav-link')).paddingTop") == "8px"  # bootstrap.css
    page = next(index.parent.rglob("validations/**/*.html"))
    before = len(browser.requests)
    browser.open(page)
    assert all(u.startswith(("file:", "data:")) for u in browser.requests[before:])
    assert "table_" in browser.text()


def check_pages_are_bounded(wh: Path, raw: Path) -> None:
    """With a small page size the findings are split into linked pages; a later run leaves no stale page behind."""
    con = duckdb.connect(str(wh / "xxgk.duckdb"), read_only=True)
    try:
        listed = len(quality.data.listed_reports(con))
    finally:
        con.close()
    original = quality.PAGE_REPORTS
    try:
        quality.PAGE_REPORTS = 3
        out = quality.build_report(wh, raw, with_data_docs=False, pdf=False)
        assert len(out.pages) == math.ceil(listed / 3) > 1
        for k, page in enumerate(out.pages, start=1):
            text = page.read_text(encoding="utf-8")
            assert text.count('<section class="report"') <= 3
            assert (k == len(out.pages)) == ("下一页" not in text)
        quality.PAGE_REPORTS = original
        out = quality.build_report(wh, raw, with_data_docs=False, pdf=False)
        assert [p.name for p in sorted((wh / "reports" / "findings").iterdir())] == ["0001.html"]
        assert not list((wh / "reports" / "letters").glob("*.pdf")) and out.notes == []
    finally:
        quality.PAGE_REPORTS = original
