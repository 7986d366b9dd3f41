"""Where the warehouse's files live: one layer over a local directory or object storage (fsspec URLs).

Every Parquet file, per-document record and state file of the pipeline is read and written
through ``Storage`` (``storage_for(url)``), so the same code runs against ``warehouse/`` on disk
or ``s3://bucket/prefix`` (any fsspec filesystem; options such as ``endpoint_url`` come from
``XXGK_STORAGE_OPTIONS`` as JSON or the filesystem's own environment variables). The DuckDB
file is the one thing that stays local: DuckDB writes only to a local file.

Writes are atomic: on a local disk a temporary file is renamed into place; on object storage a
PUT makes the object appear whole. A reader sees the old file or the new one, never half of one.

Layout under the storage root::

    parquet/<table>/<year>/<shard>.parquet   partitioned tables (report year x document shard)
    parquet/<table>.parquet                  whole tables (document_inventory, out_region_rollups)
    parquet/cross_rule_results/<year>.parquet
    records/<aa>/<key>.arrow                 one extraction record per document (content-addressed)
    state/...json                            what each year, shard and warehouse-wide asset was computed from
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.warehouse.publish import temp_path


class Storage:
    """Files under one root URL (a local directory or e.g. ``s3://bucket/prefix``)."""

    def __init__(self, url: str | os.PathLike, **options):
        url = str(url)
        self.fs, root = fsspec.core.url_to_fs(url, **options)
        self.local = "file" in _protocols(self.fs)
        self.root = root.rstrip("/") if not self.local else str(Path(root).resolve())
        self.url = url

    def __repr__(self) -> str:
        return f"Storage({self.url!r})"

    def path(self, rel: str) -> str:
        """Full path (in the filesystem's terms) of a relative path."""
        return posixpath.join(self.root, rel)

    def exists(self, rel: str) -> bool:
        """Whether a file exists."""
        return self.fs.exists(self.path(rel))

    def read_bytes(self, rel: str) -> bytes | None:
        """A file's bytes, or None when it does not exist."""
        try:
            with self.fs.open(self.path(rel), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    @contextmanager
    def open_write(self, rel: str) -> Iterator:
        """A binary file handle whose content replaces ``rel`` atomically when the block ends without error."""
        target = self.path(rel)
        if self.local:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            tmp = temp_path(Path(target))  # .<name>.<pid>.tmp: removed by the next writer if this process dies
            try:
                with open(tmp, "wb") as f:
                    yield f
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        else:
            buf = pa.BufferOutputStream()
            yield buf
            self.fs.pipe_file(target, buf.getvalue().to_pybytes())

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Replace a file's content atomically."""
        with self.open_write(rel) as f:
            f.write(data)

    def read_json(self, rel: str):
        """A JSON file's content, or None when it does not exist."""
        data = self.read_bytes(rel)
        return None if data is None else json.loads(data)

    def write_json(self, rel: str, value) -> None:
        """Write a JSON file atomically."""
        self.write_bytes(rel, json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8"))

    def read_table(self, rel: str, schema: pa.Schema | None = None, columns: list[str] | None = None) -> pa.Table | None:
        """A Parquet file as an Arrow table, or None when it does not exist."""
        try:
            with self.fs.open(self.path(rel), "rb") as f:
                return pq.read_table(f, schema=schema, columns=columns)
        except FileNotFoundError:
            return None

    def write_table(self, rel: str, table: pa.Table) -> None:
        """Write an Arrow table as one Parquet file (zstd), atomically."""
        with self.open_write(rel) as f:
            pq.write_table(table, f, compression="zstd")

    def list(self, rel: str) -> list[str]:
        """Relative paths of the files directly under a directory (empty when it does not exist)."""
        base = self.path(rel)
        try:
            entries = self.fs.ls(base, detail=False)
        except FileNotFoundError:
            return []
        out = []
        for entry in entries:
            entry = str(entry).rstrip("/")
            name = posixpath.basename(entry)
            if not name.startswith("."):
                out.append(posixpath.join(rel, name))
        return sorted(out)

    def is_dir(self, rel: str) -> bool:
        """Whether a path is a directory (object storage: a prefix with objects under it)."""
        return self.fs.isdir(self.path(rel))

    def delete(self, rel: str) -> None:
        """Remove a file or a directory tree (nothing when it does not exist)."""
        try:
            self.fs.rm(self.path(rel), recursive=True)
        except FileNotFoundError:
            pass


def _protocols(fs) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


def storage_options() -> dict:
    """Filesystem options from ``XXGK_STORAGE_OPTIONS`` (JSON), e.g. ``{"endpoint_url": "http://127.0.0.1:9000"}``."""
    raw = os.environ.get("XXGK_STORAGE_OPTIONS", "").strip()
    return json.loads(raw) if raw else {}


@lru_cache(maxsize=16)
def _cached(url: str, options: str) -> Storage:
    return Storage(url, **json.loads(options))


def storage_for(url: str | os.PathLike) -> Storage:
    """The (cached) storage of a root URL or local directory, with the options of ``storage_options()``."""
    return _cached(str(url), json.dumps(storage_options(), sort_keys=True))
