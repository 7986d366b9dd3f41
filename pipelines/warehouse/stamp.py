"""The cheap "nothing changed" test of ``xxgk run``: the inputs of the last complete run, by file metadata and code.

After a run that covered every report year and succeeded, the runner saves a digest of its
inputs: every document's path, size and modification time (the inventory re-hashes nothing
whose size and mtime are unchanged), raw/agencies.csv and raw/MANIFEST.csv, and the source of
the pipeline (code and registry). When the digest is the same the next time and the DuckDB file
has nothing pending, there is nothing to do: no Dagster run is started.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pipelines.warehouse.storage import Storage

STAMP = "state/last_run.json"
CONSUMERS = ("cross_rule_results", "out_region_rollups", "quality_report")
_PACKAGE = Path(__file__).resolve().parent.parent


def _code_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*")):
        if path.suffix in (".py", ".csv", ".j2") and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(_PACKAGE)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def inputs_digest(raw_dir: Path, storage: Storage) -> str:
    """Digest of what a run reads: documents by path (relative to raw/), size and mtime, raw/'s CSV files, the code."""
    from pipelines.inventory import list_documents

    raw_dir = Path(raw_dir)
    del storage  # the stamp is kept in the storage it describes
    h = hashlib.sha256(_code_digest().encode())
    for path in list_documents(raw_dir):
        st = path.stat()
        h.update(f"{path.relative_to(raw_dir).as_posix()}\t{st.st_size}\t{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    for name in sorted(os.listdir(raw_dir)) if raw_dir.exists() else []:
        if name.endswith(".csv"):
            h.update(name.encode())
            h.update((raw_dir / name).read_bytes())
    return h.hexdigest()


def up_to_date(raw_dir: Path, warehouse: Path, storage: Storage, outputs: tuple[Path, ...]) -> bool:
    """Whether the last complete run had these inputs, left nothing pending in DuckDB and its outputs exist."""
    from pipelines.warehouse.store import reading

    stamp = storage.read_json(STAMP)
    if not stamp or not all(Path(o).exists() for o in outputs):
        return False
    if stamp.get("inputs") != inputs_digest(raw_dir, storage):
        return False
    with reading(warehouse) as con:
        if con is None:
            return False
        last = con.execute("SELECT coalesce(max(seq), 0) FROM _changes").fetchone()[0]
        seen = dict(con.execute("SELECT name, seq FROM _consumers").fetchall())
    return all(seen.get(c, -1) >= last for c in CONSUMERS)


def save_stamp(storage: Storage, digest: str) -> None:
    """Record the inputs of a complete, successful run."""
    if (storage.read_json(STAMP) or {}).get("inputs") != digest:
        storage.write_json(STAMP, {"inputs": digest})


def forget_stamp(storage: Storage) -> None:
    """Drop the record (a partial or failed run)."""
    if storage.exists(STAMP):
        storage.delete(STAMP)
