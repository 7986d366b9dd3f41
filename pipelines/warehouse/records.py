"""Per-document extraction records: what one file says on its own, cached content-addressed.

A record holds everything extraction produced for one document (metadata, cells, printed
subtotals, issues, narrative figures) as a one-row Arrow table with nested lists, serialized as
an Arrow IPC stream compressed as a whole with zstd (~9 kB; reading one takes ~0.1 ms, where
Arrow's per-buffer IPC compression takes ~0.9 ms for such small tables). Its key is a hash of the document's
sha256, its file type, the manifest hints given to the extractor and the parser version, so:

* an unchanged file is never read twice, whatever its path or report year (a moved or copied
  file reuses the record);
* a new parser version (computed from the extraction code and the registry) misses every key,
  so everything is re-read, and nothing is ever bumped by hand.

Rule findings, status and agency resolution are *not* part of a record: they are derived from
it in ``process`` and so follow rule or registry changes without re-reading documents.

The record's nested columns are the registry's columns of ``cells``, ``printed_subtotals``,
``extraction_issues`` and ``narrative_figures`` minus the per-document ones, so a column added
to the registry (and to the extractor's dataclass) flows through without code here changing.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.warehouse.schema import arrow_schema
from pipelines.warehouse.storage import Storage

# per-document columns, filled when a record is placed in a report year (not stored in the record)
DOC_COLUMNS = ("report_id", "report_year", "parser_version")
# record list column -> warehouse table it flattens into
NESTED = {"cells": "cells", "subtotals": "printed_subtotals", "issues": "extraction_issues", "narrative": "narrative_figures",
          "uncoded": "uncoded_rows"}
HEADER = [
    ("key", pa.string()), ("parser_version", pa.string()), ("extracted_at", pa.timestamp("us", tz="UTC")),
    ("title", pa.string()), ("agency_printed", pa.string()), ("report_year", pa.int64()), ("era", pa.string()),
    ("scope", pa.string()), ("origin", pa.string()), ("is_report", pa.bool_()),
    ("opening_text", pa.string()),  # the start of the text, context for placing the body (the text itself is not kept)
]


def record_key(sha256: str, file_type: str, hints: dict, parser_version: str) -> str:
    """Content address of a document's extraction: bytes, type, manifest hints and parser version."""
    text = json.dumps([sha256, file_type, hints or {}, parser_version], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def item_fields(table: str) -> list[pa.Field]:
    """Fields of one nested item: the table's registry columns without the per-document ones."""
    return [f for f in arrow_schema(table) if f.name not in DOC_COLUMNS]


@lru_cache(maxsize=1)
def record_schema() -> pa.Schema:
    """Arrow schema of a record (one row)."""
    nested = [pa.field(col, pa.list_(pa.struct(item_fields(table)))) for col, table in NESTED.items()]
    return pa.schema([pa.field(n, t) for n, t in HEADER] + nested)


def _items(objects, table: str) -> list[dict]:
    names = [f.name for f in item_fields(table)]
    out = []
    for obj in objects:
        d = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
        missing = [n for n in names if n not in d]
        if missing:
            raise ValueError(f"{table}: the extractor's {type(obj).__name__} has no field(s) {missing} of the registry")
        out.append(d)
    return out


def record_of(ext, key: str, parser_version: str) -> pa.Table:
    """The record (one-row Arrow table) of an ``Extraction``."""
    from pipelines.agencies import opening_text

    row = {
        "key": key, "parser_version": parser_version, "extracted_at": datetime.now(timezone.utc),
        "title": ext.title, "agency_printed": ext.agency_printed, "report_year": ext.report_year, "era": ext.era,
        "scope": ext.scope, "origin": ext.origin, "is_report": ext.is_report, "opening_text": opening_text(ext.text),
        "cells": _items(ext.cells, "cells"), "subtotals": _items(ext.subtotals, "printed_subtotals"),
        "issues": _items(ext.issues, "extraction_issues"), "narrative": _items(ext.narrative, "narrative_figures"),
        "uncoded": _items(ext.uncoded, "uncoded_rows"),
    }
    return pa.Table.from_pylist([row], schema=record_schema())


def record_job(job: tuple) -> tuple[bytes, float]:
    """Extract one document ``(path, source_path, hints, record key, parser version)`` and serialize its record (run
    in a worker of ``pipelines.workers``); returns the bytes and the CPU seconds it took."""
    import time

    from pipelines.workers import extract_job

    start = time.process_time()
    data = serialize(record_of(extract_job(job[:3]), job[3], job[4]))
    return data, time.process_time() - start


MAGIC = b"XXGKREC1"
_CODEC = pa.Codec("zstd", compression_level=1)


def serialize(record: pa.Table) -> bytes:
    """A record as bytes: magic, the stream's size (8 bytes, little-endian), the zstd-compressed Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, record.schema) as writer:
        writer.write_table(record)
    stream = sink.getvalue()
    return MAGIC + stream.size.to_bytes(8, "little") + _CODEC.compress(stream, asbytes=True)


def deserialize(data: bytes) -> pa.Table:
    """A record from its bytes."""
    if not data.startswith(MAGIC):
        raise ValueError("not an extraction record")
    size = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 8], "little")
    return pa.ipc.open_stream(_CODEC.decompress(data[len(MAGIC) + 8 :], decompressed_size=size)).read_all()


class RecordStore:
    """Records under ``records/<aa>/<key>.arrow`` of a storage root."""

    def __init__(self, storage: Storage):
        self.storage = storage

    @staticmethod
    def rel(key: str) -> str:
        """Relative path of a record."""
        return f"records/{key[:2]}/{key}.arrow"

    def get(self, key: str) -> pa.Table | None:
        """The record of a key, or None when it was never stored (or is unreadable: it is then re-made)."""
        data = self.storage.read_bytes(self.rel(key))
        if data is None:
            return None
        try:
            record = deserialize(data)
        except (pa.ArrowInvalid, OSError, ValueError):
            return None
        return record if record.schema.equals(record_schema()) else None

    def put(self, key: str, record: pa.Table, data: bytes | None = None) -> None:
        """Store a record (``data``: its bytes, when already serialized)."""
        self.storage.write_bytes(self.rel(key), data if data is not None else serialize(record))


def flatten(records: pa.Table, report_ids: list[str], report_years: list) -> dict[str, pa.Table]:
    """The nested columns of records (one row per document) as warehouse tables with the per-document columns.

    ``report_ids``/``report_years`` are aligned with the rows of ``records``; every table comes out
    with its exact registry schema (column order and types).
    """
    ids = pa.array(report_ids, pa.string())
    years = pa.array(report_years, pa.int64())
    out = {}
    for col, table in NESTED.items():
        schema = arrow_schema(table)
        lists = records.column(col)
        parents = pc.list_parent_indices(lists)
        flat = pc.list_flatten(lists)
        items = pa.Table.from_struct_array(flat.combine_chunks()) if len(flat) else pa.schema(item_fields(table)).empty_table()
        per_doc = {"report_id": ids.take(parents), "report_year": years.take(parents)}
        if "parser_version" in schema.names:
            per_doc["parser_version"] = records.column("parser_version").combine_chunks().take(parents)
        arrays = [per_doc[f.name] if f.name in per_doc else items.column(f.name) for f in schema]
        out[table] = pa.Table.from_arrays(arrays, schema=schema)
    return out
