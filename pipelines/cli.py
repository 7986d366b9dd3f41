"""The ``xxgk`` command line.

Commands: ``extract`` (one document's cells), ``run`` (build the warehouse with Dagster), ``agencies``
(who reported: how each body was placed),
``sql`` (read-only queries), ``expectations`` (generate/check the GX suites), ``docs``
(generate/check the data dictionary). Heavy libraries are imported inside each command so
``xxgk extract`` stays fast.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import click

from pipelines.settings import SQL_MEMORY_LIMIT, SQL_TIMEOUT, default_raw_dir, default_warehouse_dir

CELL_COLUMNS = [
    "code", "value", "raw", "value_status", "unit", "label", "label_match", "column_match", "recovery", "verification",
    "candidates", "source_kind", "confidence", "filled_from", "page", "line", "table_index", "row_index", "col_index",
    "bbox", "context",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xxgk")
def main() -> None:
    """xxgk: warehouse of 政府信息公开工作年度报告 statistics (extract, run, sql, report)."""


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "table"]), default="csv", show_default=True,
              help="csv: one row per cell; json: metadata, cells and issues; table: aligned text")
@click.option("--fill-from", "fill_from", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="also fill glued digits that split several ways from another copy of the same report found in this "
                   "landing zone (its MANIFEST.csv); off by default: the file is read on its own")
def extract(file: Path, fmt: str, fill_from: Path | None) -> None:
    """Print the statistical cells of one document (code, value, raw text, provenance), read from the file alone."""
    from pipelines.extract import extract_document
    from pipelines.extract.twins import ReferenceIndex, fill_from_copy
    from pipelines.extract.values import format_number

    ext = extract_document(file, source_path=str(file))
    if fill_from is not None:
        if not fill_from.is_dir():
            raise click.BadParameter(f"{fill_from} is not a directory", param_hint="--fill-from")
        n = fill_from_copy(ext, ReferenceIndex(fill_from)(ext))
        click.echo(f"{file}: info: {n} cell(s) filled from another copy in {fill_from}", err=True)
    shown = set()
    for issue in ext.issues:
        if issue.severity != "info" and (issue.kind, issue.message) not in shown:
            shown.add((issue.kind, issue.message))
            where = f" ({issue.location})" if issue.location else ""
            click.echo(f"{file}: {issue.severity}: {issue.message}{where}", err=True)
    rows = []
    for c in ext.cells:
        d = c.to_dict()
        d["value"] = format_number(c.value)
        rows.append({k: ("" if d.get(k) is None else d.get(k)) for k in CELL_COLUMNS})
    if fmt == "csv":
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=CELL_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        sys.stdout.write(out.getvalue())
    elif fmt == "json":
        payload = {
            "file": str(file), "title": ext.title, "agency": ext.agency_printed, "report_year": ext.report_year,
            "era": ext.era, "scope": ext.scope, "origin": ext.origin, "cells": rows,
            "printed_subtotals": [s.to_dict() for s in ext.subtotals],
            "uncoded_rows": [u.to_dict() for u in ext.uncoded],
            "issues": [i.to_dict() for i in ext.issues],
        }
        click.echo(json.dumps(payload, ensure_ascii=False, indent=1))
    else:
        click.echo(f"{file}  year={ext.report_year} era={ext.era} agency={ext.agency_printed} cells={len(rows)}")
        _print_table([[r["code"], r["value"], r["raw"], r["recovery"], r["line"] or r["page"]] for r in rows],
                     ["code", "value", "raw", "recovery", "line/page"])
    if ext.fatal is not None:
        sys.exit(2)


@main.command()
@click.option("--raw", "raw_dir", type=click.Path(path_type=Path), default=None, help="landing zone [default: raw/]")
@click.option("--warehouse", "warehouse_dir", type=click.Path(path_type=Path), default=None,
              help="output directory [default: warehouse/]")
@click.option("--year", "years", multiple=True, help="only these report years: 2023, 2019-2021, 2019,2020 (repeatable); a backfill")
@click.option("--workers", type=int, default=0, show_default=True, help="extraction processes (0 = one per core)")
@click.option("--storage", "storage_url", default=None, envvar="XXGK_STORAGE",
              help="where Parquet files, extraction records and state go: a directory or an fsspec URL such as "
                   "s3://bucket/prefix [default: the warehouse directory; env XXGK_STORAGE]")
@click.option("--dask", "dask", default=None, metavar="ADDRESS|local[:N]",
              help="run every step on Dask: a scheduler address (tcp://host:8786) or local[:N] for a LocalCluster of N workers")
@click.option("--doc-timeout", type=float, default=None,
              help="seconds one document may take [default: $XXGK_DOC_TIMEOUT or 60]")
@click.option("--doc-memory", default=None,
              help="memory of one extraction process, e.g. 2GB, 800MB [default: $XXGK_DOC_MEMORY or 2GB]")
@click.option("--quiet", is_flag=True, help="no progress bar")
def run(raw_dir: Path | None, warehouse_dir: Path | None, years: tuple[str, ...], workers: int, storage_url: str | None,
        dask: str | None, doc_timeout: float | None, doc_memory: str | None, quiet: bool) -> None:
    """Build the warehouse: inventory raw/, then extract, validate and load every report year (Dagster).

    One run writes a warehouse at a time (a second one exits at once); readers keep seeing the
    last published warehouse until the run publishes the new one: once the new reports are merged
    with their cross-report findings and roll-ups, and again after the Great Expectations
    validation and the quality report.
    """
    from pipelines.warehouse.publish import StorageError, WarehouseBusy, storage_problem, writer_session
    from pipelines.workers import Limits

    raw_dir = raw_dir or default_raw_dir()
    warehouse_dir = warehouse_dir or default_warehouse_dir()
    try:
        limits = Limits.resolve(doc_timeout, doc_memory)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if not raw_dir.is_dir():
        _fail(f"the landing zone {raw_dir} does not exist or is not a directory")
    problems = None
    if dask:  # the Dask workers write the warehouse: each of their transactions takes the writer lock
        from pipelines.distributed import run_with_cli_options
        from pipelines.runner import PipelineError

        try:
            click.echo(run_with_cli_options(raw_dir, warehouse_dir, dask, storage_url or "", list(years) or None, limits))
        except (WarehouseBusy, StorageError) as exc:
            _fail(str(exc))
        except PipelineError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        return
    try:
        with writer_session(warehouse_dir, command="xxgk run") as session:  # before the slow imports: a second run exits at once
            for note in session.notes:
                click.echo(f"xxgk run: {note}", err=True)
            from pipelines.runner import PipelineError, run_pipeline

            try:
                summary = run_pipeline(raw_dir, warehouse_dir, years=list(years) or None, workers=workers,
                                       progress=not quiet, limits=limits, storage_url=storage_url or "")
            except PipelineError as exc:  # some steps failed: what succeeded is published
                problems = str(exc)
    except (WarehouseBusy, StorageError) as exc:
        _fail(str(exc))
    except Exception as exc:  # the storage failing outside a step (staging, publishing) is one line too
        problem = storage_problem(exc)
        if not problem:
            raise
        _fail(f"cannot write the warehouse {warehouse_dir}: {problem} ({str(exc).splitlines()[0]}); "
              f"nothing was published, {warehouse_dir / 'xxgk.duckdb'} is as before")
    if problems:
        click.echo(problems, err=True)
        sys.exit(1)
    click.echo(summary)


def _fail(message: str) -> None:
    """One line on stderr, exit status 1."""
    click.echo(f"xxgk run: {message}", err=True)
    sys.exit(1)


@main.command()
@click.argument("query", required=False)
@click.option("--file", "sql_file", type=click.File("r", encoding="utf-8"), default=None,
              help="read the SQL from a file ('-': standard input) instead of QUERY")
@click.option("--warehouse", "warehouse_dir", type=click.Path(path_type=Path), default=None,
              help="warehouse directory [default: warehouse/]")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--excel", is_flag=True, help="with --format csv: start with a UTF-8 BOM, so Excel shows Chinese text right")
@click.option("--timeout", type=click.FloatRange(min=0), default=SQL_TIMEOUT, show_default=True, help="stop the query after this many seconds (0: no limit)")
@click.option("--memory-limit", default=SQL_MEMORY_LIMIT, show_default=True, help="memory DuckDB may use for the query (e.g. 500MB, 8GB)")
@click.option("--max-rows", type=click.IntRange(min=1), default=1000, show_default=True, help="table format: rows shown (all are counted)")
@click.option("--max-width", type=click.IntRange(min=4), default=40, show_default=True,
              help="table format: widest column, in terminal cells (a CJK character takes two); longer values end in …")
def sql(query: str | None, sql_file, warehouse_dir: Path | None, fmt: str, excel: bool, timeout: float,
        memory_limit: str, max_rows: int, max_width: int) -> None:
    """Run read-only SQL on the warehouse (SELECT, WITH, FROM, PIVOT, UNPIVOT, SUMMARIZE, DESCRIBE, SHOW, EXPLAIN)."""
    from pipelines.warehouse.query import QueryError, open_query

    if (query is None) == (sql_file is None):
        raise click.UsageError("give the SQL either as QUERY or with --file")
    if excel and fmt != "csv":
        raise click.UsageError("--excel goes with --format csv")
    try:
        with open_query(warehouse_dir or default_warehouse_dir(), query or sql_file.read(), timeout or None, memory_limit) as result:
            if fmt == "csv":
                out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="", write_through=True)
                if excel:
                    out.write("\ufeff")
                w = csv.writer(out, lineterminator="\n")
                w.writerow(result.columns)
                for batch in result:
                    w.writerows([["" if v is None else v for v in r] for r in batch])
                out.flush()
                out.detach()
            elif fmt == "json":
                rows = [dict(zip(result.columns, r)) for batch in result for r in batch]
                click.echo(json.dumps(rows, ensure_ascii=False, default=str, indent=1))
            elif result.columns[-1:] == ["explain_value"]:  # EXPLAIN: the plan as DuckDB draws it
                for row in (r for batch in result for r in batch):
                    click.echo(row[-1])
            else:
                rows = result.fetchmany(max_rows + 1)
                total = len(rows) if len(rows) <= max_rows else result.count()
                _print_sql_table(result.columns, rows[:max_rows], total, max_width)
    except (QueryError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc


def _print_sql_table(columns: list[str], rows: list[tuple], total: int | None, max_width: int) -> None:
    """Rows in aligned columns, each at most ``max_width`` terminal cells wide (rich's cell widths: a CJK character
    takes two); longer values end in …, numbers are right-aligned."""
    from rich.cells import cell_len, set_cell_size

    texts = [[_show(v) for v in r] for r in rows]
    widths = [min(max_width, max([cell_len(str(c)), *(cell_len(t[i]) for t in texts)])) for i, c in enumerate(columns)]
    numeric = [bool(rows) and all(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) or r[i] is None for r in rows)
               for i in range(len(columns))]

    def fit(text: str, i: int) -> str:
        if cell_len(text) > widths[i]:
            return set_cell_size(text, widths[i] - 1) + "…"
        pad = " " * (widths[i] - cell_len(text))
        return pad + text if numeric[i] else text + pad

    if columns:
        click.echo("   ".join(fit(str(c), i) for i, c in enumerate(columns)).rstrip())
        click.echo("─" * (sum(widths) + 3 * (len(widths) - 1)))
        for t in texts:
            click.echo("   ".join(fit(v, i) for i, v in enumerate(t)).rstrip())
    if total is None:
        click.echo(f"(more than {len(rows):,} rows; first {len(rows):,} shown, see --max-rows)")
    else:
        shown = f"; first {len(rows):,} shown, see --max-rows" if total > len(rows) else ""
        click.echo(f"({total:,} row{'s' if total != 1 else ''}{shown})")


def _show(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).replace("\n", " ")


@main.command()
@click.option("--warehouse", "warehouse_dir", type=click.Path(path_type=Path), default=None,
              help="warehouse directory [default: warehouse/]")
@click.option("--raw", "raw_dir", type=click.Path(path_type=Path), default=None,
              help="landing zone the pages link the documents in [default: raw/]")
@click.option("--no-data-docs", is_flag=True, help="skip building the Great Expectations Data Docs")
@click.option("--no-pdf", is_flag=True, help="write the letters as HTML only (PDF needs headless Chromium)")
def report(warehouse_dir: Path | None, raw_dir: Path | None, no_data_docs: bool, no_pdf: bool) -> None:
    """Write the auditor's report in Chinese under <warehouse>/reports/: quality.html (summary), findings pages,
    one 整改通知 per body (HTML + PDF), quality.xlsx and offline GX Data Docs."""
    from pipelines.quality import build_report

    warehouse_dir = warehouse_dir or default_warehouse_dir()
    raw_dir = raw_dir or default_raw_dir()
    try:
        outputs = build_report(warehouse_dir, raw_dir if raw_dir.exists() else None, with_data_docs=not no_data_docs, pdf=not no_pdf)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in outputs.lines():
        click.echo(line)


@main.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--districts", type=int, default=3, show_default=True, help="counties/districts (a real prefecture with that many is chosen from the division registry)")
@click.option("--bodies-per-district", type=int, default=3, show_default=True, help="reporting bodies per district (office included)")
@click.option("--year", "years", multiple=True, type=int, help="report years (repeatable) [default: 2023]")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--inject", type=int, default=0, show_default=True, help="districts printing a table that differs from their parts")
@click.option("--pdf", is_flag=True, help="print the HTML reports to PDF with headless Chromium")
def synth(out: Path, districts: int, bodies_per_district: int, years: tuple[int, ...], seed: int, inject: int, pdf: bool) -> None:
    """Write synthetic reports with known values (a real prefecture, its office, departments and counties) into OUT."""
    from pipelines.synth import generate

    try:
        summary = generate(out, districts=districts, bodies_per_district=bodies_per_district, years=years or (2023,),
                           seed=seed, inject=inject, pdf=pdf)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{summary.documents} reports of {summary.bodies} bodies of {summary.region.name} for {', '.join(map(str, summary.years))} in {out}"
               + (f"; injected mismatches: {summary.injected}" if summary.injected else ""))
    click.echo(f"build it with: xxgk run --raw {out} --warehouse <dir>")


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=None, help="write to a file instead of standard output")
def dictionary(out: Path | None) -> None:
    """Print the data dictionary (tables, views, codes, rules) generated from the registry."""
    from pipelines.dictionary import data_dictionary

    text = data_dictionary()
    if out:
        out.write_text(text, encoding="utf-8")
        click.echo(out)
    else:
        sys.stdout.write(text)


@main.group()
def expectations() -> None:
    """Great Expectations suites generated from the registry."""


@expectations.command("generate")
@click.option("--check", is_flag=True, help="write nothing; exit 1 if the committed suites differ from the registry")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None, help="[default: <project>/expectations]")
def expectations_generate(check: bool, directory: Path | None) -> None:
    """Write expectations/expectations/*.json from rules.csv and warehouse_tables.csv."""
    from pipelines.rules.suites import drift, write_suites
    from pipelines.settings import project_root

    directory = directory or project_root() / "expectations"
    if check:
        problems = drift(directory)
        for p in problems:
            click.echo(p, err=True)
        sys.exit(1 if problems else 0)
    for path in write_suites(directory):
        click.echo(path)


@main.group()
def docs() -> None:
    """Documentation generated from the registry."""


@docs.command("generate")
@click.option("--check", is_flag=True, help="write nothing; exit 1 if docs/ differs from the registry")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None, help="[default: <project>/docs]")
def docs_generate(check: bool, directory: Path | None) -> None:
    """Write docs/data_dictionary.md (tables, views, codes, rules) from the registry."""
    from pipelines.dictionary import generated_docs
    from pipelines.settings import project_root

    directory = directory or project_root() / "docs"
    problems = []
    for name, text in generated_docs().items():
        path = directory / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                problems.append(f"{path}: differs from the registry; run `xxgk docs generate`")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            click.echo(path)
    for p in problems:
        click.echo(p, err=True)
    if problems:
        sys.exit(1)


def _format_table(rows: list[list], header: list[str]) -> list[str]:
    """Rows aligned in columns (CJK characters count double)."""
    from unicodedata import east_asian_width

    def width(s: str) -> int:
        return sum(2 if east_asian_width(ch) in "WF" else 1 for ch in s)

    def show(v) -> str:
        if v is None:
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    cols = [[str(h)] + [show(r[i]) for r in rows] for i, h in enumerate(header)]
    widths = [max(width(v) for v in col) for col in cols]
    out = []
    for n in range(len(rows) + 1):
        out.append("  ".join(cols[i][n] + " " * (widths[i] - width(cols[i][n])) for i in range(len(header))).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def _print_table(rows: list[list], header: list[str]) -> None:
    for line in _format_table(rows, header):
        click.echo(line)


from pipelines.identity.cli import agencies  # noqa: E402  (the ``xxgk agencies`` command lives with the resolver)

main.add_command(agencies)

if __name__ == "__main__":
    main()
