"""The .xlsx export (xlsxwriter, streaming): every finding, and the published tables one row per report.

Sheets: 说明 (what is where), 问题清单 (every failure with the printed cells, where they are,
found vs expected, quote, what to correct, file and source), 无法判断, 未识别单位, 汇总核对,
跨年变化, 未能读取 (every table or cell that could not be read), 报告清单 (every document),
and the published tables 表二/表三/表四/统计表 (one row per published report, a column per
cell: Chinese label above its code). Rows are written as they are read (constant memory); a
sheet that would pass Excel's row limit says where it stopped.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import xlsxwriter

from pipelines.registry import load_registry
from pipelines.report import data
from pipelines.report.findings import finding_view
from pipelines.report.texts import cell_label, name, place, rule_text

MAX_ROWS = 1_048_576 - 2  # Excel's limit, less the header and the truncation note
BATCH = 5_000

FINDING_COLUMNS = [
    ("地区", 20), ("单位", 24), ("年度", 6), ("报告状态", 12), ("严重程度", 12), ("问题", 34), ("涉及的单元格（印出值·位置）", 50),
    ("实为 / 应为", 34), ("原文", 40), ("依据", 40), ("整改要求", 40), ("对比报告", 30), ("规则编号", 14), ("规则实例", 24),
    ("文件", 40), ("来源", 40),
]


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """Rows of a query as dicts, in batches (on a cursor of its own, so other queries can run meanwhile)."""
    cur = con.cursor().execute(sql, params or [])
    names = [d[0] for d in cur.description]
    while True:
        rows = cur.fetchmany(BATCH)
        if not rows:
            return
        yield [dict(zip(names, r)) for r in rows]


class _Sheet:
    """A worksheet written row by row with a header, widths, filter and a truncation note."""

    def __init__(self, book: xlsxwriter.Workbook, title: str, columns: list[tuple[str, int]], formats: dict, codes: list[str] | None = None):
        self.ws = book.add_worksheet(title)
        self.formats = formats
        self.ncols = len(columns)
        for j, (head, width) in enumerate(columns):
            self.ws.write(0, j, head, formats["head"])
            self.ws.set_column(j, j, width)
        self.row = 1
        if codes is not None:
            self.ws.write_row(1, 0, codes, formats["code"])
            self.row = 2
        self.ws.freeze_panes(self.row, 0)
        self.written = 0
        self.truncated = False

    def add(self, values: list) -> bool:
        """Write one row; False once the sheet is full (a note says so)."""
        if self.truncated:
            return False
        if self.row >= MAX_ROWS:
            self.ws.write(self.row, 0, "已达 Excel 行数上限，以下未列出；全部数据可用 xxgk sql 查询。", self.formats["note"])
            self.truncated = True
            return False
        self.ws.write_row(self.row, 0, ["" if v is None else v for v in values], self.formats["wrap"])
        self.row += 1
        self.written += 1
        return True

    def close(self) -> None:
        """Add the filter over the written rows."""
        if self.written:
            self.ws.autofilter(0, 0, self.row - 1, self.ncols - 1)


def _region(r: dict) -> str | None:
    """'江苏省淮安市洪泽区 320813' (name and code of the body's division), or None when the body is not placed."""
    return " ".join(x for x in (r.get("region_name"), r.get("region_code")) if x) or None


def _finding_row(view, body: str, year, status: str, region: str | None, source_path: str, source_url: str | None) -> list:
    return [
        region, body, year, name("reports.status", status), view.severity_text, view.title,
        "\n".join(f"{c.label} 印为 {c.printed}" + (f"（{c.where}）" if c.where else "") for c in view.cells),
        view.values_line, view.evidence, view.description, view.fix,
        f"{view.other_year} {view.other_report}".strip(), view.rule_id, view.instance, source_path, source_url,
    ]


ORDER = "ORDER BY a.region_code NULLS LAST, body_name, r.report_year, r.report_id"
FROM_REPORTS = f"JOIN reports r USING (report_id) {data.REGION_JOIN}"


def _query_sheet(book, formats, con, title: str, columns, sql: str, rows, params=None, codes=None) -> _Sheet:
    """A sheet filled from a query read in batches; ``rows(batch)`` turns a batch of dicts into rows."""
    sheet = _Sheet(book, title, columns, formats, codes=codes)
    for batch in _fetch(con, sql, params):
        if not all(sheet.add(values) for values in rows(batch)):
            break
    sheet.close()
    return sheet


def _cells(con, batch: list[dict]) -> dict:
    """(report_id, code) -> cell row for the cells a batch of findings names."""
    import pandas as pd

    pairs = pd.DataFrame([(r["report_id"], c) for r in batch for c in (r.get("cells") or "").split()], columns=["report_id", "code"])
    con.register("_wb_codes", pairs.drop_duplicates())
    try:
        frame = con.execute(
            "SELECT c.report_id, c.code, c.raw, c.value_status, c.page, c.line, c.table_index, c.row_index, c.col_index, "
            "c.source_kind, c.recovery FROM cells c JOIN _wb_codes USING (report_id, code)").df()
    finally:
        con.unregister("_wb_codes")
    return {(c["report_id"], c["code"]): c for c in frame.to_dict("records")}


def _failure_rows(con):
    def rows(batch):
        cells = _cells(con, batch)
        return (_finding_row(finding_view(r, cells), r["body_name"], r["report_year"], r["status"], _region(r),
                             r["source_path"], r["source_url"]) for r in batch)
    return rows


def _published_table(book, formats, con, table_id: str, title: str) -> _Sheet:
    """One row per published report, a column per cell of the table (all formats that print it)."""
    reg = load_registry()
    codes: list[str] = []
    for era in ("v2021", "v2019") if table_id != "old" else ("old2014",):  # cells only the 2019 layout prints follow
        for row in reg.template(era):
            if row.table_id == table_id and not row.is_subtotal:
                codes.extend(c for c in row.codes if c not in codes)
    head = [("地区", 20), ("单位", 24), ("年度", 6), ("格式", 10), ("报告状态", 10), ("文件", 36)]
    index = {c: k for k, c in enumerate(codes)}

    def rows(batch):
        # the batch's cells, by report: a GROUP BY over every report's cells of the table does not fit the
        # report's memory at 100,000 reports (17.5 M cells of Table 三)
        ids = [r["report_id"] for r in batch]
        cells = {rid: (codes_, vals) for rid, codes_, vals in con.execute(
            "SELECT report_id, list(code), list(value) FROM cells WHERE table_id = ? AND report_id IN (SELECT unnest(?)) "
            "GROUP BY report_id", [table_id, ids]).fetchall()}
        for r in batch:
            values = [None] * len(codes)
            for code, v in zip(*cells.get(r["report_id"], ((), ()))):
                if code in index and v is not None:
                    values[index[code]] = v
            yield [_region(r), r["body_name"], r["report_year"], name("reports.era", r["era"]), name("reports.status", r["status"]),
                   r["source_path"], *values]

    sql = (f"SELECT r.report_id, {data.BODY_NAME} AS body_name, r.report_year, r.era, r.status, r.source_path, {data.REGION} "
           f"FROM published_reports r {data.REGION_JOIN} "
           f"WHERE EXISTS (SELECT 1 FROM cells c WHERE c.report_id = r.report_id AND c.table_id = ?) {ORDER}")
    return _query_sheet(book, formats, con, title, head + [(cell_label(c), 14) for c in codes], sql, rows, [table_id],
                        codes=[""] * len(head) + codes)


EXPLAIN = {
    "问题清单": "每一项不符：涉及的单元格、印出值与位置、实为与应为、原文、依据、整改要求、文件与来源。",
    "无法判断": "核对所需的单元格空白或无法读取的规则实例（不算通过，也不算不符），每份报告每条规则一行。",
    "未识别单位": "发布单位未能对应到单位登记的报告，按印出名称归并。",
    "汇总核对": "区域汇总报告印出数与下级已发布报告之和的比较（仅可相加的指标）。",
    "跨年变化": "同一单位相邻两年的衔接与突变。",
    "未能读取": "未能读取的文件、表格和单元格：情况、位置、印出内容。",
    "报告清单": "全部文件及其状态。",
}
PUBLISHED = "已发布（含部分发布）报告的表格数字：每份报告一行，每个单元格一列（第1行为印出的行列名称，第2行为指标代码）。"


def write_workbook(path: Path, con: duckdb.DuckDBPyConnection, generated: str) -> dict[str, int]:
    """Write the workbook atomically; returns rows written per sheet."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.xlsx")
    book = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "strings_to_urls": False, "nan_inf_to_errors": True})
    formats = {
        "head": book.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1, "text_wrap": True, "valign": "top"}),
        "code": book.add_format({"font_color": "#888888", "font_size": 8}),
        "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
        "note": book.add_format({"italic": True, "font_color": "#C62828"}),
    }
    about = book.add_worksheet("说明")
    about.set_column(0, 0, 16)
    about.set_column(1, 1, 100)
    specs = [
        ("问题清单", FINDING_COLUMNS,
         f"SELECT x.*, {data.BODY_NAME} AS body_name, r.status, r.source_path, r.source_url, {data.REGION} FROM rule_results x "
         f"{FROM_REPORTS} WHERE x.outcome = 'fail' {ORDER}, x.severity, x.rule_id, x.instance", _failure_rows(con)),
        ("无法判断", [("地区", 20), ("单位", 24), ("年度", 6), ("规则", 34), ("项数", 6), ("规则实例", 60), ("说明（英文原文，第一项）", 50),
                   ("规则编号", 14), ("文件", 40)],
         f"SELECT {data.REGION}, {data.BODY_NAME} AS body_name, r.report_year, r.report_id, x.rule_id, count(*) AS n, "
         "left(string_agg(x.instance, '；' ORDER BY x.instance), 2000) AS instances, min(x.message) AS message, r.source_path "
         f"FROM rule_results x {FROM_REPORTS} WHERE x.outcome = 'not_assessable' GROUP BY ALL {ORDER}, x.rule_id",
         lambda batch: ([_region(r), r["body_name"], r["report_year"], rule_text(r["rule_id"]).title, r["n"], r["instances"],
                         r["message"], r["rule_id"], r["source_path"]] for r in batch)),
        ("未识别单位", [("印出名称", 30), ("报告数", 8), ("年度", 16), ("状态", 16), ("原因", 40), ("示例文件", 40), ("来源", 40)],
         data.unresolved_sql(None),
         lambda batch: ([u["printed_name"], u["reports"], u["years"], "、".join(name("reports.status", x) for x in (u["statuses"] or "").split()),
                         u["reason"] or "单位登记中没有这个名称", u["example_report"], u["source_url"]] for u in batch)),
        ("汇总核对", [("地区", 24), ("地区编号", 16), ("年度", 6), ("指标", 40), ("汇总报告印出", 12), ("下级合计", 12), ("差额", 10),
                   ("下级是否齐全", 10), ("缺报单位", 40), ("指标代码", 30)],
         "SELECT * FROM v_rollup_vs_reported ORDER BY abs(difference) DESC NULLS LAST, region_id, report_year, code",
         lambda batch: ([r["region_name"], r["region_id"], r["report_year"], cell_label(r["code"]), r["reported_value"],
                         r["rollup_value"], r["difference"], "齐全" if r["complete"] else "不齐全",
                         (r["missing_children"] or "").replace("|", "、"), r["code"]] for r in batch)),
        ("跨年变化", FINDING_COLUMNS, data.cross_year_sql(None),
         lambda batch: (_finding_row(finding_view(r, None), r["body_name"], r["report_year"], r["status"], _region(r),
                                     r["source_path"], r["source_url"]) for r in batch)),
        ("未能读取", [("地区", 20), ("单位", 24), ("年度", 6), ("情况", 28), ("单元格", 40), ("位置", 20), ("印出内容", 30),
                   ("说明（英文原文）", 60), ("文件", 40)],
         f"SELECT i.*, {data.BODY_NAME} AS body_name, r.source_path, {data.REGION} FROM extraction_issues i {FROM_REPORTS} "
         f"WHERE i.severity <> 'info' {ORDER}, i.severity, i.kind, i.location",
         lambda batch: ([_region(r), r["body_name"], r["report_year"], name("extraction_issues.kind", r["kind"]),
                         cell_label(r["code"]) if r.get("code") else None, place(r["location"]), r.get("printed"), r["message"],
                         r["source_path"]] for r in batch)),
        ("报告清单", [("地区", 20), ("单位", 24), ("印出名称", 24), ("年度", 6), ("状态", 14), ("状态原因（英文原文）", 50), ("格式", 14),
                   ("范围", 14), ("数字", 7), ("单元格", 7), ("文件", 40), ("来源", 40)],
         f"SELECT r.*, {data.BODY_NAME} AS body_name, {data.REGION} FROM reports r {data.REGION_JOIN} {ORDER}",
         lambda batch: ([_region(r), r["body_name"], r["agency_printed"], r["report_year"], name("reports.status", r["status"]), r["reason"],
                         name("reports.era", r["era"]), name("reports.scope", r["scope"]), r["n_values"], r["n_cells"],
                         r["source_path"], r["source_url"]] for r in batch)),
    ]
    sheets = {title: _query_sheet(book, formats, con, title, columns, sql, rows) for title, columns, sql, rows in specs}
    for table_id in ("t2", "t3", "t4", "old"):
        title = f"已发布·{name('cells.table_id', table_id)}"
        sheets[title] = _published_table(book, formats, con, table_id, title)
    about.write_row(0, 0, ["政府信息公开工作年度报告核查明细", f"生成于 {generated}"], formats["head"])
    for k, (title, sheet) in enumerate(sheets.items(), start=2):
        note = "，已达 Excel 行数上限，未列全" if sheet.truncated else ""
        about.write_row(k, 0, [title, f"{EXPLAIN.get(title, PUBLISHED)}（{sheet.written} 行{note}）"], formats["wrap"])
    book.close()
    tmp.replace(path)
    return {title: sheet.written for title, sheet in sheets.items()}
