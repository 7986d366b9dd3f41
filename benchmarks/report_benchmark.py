"""How `xxgk report` scales: time, memory and output sizes on a warehouse of 10,000+ reports, written to a file.

Usage: ``.venv/bin/python benchmarks/report_benchmark.py [--reports 10000] [--source WAREHOUSE] [--pdf-sample 50]
[--out benchmarks/results.json]``. The large warehouse is the source warehouse (by default the
bundled samples of raw/, built in a temporary directory) copied until it holds ``--reports``
reports: every key (report, agency, region) gets a copy number, so each copy is another body
with the same findings — far more failures, unresolved bodies and letters per report than a
synthetic clean city would have. Times the whole report without Data Docs, measures page,
workbook and letter sizes, and prints ``--pdf-sample`` letters through one Chromium to give
the PDF rate. Writes the key ``report`` of the results file (read, merge, write). Not a test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from pipelines.warehouse.store import db_path  # noqa: E402
from pipelines.warehouse.views import view_statements  # noqa: E402

KEY_COLUMNS = ("report_id", "agency_id", "parent_id", "region_id", "aggregate_report_id")


def build_source(base: Path) -> Path:
    """The bundled samples' warehouse, built in ``base``."""
    import dagster as dg

    from pipelines.runner import run_pipeline

    wh = base / "source"
    run_pipeline(ROOT / "raw", wh, workers=0, progress=False, instance=dg.DagsterInstance.ephemeral())
    return wh


def replicate(source: Path, target: Path, reports: int) -> int:
    """Copy every table of ``source`` into ``target`` until it holds ``reports`` reports; returns the number of copies."""
    db_path(target).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db_path(target)))
    try:
        con.execute(f"ATTACH '{db_path(source)}' AS src (READ_ONLY)")
        n = con.execute("SELECT count(*) FROM src.reports").fetchone()[0]
        copies = math.ceil(reports / n)
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'src' AND table_type = 'BASE TABLE'").fetchall()]
        for table in tables:
            cols = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = 'src' AND table_name = ? ORDER BY ordinal_position",
                [table]).fetchall()]
            keyed = [c for c in cols if c in KEY_COLUMNS]
            if table in ("indicators", "rules") or not keyed:
                select = f'SELECT * FROM src."{table}"'
            else:
                replace = ", ".join(f"{c} || '#' || k AS {c}" for c in keyed)
                select = f'SELECT * REPLACE ({replace}) FROM src."{table}", range({copies}) AS r(k)'
            con.execute(f'CREATE TABLE "{table}" AS {select}')
        con.execute("DETACH src")
        for statement in view_statements():
            con.execute(statement)
    finally:
        con.close()
    return copies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--source", type=Path, default=None, help="a built warehouse [default: build raw/ in a temporary directory]")
    parser.add_argument("--pdf-sample", type=int, default=50, help="letters printed to PDF to measure the rate (0: none)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    args = parser.parse_args()

    from pipelines.quality import build_report

    with tempfile.TemporaryDirectory(prefix="xxgk-report-bench-") as tmp:
        base = Path(tmp)
        source = args.source or build_source(base)
        target = base / "large"
        t = time.perf_counter()
        copies = replicate(source, target, args.reports)
        replicate_s = time.perf_counter() - t
        con = duckdb.connect(str(db_path(target)), read_only=True)
        counts = dict(zip(("reports", "failures", "not_assessable"), con.execute(
            "SELECT (SELECT count(*) FROM reports), count(*) FILTER (WHERE outcome = 'fail'), "
            "count(*) FILTER (WHERE outcome = 'not_assessable') FROM rule_results").fetchone()))
        con.close()
        t = time.perf_counter()
        out = build_report(target, None, with_data_docs=False, pdf=False)
        report_s = time.perf_counter() - t
        pages = [p.stat().st_size for p in out.pages]
        letters = [p.stat().st_size for p in out.letters]
        pdf = {}
        if args.pdf_sample and out.letters:
            from pipelines.report.browser import Browser, BrowserError

            sample = out.letters[: args.pdf_sample]
            try:
                t = time.perf_counter()
                with Browser() as browser:
                    started = time.perf_counter() - t
                    for path in sample:
                        browser.pdf(path, path.with_suffix(".pdf"))
                total = time.perf_counter() - t
                pdf = {"letters": len(sample), "seconds": round(total, 2), "browser_start_s": round(started, 2),
                       "ms_per_letter": round(1000 * (total - started) / len(sample), 1)}
            except BrowserError as exc:
                pdf = {"error": str(exc)}
        result = {
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "copies_of_source": copies,
            **counts,
            "replicate_s": round(replicate_s, 1),
            "report_s_without_data_docs_and_pdf": round(report_s, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "quality_html_kb": round(out.html.stat().st_size / 1024),
            "findings_pages": len(pages),
            "largest_findings_page_kb": round(max(pages, default=0) / 1024),
            "letters": len(letters),
            "largest_letter_kb": round(max(letters, default=0) / 1024),
            "workbook_mb": round(out.workbook.stat().st_size / 2**20, 1),
            "pdf": pdf,
            "cpu_count": os.cpu_count(),
        }
    print(json.dumps(result, ensure_ascii=False, indent=1))
    results = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    results["report"] = result
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
