"""The HTML pages of the report: per-report blocks (findings pages and letters share them) and page rendering.

Pages are self-contained (inline CSS, inline SVG, a few lines of inline script) and written
atomically. Links to the documents in raw/ are relative to the page, so the report and the
landing zone can be moved together.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape

from pipelines.report.findings import FindingView, finding_view
from pipelines.report.texts import cell_label, name, number, place, rule_text

MISSING_SHOWN = 8  # cells named per rule in a report's not-assessable summary


def environment() -> Environment:
    """Jinja environment of pipelines/templates (autoescaped)."""
    env = Environment(loader=PackageLoader("pipelines", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(name=name, number=number, cell_label=cell_label, place=place)
    return env


def write_text(path: Path, text: str) -> Path:
    """Write a file atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _clean(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def file_href(raw_dir: Path | None, source_path: str, page_dir: Path) -> str | None:
    """Relative link from a page to a document in raw/, or None when the file is not there."""
    if raw_dir is None or not source_path:
        return None
    target = Path(raw_dir) / source_path
    if not target.exists():
        return None
    return quote(os.path.relpath(target.resolve(), page_dir.resolve()).replace(os.sep, "/"))


def source_href(url: str | None) -> str | None:
    """The source as a link when it is a web address (raw/MANIFEST.csv may also name an archive)."""
    return url if url and re.match(r"https?://", url) else None


def status_note(report: dict, issues: list[dict], n_error: int) -> str:
    """Why a report has its status, in Chinese (the English reason stays available as detail)."""
    status = report["status"]
    kinds = list(dict.fromkeys(name("extraction_issues.kind", i["kind"]) for i in issues
                               if i["severity"] == ("error" if status == "rejected" else "warning")))
    if status == "rejected":
        return "；".join(kinds) or "不是可读取的年度报告"
    if status == "quarantined":
        parts = [f"{n_error} 项错误须更正"] if n_error else []
        return "；".join(parts + kinds) or "表格数字相互矛盾"
    if status == "published_partial":
        return "部分内容无法读取：" + "；".join(kinds) if kinds else "部分单元格无法读取"
    return ""


def report_blocks(content: dict[str, list[dict]], page_dir: Path, raw_dir: Path | None) -> list[dict]:
    """One view per report (in the order of ``content['reports']``): its row, failures (errors first), the
    not-assessable instances grouped per rule with the cells they miss, and the extraction issues."""
    cells = {(c["report_id"], c["code"]): c for c in content["cells"]}
    findings: dict[str, list[FindingView]] = {}
    for row in content["findings"]:
        findings.setdefault(row["report_id"], []).append(finding_view(row, cells))
    not_assessable: dict[str, list[dict]] = {}
    for row in content["not_assessable"]:
        missing = [(cell_label(m["code"]), m["raw"] or name("cells.value_status", m["status"])) for m in (row["missing"] or [])]
        not_assessable.setdefault(row["report_id"], []).append({
            "title": rule_text(row["rule_id"]).title, "rule_id": row["rule_id"], "count": row["n"], "message": row["message"],
            "missing": missing[:MISSING_SHOWN], "more": max(0, len(missing) - MISSING_SHOWN),
        })
    issues: dict[str, list[dict]] = {}
    for row in content["issues"]:
        issues.setdefault(row["report_id"], []).append({k: _clean(v) for k, v in row.items()})
    out = []
    for r in content["reports"]:
        r = {k: _clean(v) for k, v in r.items()}
        report_id = r["report_id"]
        fails = sorted(findings.get(report_id, []), key=lambda f: (f.severity != "error", f.rule_id, f.instance))
        groups: list[list[FindingView]] = []
        for f in fails:  # a letter names each rule once, with every place it fails
            if groups and groups[-1][0].rule_id == f.rule_id:
                groups[-1].append(f)
            else:
                groups.append([f])
        its = issues.get(report_id, [])
        na = not_assessable.get(report_id, [])
        n_error = sum(f.severity == "error" for f in fails)
        out.append({
            "report": r,
            "fail_groups": groups,
            "year": "未读出年度" if r.get("report_year") is None else f"{int(r['report_year'])}年度",
            "body": r.get("agency") or r.get("agency_printed") or "（未读出单位名称）",
            "fails": fails,
            "n_error": n_error,
            "n_warning": len(fails) - n_error,
            "na": na,
            "na_total": sum(g["count"] for g in na),
            "issues": its,
            "status_note": status_note(r, its, n_error),
            "file_href": file_href(raw_dir, r.get("source_path") or "", page_dir),
            "source_href": source_href(r.get("source_url")),
            "other_hrefs": {f.other_report: file_href(raw_dir, f.other_report, page_dir) for f in fails if f.other_report},
        })
    return out
