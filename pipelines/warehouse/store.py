"""Writing the warehouse: Parquet files per table and report year, and the DuckDB file.

* ``warehouse/parquet/<table>/<partition>.parquet`` – one file per report year (or
  ``undated``), written to a temporary name and renamed, so a reader sees the old file or the
  new one, never half of one.
* ``warehouse/xxgk.duckdb`` – the same tables loaded partition by partition inside one
  transaction (delete the partition's rows, insert the new ones), plus the registry tables
  (indicators, rules, agencies, regions) and the generated views. A failed load rolls back.
  Writes go to a staged copy under the writer lock and are published by an atomic rename
  (``pipelines.warehouse.publish``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from pipelines.warehouse.facts import analysis_current, ensure_analysis_tables, refresh_analysis
from pipelines.warehouse.publish import DB_FILE, read_path, temp_path, writable
from pipelines.warehouse.schema import arrow_schema, duckdb_ddl, empty_frame, to_arrow
from pipelines.warehouse.views import view_statements

PARTITIONED_TABLES = ("reports", "cells", "document_rule_results", "extraction_issues", "printed_subtotals", "narrative_figures",
                      "report_copies", "uncoded_rows")
REFERENCE_TABLES = ("indicators", "rules", "agencies", "regions")
CROSS_TABLE = "cross_rule_results"
OUT_TABLES = ("out_region_rollups",)
LANDING_TABLES = ("inventory_skipped",)  # paths of raw/ that are not documents, with the reason
UNDATED = "undated"


def parquet_path(warehouse: Path, table: str, key: str | None = None) -> Path:
    """Where a table (or one partition of it) lives."""
    base = Path(warehouse) / "parquet"
    return base / table / f"{key}.parquet" if key is not None else base / f"{table}.parquet"


def write_parquet(warehouse: Path, table: str, frame: pd.DataFrame, key: str | None = None) -> Path:
    """Write a frame with the registry schema, atomically (temp file + rename)."""
    path = parquet_path(warehouse, table, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrow = to_arrow(table, frame)
    tmp = temp_path(path)
    try:
        pq.write_table(arrow, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_parquet(warehouse: Path, table: str, key: str | None = None) -> pd.DataFrame:
    """Read a table or partition; an empty frame with the right columns when it does not exist."""
    path = parquet_path(warehouse, table, key)
    if not path.exists():
        return empty_frame(table)
    return pq.read_table(path, schema=arrow_schema(table)).to_pandas()


def db_path(warehouse: Path) -> Path:
    """The published DuckDB file of a warehouse (the one readers open)."""
    return Path(warehouse) / DB_FILE


def connect(warehouse: Path, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the warehouse database read-only: the published file, or this process's staged copy while it writes.

    Writes go through ``_transaction`` only.
    """
    if not read_only:
        raise ValueError("the warehouse is written through store._transaction (writer lock, staged copy, atomic publish)")
    path = read_path(warehouse)
    if not path.exists():
        raise FileNotFoundError(f"no warehouse database at {db_path(warehouse)}; run `xxgk run` first")
    return duckdb.connect(str(path), read_only=True)


def read_loaded(warehouse: Path, table: str) -> pd.DataFrame:
    """A warehouse-wide table as the database holds it (empty when there is no database yet).

    Compare new contents with this, not with the table's Parquet file: an interrupted run may have
    written the Parquet file without publishing the database.
    """
    if not read_path(warehouse).exists():
        return empty_frame(table)
    with connect(warehouse) as con:
        return con.execute(f'SELECT * FROM "{table}"').df()


STATE_TABLE = "_loaded_partitions"


def _ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in PARTITIONED_TABLES + REFERENCE_TABLES + (CROSS_TABLE,) + OUT_TABLES + LANDING_TABLES:
        con.execute(duckdb_ddl(table))
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (partition_key VARCHAR PRIMARY KEY, fingerprint VARCHAR, loaded_at TIMESTAMPTZ)"
    )
    ensure_analysis_tables(con)
    for stmt in view_statements():
        con.execute(stmt)


