"""The same build on a Dask cluster: Dagster's Dask executor runs every step of the run on a worker.

``run_on_dask`` inventories raw/ here (it registers the report-year partitions in the Dagster
instance), then launches ``build_warehouse`` over the years' range with the ``dask_executor``:
the plan step deals the work units to ``slots`` slot steps, which Dask runs in parallel on its
workers (each processes whole units: extraction, rules, GX, Parquet shards, records); then one
step merges the years into DuckDB, and the warehouse-wide steps follow. The DuckDB-writing steps
carry the Dask resource requirement ``warehouse=1``, so on a real cluster only the worker started
with ``--resources warehouse=1`` (the machine holding the DuckDB file) runs them, one at a time.

What the workers must share: raw/ (a shared mount), the storage URL (a local directory on one
machine, object storage such as ``s3://bucket/prefix`` on a cluster, options in
``XXGK_STORAGE_OPTIONS``) and the Dagster instance (DAGSTER_HOME on a shared disk, or a
Postgres-backed instance). See README "Distributed runs".
"""

from __future__ import annotations

import pickle
from pathlib import Path

import dagster as dg
from dagster_dask.executor import DaskExecutor, dask_executor, get_dask_resource_requirements, query_on_dask_worker

from pipelines.runner import RANGE_END, RANGE_START, _QUIET, PipelineError, expand_years, summarize, warehouse_config


class _DaskExecutor(DaskExecutor):
    """dagster-dask's executor, with each step's arguments handed to Dask as one pickled blob.

    Dask (2026.8) walks the arguments of every submitted task looking for nested tasks and fails
    on the Dagster records inside a run over a partition range; a blob is opaque to it. Also
    closes the local cluster it starts.
    """

    def execute(self, plan_context, execution_plan):
        """Submit every step to Dask, level by level, each after the steps it depends on."""
        import dask
        import dask.distributed
        from dagster._core.errors import raise_execution_interrupts
        from dagster._utils import iterate_with_context

        if not plan_context.instance.is_persistent:
            raise dg.DagsterInvariantViolationError("Dask execution requires a persistent Dagster instance")
        name = plan_context.job_name
        if self.cluster_type == "existing":
            cluster = self.cluster_configuration["address"]
        elif self.cluster_type == "local":
            with dask.config.set({"distributed.worker.daemon": False}):  # a step starts its extraction worker pool
                cluster = dask.distributed.LocalCluster(**self.build_dict(name))
        else:
            raise dg.DagsterInvariantViolationError(f"cluster type {self.cluster_type!r}: use 'local' or 'existing'")
        try:
            with dask.distributed.Client(cluster) as client:
                futures = {}
                for level in execution_plan.get_steps_to_execute_by_level():
                    for step in level:
                        deps = [futures[k] for step_input in step.step_inputs for k in step_input.dependency_keys]
                        blob = pickle.dumps((plan_context.reconstructable_job, plan_context.dagster_run, plan_context.run_config,
                                             [step.key], plan_context.instance.get_ref(), execution_plan.known_state))
                        futures[step.key] = client.submit(_run_step, blob, deps, key=f"{name}.{step.key}", pure=False,
                                                          resources=get_dask_resource_requirements(step.tags))
                done = dask.distributed.as_completed(list(futures.values()), with_results=True)
                for _future, events in iterate_with_context(raise_execution_interrupts, done):
                    yield from pickle.loads(events)  # noqa: S301
        finally:
            if not isinstance(cluster, str):
                cluster.close()


def _run_step(blob: bytes, dependencies) -> bytes:
    recon_job, run, run_config, steps, instance_ref, known_state = pickle.loads(blob)  # noqa: S301 - from our own run
    return pickle.dumps(query_on_dask_worker(dependencies, recon_job, run, run_config, steps, instance_ref, known_state))


@dg.executor(name="dask", requirements=dg.multiple_process_executor_requirements(), config_schema=dask_executor.config_schema)
def xxgk_dask_executor(init_context):
    """Dagster's Dask executor (``cluster``: ``local`` or ``existing``), see ``_DaskExecutor``."""
    ((cluster_type, cluster_configuration),) = init_context.executor_config["cluster"].items()
    return _DaskExecutor(cluster_type, cluster_configuration)


