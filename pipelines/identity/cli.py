"""``xxgk agencies``: how each report's body was placed, and the resolver on a name typed in."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import click

LISTING_SQL = """
SELECT r.report_id, r.report_year, r.agency_printed AS printed, r.agency_id, coalesce(a.name, r.agency) AS agency,
       a.region_code, g.name AS region, a.level, coalesce(a.kind, r.agency_kind) AS kind, r.agency_match AS matched,
       r.agency_unresolved_reason AS unresolved_reason
FROM reports r LEFT JOIN agencies a USING (agency_id) LEFT JOIN regions g ON g.region_code = a.region_code
{where}
ORDER BY r.agency_id IS NULL DESC, r.agency_id, r.report_year, r.report_id
"""
RESOLVE_COLUMNS = ["printed", "agency_id", "agency", "region_code", "level", "kind", "matched", "unresolved_reason"]


def _emit(columns: list[str], rows: list[list], fmt: str) -> None:
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(columns)
        w.writerows([["" if v is None else v for v in r] for r in rows])
        sys.stdout.write(out.getvalue())
    elif fmt == "json":
        click.echo(json.dumps([dict(zip(columns, r)) for r in rows], ensure_ascii=False, default=str, indent=1))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns, show_lines=False, header_style="bold")
        for r in rows:
            table.add_row(*("" if v is None else str(v) for v in r))
        Console(width=max(160, Console().width)).print(table)
        click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


@click.command()
@click.argument("names", nargs=-1)
@click.option("--warehouse", "warehouse_dir", type=click.Path(path_type=Path), default=None,
              help="warehouse directory [default: warehouse/]")
@click.option("--raw", "raw_dir", type=click.Path(path_type=Path), default=None,
              help="landing zone whose agencies.csv overrides apply to NAMES [default: raw/]")
@click.option("--context", default=None, help="with NAMES: text of the document (title, opening) used to place them")
@click.option("--unresolved", is_flag=True, help="only reports whose body could not be placed")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def agencies(names: tuple[str, ...], warehouse_dir: Path | None, raw_dir: Path | None, context: str | None,
             unresolved: bool, fmt: str) -> None:
    """How each report's body was placed: printed name → agency_id, region, level, kind, how matched.

    With NAMES, place those printed names instead (no warehouse needed), e.g.
    ``xxgk agencies 淮安市洪泽区人民政府 沐阳县人民政府 鼓楼区人民政府``.
    """
    from pipelines.settings import default_raw_dir, default_warehouse_dir

    if names:
        from pipelines.agencies import agency_resolver
        from pipelines.identity.resolver import Context

        resolver = agency_resolver(raw_dir or default_raw_dir())
        rows = []
        for name in names:
            r = resolver.resolve(name, Context(opening=context))
            rows.append([name, r.agency_id, r.name, r.region_code, r.level, r.kind, r.match, r.reason])
        _emit(RESOLVE_COLUMNS, rows, fmt)
        return
    from pipelines.warehouse.query import QueryError, run_query

    where = "WHERE r.agency_id IS NULL" if unresolved else ""
    try:
        columns, rows = run_query(warehouse_dir or default_warehouse_dir(), LISTING_SQL.format(where=where))
    except (QueryError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    _emit(columns, [list(r) for r in rows], fmt)
