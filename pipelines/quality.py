"""The auditor's report (``xxgk report``), in Chinese: what it writes and in which order.

Under ``<warehouse>/reports/``:

* ``quality.html`` – the entry page: summary, charts, findings by rule, the index of the
  findings pages, roll-up vs aggregate, year-over-year changes, unresolved bodies, Data Docs;
* ``findings/NNNN.html`` – every report with a failure or not fully published, 100 per page:
  each failure with the printed cells, where they are, found vs expected, the quote, why and
  what to correct, links to the file and its source; not-assessable instances collapsed;
* ``letters/<body>.html`` (+ ``.pdf``) – one 整改通知 per body with failures, printable;
  ``letters/index.html`` lists them;
* ``quality.xlsx`` – every finding and the published tables;
* ``gx_project/…/data_docs/local_site/index.html`` – GX Data Docs, working offline;
* ``manifest.json`` – what this run wrote (the run summary names only these files).

Every size is bounded by the page size, not by the warehouse: at 100,000 reports the summary
stays small and the details are split into pages and letters.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from pipelines.extract import PARSER_VERSION
from pipelines.report import charts, data
from pipelines.report.findings import finding_view
from pipelines.report.pages import environment, report_blocks, write_text
from pipelines.report.texts import cell_label, rule_text
from pipelines.warehouse.publish import read_path
from pipelines.warehouse.store import connect, db_path

PAGE_REPORTS = 50  # reports per findings page
TOP_ROWS = 100  # rows of the roll-up, year-over-year and unresolved sections on the summary page
TOP_BODIES = 30  # bodies in the heat map
MANIFEST = "manifest.json"
DUCKDB_MEMORY = "1GB"  # DuckDB's share of the report's memory (sorts spill to disk beyond it)


@dataclass
class ReportOutputs:
    """What one ``xxgk report`` wrote (paths are absolute) and what it could not write."""

    html: Path
    pages: list[Path] = field(default_factory=list)
    letters: list[Path] = field(default_factory=list)
    pdfs: list[Path] = field(default_factory=list)
    workbook: Path | None = None
    data_docs: Path | None = None
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Printable lines: the entry page first, then the other outputs."""
        out = [str(self.html)]
        if self.pages:
            out.append(f"  findings pages: {len(self.pages)} in {self.pages[0].parent}")
        out.append(f"  letters (整改通知): {len(self.letters)} HTML, {len(self.pdfs)} PDF in {self.html.parent / 'letters'}")
        if self.workbook:
            out.append(f"  workbook: {self.workbook}")
        if self.data_docs:
            out.append(f"  Data Docs: {self.data_docs}")
        out.extend(f"  note: {n}" for n in self.notes)
        return out


def write_report(warehouse: Path, raw_dir: Path | None = None, with_data_docs: bool = True, pdf: bool = False) -> Path:
    """Write the report (see the module docstring); returns the entry page ``quality.html``."""
    return build_report(warehouse, raw_dir, with_data_docs=with_data_docs, pdf=pdf).html


