"""Dagster resources: where raw/, the warehouse files and the DuckDB file are, how many processes extract
under which per-document limits, and the IO manager that hands op results between steps through the same storage (local or object storage)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Optional

import dagster as dg

from pipelines.settings import default_raw_dir, default_warehouse_dir
from pipelines.shards import SHARD_DOCS, UNIT_DOCS
from pipelines.warehouse.storage import Storage, storage_for


class WarehouseConfig(dg.ConfigurableResource):
    """Paths, storage and parallelism of a warehouse build (defaults: the project's raw/ and warehouse/).

    ``storage_url`` is where Parquet files, extraction records and state go: empty means
    ``warehouse_dir``; any fsspec URL works (``s3://bucket/prefix``; options in
    ``XXGK_STORAGE_OPTIONS``). The DuckDB file and the quality report stay in ``warehouse_dir``.
    ``workers``: processes of a step that work on units at once (0 = one per core); ``slots``: how
    many of the graph's slot steps the units are dealt to (1 here: one step drives the local pool;
    on Dask, about the number of workers, each step then using ``workers = 1``).
    ``doc_timeout``/``doc_memory``: each document's limits in the extraction workers (``pipelines.workers``).
    """

    raw_dir: str = str(default_raw_dir())
    warehouse_dir: str = str(default_warehouse_dir())
    storage_url: str = ""
    workers: int = 0
    slots: int = 1
    progress: bool = True
    shard_docs: int = SHARD_DOCS
    unit_docs: int = UNIT_DOCS
    doc_timeout: Optional[float] = None  # seconds per document; None: $XXGK_DOC_TIMEOUT or 60
    doc_memory: Optional[str] = None  # memory per worker, e.g. "2GB"; None: $XXGK_DOC_MEMORY or 2GB

    @property
    def raw(self) -> Path:
        """The landing zone."""
        return Path(self.raw_dir)

    @property
    def warehouse(self) -> Path:
        """The local warehouse directory (DuckDB file, reports)."""
        return Path(self.warehouse_dir)

    @property
    def storage(self) -> Storage:
        """Where the files of the warehouse live."""
        return storage_for(self.storage_url or self.warehouse_dir)

    @property
    def processes(self) -> int:
        """Processes of one step (0 = one per core)."""
        return self.workers or max(1, os.cpu_count() or 1)

    def limits(self):
        """The per-document time and memory limits (``pipelines.workers.Limits``)."""
        from pipelines.workers import Limits

        return Limits.resolve(self.doc_timeout, self.doc_memory)


class StorageIOManager(dg.ConfigurableIOManager):
    """Op results (plans, work units, shard summaries) pickled under ``dagster/<run id>/`` of the warehouse storage.

    Every step of a run can read them wherever it executes (this process, a Dask worker), as long
    as the storage is shared: a local directory on one machine, object storage on a cluster.
    Table data never goes through it: the assets write their Parquet files themselves.
    """

    storage_url: str = ""
    warehouse_dir: str = str(default_warehouse_dir())

    def _storage(self) -> Storage:
        return storage_for(self.storage_url or self.warehouse_dir)

    @staticmethod
    def _rel(context) -> str:
        mapping = f"_{context.mapping_key}" if getattr(context, "mapping_key", None) else ""
        return f"dagster/{context.run_id}/{context.step_key}/{context.name}{mapping}.pickle"

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        """Pickle an op result into the storage."""
        if obj is None:
            return
        self._storage().write_bytes(self._rel(context), pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))

    def load_input(self, context: dg.InputContext):
        """Read the upstream op's result."""
        data = self._storage().read_bytes(self._rel(context.upstream_output))
        if data is None:
            raise FileNotFoundError(f"no stored result for {context.upstream_output.step_key}.{context.upstream_output.name}")
        return pickle.loads(data)  # noqa: S301 - written by this pipeline's own steps


def clear_run_outputs(storage: Storage, run_id: str) -> None:
    """Remove a finished run's op results."""
    storage.delete(f"dagster/{run_id}")
