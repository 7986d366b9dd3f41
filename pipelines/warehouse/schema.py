"""Parquet and DuckDB schemas generated from the registry's warehouse tables."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from pipelines.registry import load_registry

_ARROW = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
_DUCKDB = {"string": "VARCHAR", "int64": "BIGINT", "float64": "DOUBLE", "bool": "BOOLEAN", "timestamp": "TIMESTAMPTZ"}
_PANDAS = {"string": "object", "int64": "Int64", "float64": "float64", "bool": "boolean", "timestamp": "datetime64[us, UTC]"}


def arrow_schema(table: str) -> pa.Schema:
    """pyarrow schema of a warehouse table (column order and types from the registry)."""
    fields = [pa.field(c.name, _ARROW[c.type], nullable=c.nullable) for c in load_registry().table(table)]
    return pa.schema(fields)


def duckdb_ddl(table: str) -> str:
    """CREATE TABLE statement of a warehouse table."""
    cols = load_registry().table(table)
    body = ",\n  ".join(f'"{c.name}" {_DUCKDB[c.type]}{"" if c.nullable else " NOT NULL"}' for c in cols)
    return f'CREATE TABLE IF NOT EXISTS "{table}" (\n  {body}\n);'


def conform(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Columns in registry order with registry dtypes; raises if a column is missing or unknown."""
    cols = load_registry().table(table)
    names = [c.name for c in cols]
    missing = [n for n in names if n not in frame.columns]
    extra = [n for n in frame.columns if n not in names]
    if missing or extra:
        raise ValueError(f"{table}: frame does not match the registry (missing {missing}, unknown {extra})")
    out = frame[names].copy()
    for c in cols:
        if c.type == "string":
            out[c.name] = out[c.name].astype(object).where(out[c.name].notna(), None)
        elif c.type == "timestamp":
            out[c.name] = pd.to_datetime(out[c.name], utc=True)
        else:
            out[c.name] = out[c.name].astype(_PANDAS[c.type])
    return out


def to_arrow(table: str, frame: pd.DataFrame) -> pa.Table:
    """A conformed frame as an Arrow table with the exact registry schema."""
    return pa.Table.from_pandas(conform(table, frame), schema=arrow_schema(table), preserve_index=False)


def empty_frame(table: str) -> pd.DataFrame:
    """An empty frame with the table's columns and dtypes."""
    return arrow_schema(table).empty_table().to_pandas()
