"""The landing zone: which documents are in ``raw/``, their hash, and the report year they belong to.

The inventory decides each document's partition (its report year, or ``undated``) before
extraction, so that documents are processed in batches per year. Files are re-hashed only
when their size or modification time changed since the previous inventory. The year is read
from the document itself (title / 统计期限); raw/MANIFEST.csv supplies it only when the
document does not say.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from pipelines.extract.documents import file_type_of
from pipelines.extract.twins import MANIFEST, sha256_of
from pipelines.warehouse.store import UNDATED

NOT_DOCUMENTS = {MANIFEST, "agencies.csv", "README.md", "PROVENANCE.md"}
DOCUMENT_TYPES = {"txt", "md", "html", "pdf", "docx"}


def read_manifest(raw_dir: Path) -> dict[str, dict]:
    """raw/MANIFEST.csv rows keyed by file path (relative to raw/)."""
    path = Path(raw_dir) / MANIFEST
    if not path.exists():
        return {}
    with path.open(encoding="utf-8", newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f)}


def list_documents(raw_dir: Path) -> list[Path]:
    """Files in raw/ that may be reports (hidden files and the registry CSVs are skipped)."""
    out = []
    for path in sorted(Path(raw_dir).rglob("*")):
        rel = path.relative_to(raw_dir)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        if path.name in NOT_DOCUMENTS or path.suffix.lower() in (".csv", ".tsv"):
            continue
        out.append(path)
    return out


def sniff(path: Path) -> tuple[int | None, str | None]:
    """(report year, printed agency) from the document's title and preamble (no table reading)."""
    from pipelines.extract.documents import DocumentError, read_document
    from pipelines.extract.metadata import fill_metadata
    from pipelines.extract.model import Extraction

    try:
        doc = read_document(path)
    except DocumentError:
        return None, None
    except Exception:  # unreadable by the library: extraction records the reason
        return None, None
    ext = Extraction(source_path=str(path), file_type=file_type_of(path))
    fill_metadata(doc, ext)
    return ext.report_year, ext.agency_printed


def _int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def scan(raw_dir: Path, previous: pd.DataFrame | None = None, workers: int = 0, limits=None) -> pd.DataFrame:
    """The inventory frame (``document_inventory`` table) of a landing zone.

    New or changed documents are sniffed in the worker pool, under the per-document limits.
    """
    from pipelines.workers import run_all

    raw_dir = Path(raw_dir)
    manifest = read_manifest(raw_dir)
    known = {}
    if previous is not None and not previous.empty:
        known = {r.source_path: r for r in previous.itertuples(index=False)}
    listed = []
    for path in list_documents(raw_dir):
        rel = path.relative_to(raw_dir).as_posix()
        st = path.stat()
        prev = known.get(rel)
        unchanged = prev is not None and prev.size_bytes == st.st_size and prev.mtime_ns == st.st_mtime_ns
        listed.append((path, rel, st, prev if unchanged else None))
    to_sniff = [path for path, _, _, prev in listed if prev is None and file_type_of(path) in DOCUMENT_TYPES]
    sniffed = dict(zip(to_sniff, run_all(sniff, to_sniff, lambda path, failure: (None, None), workers, limits)))
    rows = []
    for path, rel, st, prev in listed:
        if prev is not None:
            sha, year, agency = prev.sha256, prev.report_year, prev.agency_printed
            year = None if pd.isna(year) else int(year)
        else:
            sha = sha256_of(path)
            year, agency = sniffed.get(path, (None, None))
        m = manifest.get(rel, {})
        manifest_year = _int(m.get("report_year"))
        report_year = year if year is not None else manifest_year
        rows.append(
            {
                "source_path": rel,
                "source_file": path.name,
                "file_type": file_type_of(path),
                "sha256": sha,
                "size_bytes": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "report_year": report_year,
                "partition_key": str(report_year) if report_year is not None else UNDATED,
                "agency_printed": agency,
                "manifest_agency": m.get("agency") or None,
                "manifest_year": manifest_year,
                "manifest_sha256": m.get("sha256") or None,
                "manifest_source": m.get("source") or None,
            }
        )
    frame = pd.DataFrame(rows, columns=[
        "source_path", "source_file", "file_type", "sha256", "size_bytes", "mtime_ns", "report_year",
        "partition_key", "agency_printed", "manifest_agency", "manifest_year", "manifest_sha256", "manifest_source",
    ])
    return frame


def changed_partitions(previous: pd.DataFrame, current: pd.DataFrame) -> set[str]:
    """Partitions whose documents were added, removed or changed (by sha256); both old and new keys of a moved document."""
    before = dict(zip(previous.source_path, zip(previous.sha256, previous.partition_key))) if len(previous) else {}
    after = dict(zip(current.source_path, zip(current.sha256, current.partition_key)))
    out: set[str] = set()
    for path in set(before) | set(after):
        if before.get(path) != after.get(path):
            out.update(entry[1] for entry in (before.get(path), after.get(path)) if entry)
    return out
