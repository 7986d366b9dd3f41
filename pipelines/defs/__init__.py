"""Dagster definitions of the warehouse: assets, checks, resources (see ``pipelines.definitions``)."""