def build_report(warehouse: Path, raw_dir: Path | None = None, with_data_docs: bool = True, pdf: bool = True) -> ReportOutputs:
    """Write every output of the report; PDFs of the letters need headless Chromium (a note says when it is missing).

    Pages, letters, workbook and summary are written to a staging directory and moved into place
    together at the end, so a failed run leaves the previous report whole.
    """
    warehouse = Path(warehouse)
    if not read_path(warehouse).exists():  # inside a run: its staged copy
        raise FileNotFoundError(f"no warehouse database at {db_path(warehouse)}; run `xxgk run` first")
    target = warehouse / "reports"
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target))
    try:
        out = _write(warehouse, target, staging, raw_dir, with_data_docs, pdf)
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    manifest = {
        "html": str(out.html), "pages": [str(p) for p in out.pages], "letters": [str(p) for p in out.letters],
        "pdfs": [str(p) for p in out.pdfs], "workbook": str(out.workbook),
        "data_docs": str(out.data_docs) if out.data_docs else None, "notes": out.notes,
    }
    write_text(target / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
    return out


def _write(warehouse: Path, target: Path, staging: Path, raw_dir: Path | None, with_data_docs: bool, pdf: bool) -> ReportOutputs:
    """Every output into ``staging``; returns their paths once moved to ``target``."""
    generated = datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M %Z")
    env = environment()
    con = connect(warehouse, read_only=True)
    try:
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
        pages = _findings_pages(con, env, staging, target, raw_dir, generated)
        letters = _letters(con, env, staging, target, raw_dir, generated)
        from pipelines.report.workbook import write_workbook

        write_workbook(staging / "quality.xlsx", con, generated)
        context = _summary(con, generated, str(db_path(warehouse)))
    finally:
        con.close()
    out = ReportOutputs(html=target / "quality.html", workbook=target / "quality.xlsx",
                        pages=[target / page["file"] for page in pages], letters=[target / "letters" / e["html"] for e in letters])
    pdf_note = "" if pdf else "PDF 由 xxgk report 生成"
    if pdf and letters:
        problem = _print_letters(staging / "letters", letters)
        if problem:
            out.notes.append(f"PDF of the letters: {problem}")
            pdf_note = f"PDF 未生成：{problem}"
    out.pdfs = [target / "letters" / e["pdf"] for e in letters if e["pdf"]]
    write_text(staging / "letters" / "index.html", env.get_template("letters_index.html.j2").render(
        letters=letters, generated=generated, pdf_note=pdf_note))
    if with_data_docs:
        from pipelines.report.datadocs import build_data_docs

        out.data_docs, unknown = build_data_docs(warehouse)
        if unknown:
            out.notes.append("Data Docs: addresses with no local copy were removed: " + ", ".join(unknown))
    context.update(
        pages=pages, page_size=PAGE_REPORTS, workbook="quality.xlsx", notes=out.notes,
        letters={"count": len(letters), "pdfs": len(out.pdfs), "note": pdf_note},
        data_docs=out.data_docs.relative_to(target).as_posix() if out.data_docs else None,
    )
    write_text(staging / "quality.html", env.get_template("quality.html.j2").render(**context))
    return out


def written_outputs(warehouse: Path) -> dict | None:
    """The manifest of the last report, keeping only files that exist (None when no report was written)."""
    path = Path(warehouse) / "reports" / MANIFEST
    if not path.exists():
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for key in ("html", "workbook", "data_docs"):
        if manifest.get(key) and not Path(manifest[key]).exists():
            manifest[key] = None
    for key in ("pages", "letters", "pdfs"):
        manifest[key] = [p for p in manifest.get(key, []) if Path(p).exists()]
    return manifest


# ---------------------------------------------------------------------------------------------
# parts


def _findings_pages(con, env, staging: Path, target: Path, raw_dir: Path | None, generated: str) -> list[dict]:
    """findings/0001.html …: the listed reports, PAGE_REPORTS per page; returns the page index."""
    listed = data.listed_reports(con).assign(ord=lambda f: range(len(f)))
    details = data.Details(con, listed)
    index = []
    try:
        total = -(-len(listed) // PAGE_REPORTS)
        for k in range(1, total + 1):
            chunk = listed.iloc[(k - 1) * PAGE_REPORTS:k * PAGE_REPORTS]
            blocks = report_blocks(details.take(k * PAGE_REPORTS), target / "findings", raw_dir)
            needs = int(chunk.needs_action.sum())
            group = ("须整改（有不符或被隔离）" if needs == len(chunk) else "未完整发布（部分单元格或整份报告未能读取）" if needs == 0
                     else "须整改，以及未完整发布的报告")
            page = {"number": k, "total": total, "file": f"findings/{k:04d}.html", "count": len(chunk), "group": group,
                    "first": chunk.body_name.iloc[0], "last": chunk.body_name.iloc[-1],
                    "previous": f"{k - 1:04d}.html" if k > 1 else None, "next": f"{k + 1:04d}.html" if k < total else None}
            write_text(staging / "findings" / f"{k:04d}.html",
                       env.get_template("findings_page.html.j2").render(page=page, blocks=blocks, generated=generated))
            index.append(page)
    finally:
        details.close()
    return index


def letter_file(body_key: str) -> str:
    """File name (without extension) of a body's letter: its registry id made safe, or a hash of its printed name."""
    if body_key.startswith("printed:"):
        return "unresolved-" + hashlib.sha1(body_key.encode("utf-8")).hexdigest()[:12]
    safe = re.sub(r"[^0-9A-Za-z_.-]+", "_", body_key).strip("._")
    return safe if safe == body_key else f"{safe}-{hashlib.sha1(body_key.encode('utf-8')).hexdigest()[:6]}"


def _letters(con, env, staging: Path, target: Path, raw_dir: Path | None, generated: str) -> list[dict]:
    """letters/<body>.html: one 整改通知 per body with failures or a quarantined report; returns the index entries."""
    bodies = data.letter_bodies(con)
    order = pd.DataFrame({"report_id": [rid for ids in bodies.report_ids for rid in ids]})
    order["ord"] = range(len(order))
    details = data.Details(con, order)
    entries = []
    read = 0
    try:
        for body in bodies.to_dict("records"):
            read += len(body["report_ids"])
            blocks = report_blocks(details.take(read), target / "letters", raw_dir)
            mine = [b for b in blocks if b["fails"] or b["report"]["status"] == "quarantined"]
            n_error = sum(b["n_error"] for b in mine)
            n_warning = sum(b["n_warning"] for b in mine)
            years = "、".join(dict.fromkeys(b["year"] for b in mine))
            title = f"关于{body['body_name']}政府信息公开工作年度报告有关问题的{'整改通知' if n_error or body['quarantined'] else '核实通知'}"
            stem = letter_file(body["body"])
            write_text(staging / "letters" / f"{stem}.html", env.get_template("letter.html.j2").render(
                title=title, body=body["body_name"], body_key=body["body"], region_code=body["region_code"], region_name=body["region_name"], years=years,
                blocks=mine, n_error=n_error, n_warning=n_warning, generated=generated, pdf_name=f"{stem}.pdf",
            ))
            entries.append({"body": body["body_name"], "region_code": body["region_code"], "region_name": body["region_name"],
                            "years": years, "n_error": n_error,
                            "n_warning": n_warning, "html": f"{stem}.html", "pdf": None,
                            "unresolved": body["body"].startswith("printed:")})
    finally:
        details.close()
    return entries


def _print_letters(letters_dir: Path, entries: list[dict]) -> str | None:
    """PDF of every letter, printed by one headless Chromium; returns what went wrong, if anything."""
    from pipelines.report.browser import Browser, BrowserError

    try:
        with Browser() as browser:
            for entry in entries:
                pdf = entry["html"].removesuffix(".html") + ".pdf"
                browser.pdf(letters_dir / entry["html"], letters_dir / pdf)
                entry["pdf"] = pdf
    except BrowserError as exc:
        return str(exc)
    return None


def _publish(staging: Path, target: Path) -> None:
    """Move the new findings pages, letters, workbook and summary into place (no stale page survives)."""
    for part in ("findings", "letters"):
        new, old = staging / part, target / part
        if old.exists():
            shutil.rmtree(old)
        if new.exists():
            new.rename(old)
    for name in ("quality.xlsx", "quality.html"):
        (staging / name).replace(target / name)


def _summary(con, generated: str, database: str) -> dict:
    """The context of quality.html (without the page and letter indexes)."""
    rules = data.rules_summary(con)
    rules_rows = [{**r, "title": rule_text(r["rule_id"]).title, "description": rule_text(r["rule_id"]).description}
                  for r in rules.to_dict("records")]
    listed = con.execute(
        f"SELECT count(*) FROM reports WHERE status <> 'published' OR report_id IN ({data.FAILED})").fetchone()[0]
    overview = data.overview(con)
    roll_overview = data.rollup_overview(con)
    mismatches, total = data.rollup_mismatches(con, TOP_ROWS)
    cross, cross_total = data.cross_year_failures(con, TOP_ROWS)
    unresolved, unresolved_total, unresolved_names = data.unresolved_bodies(con, TOP_ROWS)
    return {
        "generated": generated,
        "database": database,
        "parser_version": PARSER_VERSION,
        "o": overview,
        "charts": {
            "status": charts.status_by_year(data.status_by_year(con)),
            "rules": charts.failures_by_rule(rules),
            "bodies": charts.failures_by_body_year(data.failures_by_body_year(con, TOP_BODIES)),
        },
        "failed_rules": [r for r in rules_rows if r["failed"]],
        "na_rules": [r for r in rules_rows if not r["failed"] and r["not_assessable"]],
        "clean_reports": overview["documents"] - listed,
        "rollups": {
            "compared": roll_overview[roll_overview.aggregate_report_id.notna()].head(TOP_ROWS).to_dict("records"),
            "uncompared": roll_overview[roll_overview.aggregate_report_id.isna()].head(TOP_ROWS).to_dict("records"),
            "regions": len(roll_overview),
            "with_aggregate": int(roll_overview.aggregate_report_id.notna().sum()),
            "rows": [{**r, "label": cell_label(r["code"])} for r in mismatches.to_dict("records")],
            "total": total,
        },
        "cross_year": {
            "rows": [{"body": r["body_name"], "year": r["report_year"], "view": finding_view(r, None)} for r in cross.to_dict("records")],
            "total": cross_total,
        },
        "unresolved": {"rows": unresolved.to_dict("records"), "total": unresolved_total, "more": unresolved_names > len(unresolved)},
        "gx_findings": {  # what the GX validation after the merge found (warehouse.gx_validation)
            "total": con.execute("SELECT count(*) FROM gx_findings").fetchone()[0],
            "rows": con.execute("SELECT report_id, suite, rule_id, finding, detail FROM gx_findings ORDER BY finding, report_id, "
                                "rule_id LIMIT ?", [TOP_ROWS]).df().to_dict("records"),
        },
    }
