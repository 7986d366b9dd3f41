"""Other copies of the same report, used only to decide glued digits that split several ways.

A report is often published twice (a web page and its flattened text, an HTML page and a
PDF). When a flattened copy prints ``77132470`` for three cells, a copy whose cells were
printed apart (``77 | 132 | 470``) with exactly those digits fixes the split. Copies are
matched by reporting body (agency registry id, else the normalized printed name) and year.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from pipelines.agencies import agency_resolver
from pipelines.extract.text import norm

MANIFEST = "MANIFEST.csv"
DOCUMENT_SUFFIXES = {".txt", ".md", ".html", ".htm", ".pdf", ".docx"}


def agency_key(raw_dir: Path | None, printed: str | None) -> str | None:
    """Agency id of a printed name (overrides, then the resolver), else its normalized form."""
    if not printed:
        return None
    if raw_dir is not None:
        agency = agency_resolver(raw_dir).resolve(printed)
        if agency.resolved:
            return agency.agency_id
    return "printed:" + norm(printed)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ReferenceIndex:
    """Twin lookup over a landing zone (``raw/``), driven by its MANIFEST.csv (agency, year per file)."""

    def __init__(self, raw_dir: Path):
        self.raw_dir = Path(raw_dir)
        self._rows: list[dict] | None = None
        self._cache: dict[str, object] = {}

    def _manifest(self) -> list[dict]:
        if self._rows is None:
            path = self.raw_dir / MANIFEST
            if path.exists():
                with path.open(encoding="utf-8", newline="") as f:
                    self._rows = list(csv.DictReader(f))
            else:
                self._rows = []
        return self._rows

    def __call__(self, ext):
        """Best twin extraction for ``ext`` (same body and year, different file), or None."""
        from pipelines.extract import extract_document

        key = agency_key(self.raw_dir, ext.agency_printed)
        if key is None or ext.report_year is None:
            return None
        own = None
        try:
            own = sha256_of(Path(ext.source_path)) if Path(ext.source_path).exists() else None
        except OSError:
            own = None
        best = None
        for row in self._manifest():
            if str(row.get("report_year")) != str(ext.report_year):
                continue
            if agency_key(self.raw_dir, row.get("agency")) != key:
                continue
            if own and row.get("sha256") == own:
                continue
            path = self.raw_dir / row["file"]
            if not path.exists() or path.suffix.lower() not in DOCUMENT_SUFFIXES:
                continue
            if row["file"] not in self._cache:
                self._cache[row["file"]] = extract_document(path, source_path=row["file"])
            twin = self._cache[row["file"]]
            direct = sum(1 for c in twin.cells if c.recovery == "none" and c.value is not None)
            if direct and (best is None or direct > best[0]):
                best = (direct, twin)
        return best[1] if best else None


class BatchTwins:
    """Twin lookup over extractions already made in the same run (no re-reading)."""

    def __init__(self, extractions, raw_dir: Path | None = None):
        self.raw_dir = raw_dir
        self.by_key: dict[tuple, list] = {}
        for ext in extractions:
            k = (agency_key(raw_dir, ext.agency_printed), ext.report_year)
            self.by_key.setdefault(k, []).append(ext)

    def __call__(self, ext):
        """Best other extraction of the same body and year with directly printed cells."""
        k = (agency_key(self.raw_dir, ext.agency_printed), ext.report_year)
        best = None
        for other in self.by_key.get(k, []):
            if other.source_path == ext.source_path:
                continue
            direct = sum(1 for c in other.cells if c.recovery == "none" and c.value is not None)
            if direct and (best is None or direct > best[0]):
                best = (direct, other)
        return best[1] if best else None
