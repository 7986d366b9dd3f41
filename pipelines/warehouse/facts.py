"""Stored tables for analysis, generated from the registry and kept in step with every load.

* ``fact_t2``, ``fact_t3``, ``fact_t4`` – Table 二/三/四 wide: one row per report and printed row (Table 四:
  per block), one column per printed column (``Indicator.wide_column``);
* ``fact_old`` – the 2014-2018 统计表, one row per report and code;
* ``fact_reports`` – one row per report: body, region, kind, scope and the request flow (``REQUEST_MEASURES``);
* ``out_region_rollups`` – per region and report year, the additive cells of its children summed
  (``pipelines.rollups``).

Every row carries ``report_year`` and ``region_code``; rows are inserted one report year at a time, sorted by
region, so DuckDB's zone maps skip the row groups a filter on year or region excludes. The views in
``views.py`` read these tables and never pivot ``cells`` (which stays, for provenance).
``refresh_analysis(con, report_ids)`` rewrites the rows of the given reports and the roll-ups of the regions
they touch, inside the loader's transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import duckdb

from pipelines.registry import WIDE_TABLES, load_registry
from pipelines.warehouse.schema import duckdb_ddl

ANALYSIS_TABLES = ("fact_reports", *WIDE_TABLES, "fact_old")
STATE_TABLE = "_analysis_state"
# the request flow of fact_reports (and v_requests_by_region_year): measure -> the codes printing it, one per format
REQUEST_MEASURES = {
    "new_requests": ("t3.new_received.total", "old.applications.received.total"),
    "carried_over": ("t3.carried_over.total",),
    "processed": ("t3.total_processed.total", "old.applications.answered.total"),
    "carried_forward": ("t3.carried_forward.total",),
}
_IDS = "_analysis_ids"
_TOUCHED = "_analysis_touched"
_LAYOUT = "_analysis_layout"


def _columns(table: str) -> list[str]:
    return [c.name for c in load_registry().table(table)]


def _quote(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def ensure_analysis_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the analysis tables; one whose columns differ from the registry is dropped and created anew.

    A recreated table is empty: the next ``refresh_analysis`` sees the changed fingerprint and refills it.
    """
    con.execute(f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (name VARCHAR PRIMARY KEY, value VARCHAR)")
    for table in ANALYSIS_TABLES:
        have = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main' "
            "ORDER BY ordinal_position", [table]).fetchall()]
        if have != _columns(table):
            con.execute(f'DROP TABLE IF EXISTS "{table}"')
            con.execute(duckdb_ddl(table))
            con.execute(f"DELETE FROM {STATE_TABLE}")  # refill everything on the next refresh


def _where(alias: str, year: int | None, restricted: bool) -> str:
    """One report year ('=' so that DuckDB prunes row groups by their zone maps), and the ids being refreshed."""
    cond = f"{alias}.report_year IS NULL" if year is None else f"{alias}.report_year = {int(year)}"
    return cond + (f" AND {alias}.report_id IN (SELECT report_id FROM {_IDS})" if restricted else "")


def report_dims(table: str) -> list[str]:
    """The columns a fact table copies from fact_reports (report_id, year, region, body, scope, status)."""
    own = _columns("fact_reports")
    return [c for c in _columns(table) if c in own and c not in REQUEST_MEASURES]


def fact_reports_sql(year: int | None, restricted: bool = True) -> str:
    """INSERT of fact_reports rows for one report year (only the ids being refreshed when ``restricted``)."""
    measures = ",\n    ".join(
        f"max(c.value) FILTER (WHERE c.code IN ({_quote(codes)})) AS {name}" for name, codes in REQUEST_MEASURES.items()
    )
    codes = _quote(c for codes in REQUEST_MEASURES.values() for c in codes)
    source = {"region_code": "a.region_code", "agency_kind": "a.kind", **{m: f"m.{m}" for m in REQUEST_MEASURES},
              "in_analysis": "ar.report_id IS NOT NULL", "report_kind": "ar.report_kind"}
    return (
        "INSERT INTO fact_reports\n"
        "SELECT " + ", ".join(source.get(c, f"r.{c}") for c in _columns("fact_reports")) + "\n"
        "FROM reports r LEFT JOIN agencies a USING (agency_id)\n"
        f"LEFT JOIN analysis_reports ar ON ar.report_id = r.report_id AND {_where('ar', year, restricted)}\n"
        f"LEFT JOIN (\n  SELECT c.report_id,\n    {measures}\n"
        f"  FROM cells c WHERE {_where('c', year, restricted)} AND c.code IN ({codes})\n  GROUP BY c.report_id\n"
        ") m ON m.report_id = r.report_id\n"
        f"WHERE {_where('r', year, restricted)}\n"
        "ORDER BY a.region_code"
    )


