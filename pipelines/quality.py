"""The data-quality report (``xxgk report``): one self-contained HTML file for auditors, plus GX Data Docs.

``<warehouse>/reports/quality.html`` works offline (inline CSS, inline SVG charts, a few lines
of inline JavaScript for filtering). For each report it lists every finding with the rule, the
cells involved with their printed values and where they are (page/line/table cell), expected
vs found, and for narrative rules the quoted sentence.
"""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from pipelines.extract import PARSER_VERSION
from pipelines.registry import load_registry
from pipelines.rules.findings import fmt
from pipelines.warehouse.store import connect, db_path

STATUS_ORDER = ["quarantined", "published_partial", "published", "rejected"]
MAX_VALIDATED_ROWS = 200_000
SEVERITY_COLOR = {"error": "#c62828", "warning": "#ef6c00"}


def _where(cell) -> str:
    parts = []
    if cell.get("page") is not None and not pd.isna(cell.get("page")):
        parts.append(f"page {int(cell['page'])}")
    if cell.get("table_index") is not None and not pd.isna(cell.get("table_index")):
        parts.append(f"table {int(cell['table_index']) + 1} row {int(cell['row_index']) + 1} col {int(cell['col_index']) + 1}")
    if cell.get("line") is not None and not pd.isna(cell.get("line")):
        parts.append(f"line {int(cell['line'])}")
    if cell.get("recovery") not in (None, "none"):
        parts.append(f"recovered: {cell['recovery']}")
    return ", ".join(parts) or cell.get("source_kind") or ""


def _bar_chart(rows: list[tuple[str, int, str]], title: str) -> str:
    """Horizontal bars as inline SVG: (label, value, color)."""
    if not rows:
        return "<p class='muted'>no findings</p>"
    width, bar_h, left = 760, 18, 170
    top = max(v for _, v, _ in rows) or 1
    height = 30 + bar_h * len(rows)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">',
           f'<text x="0" y="14" font-weight="bold">{html.escape(title)}</text>']
    for k, (label, value, color) in enumerate(rows):
        y = 24 + k * bar_h
        w = int((width - left - 60) * value / top)
        out.append(f'<text x="0" y="{y + 12}">{html.escape(label)}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{max(w, 1)}" height="{bar_h - 4}" fill="{color}"><title>{html.escape(label)}: {value}</title></rect>')
        out.append(f'<text x="{left + w + 4}" y="{y + 12}">{value}</text>')
    out.append("</svg>")
    return "".join(out)


def _heatmap(counts: dict[tuple[str, int], int], agencies: list[str], years: list[int]) -> str:
    """Agency × year grid of finding counts as inline SVG."""
    if not agencies or not years:
        return "<p class='muted'>no findings</p>"
    cell, left, top = 46, 230, 24
    width, height = left + cell * len(years) + 10, top + 22 * len(agencies) + 10
    peak = max(counts.values() or [1])
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="findings by agency and year">']
    for j, y in enumerate(years):
        out.append(f'<text x="{left + j * cell + 8}" y="16">{y}</text>')
    for i, a in enumerate(agencies):
        yy = top + i * 22
        out.append(f'<text x="0" y="{yy + 14}">{html.escape(a[:18])}</text>')
        for j, y in enumerate(years):
            n = counts.get((a, y), 0)
            shade = 255 - int(180 * n / peak) if n else 245
            out.append(
                f'<rect x="{left + j * cell}" y="{yy}" width="{cell - 4}" height="18" fill="rgb(255,{shade},{shade})">'
                f"<title>{html.escape(a)} {y}: {n}</title></rect>"
            )
            if n:
                out.append(f'<text x="{left + j * cell + 16}" y="{yy + 13}">{n}</text>')
    out.append("</svg>")
    return "".join(out)


