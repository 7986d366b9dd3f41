"""Loading the DuckDB file from the Parquet shards: a merge by report_id, one transaction per load.

* ``warehouse/xxgk.duckdb`` (local) – the tables of the registry, the reference tables
  (indicators, rules, agencies, regions) and the generated views. Internal bookkeeping tables
  (names starting with ``_``) record which document versions are loaded and which reports
  changed since the warehouse-wide assets last looked.
* ``load_years`` compares, for every shard whose fingerprint changed since the last load, the
  documents' versions with those loaded, then deletes the rows of removed or changed reports
  and inserts the rows of new or changed ones (Arrow inserts from the shard files). Unchanged
  reports are not touched; a year whose fingerprint is unchanged is not even read. Every
  changed report id is appended to ``_changes``, which the cross-report rules and roll-ups
  consume to recompute only what a change can affect.
* One transaction per call: a failure leaves the previous warehouse as it was. Transactions write
  the staged copy of a write session under the writer lock, published by an atomic rename
  (``pipelines.warehouse.publish``); readers see the published file.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from pipelines.shards import shard_file, shard_state_path, year_file, year_state_path
from pipelines.warehouse.facts import analysis_current, ensure_analysis_tables, refresh_analysis
from pipelines.warehouse.publish import DB_FILE, read_path, writable
from pipelines.warehouse.schema import arrow_schema, duckdb_ddl, empty_frame, to_arrow
from pipelines.warehouse.storage import Storage
from pipelines.warehouse.views import view_statements

# per-report tables (merged by report_id) and report_copies (per report year: copies are grouped within a year)
SHARD_TABLES = ("reports", "cells", "document_rule_results", "extraction_issues", "printed_subtotals", "narrative_figures",
                "uncoded_rows")
YEAR_TABLES = ("report_copies",)
PARTITIONED_TABLES = SHARD_TABLES + YEAR_TABLES
REFERENCE_TABLES = ("indicators", "rules", "agencies", "regions")
CROSS_TABLE = "cross_rule_results"
OUT_TABLES = ("out_region_rollups",)
GX_TABLE = "gx_findings"  # written after each merge by warehouse.gx_validation
MEMORY_LIMIT = "3GB"  # DuckDB spills to disk beyond this while merging a year
LANDING_TABLES = ("inventory_skipped",)  # paths of raw/ that are not documents, with the reason
UNDATED = "undated"
INVENTORY = "parquet/document_inventory.parquet"

# the loader's bookkeeping (not data: never copied, never shown in the data dictionary)
_BOOKKEEPING = {
    "_loaded_partitions": "partition_key VARCHAR PRIMARY KEY, fingerprint VARCHAR, loaded_at TIMESTAMPTZ",
    "_loaded_shards": "partition_key VARCHAR, shard VARCHAR, fingerprint VARCHAR",
    "_loaded_documents": "report_id VARCHAR PRIMARY KEY, partition_key VARCHAR, shard VARCHAR, version VARCHAR",
    # reports added, changed or removed, with the body and year they had (before and after)
    "_changes": "seq BIGINT, report_id VARCHAR, report_year BIGINT, agency_id VARCHAR, agency VARCHAR",
    # how far each warehouse-wide asset has consumed _changes, and what else it was computed from
    "_consumers": "name VARCHAR PRIMARY KEY, seq BIGINT, fingerprint VARCHAR",
    "_meta": "name VARCHAR PRIMARY KEY, value VARCHAR",
}
BOOKKEEPING_TABLES = tuple(_BOOKKEEPING)


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
    with reading(warehouse) as con:
        if con is None or not _has_table(con, table):
            return empty_frame(table)
        return con.execute(f'SELECT * FROM "{table}"').df()


def _ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in PARTITIONED_TABLES + REFERENCE_TABLES + (CROSS_TABLE,) + OUT_TABLES + LANDING_TABLES + (GX_TABLE,):
        con.execute(duckdb_ddl(table))
    for name, columns in _BOOKKEEPING.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
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


@contextmanager
def reading(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only connection (to this process's staged copy while it writes), or None when there is no database yet."""
    if not read_path(warehouse).exists():
        yield None
        return
    con = connect(warehouse, read_only=True)
    try:
        yield con
    finally:
        con.close()


def _has_table(con, name: str) -> bool:
    return con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchall()[0][0] > 0


# --------------------------------------------------------------------------------------------
# Parquet


def read_inventory(storage: Storage) -> pd.DataFrame:
    """The last inventory of raw/ (empty frame when there is none)."""
    table = storage.read_table(INVENTORY, schema=arrow_schema("document_inventory"))
    return empty_frame("document_inventory") if table is None else table.to_pandas()


