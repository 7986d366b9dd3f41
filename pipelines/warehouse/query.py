"""Read-only SQL for analysts: only SELECT-like statements run, on a read-only connection without file access."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.warehouse.store import db_path

ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


class QueryError(Exception):
    """The query cannot be run (syntax error, unknown table …)."""


class ReadOnlyError(QueryError):
    """The query tried to change something."""


def run_query(warehouse: Path, query: str) -> tuple[list[str], list[tuple]]:
    """Run one or more read-only statements; returns the last statement's columns and rows."""
    path = db_path(warehouse)
    if not path.exists():
        raise FileNotFoundError(f"no warehouse database at {path}; run `xxgk run` first")
    con = duckdb.connect(str(path), read_only=True, config={"enable_external_access": False})
    try:
        try:
            statements = con.extract_statements(query)
        except duckdb.Error as exc:
            raise QueryError(f"cannot parse the query: {exc}") from exc
        if not statements:
            raise QueryError("empty query")
        for st in statements:
            if st.type not in ALLOWED:
                kind = str(st.type).rsplit(".", 1)[-1]
                raise ReadOnlyError(f"xxgk sql is read-only: {kind} statements are not allowed (only SELECT, WITH, DESCRIBE, SHOW, EXPLAIN)")
        result = None
        for st in statements:
            try:
                result = con.execute(st.query)
            except duckdb.Error as exc:
                raise QueryError(f"query failed: {exc}") from exc
        columns = [d[0] for d in result.description] if result and result.description else []
        rows = result.fetchall() if columns else []
        return columns, rows
    finally:
        con.close()
