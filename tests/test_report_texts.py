"""The Chinese texts of the report come from the registry, complete and in step with it; findings read as auditors need.

Fast tests without a warehouse: the registry's rule_texts.csv / display_zh.csv against rules.csv
and warehouse_tables.csv, the printed labels of every cell, the Chinese view of rule results,
letter file names, and the offline rewrite of GX Data Docs pages.
"""

from __future__ import annotations

import csv
import hashlib
import re
from importlib import resources

import pytest

from pipelines.quality import letter_file
from pipelines.registry import PRESENTATION_FILES, display_texts, load_registry, registry_hash, rule_texts
from pipelines.report.datadocs import CDN_FILES, UNUSED, VENDOR, make_offline
from pipelines.report.findings import finding_view
from pipelines.report.texts import cell_label, place
from pipelines.rules.findings import instance_index

CJK = re.compile(r"[\u4e00-\u9fff]")
# coded columns the report shows by name: each allowed value needs its Chinese text
SHOWN_COLUMNS = [
    ("reports", "status"), ("reports", "scope"), ("reports", "era"), ("rule_results", "severity"), ("rule_results", "kind"),
    ("rule_results", "outcome"), ("cells", "table_id"), ("cells", "value_status"), ("cells", "recovery"),
    ("cells", "source_kind"), ("agencies", "level"), ("agencies", "kind"), ("reports", "agency_match"), ("report_copies", "copy_role"),
]


def test_every_rule_has_its_chinese_texts_and_no_other():
    rules = {r.rule_id for r in load_registry().rules}
    texts = rule_texts()
    assert set(texts) == rules, f"missing: {sorted(rules - set(texts))}; unknown: {sorted(set(texts) - rules)}"
    for rule_id, t in texts.items():
        for field in ("title", "description", "fix"):
            assert CJK.search(getattr(t, field)), (rule_id, field)
        assert bool(t.found) == bool(t.expected), f"{rule_id}: name both sides of the comparison or neither"


def test_every_coded_value_shown_has_a_chinese_name():
    reg = load_registry()
    names = display_texts()
    named = {tuple(domain.split(".", 1)) for domain, _ in names if "." in domain}
    for table, column in sorted(set(SHOWN_COLUMNS) | {d for d in named if d[0] in reg.tables}):
        cols = {c.name: c for c in reg.tables[table]}
        if column not in cols:
            continue  # a column another part of the project has not added yet
        for value in cols[column].allowed:
            assert (f"{table}.{column}", value) in names, f"display_zh.csv: no Chinese name for {table}.{column} = {value}"
    ops = {inst.op for inst in instance_index().values()} - {"predicate", "integer"}
    assert all(("rule_op", op) in names for op in ops), ops


def test_texts_are_outside_the_registry_hash():
    """Editing a Chinese text re-renders reports, never re-extracts the warehouse."""
    base = resources.files("pipelines.registry").joinpath("data")
    h = hashlib.sha256()
    for name in sorted(p.name for p in base.iterdir() if p.name.endswith(".csv") and p.name not in PRESENTATION_FILES):
        h.update(name.encode())
        h.update(base.joinpath(name).read_bytes())
    assert h.hexdigest() == registry_hash()
    assert {"rule_texts.csv", "display_zh.csv"} <= {p.name for p in base.iterdir()}


def test_every_cell_is_named_by_its_printed_labels():
    reg = load_registry()
    for ind in reg.indicators:
        label = cell_label(ind.code)
        assert label.startswith(("表二「", "表三「", "表四「", "统计表「")), (ind.code, label)
        assert ind.code not in label and not re.search(r"[a-z]{3,}", label), (ind.code, label)
        assert (ind.row_label or ind.section_label.split(" > ")[-1]) in label
    assert cell_label("t3.total_processed.natural_person") == "表三「（七）总计」·自然人"
    assert cell_label("t4.review.total") == "表四「行政复议」·总计"
    assert cell_label("t3.results.denied.state_secret.total") == "表三「（三）不予公开·1.属于国家秘密」·总计"
    assert cell_label("t3.results.unable") == "表三「（四）无法提供」"  # a group of cells, as narrative rules list them


def _row(**kw):
    base = {"report_id": "r.txt", "report_year": 2023, "instance": "", "outcome": "fail", "evidence": None, "cells": "",
            "found": None, "expected": None, "message": ""}
    return {**base, **kw}


def test_a_sum_failure_says_where_and_by_how_much():
    row = _row(rule_id="T4-SUM-V21", kind="sum", severity="error", instance="blk=review",
               cells="t4.review.total t4.review.maintained t4.review.corrected t4.review.other t4.review.pending",
               found=0.0, expected=11.0)
    cells = {("r.txt", "t4.review.total"): {"raw": "0", "value_status": "number", "page": 4, "table_index": 4, "row_index": 3,
                                           "col_index": 4, "line": None, "source_kind": "pdf_table", "recovery": "none"},
             ("r.txt", "t4.review.maintained"): {"raw": "", "value_status": "blank", "page": 4, "table_index": None,
                                                "row_index": None, "col_index": None, "line": None, "source_kind": "pdf_text", "recovery": "none"}}
    v = finding_view(row, cells)
    assert v.title == "表四 总计与各项结果之和不符" and v.severity_text == "错误（须更正）"
    assert v.values_line == "该类“总计” 0，应等于四项结果之和 11（相差 -11）"
    assert [c.printed for c in v.cells[:3]] == ["0", "空白", "未印出"]
    assert v.cells[0].label == "表四「行政复议」·总计" and v.cells[0].where == "第4页 · 第5个表格第4行第5列"
    assert "四项结果" in v.fix or "总计" in v.fix