def dask_run_config(cfg, cluster: dict) -> dict:
    """Run config of the Dask job: the cluster (``{"local": {...}}`` or ``{"existing": {"address": ...}}``) and resources."""
    fields = ("raw_dir", "warehouse_dir", "storage_url", "workers", "slots", "progress", "shard_docs", "unit_docs",
              "doc_timeout", "doc_memory")
    return {
        **_QUIET,
        "execution": {"config": {"cluster": cluster}},
        "resources": {
            "warehouse": {"config": {f: getattr(cfg, f) for f in fields}},
            "io_manager": {"config": {"storage_url": cfg.storage_url, "warehouse_dir": cfg.warehouse_dir}},
        },
    }


def local_cluster(n_workers: int = 2) -> dict:
    """A Dask LocalCluster of ``n_workers`` single-threaded worker processes (each may write the warehouse)."""
    return {"local": {"n_workers": n_workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None,
                      "resources": {"warehouse": 1}}}


def run_on_dask(raw_dir: Path, warehouse_dir: Path, instance: dg.DagsterInstance, cluster: dict | None = None,
                storage_url: str = "", years: list[str] | None = None, slots: int = 2, report: bool = True,
                limits=None) -> str:
    """Build the warehouse with every step on Dask; returns the same summary as ``xxgk run`` (``report``: also write
    the quality report; ``limits``: each document's, ``workers.Limits``)."""
    from pipelines.workers import Limits
    from pipelines.defs.assets import REPORT_YEARS, SLOTS, YEARS_TAG
    from pipelines.defs.resources import clear_run_outputs
    from pipelines.definitions import build_definitions, dask_job

    limits = limits or Limits.resolve()
    cfg = warehouse_config(raw_dir, warehouse_dir, workers=1, progress=False, storage_url=storage_url,
                           slots=min(slots, SLOTS), doc_timeout=limits.seconds, doc_memory=f"{limits.memory_mb}MB")
    inventory = build_definitions(cfg).resolve_job_def("refresh_inventory").execute_in_process(
        instance=instance, run_config=_QUIET, raise_on_error=False)
    if not inventory.success:
        raise PipelineError("PROBLEMS:\n  the inventory of raw/ failed (see the Dagster log above)")
    keys = list(instance.get_dynamic_partitions(REPORT_YEARS.name))
    chosen = [k for k in keys if k in set(expand_years(years))] if years else keys
    if not chosen:
        return summarize(warehouse_dir)
    positions = [keys.index(k) for k in chosen]
    tags = {RANGE_START: keys[min(positions)], RANGE_END: keys[max(positions)]}
    if len(chosen) < max(positions) - min(positions) + 1:
        tags[YEARS_TAG] = ",".join(chosen)
    selection = None if report else [k for k in dask_job().asset_layer.executable_asset_keys
                                     if k != dg.AssetKey("quality_report")]
    with dg.execute_job(dg.reconstructable(dask_job), instance=instance, tags=tags, asset_selection=selection,
                        run_config=dask_run_config(cfg, cluster or local_cluster())) as result:
        if not result.success:
            failed = sorted({e.step_key for e in result.all_events if e.is_step_failure})
            raise PipelineError(f"PROBLEMS:\n  the Dask run failed in {', '.join(failed) or 'a step'} (see the Dagster log above)")
        clear_run_outputs(cfg.storage, result.run_id)
    return summarize(warehouse_dir)


def run_with_cli_options(raw_dir: Path, warehouse_dir: Path, dask: str, storage_url: str, years: list[str] | None,
                         limits=None) -> str:
    """``xxgk run --dask ADDRESS|local[:N]``: the Dask run with the instance of DAGSTER_HOME (required: the workers
    read the run from it) or, for a local cluster, a temporary one."""
    import os
    import tempfile

    from pipelines.runner import dagster_instance

    if dask.startswith("local"):
        n = int(dask.split(":", 1)[1]) if ":" in dask else 2
        cluster, slots = local_cluster(n), n
    else:
        cluster, slots = {"existing": {"address": dask}}, int(os.environ.get("XXGK_SLOTS", "4"))
    if os.environ.get("DAGSTER_HOME"):
        return run_on_dask(raw_dir, warehouse_dir, dagster_instance(), cluster, storage_url, years, slots, limits=limits)
    if not dask.startswith("local"):
        raise PipelineError("--dask with a scheduler address needs DAGSTER_HOME: a Dagster instance the workers can read "
                            "(shared disk or Postgres)")
    with tempfile.TemporaryDirectory(prefix="xxgk-dagster-") as home, dg.DagsterInstance.local_temp(home) as instance:
        return run_on_dask(raw_dir, warehouse_dir, instance, cluster, storage_url, years, slots, limits=limits)