def write_inventory(storage: Storage, frame: pd.DataFrame) -> None:
    """Save the inventory of raw/."""
    storage.write_table(INVENTORY, to_arrow("document_inventory", frame))


def read_year(storage: Storage, table: str, key: str) -> pd.DataFrame:
    """All rows of a partitioned table for one report year (every shard), as a frame."""
    manifest = storage.read_json(year_state_path(key)) or {}
    files = [year_file(table, key)] if table in YEAR_TABLES else [shard_file(table, key, s) for s in sorted(manifest.get("shards", {}))]
    parts = [storage.read_table(f, schema=arrow_schema(table)) for f in files]
    parts = [p for p in parts if p is not None]
    return pa.concat_tables(parts).to_pandas() if parts else empty_frame(table)


# --------------------------------------------------------------------------------------------
# the merge


def loaded_fingerprint(warehouse: Path, key: str) -> str | None:
    """Fingerprint of a report year as last loaded into DuckDB (None when never loaded)."""
    with reading(warehouse) as con:
        if con is None or not _has_table(con, "_loaded_partitions"):
            return None
        rows = con.execute("SELECT fingerprint FROM _loaded_partitions WHERE partition_key = ?", [key]).fetchall()
        return rows[0][0] if rows else None


def reference_digest(reference: dict[str, pd.DataFrame]) -> str:
    """Identity of the reference tables' content."""
    h = hashlib.sha256()
    for name in sorted(reference):
        h.update(name.encode())
        h.update(pd.util.hash_pandas_object(reference[name].astype(str), index=False).values.tobytes())
    return h.hexdigest()


def load_years(warehouse: Path, storage: Storage, keys: list[str], reference, inputs: str = "") -> dict[str, dict]:
    """Merge the given report years into DuckDB in one transaction; per year the rows inserted and deleted.

    A year whose manifest fingerprint is the one already loaded is skipped (``{"skipped": True}``).
    ``reference(seen)`` gives the reference tables from the loaded reports' (agency_id, agency_printed); they are
    replaced when they differ from the loaded ones (``inputs`` names what else they depend on, e.g. the identity
    code and data). ``facts.refresh_analysis`` (interface 7) runs inside the transaction with every report id
    inserted, replaced or removed — the one place a load calls it (``drop_years`` for removed years).
    """
    manifests = {k: storage.read_json(year_state_path(k)) for k in keys}
    with reading(warehouse) as con:
        loaded = {} if con is None or not _has_table(con, "_loaded_partitions") else dict(
            con.execute("SELECT partition_key, fingerprint FROM _loaded_partitions").fetchall())
        ref_inputs = None if con is None or not _has_table(con, "_meta") else (
            con.execute("SELECT value FROM _meta WHERE name = 'reference_inputs'").fetchall() or [(None,)])[0][0]
    todo = [k for k in keys if manifests[k] is not None and loaded.get(k) != manifests[k]["fingerprint"]]
    out: dict[str, dict] = {k: {"skipped": True} for k in keys}
    if not todo and ref_inputs == inputs and read_path(warehouse).exists() and analysis_current(read_path(warehouse)):
        return out
    with _transaction(warehouse) as con:
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        seq = next_change_seq(con)
        changed: list[str] = []
        for key in todo:
            out[key] = _merge_year(con, storage, key, manifests[key], seq)
            changed.extend(out[key].pop("changed"))
        frames = reference(con.execute("SELECT DISTINCT agency_id, agency_printed FROM reports").df())
        digest = reference_digest(frames)
        if (con.execute("SELECT value FROM _meta WHERE name = 'reference'").fetchall() or [(None,)])[0][0] != digest:
            for table, frame in frames.items():
                replace_table(con, table, frame)
            con.execute("INSERT OR REPLACE INTO _meta VALUES ('reference', ?)", [digest])
        con.execute("INSERT OR REPLACE INTO _meta VALUES ('reference_inputs', ?)", [inputs])
        refresh_analysis(con, changed)
    return out


