"""Remembering what each partition and warehouse-wide asset was last computed from, so an unchanged rerun writes nothing.

One small JSON file per partition or asset under ``warehouse/parquet/_state/``: the fingerprint of
its inputs and a summary of its result (used to answer Dagster checks without reading data).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from pipelines.agencies import identity_fingerprint
from pipelines.extract import PARSER_VERSION
from pipelines.warehouse.publish import temp_path
from pipelines.warehouse.store import warehouse_fingerprint


def state_fingerprint(warehouse: Path, raw_dir: Path) -> str:
    """Identity of the inputs of the warehouse-wide assets: every loaded partition, the parser version, the agency identity."""
    h = hashlib.sha256(PARSER_VERSION.encode())
    h.update((warehouse_fingerprint(warehouse) or "").encode())
    h.update(identity_fingerprint(raw_dir).encode())
    return h.hexdigest()


def _path(warehouse: Path, name: str) -> Path:
    return Path(warehouse) / "parquet" / "_state" / f"{name}.json"


def load_state(warehouse: Path, name: str, fingerprint: str) -> dict | None:
    """The saved summary of ``name`` when it was computed from ``fingerprint``, else None."""
    path = _path(warehouse, name)
    if not path.exists():
        return None
    state = json.loads(path.read_text(encoding="utf-8"))
    return state["summary"] if state.get("fingerprint") == fingerprint else None


def saved_fingerprint(warehouse: Path, name: str) -> str | None:
    """The fingerprint ``name`` was last computed from (None when never computed)."""
    path = _path(warehouse, name)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("fingerprint")


def save_state(warehouse: Path, name: str, fingerprint: str, summary: dict) -> None:
    """Record that ``name`` was computed from ``fingerprint`` (written atomically)."""
    path = _path(warehouse, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    tmp.write_text(json.dumps({"fingerprint": fingerprint, "summary": summary}, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


def compute_unless_unchanged(
    warehouse: Path, raw_dir: Path, name: str, compute: Callable[[], dict], outputs: tuple[Path, ...] = ()
) -> tuple[dict, bool, str]:
    """Run a warehouse-wide asset's ``compute()`` only when its inputs (``state_fingerprint``) changed or an output is gone.

    Returns (summary, skipped, fingerprint); the summary is ``compute()``'s, saved for the next run.
    """
    fingerprint = state_fingerprint(warehouse, raw_dir)
    summary = load_state(warehouse, name, fingerprint)
    if summary is not None and all(Path(o).exists() for o in outputs):
        return summary, True, fingerprint
    summary = compute()
    save_state(warehouse, name, fingerprint, summary)
    return summary, False, fingerprint