def wide_sql(table: str, year: int | None, restricted: bool = True) -> str:
    """INSERT of a wide table's rows for one report year: cells pivoted by ``Indicator.wide_row`` / ``wide_column``."""
    table_id = WIDE_TABLES[table]
    values = list(load_registry().wide_columns(table_id))
    dims = report_dims(table)
    row_dims = [c for c in _columns(table) if c not in dims and c not in values]  # row_key, row_order, row_label | block
    source = {row_dims[0]: "w.wide_row", "row_order": "w.row_order", "row_label": "w.row_label"}
    pivots = ",\n    ".join(f'max(c.value) FILTER (WHERE l.col_no = {n}) AS "{k}"' for n, k in enumerate(values))
    return (
        f'INSERT INTO "{table}"\n'
        "SELECT " + ", ".join([f"f.{d}" for d in dims] + [source[d] for d in row_dims] + [f'w."{k}"' for k in values])
        + "\nFROM (\n"
        "  SELECT c.report_id, l.wide_row, min(l.row_order) AS row_order, any_value(l.row_label) AS row_label,\n"
        f"    {pivots}\n"
        f"  FROM cells c JOIN {_LAYOUT} l ON l.code = c.code AND l.table_id = '{table_id}'\n"
        f"  WHERE {_where('c', year, restricted)} AND c.table_id = '{table_id}'\n"
        "  GROUP BY c.report_id, l.wide_row\n"
        f") w JOIN fact_reports f ON f.report_id = w.report_id AND {_where('f', year, False)}\n"
        "ORDER BY f.region_code"
    )


def fact_old_sql(year: int | None, restricted: bool = True) -> str:
    """INSERT of fact_old rows (the 统计表, one per cell) for one report year."""
    dims = report_dims("fact_old")
    source = {"row_order": "i.row_order", "code": "c.code", "section_label": "i.section_label", "row_label": "i.row_label",
              "unit": "i.unit", "value": "c.value", "raw": "c.raw"}
    return (
        "INSERT INTO fact_old\n"
        "SELECT " + ", ".join([f"f.{d}" for d in dims] + [source[c] for c in _columns("fact_old") if c not in dims]) + "\n"
        "FROM cells c JOIN indicators i ON i.code = c.code AND i.table_id = 'old'\n"
        f"JOIN fact_reports f ON f.report_id = c.report_id AND {_where('f', year, False)}\n"
        f"WHERE {_where('c', year, restricted)} AND c.table_id = 'old'\n"
        "ORDER BY f.region_code"
    )


def refresh_statements(year: int | None, restricted: bool = True) -> list[str]:
    """Every INSERT that fills the analysis tables for one report year, in dependency order (fact_reports first)."""
    return [fact_reports_sql(year, restricted), *(wide_sql(t, year, restricted) for t in WIDE_TABLES),
            fact_old_sql(year, restricted)]


def _layout(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table: for each code of Table 二/三/四, its wide row and column (registry) with the printed row order and label."""
    reg = load_registry()
    rows = [(i.code, i.wide_row, list(reg.wide_columns(i.table_id)).index(i.wide_column))
            for i in reg.by_code.values() if i.table_id in WIDE_TABLES.values()]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_LAYOUT} AS SELECT i.code, i.table_id, l.wide_row, l.col_no, i.row_order, i.row_label\n"
        "FROM indicators i JOIN (SELECT unnest(?::VARCHAR[]) AS code, unnest(?::VARCHAR[]) AS wide_row, "
        "unnest(?::INTEGER[]) AS col_no) l USING (code)",
        [list(col) for col in zip(*rows)],
    )


def _fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """What the stored rows were computed with: table definitions, this SQL, the agencies and the indicators.

    (Membership of analysis_reports is checked report by report at every refresh instead.)"""
    from pipelines.rollups import rollup_sql

    h = hashlib.sha256()
    for text in [*(duckdb_ddl(t) for t in ANALYSIS_TABLES), *refresh_statements(0), rollup_sql()]:
        h.update(text.encode())
    for table in ("agencies", "indicators"):
        h.update(repr(con.execute(f"SELECT count(*), bit_xor(hash(t)) FROM {table} t").fetchone()).encode())
    return h.hexdigest()


def analysis_current(path) -> bool:
    """Whether the DuckDB file at ``path`` holds analysis tables computed by this code from its agencies and indicators.

    False tells a loader with nothing new to load that it must still refresh (e.g. after this module changed)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [STATE_TABLE]).fetchone()[0]:
            return False
        return _state(con, "fingerprint") == _fingerprint(con)
    finally:
        con.close()