def _merge_year(con, storage: Storage, key: str, manifest: dict, seq: int) -> dict:
    shards = manifest["shards"]
    loaded = dict(con.execute("SELECT shard, fingerprint FROM _loaded_shards WHERE partition_key = ?", [key]).fetchall())
    dirty = sorted(s for s, v in shards.items() if loaded.get(s) != v["fingerprint"])
    gone_shards = sorted(set(loaded) - set(shards))
    incoming = {"report_id": [], "shard": [], "version": []}
    for s in dirty:
        state = storage.read_json(shard_state_path(key, s)) or {"docs": {}}
        for rid, version in state["docs"].items():
            incoming["report_id"].append(rid)
            incoming["shard"].append(s)
            incoming["version"].append(version)
    con.register("_incoming", pa.table(incoming, schema=pa.schema([("report_id", pa.string()), ("shard", pa.string()),
                                                                    ("version", pa.string())])))
    touched = sorted(set(dirty) | set(gone_shards))
    con.register("_touched", pa.table({"shard": pa.array(touched, pa.string())}))
    new_ids = [r[0] for r in con.execute(
        "SELECT i.report_id FROM _incoming i LEFT JOIN _loaded_documents l USING (report_id) "
        "WHERE l.version IS DISTINCT FROM i.version").fetchall()]
    removed = [r[0] for r in con.execute(
        "SELECT l.report_id FROM _loaded_documents l WHERE l.partition_key = ? AND l.shard IN (SELECT shard FROM _touched) "
        "AND l.report_id NOT IN (SELECT report_id FROM _incoming)", [key]).fetchall()]
    out_ids = sorted(set(new_ids) | set(removed))
    con.register("_out", pa.table({"report_id": pa.array(out_ids, pa.string())}))
    counts = {"inserted": {}, "deleted": {}}
    if out_ids:
        con.execute("INSERT INTO _changes SELECT ?, report_id, report_year, agency_id, agency FROM reports "
                    "WHERE report_id IN (SELECT report_id FROM _out)", [seq])
        for table in SHARD_TABLES:
            n = con.execute(f'DELETE FROM "{table}" WHERE report_id IN (SELECT report_id FROM _out)').fetchall()[0][0]
            counts["deleted"][table] = n
    if new_ids:
        wanted = pa.array(sorted(new_ids), pa.string())
        by_shard = dict(zip(incoming["report_id"], incoming["shard"]))
        size = Counter(incoming["shard"])
        per_shard = Counter(by_shard[rid] for rid in new_ids)
        con.register("_new", pa.table({"report_id": wanted}))
        for table in SHARD_TABLES:
            files = [shard_file(table, key, s) for s in sorted(per_shard)]
            partial = any(per_shard[s] < size[s] for s in per_shard)  # only some of a shard's reports changed
            counts["inserted"][table] = _insert_files(con, storage, table, files, "_new" if partial else None)
        con.execute("INSERT INTO _changes SELECT ?, report_id, report_year, agency_id, agency FROM reports "
                    "WHERE report_id IN (SELECT report_id FROM _new)", [seq])
        con.unregister("_new")
    year = None if key == UNDATED else int(key)
    for table in YEAR_TABLES:  # small per-year tables: the year's rows replaced from its file
        con.execute(f'DELETE FROM "{table}" WHERE report_year IS NOT DISTINCT FROM ?', [year])
        counts["inserted"][table] = _insert_files(con, storage, table, [year_file(table, key)], None)
    con.execute("DELETE FROM _loaded_documents WHERE report_id IN (SELECT report_id FROM _incoming) "
                "OR report_id IN (SELECT report_id FROM _out)")
    con.execute("INSERT INTO _loaded_documents SELECT report_id, ?, shard, version FROM _incoming", [key])
    con.execute("DELETE FROM _loaded_shards WHERE partition_key = ? AND shard IN (SELECT shard FROM _touched)", [key])
    if dirty:
        con.executemany("INSERT INTO _loaded_shards VALUES (?, ?, ?)", [[key, s, shards[s]["fingerprint"]] for s in dirty])
    con.execute("INSERT OR REPLACE INTO _loaded_partitions VALUES (?, ?, now())", [key, manifest["fingerprint"]])
    for name in ("_incoming", "_touched", "_out"):
        con.unregister(name)
    return {"skipped": False, "inserted": counts["inserted"], "deleted": counts["deleted"], "changed": out_ids,
            "reports_changed": len(out_ids)}


def _insert_files(con, storage: Storage, table: str, files: list[str], only: str | None) -> int:
    """Insert the rows of some Parquet files (those of the reports in table ``only`` when given); returns the count.

    Local files are read by DuckDB itself (parallel, no copy through Python); object storage through fsspec and Arrow
    (DuckDB has no S3 reader without the httpfs extension).
    """
    where = f" WHERE report_id IN (SELECT report_id FROM {only})" if only else ""
    before = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
    if storage.local:
        paths = [storage.path(f) for f in files if storage.exists(f)]
        if paths:
            con.execute(f'INSERT INTO "{table}" SELECT * FROM read_parquet($files){where}', {"files": paths})
    else:
        for f in files:
            t = storage.read_table(f, schema=arrow_schema(table))
            if t is not None and t.num_rows:
                con.register("_rows", t)
                con.execute(f'INSERT INTO "{table}" SELECT * FROM _rows{where}')
                con.unregister("_rows")
    return con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0] - before


