"""Dagster resources: where raw/ and the warehouse are, how many worker processes, and each document's limits."""

from typing import Optional

import dagster as dg

from pipelines.settings import default_raw_dir, default_warehouse_dir


class WarehouseConfig(dg.ConfigurableResource):
    """Paths, parallelism and per-document limits of a warehouse build (defaults: the project's raw/ and warehouse/)."""

    raw_dir: str = str(default_raw_dir())
    warehouse_dir: str = str(default_warehouse_dir())
    workers: int = 0
    progress: bool = True
    doc_timeout: Optional[float] = None  # seconds per document; None: $XXGK_DOC_TIMEOUT or 60
    doc_memory: Optional[str] = None  # memory per worker, e.g. "2GB"; None: $XXGK_DOC_MEMORY or 2GB

    def limits(self):
        """The per-document time and memory limits (``pipelines.workers.Limits``)."""
        from pipelines.workers import Limits

        return Limits.resolve(self.doc_timeout, self.doc_memory)
