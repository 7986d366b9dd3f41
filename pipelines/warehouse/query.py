"""Read-only SQL for analysts: only query statements run, on a read-only connection without file access,
under a time limit and a memory limit.

Kept light on purpose (duckdb only, no pandas/pyarrow): ``xxgk sql`` starts in a fraction of a second.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.settings import SQL_MEMORY_LIMIT, SQL_TIMEOUT
from pipelines.warehouse.publish import published_path, writer_of

# first keyword of a statement that only reads (SELECT, FROM-first, PIVOT/UNPIVOT, SUMMARIZE, DESCRIBE, SHOW …)
QUERY_KEYWORDS = {"select", "from", "values", "table", "pivot", "pivot_wider", "pivot_longer", "unpivot", "summarize",
                  "describe", "show", "("}
# keywords that may stand between WITH and the statement it introduces
_CTE_KEYWORDS = {"with", "recursive", "as", "not", "materialized", "using", "key"}
ALLOWED_TEXT = "SELECT, WITH, FROM, PIVOT, UNPIVOT, SUMMARIZE, DESCRIBE, SHOW, EXPLAIN"


class QueryError(Exception):
    """The query cannot be run (syntax error, unknown table, time or memory limit …)."""


class ReadOnlyError(QueryError):
    """The query tried to change something."""


def _tokens(query: str) -> list[tuple[int, str, object]]:
    """(position, lower-cased text, kind) of the query's tokens, comments dropped, by DuckDB's own tokenizer."""
    spans = duckdb.tokenize(query)
    out = []
    for n, (start, kind) in enumerate(spans):
        end = spans[n + 1][0] if n + 1 < len(spans) else len(query)
        if kind != duckdb.token_type.comment:
            out.append((start, query[start:end].strip().lower(), kind))
    return out


def leading_keyword(query: str) -> str:
    """The keyword that decides what a statement does: its first, or after a WITH clause the first outside it."""
    tokens = _tokens(query)
    if not tokens or tokens[0][1] != "with":
        return tokens[0][1] if tokens else ""
    depth = 0
    for _, text, kind in tokens:
        depth += (text == "(") - (text == ")")
        if depth == 0 and kind == duckdb.token_type.keyword and text not in _CTE_KEYWORDS:
            return text
    return ""


def _explained(query: str) -> str:
    """What an EXPLAIN statement explains: the text after EXPLAIN [ANALYZE] [(options)]."""
    tokens = _tokens(query)
    n = 1 + (len(tokens) > 1 and tokens[1][1] == "analyze")
    if n < len(tokens) and tokens[n][1] == "(":
        depth = 0
        for n in range(n, len(tokens)):
            depth += (tokens[n][1] == "(") - (tokens[n][1] == ")")
            if depth == 0:
                break
        n += 1
    return query[tokens[n][0]:] if n < len(tokens) else ""


def _change(con: duckdb.DuckDBPyConnection, statement) -> str | None:
    """None for a statement that only reads, else what it would do (CREATE, INSERT, SET …).

    DuckDB types most queries SELECT; EXPLAIN is judged by what it explains (EXPLAIN ANALYZE runs it); a
    PIVOT whose columns come from the data is typed MULTI (it first reads the distinct values) and is
    judged by its leading keyword.
    """
    if statement.type == duckdb.StatementType.SELECT:
        return None
    if statement.type == duckdb.StatementType.EXPLAIN:
        inner = con.extract_statements(_explained(statement.query))
        return _change(con, inner[0]) if len(inner) == 1 else "EXPLAIN"
    if statement.type == duckdb.StatementType.MULTI:
        text = statement.query
        if leading_keyword(text) == "explain":
            text = _explained(text)
        keyword = leading_keyword(text)
        return None if keyword in QUERY_KEYWORDS else keyword.upper()
    return str(statement.type).rsplit(".", 1)[-1]


def check_read_only(con: duckdb.DuckDBPyConnection, query: str) -> list[str]:
    """The statements of ``query``; raises ReadOnlyError naming the first that would change something."""
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        raise QueryError(f"cannot parse the query: {exc}") from exc
    if not statements:
        raise QueryError("empty query")
    for st in statements:
        change = _change(con, st)
        if change is not None:
            raise ReadOnlyError(f"xxgk sql is read-only: {change} statements are not allowed (only {ALLOWED_TEXT})")
    return [st.query for st in statements]


class QueryResult:
    """Columns and rows of the last statement, fetched in batches within the time limit."""

    def __init__(self, con: duckdb.DuckDBPyConnection, statement: str, limits: str):
        self._con = con
        self._statement = statement
        self._limits = limits
        self.columns = [d[0] for d in con.description] if con.description else []

    def fetchmany(self, n: int) -> list[tuple]:
        """Up to ``n`` more rows (an empty list at the end)."""
        if not self.columns:
            return []
        with _errors(self._limits):
            return self._con.fetchmany(n)

    def __iter__(self) -> Iterator[list[tuple]]:
        while batch := self.fetchmany(10_000):
            yield batch

    def count(self) -> int | None:
        """All rows of the statement, counted by DuckDB without fetching them (runs it again; ends the fetching).

        None when the statement cannot be counted that way (EXPLAIN, DESCRIBE …)."""
        with _errors(self._limits):
            try:
                return self._con.execute(f"SELECT count(*) FROM ({self._statement.rstrip().rstrip(';')})").fetchone()[0]
            except (duckdb.ParserException, duckdb.BinderException):
                return None


@contextmanager
def _errors(limits: str) -> Iterator[None]:
    try:
        yield
    except duckdb.InterruptException as exc:
        raise QueryError(f"query stopped: it ran longer than the time limit ({limits}); see --timeout") from exc
    except duckdb.OutOfMemoryException as exc:
        raise QueryError(f"query stopped: it needs more memory than the limit ({limits}); see --memory-limit: {exc}") from exc
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {exc}") from exc


@contextmanager
def open_query(
    warehouse: Path, query: str, timeout: float | None = SQL_TIMEOUT, memory_limit: str = SQL_MEMORY_LIMIT
) -> Iterator[QueryResult]:
    """Run read-only ``query`` (one or more statements) on the warehouse; yields the last statement's result.

    It reads the last published database file: while a run writes (to its staged copy) the query sees the warehouse
    as it was before that run, whole.

    The connection is read-only, has no file or network access and cannot change its settings; DuckDB may use
    ``memory_limit`` (spilling to a temporary directory beyond it) and the whole run, fetching included, is
    interrupted after ``timeout`` seconds (None or 0: no limit).
    """
    path = published_path(warehouse)  # the last published file: a run writing meanwhile works on a staged copy
    if not path.exists():
        writer = writer_of(warehouse)
        hint = (f"the run writing it (pid {writer.get('pid', '?')}, started {writer.get('started', '?')}) publishes it when it ends"
                if writer else "run `xxgk run` first")
        raise FileNotFoundError(f"no warehouse database at {path}; {hint}")
    config = {
        "enable_external_access": False,
        "memory_limit": memory_limit,
        "temp_directory": str(Path(tempfile.gettempdir()) / f"xxgk-sql-{os.getpid()}"),  # not beside the warehouse
    }
    try:
        con = duckdb.connect(str(path), read_only=True, config=config)
    except duckdb.Error as exc:
        raise QueryError(f"cannot open {path} with memory limit {memory_limit!r}: {exc}") from exc
    limits = f"{timeout:g} s, {memory_limit}" if timeout else f"no time limit, {memory_limit}"
    timer = threading.Timer(timeout, con.interrupt) if timeout else None
    try:
        con.execute("SET enable_progress_bar = false")  # DuckDB would draw it on standard output
        con.execute("SET lock_configuration = true")
        statements = check_read_only(con, query)
        if timer:
            timer.daemon = True
            timer.start()
        with _errors(limits):
            for statement in statements:
                con.execute(statement)
        yield QueryResult(con, statements[-1], limits)
    finally:
        if timer:
            timer.cancel()
        con.close()


def run_query(
    warehouse: Path, query: str, timeout: float | None = SQL_TIMEOUT, memory_limit: str = SQL_MEMORY_LIMIT
) -> tuple[list[str], list[tuple]]:
    """Run read-only statements; returns the last statement's columns and all its rows."""
    with open_query(warehouse, query, timeout, memory_limit) as result:
        return result.columns, [row for batch in result for row in batch]