def _state(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    row = con.execute(f"SELECT value FROM {STATE_TABLE} WHERE name = ?", [name]).fetchone()
    return row[0] if row else None


def refresh_analysis(con: duckdb.DuckDBPyConnection, report_ids: list[str]) -> dict[str, int | bool]:
    """Bring the analysis tables and the roll-ups in step with the given reports: the loader's hook.

    Contract with the loader (interface 7): call it on the loader's read-write connection, inside the load's
    transaction (``store._transaction``), after ``reports``/``cells`` hold the load's rows, once per load — a
    failed load rolls the refresh back with it. ``report_ids``: every report inserted, replaced or deleted by
    the load (ids no longer in ``reports`` lose their rows); ``[]`` refreshes only what changed without being
    named. Reports whose membership of ``analysis_reports`` changed (e.g. another copy became canonical) are
    found and refreshed too, so the stored ``in_analysis`` flags always equal that view afterwards. Their rows
    in ``fact_*`` are rewritten and ``out_region_rollups`` is recomputed for the regions and years they feed
    (as a child or as the region's own aggregate report), before and after the change. When the table
    definitions, this SQL, the agency registry or the indicators changed since the last refresh, everything is
    rebuilt (one report year at a time). Whoever changes ``reports``, ``cells`` or what ``analysis_reports``
    reads must call it in the same transaction. Uses temporary tables ``_analysis_*`` and ``_rollup_*``.
    Returns the number of reports refreshed and whether it was a full rebuild.
    """
    from pipelines.rollups import refresh_rollups

    ensure_analysis_tables(con)
    fingerprint = _fingerprint(con)
    full = _state(con, "fingerprint") != fingerprint
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_IDS} (report_id VARCHAR)")
    if full:
        con.execute(f"INSERT INTO {_IDS} SELECT report_id FROM reports")
    else:
        ids = list(dict.fromkeys(report_ids))
        if ids:
            con.execute(f"INSERT INTO {_IDS} SELECT unnest(?::VARCHAR[])", [ids])
    _layout(con)
    if not full:  # reports that joined or left analysis_reports without being named (e.g. another copy became canonical)
        con.execute(f"INSERT INTO {_IDS} SELECT report_id FROM fact_reports "
                    "WHERE in_analysis <> (report_id IN (SELECT report_id FROM analysis_reports)) "
                    f"EXCEPT SELECT report_id FROM {_IDS}")
    # the bodies and years these reports fed before the change: their roll-ups change too
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_TOUCHED} AS SELECT agency_id, report_year FROM fact_reports "
                f"WHERE report_id IN (SELECT report_id FROM {_IDS})")
    # the rows to rewrite: those of the ids, looked for only in the years they were in (zone maps skip the rest)
    old_years = {r[0] for r in con.execute(f"SELECT DISTINCT report_year FROM {_TOUCHED}").fetchall()}
    for table in ANALYSIS_TABLES:
        if full:
            con.execute(f'DELETE FROM "{table}"')
        elif old_years:
            con.execute(f'DELETE FROM "{table}" WHERE ' + " OR ".join(f"({_where(table, y, True)})" for y in sorted(old_years, key=str)))
    years = [r[0] for r in con.execute(
        f"SELECT DISTINCT report_year FROM reports WHERE report_id IN (SELECT report_id FROM {_IDS}) ORDER BY 1"
    ).fetchall()]
    for year in years:
        for statement in refresh_statements(year, restricted=not full):
            con.execute(statement)
    con.execute(f"INSERT INTO {_TOUCHED} SELECT agency_id, report_year FROM fact_reports "
                f"WHERE report_id IN (SELECT report_id FROM {_IDS})")
    refresh_rollups(con, None if full else _TOUCHED)
    con.execute(f"INSERT OR REPLACE INTO {STATE_TABLE} VALUES ('fingerprint', ?)", [fingerprint])
    n = con.execute(f"SELECT count(*) FROM {_IDS}").fetchone()[0]
    for temp in (_IDS, _TOUCHED, _LAYOUT):
        con.execute(f"DROP TABLE {temp}")
    return {"reports": n, "full": full}