def drop_years(warehouse: Path, storage: Storage, keys: list[str]) -> None:
    """Remove report years that no longer have documents: their files, state and DuckDB rows (recorded as changes)."""
    for key in keys:
        for table in SHARD_TABLES:
            storage.delete(f"parquet/{table}/{key}")
        for table in YEAR_TABLES:
            storage.delete(year_file(table, key))
        storage.delete(f"state/shards/{key}")
        storage.delete(year_state_path(key))
    if not read_path(warehouse).exists():
        return
    with _transaction(warehouse) as con:
        seq = next_change_seq(con)
        for key in keys:
            con.execute("INSERT INTO _changes SELECT ?, r.report_id, r.report_year, r.agency_id, r.agency FROM reports r "
                        "JOIN _loaded_documents l USING (report_id) WHERE l.partition_key = ?", [seq, key])
            for table in PARTITIONED_TABLES:
                con.execute(f'DELETE FROM "{table}" WHERE report_id IN '
                            "(SELECT report_id FROM _loaded_documents WHERE partition_key = ?)", [key])
            removed = [r[0] for r in con.execute("SELECT report_id FROM _loaded_documents WHERE partition_key = ?",
                                                 [key]).fetchall()]
            con.execute("DELETE FROM _loaded_documents WHERE partition_key = ?", [key])
            refresh_analysis(con, removed)
            con.execute("DELETE FROM _loaded_shards WHERE partition_key = ?", [key])
            con.execute("DELETE FROM _loaded_partitions WHERE partition_key = ?", [key])


# --------------------------------------------------------------------------------------------
# warehouse-wide tables and the change log


def replace_whole(warehouse: Path, table: str, frame: pd.DataFrame) -> int:
    """Replace a small warehouse-wide table (``inventory_skipped``) in one transaction."""
    with _transaction(warehouse) as con:
        return replace_table(con, table, frame)


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame | pa.Table, where: str | None = None,
                  params: list | None = None) -> int:
    """Delete a table's rows (all, or those matching ``where``) and insert ``frame`` (inside the caller's transaction)."""
    con.execute(f'DELETE FROM "{table}"' + (f" WHERE {where}" if where else ""), params or [])
    arrow = frame if isinstance(frame, pa.Table) else to_arrow(table, frame)
    if arrow.num_rows:
        con.register("_replacement", arrow)
        con.execute(f'INSERT INTO "{table}" SELECT * FROM _replacement')
        con.unregister("_replacement")
    return arrow.num_rows


def last_change_seq(con: duckdb.DuckDBPyConnection) -> int:
    """The number of the last load that recorded changes (kept in _meta: seen changes are pruned from _changes)."""
    if not _has_table(con, "_meta"):
        return 0
    rows = con.execute("SELECT value FROM _meta WHERE name = 'change_seq'").fetchall()
    return int(rows[0][0]) if rows else 0


def next_change_seq(con: duckdb.DuckDBPyConnection) -> int:
    """A new change number for this load (inside its transaction)."""
    seq = last_change_seq(con) + 1
    con.execute("INSERT OR REPLACE INTO _meta VALUES ('change_seq', ?)", [str(seq)])
    return seq


def pending_changes(con: duckdb.DuckDBPyConnection, consumer: str) -> tuple[int, pd.DataFrame]:
    """(latest change seq, the changes a consumer has not seen yet)."""
    last = last_change_seq(con)
    seen = (con.execute("SELECT seq FROM _consumers WHERE name = ?", [consumer]).fetchall() or [None])[0]
    frame = con.execute("SELECT DISTINCT report_id, report_year, agency_id, agency FROM _changes WHERE seq > ?",
                        [seen[0] if seen else 0]).df()
    return last, frame


def consumer_state(con: duckdb.DuckDBPyConnection, consumer: str) -> tuple[int, str | None] | None:
    """(seq, fingerprint) a warehouse-wide asset last recorded, or None."""
    if not _has_table(con, "_consumers"):
        return None
    row = (con.execute("SELECT seq, fingerprint FROM _consumers WHERE name = ?", [consumer]).fetchall() or [None])[0]
    return (row[0], row[1]) if row else None


def mark_consumed(con: duckdb.DuckDBPyConnection, consumer: str, seq: int, fingerprint: str) -> None:
    """Record that a consumer has seen every change up to ``seq`` (inside its transaction)."""
    con.execute("INSERT OR REPLACE INTO _consumers VALUES (?, ?, ?)", [consumer, seq, fingerprint])