@contextmanager
def _transaction(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection inside one transaction (tables ensured): committed on success, else rolled back.

    It writes the staged copy of a write session (``publish.writable``: writer lock, staged
    copy, atomic publish), never the published file.
    """
    with writable(warehouse) as path:
        con = duckdb.connect(str(path))
        try:
            con.execute("BEGIN TRANSACTION")
            _ensure_tables(con)
            yield con
            con.execute("COMMIT")
        except BaseException:
            with suppress(duckdb.Error):  # best effort: after a failed commit there is nothing to roll back
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()


def loaded_fingerprint(warehouse: Path, key: str) -> str | None:
    """Fingerprint of the partition as last loaded into DuckDB (read-only; None when never loaded)."""
    if not read_path(warehouse).exists():
        return None
    con = connect(warehouse)
    try:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [STATE_TABLE]
        ).fetchone()[0]
        if not exists:
            return None
        row = con.execute(f"SELECT fingerprint FROM {STATE_TABLE} WHERE partition_key = ?", [key]).fetchone()
        return row[0] if row else None
    finally:
        con.close()


def warehouse_fingerprint(warehouse: Path) -> str | None:
    """Identity of everything loaded: the fingerprints of all loaded partitions (None when nothing is loaded)."""
    if not read_path(warehouse).exists():
        return None
    import hashlib

    con = connect(warehouse)
    try:
        exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [STATE_TABLE]).fetchone()[0]
        rows = con.execute(f"SELECT partition_key, fingerprint FROM {STATE_TABLE} ORDER BY 1").fetchall() if exists else []
    finally:
        con.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest() if rows else None


def load_partition(
    warehouse: Path, key: str, reference: dict[str, pd.DataFrame], fingerprint: str | None = None
) -> dict[str, int] | None:
    """Replace one partition's rows in DuckDB with its Parquet files, in a single transaction.

    Returns None (and touches nothing) when ``fingerprint`` equals the one already loaded (and the analysis
    tables are current).
    """
    if fingerprint is not None and loaded_fingerprint(warehouse, key) == fingerprint and analysis_current(read_path(warehouse)):
        return None
    year = None if key == UNDATED else int(key)
    counts: dict[str, int] = {}
    with _transaction(warehouse) as con:
        for table, frame in reference.items():
            con.execute(f'DELETE FROM "{table}"')
            con.register("_reference", to_arrow(table, frame))
            con.execute(f'INSERT INTO "{table}" SELECT * FROM _reference')
            con.unregister("_reference")
        new_ids = read_parquet(warehouse, "reports", key)["report_id"].tolist()
        old_ids = [r[0] for r in con.execute("SELECT report_id FROM reports WHERE report_year IS NOT DISTINCT FROM ?", [year]).fetchall()]
        con.execute("CREATE TEMP TABLE IF NOT EXISTS _new_ids (report_id VARCHAR)")
        con.execute("DELETE FROM _new_ids")
        if new_ids:
            con.execute("INSERT INTO _new_ids SELECT unnest(?::VARCHAR[])", [new_ids])  # one bulk insert
        for table in PARTITIONED_TABLES:
            con.execute(
                f'DELETE FROM "{table}" WHERE report_year IS NOT DISTINCT FROM ? OR report_id IN (SELECT report_id FROM _new_ids)',
                [year],
            )
            path = parquet_path(warehouse, table, key)
            if path.exists():
                con.execute(f"INSERT INTO \"{table}\" SELECT * FROM read_parquet('{_sql_path(path)}')")
            counts[table] = con.execute(
                f'SELECT count(*) FROM "{table}" WHERE report_year IS NOT DISTINCT FROM ?', [year]
            ).fetchone()[0]
        refresh_analysis(con, old_ids + new_ids)
        con.execute(f"DELETE FROM {STATE_TABLE} WHERE partition_key = ?", [key])
        con.execute(f"INSERT INTO {STATE_TABLE} VALUES (?, ?, now())", [key, fingerprint])
    return counts


def load_whole(warehouse: Path, table: str, frame: pd.DataFrame) -> int:
    """Replace a warehouse-wide table (cross-report findings, roll-ups) in one transaction, and its Parquet file."""
    write_parquet(warehouse, table, frame)
    with _transaction(warehouse) as con:
        con.execute(f'DELETE FROM "{table}"')
        con.register("_whole", to_arrow(table, frame))
        con.execute(f'INSERT INTO "{table}" SELECT * FROM _whole')
        con.unregister("_whole")
    return len(frame)


def drop_partition(warehouse: Path, key: str) -> None:
    """Remove a partition that no longer has documents (Parquet files and DuckDB rows)."""
    for table in PARTITIONED_TABLES:
        path = parquet_path(warehouse, table, key)
        if path.exists():
            path.unlink()
    if not read_path(warehouse).exists():
        return
    year = None if key == UNDATED else int(key)
    with _transaction(warehouse) as con:
        old_ids = [r[0] for r in con.execute("SELECT report_id FROM reports WHERE report_year IS NOT DISTINCT FROM ?", [year]).fetchall()]
        for table in PARTITIONED_TABLES:
            con.execute(f'DELETE FROM "{table}" WHERE report_year IS NOT DISTINCT FROM ?', [year])
        refresh_analysis(con, old_ids)
        con.execute(f"DELETE FROM {STATE_TABLE} WHERE partition_key = ?", [key])


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
