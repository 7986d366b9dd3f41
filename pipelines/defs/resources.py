"""Dagster resources: where raw/ and the warehouse are, and how many worker processes to use."""


import dagster as dg

from pipelines.settings import default_raw_dir, default_warehouse_dir


class WarehouseConfig(dg.ConfigurableResource):
    """Paths and parallelism of a warehouse build (defaults: the project's raw/ and warehouse/)."""

    raw_dir: str = str(default_raw_dir())
    warehouse_dir: str = str(default_warehouse_dir())
    workers: int = 0
    progress: bool = True
