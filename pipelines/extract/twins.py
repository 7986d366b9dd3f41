"""Filling from another copy of the same report: a separate, explicit step after extraction.

A report is often published twice (a web page and its flattened text, an HTML page and a
PDF). When a flattened copy prints ``77132470`` for three cells and the equalities leave the
split ambiguous, a copy whose cells were printed apart (``77 | 132 | 470``) with exactly those
digits fixes it. Extraction never does this by itself (``xxgk extract`` reads the file alone);
``fill_from_copy`` is called by ``xxgk extract --fill-from DIR`` and by the pipeline's
twin-fill step, and every filled cell says so (``recovery = twin``, ``filled_from`` = the copy).
Copies are matched by reporting body (agency registry id, else the normalized printed name) and
year.
"""

from __future__ import annotations

import csv
import hashlib
import re
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


def fill_from_copy(ext, twin) -> int:
    """Fill ``ext``'s ambiguous glued cells from ``twin`` (another extraction of the same report); returns cells filled.

    A glued row is filled only when the copy prints every cell of the row apart, the copy's
    digits concatenated equal the row's glued digits, every filled value is one of the cell's
    candidates, and cells of the row already decided agree with the copy.
    """
    if twin is None:
        return 0
    printed = {c.code: c for c in twin.cells if c.recovery == "none" and c.value_status == "number"}
    rows: dict[tuple, list] = {}
    for c in ext.cells:
        if c.recovery in ("split", "narrative", "ambiguous") and c.context:
            rows.setdefault((c.line, c.page, c.context.split(" (")[0]), []).append(c)
    filled = 0
    for (_, _, context), cells in rows.items():
        if not any(c.value_status == "ambiguous" for c in cells) or not all(c.code in printed for c in cells):
            continue
        glued_digits = re.sub(r"\s", "", context)
        copy_raw = [re.sub(r"\s", "", printed[c.code].raw or "") for c in cells]
        if "".join(copy_raw) != glued_digits:
            continue
        fits = all(
            (c.value_status == "ambiguous" and c.candidates and raw in c.candidates.split("|"))
            or (c.value_status != "ambiguous" and c.value == printed[c.code].value)
            for c, raw in zip(cells, copy_raw)
        )
        if not fits:
            continue
        for c, raw in zip(cells, copy_raw):
            if c.value_status != "ambiguous":
                continue
            c.value, c.raw, c.value_status = printed[c.code].value, raw, "number"
            c.recovery = "twin"
            c.filled_from = twin.source_path
            c.context = f"{c.context} (split fixed by {twin.source_path})"
            filled += 1
    if filled:
        ext.issues = [i for i in ext.issues if not (i.kind == "ambiguous_split" and ext.cell(i.code) is not None
                                                   and ext.cell(i.code).recovery == "twin")]
    return filled


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
            if not row.get("file"):
                continue
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
