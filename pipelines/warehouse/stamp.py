"""The cheap "nothing changed" test of ``xxgk run``: the inputs of the last complete run, by file metadata and code.

After a run that covered every report year and succeeded, the runner saves a digest of its
inputs — every file under raw/ by path, size and modification time (the inventory re-hashes
nothing whose size and mtime are unchanged), and the pipeline's source (code, registry, data) —
together with the DuckDB file's size and mtime and the run's summary. When all of that is the
same the next time, there is nothing to do: no Dagster run is started, nothing is read but file
metadata, and the saved summary is printed. Any file under raw/ counts, even one the inventory
would skip, so the test errs on the side of running.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pipelines.warehouse.storage import Storage

STAMP = "state/last_run.json"
_PACKAGE = Path(__file__).resolve().parent.parent


def _code_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(_PACKAGE)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _walk(base: Path, rel: str = ""):
    """(relative path, size, mtime) of every entry under ``base``, symlinks not followed."""
    try:
        entries = sorted(os.scandir(base / rel if rel else base), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        name = f"{rel}/{entry.name}" if rel else entry.name
        st = entry.stat(follow_symlinks=False)
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(base, name)
        else:
            yield name, st.st_size, st.st_mtime_ns


def inputs_digest(raw_dir: Path, settings: str = "") -> str:
    """Digest of what a run reads: every file under raw/ (path, size, mtime), the pipeline's source and the run's
    ``settings`` that change its output (the per-document limits)."""
    h = hashlib.sha256(_code_digest().encode())
    h.update(settings.encode())
    for name, size, mtime in _walk(Path(raw_dir)):
        h.update(f"{name}\t{size}\t{mtime}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _database(warehouse: Path) -> list | None:
    path = Path(warehouse) / "xxgk.duckdb"
    if not path.exists():
        return None
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def unchanged_summary(digest: str, warehouse: Path, storage: Storage, outputs: tuple[Path, ...]) -> str | None:
    """The last complete run's summary when its inputs (``inputs_digest``), its DuckDB file and its outputs are as it
    left them, else None."""
    stamp = storage.read_json(STAMP)
    if not stamp or not all(Path(o).exists() for o in outputs) or stamp.get("duckdb") != _database(warehouse):
        return None
    return stamp.get("summary") if stamp.get("inputs") == digest else None


def save_stamp(storage: Storage, digest: str, warehouse: Path, summary: str) -> None:
    """Record a complete, successful run: its inputs (digest taken before it started), the published DuckDB file
    (call it after the publish), its summary."""
    stamp = {"inputs": digest, "duckdb": _database(warehouse), "summary": summary}
    if storage.read_json(STAMP) != stamp:
        storage.write_json(STAMP, stamp)


def forget_stamp(storage: Storage) -> None:
    """Drop the record (a partial or failed run)."""
    if storage.exists(STAMP):
        storage.delete(STAMP)