def gather(warehouse: Path) -> dict:
    """Everything the report shows, read from the warehouse database."""
    reg = load_registry()
    con = connect(warehouse, read_only=True)
    try:
        # listed: every report not published, or with a failed rule; the rest is only counted
        listed_sql = (
            "SELECT report_id FROM reports WHERE status <> 'published' "
            "UNION SELECT report_id FROM rule_results WHERE outcome = 'fail'"
        )
        summary = dict(con.execute("SELECT status, count(*) FROM reports GROUP BY 1").fetchall())
        summary["documents"] = sum(summary.values())
        fails = con.execute("SELECT * FROM rule_results WHERE outcome = 'fail'").df()
        not_assessable = con.execute("SELECT count(*) FROM rule_results WHERE outcome = 'not_assessable'").fetchone()[0]
        reports = con.execute(f"SELECT * FROM reports WHERE report_id IN ({listed_sql})").df()
        findings = con.execute(f"SELECT * FROM rule_results WHERE report_id IN ({listed_sql})").df()
        involved = findings.assign(code=findings.cells.str.split(" ")).explode("code")[["report_id", "code"]].drop_duplicates()
        con.register("_involved", involved)
        cells = con.execute(
            "SELECT c.report_id, c.code, c.value, c.raw, c.page, c.line, c.table_index, c.row_index, c.col_index, "
            "c.source_kind, c.recovery FROM cells c JOIN _involved i USING (report_id, code)"
        ).df()
        year_agency = con.execute(
            "SELECT f.report_id, coalesce(r.agency, f.report_id), coalesce(r.report_year, 0) "
            "FROM rule_results f JOIN reports r USING (report_id) WHERE f.outcome = 'fail'"
        ).fetchall()
    finally:
        con.close()
    cell_index = {(r["report_id"], r["code"]): r for r in cells.to_dict("records")}
    descriptions = {r.rule_id: r.description for r in reg.rules}
    by_rule = []
    for (rule_id, severity, kind), g in fails.groupby(["rule_id", "severity", "kind"]):
        by_rule.append({"rule_id": rule_id, "severity": severity, "kind": kind, "failed": len(g),
                        "reports": g.report_id.nunique(), "description": descriptions.get(rule_id, "")})
    by_rule.sort(key=lambda r: (r["severity"] != "error", -r["failed"], r["rule_id"]))
    per_report = defaultdict(list)
    for f in findings.sort_values(["severity", "rule_id", "instance"]).to_dict("records"):
        cell_list = []
        for code in (f["cells"] or "").split():
            c = cell_index.get((f["report_id"], code))
            cell_list.append({"code": code, "raw": "(not printed)" if c is None else (c["raw"] if c["raw"] not in (None, "") else "blank"),
                              "where": "" if c is None else _where(c)})
        per_report[f["report_id"]].append({
            **f, "found": fmt(f["found"]), "expected": fmt(f["expected"]), "cell_list": cell_list,
            "description": descriptions.get(f["rule_id"], ""), "evidence": f.get("evidence") or "",
        })
    out_reports = []
    for r in reports.to_dict("records"):
        fs = per_report.get(r["report_id"], [])
        fs.sort(key=lambda f: (f["outcome"] != "fail", f["severity"] != "error", f["rule_id"]))
        out_reports.append({
            **r, "report_year": None if pd.isna(r["report_year"]) else int(r["report_year"]), "findings": fs,
            "search": " ".join(str(x) for x in (r["report_id"], r["agency"], r["report_year"], r["status"], " ".join(f["rule_id"] for f in fs))),
        })
    out_reports.sort(key=lambda r: (STATUS_ORDER.index(r["status"]), -sum(f["outcome"] == "fail" for f in r["findings"]), r["report_id"]))
    heat: Counter = Counter((agency, int(year)) for _, agency, year in year_agency)
    agencies = sorted({a for a, _ in heat})
    years = sorted({y for _, y in heat})
    return {
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "database": str(db_path(warehouse)),
        "parser_version": PARSER_VERSION,
        "statuses": STATUS_ORDER,
        "summary": summary,
        "findings_by_severity": fails.severity.value_counts().to_dict(),
        "not_assessable": int(not_assessable),
        "by_rule": by_rule,
        "rule_chart": _bar_chart([(r["rule_id"], r["failed"], SEVERITY_COLOR[r["severity"]]) for r in by_rule], "failed instances by rule"),
        "agency_chart": _heatmap(dict(heat), agencies, years),
        "reports": out_reports,
        "clean_reports": summary["documents"] - len(out_reports),
    }


def write_report(warehouse: Path, with_data_docs: bool = True) -> Path:
    """Render <warehouse>/reports/quality.html (and the GX Data Docs next to it); returns the HTML path."""
    warehouse = Path(warehouse)
    target = warehouse / "reports"
    target.mkdir(parents=True, exist_ok=True)
    context = gather(warehouse)
    docs_index = build_data_docs(warehouse) if with_data_docs else None
    context["data_docs"] = str(docs_index.relative_to(target)) if docs_index else "(not built)"
    env = Environment(loader=PackageLoader("pipelines", "templates"), autoescape=select_autoescape(["html", "j2"]))
    html_text = env.get_template("quality.html.j2").render(**context)
    path = target / "quality.html"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(html_text, encoding="utf-8")
    tmp.replace(path)
    return path


def build_data_docs(warehouse: Path) -> Path:
    """Great Expectations Data Docs: every generated suite, and the table suites validated on the warehouse tables."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    from pipelines.rules.suites import all_suite_specs, build_suite, quiet_context

    root = Path(warehouse) / "reports" / "gx_project"
    ctx = quiet_context(mode="file", project_root_dir=str(root))
    source = ctx.data_sources.add_or_update_pandas("warehouse")
    con = connect(warehouse, read_only=True)
    try:
        for name in all_suite_specs():
            suite = ctx.suites.add_or_update(build_suite(name))
            if not name.startswith("table_"):
                continue
            table = name.removeprefix("table_")
            if table == "document_inventory":
                continue
            rows = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            if rows > MAX_VALIDATED_ROWS:
                continue  # large tables are validated batch by batch while they are written (Dagster 'schema' checks)
            frame = con.execute(f'SELECT * FROM "{table}"').df()
            try:
                asset = source.get_asset(table)
            except LookupError:
                asset = source.add_dataframe_asset(table)
            try:
                batch_def = asset.get_batch_definition("all")
            except (KeyError, LookupError, ValueError):
                batch_def = asset.add_batch_definition_whole_dataframe("all")
            vd = ctx.validation_definitions.add_or_update(gx.ValidationDefinition(name=f"validate_{table}", data=batch_def, suite=suite))
            cp = ctx.checkpoints.add_or_update(
                gx.Checkpoint(name=f"checkpoint_{table}", validation_definitions=[vd], actions=[UpdateDataDocsAction(name="docs")])
            )
            cp.run(batch_parameters={"dataframe": frame})
    finally:
        con.close()
    ctx.build_data_docs()
    index = next(iter(root.rglob("data_docs/local_site/index.html")), None)
    if index is None:
        raise RuntimeError(f"Great Expectations did not build Data Docs under {root}")
    return index
