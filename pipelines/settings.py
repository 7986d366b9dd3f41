"""Where the landing zone and the warehouse live.

Both default to ``raw/`` and ``warehouse/`` of the project (the directory holding
``pyproject.toml`` above this package), or of the current directory when the package is
installed elsewhere; ``XXGK_RAW`` and ``XXGK_WAREHOUSE`` override them.
"""

from __future__ import annotations

import os
from pathlib import Path

# default limits of one `xxgk sql` query (pipelines.warehouse.query)
SQL_TIMEOUT = 120.0  # seconds
SQL_MEMORY_LIMIT = "2GB"


def project_root() -> Path:
    """The project directory when running from a checkout, else the current directory."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").exists():
        return here
    return Path.cwd()


def default_raw_dir() -> Path:
    """``$XXGK_RAW`` or ``<project>/raw``."""
    return Path(os.environ.get("XXGK_RAW") or project_root() / "raw")


def default_warehouse_dir() -> Path:
    """``$XXGK_WAREHOUSE`` or ``<project>/warehouse``."""
    return Path(os.environ.get("XXGK_WAREHOUSE") or project_root() / "warehouse")
