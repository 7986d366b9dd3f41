"""Robustness suite: every truth document re-rendered into the shapes real reports come in, scored cell by cell."""