def test_a_narrative_failure_quotes_and_keeps_the_tables_bound():
    row = _row(rule_id="N-CAT-GRANTPART-V19", kind="narrative", severity="warning", instance="granted_or_partial",
               cells="t3.results.granted.total t3.results.partially_granted.total t3.results.granted t3.results",
               found=258.0, expected=275.0, evidence="予以公开及部分公开258件,占33.9%;",
               message="N-CAT-GRANTPART-V19 [granted_or_partial]: the text states 258, the tables give at least 275")
    v = finding_view(row, {})
    assert v.values_line == "正文所述 258；表三数字 至少 275"  # a bound, not a difference
    assert [c.code for c in v.cells] == ["t3.results.granted.total", "t3.results.partially_granted.total"]  # groups dropped
    assert v.evidence.startswith("予以公开及部分公开258件")


def test_a_cross_year_failure_names_the_other_report():
    row = _row(rule_id="Y-JUMP-V21", kind="cross_year", severity="warning", instance="t2.licensing.decisions <=",
               cells="t2.licensing.decisions", found=9487.0, expected=5500.0,
               evidence="compared with incoming/jiangsu_huaian_hongze_district_gov_2023.pdf (2023)")
    v = finding_view(row, None)
    assert (v.other_report, v.other_year, v.evidence) == ("incoming/jiangsu_huaian_hongze_district_gov_2023.pdf", "2023", "")
    assert v.relation == "应不大于" and v.cells[0].label == "表二「行政许可」·处理决定数量"


def test_not_assessable_is_never_shown_as_a_failure():
    row = _row(rule_id="T3-SUM-V21", kind="sum", severity="error", outcome="not_assessable", found=5.0, expected=None,
               cells="t3.total_processed.total", message="T3-SUM-V21 not assessable: missing t3.results.other.total")
    v = finding_view(row, {})
    assert v.values_line == "" and v.outcome == "not_assessable"


def test_letter_files_are_safe_and_distinct():
    assert letter_file("js-huaian-hongze-gov") == "js-huaian-hongze-gov"
    odd = letter_file("320813:dept:科学技术委员会")
    assert re.fullmatch(r"[0-9A-Za-z_.-]+", odd) and odd != letter_file("320813:dept:教育局")
    a, b = letter_file("printed:某区审计局"), letter_file("printed:某区财政局")
    assert a.startswith("unresolved-") and a != b


def test_data_docs_pages_are_rewritten_to_local_copies(tmp_path):
    site = tmp_path / "local_site"
    page = site / "validations" / "a" / "b.html"
    page.parent.mkdir(parents=True)
    (site / "static" / "images").mkdir(parents=True)
    jquery = next(u for u in CDN_FILES if "jquery" in u)
    popper = next(u for u in CDN_FILES if "popper" in u)
    page.write_text(
        f'<link rel="stylesheet" href="{next(u for u in CDN_FILES if u.endswith("bootstrap.min.css"))}"/>'
        f'<script src="{jquery}"></script>'
        f'<script src="{popper}" integrity="sha384-x" crossorigin="anonymous"></script>'
        f'<script src="{UNUSED[0]}"></script>'
        '<script src="https://cdn.example.org/new.js"></script>'
        '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1&dataContextId=x">'
        '<a href="https://greatexpectations.io">GX</a>',
        encoding="utf-8",
    )
    unknown = make_offline(site)
    text = page.read_text(encoding="utf-8")
    assert unknown == ["https://cdn.example.org/new.js"]
    assert 'src="../../static/vendor/jquery/jquery.min.js"' in text
    assert 'href="../../static/vendor/bootstrap/css/bootstrap.min.css"/>' in text
    assert "integrity" not in text and "crossorigin" not in text
    assert 'src="../../static/images/logo-long.png"' in text
    assert re.findall(r'(?:src|href)="(https?://[^"]+)"', text) == ["https://greatexpectations.io"]  # a link, not a load
    for rel in CDN_FILES.values():
        assert (site / "static" / "vendor" / rel).exists(), rel


def test_vendored_assets_are_the_published_files():
    """The SHA-256 listed in vendor/SOURCES.md (files as taken from the npm registry) match the files."""
    listed = dict(re.findall(r"^([0-9a-f]{64})  \./(\S+)$", (VENDOR / "SOURCES.md").read_text(encoding="utf-8"), re.M))
    files = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file() and p.name != "SOURCES.md"}
    assert set(listed.values()) == files
    for digest, rel in listed.items():
        assert hashlib.sha256((VENDOR / rel).read_bytes()).hexdigest() == digest, rel


@pytest.mark.parametrize("name", ["rule_texts.csv", "display_zh.csv"])
def test_text_files_are_well_formed(name):
    with resources.files("pipelines.registry").joinpath("data", name).open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    keys = [tuple(v for k, v in r.items() if k in ("rule_id", "domain", "key")) for r in rows]
    assert len(keys) == len(set(keys)), "duplicate keys"
    assert all(all(v is not None for v in r.values()) for r in rows), "a row with too few fields"


def test_places_of_lost_cells_read_in_chinese():
    assert place("page 3, table 2 row 5") == "第3页 · 第2个表格第5行"
    assert place("line 10") == "第10行" and place("line index 4") == "第4个文本行"
    assert place("unknown place") == "位置不明" and place(None) == ""
