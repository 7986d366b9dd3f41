"""A bigger warehouse from a small one: every report copied N times under new ids, for benchmarks and scale tests.

Copy ``k`` of a report gets the id ``nKK/<id>``, its body ``nKK-<agency_id>`` (names prefixed ``NKK``) and a region
code whose first two digits are ``KK`` — as if the warehouse held the same reports for a hundred provinces.
Rows are inserted year by year and copy by copy, as loads write them (a year at a time, in path order). The
analysis tables are left empty: fill them with ``refresh_analysis`` (as a load would).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.warehouse.store import CROSS_TABLE, GX_TABLE, LANDING_TABLES, PARTITIONED_TABLES

# tables copied with the reports (agencies and skipped paths too: each copy has its own bodies and landing zone);
# the registry and the divisions once
REPORT_TABLES = (*PARTITIONED_TABLES, CROSS_TABLE, GX_TABLE, "agencies", *LANDING_TABLES)
COPIED_ONCE = ("indicators", "rules", "regions")


def _copy_expr(column: str) -> str:
    """How a column is rewritten for copy ``k`` (a column of the range ``r``)."""
    if column in ("report_id", "source_path", "source_file", "canonical_report_id", "copy_group"):
        return f"printf('n%02d/', r.k) || {column}"
    if column in ("agency_id", "parent_id"):
        return f"printf('n%02d-', r.k) || {column}"
    if column in ("agency", "agency_printed", "name"):
        return f"printf('N%02d', r.k) || {column}"
    if column == "region_code":
        return f"printf('%02d', r.k) || substr({column}, 3)"
    return column


def replicate(source: Path, target: duckdb.DuckDBPyConnection, copies: int, quarantine_every: int = 0) -> dict[str, int]:
    """Fill the (empty, schema-created) warehouse on ``target`` with ``copies`` copies of database file ``source``.

    ``quarantine_every``: mark every n-th report of the copies quarantined (so joins meet a realistic mix of
    statuses; 0: keep the statuses). Returns the rows of each table.
    """
    target.execute(f"ATTACH '{str(source)}' AS src (READ_ONLY)")
    try:
        years = [r[0] for r in target.execute("SELECT DISTINCT report_year FROM src.reports ORDER BY 1").fetchall()]
        for table in REPORT_TABLES:
            cols = [r[0] for r in target.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = 'src' AND table_name = ? "
                "ORDER BY ordinal_position", [table]).fetchall()]
            exprs = [_copy_expr(c) for c in cols]
            if table == "reports" and quarantine_every:
                exprs[cols.index("status")] = (f"CASE WHEN hash(report_id, r.k) % {quarantine_every} = 0 "
                                               "THEN 'quarantined' ELSE status END")
            if "report_year" not in cols:
                target.execute(f'INSERT INTO "{table}" SELECT {", ".join(exprs)} FROM src."{table}", range({copies}) r(k)')
                continue
            for year in years:  # as loads write them: a year at a time, each copy (a "province") in one run
                where = "report_year IS NULL" if year is None else f"report_year = {int(year)}"
                for k in range(copies):
                    target.execute(f'INSERT INTO "{table}" SELECT {", ".join(exprs)} FROM src.{table}, (SELECT {k} AS k) r '
                                   f"WHERE {where}")
        for table in COPIED_ONCE:
            target.execute(f"INSERT INTO {table} SELECT * FROM src.{table}")
        return {t: target.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in REPORT_TABLES}
    finally:
        target.execute("DETACH src")
