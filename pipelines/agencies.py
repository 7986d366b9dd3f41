"""The agency registry (``raw/agencies.csv``): who reports, under which names, in which region.

Columns: ``agency_id, name, variants ('|'-separated), region_code (GB/T 2260), level
(province/city/county/township/department), parent_id, kind (government_aggregate /
government_office / department)``. A printed name that matches no entry is kept as printed
(``agency_id`` null): an unknown body is recorded, never dropped.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipelines.extract.text import norm

AGENCY_FILE = "agencies.csv"


@dataclass(frozen=True)
class Agency:
    """One reporting body."""

    agency_id: str
    name: str
    variants: tuple[str, ...]
    region_code: str
    level: str
    parent_id: str
    kind: str


class AgencyRegistry:
    """Agencies loaded from a CSV, with name resolution."""

    def __init__(self, agencies: list[Agency]):
        self.agencies = {a.agency_id: a for a in agencies}
        self._by_name: dict[str, Agency] = {}
        for a in agencies:
            for name in (a.name, *a.variants):
                self._by_name.setdefault(norm(name), a)

    @classmethod
    def load(cls, raw_dir: Path) -> "AgencyRegistry":
        """Read ``<raw_dir>/agencies.csv`` (an empty registry when the file is absent)."""
        path = Path(raw_dir) / AGENCY_FILE
        if not path.exists():
            return cls([])
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        agencies = [
            Agency(
                agency_id=r["agency_id"].strip(),
                name=r["name"].strip(),
                variants=tuple(v.strip() for v in (r.get("variants") or "").split("|") if v.strip()),
                region_code=(r.get("region_code") or "").strip(),
                level=(r.get("level") or "").strip(),
                parent_id=(r.get("parent_id") or "").strip(),
                kind=(r.get("kind") or "").strip(),
            )
            for r in rows
            if r.get("agency_id")
        ]
        return cls(agencies)

    def resolve(self, printed: str | None) -> Agency | None:
        """The agency a printed name denotes, or None."""
        if not printed:
            return None
        return self._by_name.get(norm(printed))


@lru_cache(maxsize=8)
def agency_registry(raw_dir: str) -> AgencyRegistry:
    """Cached registry for one landing zone."""
    return AgencyRegistry.load(Path(raw_dir))
