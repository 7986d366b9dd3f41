"""Who reported: each report's body placed by the resolver, with ``raw/agencies.csv`` as optional overrides.

Precedence (README "Who reported"):

1. **Overrides** – a printed name equal (after cleaning) to the ``name`` or a ``variants`` entry
   of a row of ``raw/agencies.csv`` is that row's body (``agency_match = override``). The file is
   for bodies the registry cannot know: special zones (平潭综合实验区), renamed departments.
   A row whose ``agency_id`` is a resolver id (``350128:gov``) replaces that body's attributes.
2. **The resolver** (``pipelines.identity``) – place names against the national division
   registry, then the body part; the document's context settles names without a place.
3. **Unresolved** – ``agency_id`` null, the printed name kept as ``agency`` and the reason in
   ``agency_unresolved_reason``: recorded, never dropped, never guessed into another body.

The ``agencies`` table holds the people's government of every current division (so a region's
children are known without any hand file), every body a report resolved to, and the overrides.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from pipelines.identity.names import DEPARTMENT, classify_body, clean
from pipelines.identity.resolver import Context, Resolution, default_resolver

AGENCY_FILE = "agencies.csv"
MANIFEST = "MANIFEST.csv"
AGENCY_COLUMNS = ["agency_id", "name", "variants", "region_code", "level", "parent_id", "kind", "source"]
OPENING_CHARS = 300
_MIRROR_WORDS = re.compile(r"mirror|镜像|转载", re.IGNORECASE)


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
    """A set of agencies with name lookup: the overrides of raw/agencies.csv, or the warehouse's agencies table."""

    def __init__(self, agencies: list[Agency]):
        self.agencies = {a.agency_id: a for a in agencies}
        self._by_name: dict[str, Agency] = {}
        for a in agencies:
            for name in (a.name, *a.variants):
                self._by_name.setdefault(clean(name), a)

    @classmethod
    def load(cls, raw_dir: Path) -> "AgencyRegistry":
        """Read ``<raw_dir>/agencies.csv`` (no overrides when the file is absent)."""
        path = Path(raw_dir) / AGENCY_FILE
        if not path.exists():
            return cls([])
        with path.open(encoding="utf-8", newline="") as f:
            return cls.from_frame(pd.DataFrame(list(csv.DictReader(f))))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "AgencyRegistry":
        """Agencies from a frame with the agencies table's columns."""
        def text(r, col):
            v = r.get(col)
            return "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v).strip()

        rows = frame.to_dict("records") if len(frame) else []
        return cls([
            Agency(text(r, "agency_id"), text(r, "name"), tuple(v.strip() for v in text(r, "variants").split("|") if v.strip()),
                   text(r, "region_code"), text(r, "level"), text(r, "parent_id"), text(r, "kind"))
            for r in rows if text(r, "agency_id")
        ])

    def resolve(self, printed: str | None) -> Agency | None:
        """The agency whose name or variant a printed name is (after cleaning), or None."""
        if not printed:
            return None
        return self._by_name.get(clean(printed))


def _from_agency(a: Agency, printed, match) -> Resolution:
    return Resolution(printed, a.agency_id, a.name, a.region_code or None, a.level or None, a.kind or None,
                      a.parent_id or None, match)


class AgencyResolver:
    """Overrides first, then the resolver (see the module docstring)."""

    def __init__(self, overrides: AgencyRegistry):
        self.overrides = overrides
        self.resolver = default_resolver()

    def resolve(self, printed: str | None, context: Context | None = None) -> Resolution:
        """How a printed name is placed."""
        hit = self.overrides.resolve(printed)
        if hit:
            return _from_agency(hit, printed, "override")
        res = self.resolver.resolve(printed, context)
        if res.resolved and res.agency_id in self.overrides.agencies:
            return _from_agency(self.overrides.agencies[res.agency_id], printed, res.match)
        return res

    def agency(self, agency_id: str) -> Resolution | None:
        """The body an id denotes (an override row, else the resolver's reading of the id)."""
        if agency_id in self.overrides.agencies:
            return _from_agency(self.overrides.agencies[agency_id], None, "override")
        return self.resolver.from_id(agency_id)


@lru_cache(maxsize=8)
def _cached(raw_dir: str, stamp: tuple) -> AgencyResolver:
    return AgencyResolver(AgencyRegistry.load(Path(raw_dir)))


def _stamp(path: Path) -> tuple:
    try:
        st = path.stat()
        return (st.st_size, st.st_mtime_ns)
    except OSError:
        return ()


def agency_resolver(raw_dir: str | Path) -> AgencyResolver:
    """The resolver for one landing zone (re-read when raw/agencies.csv changes)."""
    return _cached(str(raw_dir), _stamp(Path(raw_dir) / AGENCY_FILE))


def identity_fingerprint(raw_dir: str | Path) -> str:
    """What agency resolution depends on: the identity code and data, and raw/agencies.csv."""
    h = hashlib.sha256()
    package = Path(__file__).parent / "identity"
    for path in sorted([Path(__file__), *package.glob("*.py"), *package.glob("data/*.csv")]):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    overrides = Path(raw_dir) / AGENCY_FILE
    if overrides.exists():
        h.update(overrides.read_bytes())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# report columns


def opening_text(text: str | None) -> str | None:
    """The first characters of a document's text, whitespace collapsed (context for placing its body)."""
    if not text:
        return None
    return re.sub(r"\s+", " ", text).strip()[:OPENING_CHARS] or None


def identity_columns(raw_dir: Path, printed, manifest_agency=None, title=None, opening=None) -> dict:
    """The reports columns that say who reported: agency, agency_id, agency_kind, agency_match, agency_unresolved_reason."""
    context = Context(_str(manifest_agency), _str(title), _str(opening))
    res = agency_resolver(raw_dir).resolve(_str(printed), context)
    kind = res.kind
    if not res.resolved:
        body = classify_body(clean(printed)) if printed else None
        kind = DEPARTMENT if body is not None and body.kind == DEPARTMENT else None
    return {
        "agency": res.name if res.resolved else _str(printed),
        "agency_id": res.agency_id,
        "agency_kind": kind,
        "agency_match": res.match,
        "agency_unresolved_reason": res.reason,
    }


def resolve_reports(raw_dir: Path, reports: pd.DataFrame) -> pd.DataFrame:
    """Re-place the bodies of stored report rows (raw/agencies.csv or the resolver may have changed)."""
    manifest = _manifest(str(raw_dir), _stamp(Path(raw_dir) / MANIFEST))
    rows = [identity_columns(raw_dir, r.agency_printed, manifest.get(r.report_id, {}).get("agency"), r.title, r.opening_text)
            for r in reports.itertuples(index=False)]
    out = reports.copy()
    for col in ("agency", "agency_id", "agency_kind", "agency_match", "agency_unresolved_reason"):
        out[col] = [row[col] for row in rows]
    return out


def _str(v) -> str | None:
    return None if v is None or (isinstance(v, float) and pd.isna(v)) or v == "" else str(v)


@lru_cache(maxsize=8)
def _manifest(raw_dir: str, stamp: tuple) -> dict[str, dict]:
    """raw/MANIFEST.csv rows by file (report_id)."""
    path = Path(raw_dir) / MANIFEST
    if not path.exists():
        return {}
    with path.open(encoding="utf-8", newline="") as f:
        return {r.get("file", ""): r for r in csv.DictReader(f)}


def mirror_reason(raw_dir: Path, source_path: str, issue_kinds) -> str | None:
    """Why a file is a mirror copy rather than the original (file name, raw/MANIFEST.csv notes, traditional text), or None."""
    name = Path(source_path).name
    if _MIRROR_WORDS.search(name):
        return f"the file name says mirror ({name})"
    notes = _manifest(str(raw_dir), _stamp(Path(raw_dir) / MANIFEST)).get(source_path, {}).get("notes") or ""
    if re.search(r"mirror", notes, re.IGNORECASE) or "镜像" in notes:
        return "raw/MANIFEST.csv notes say mirror: " + notes[:80]
    if "third_party_mirror" in set(issue_kinds):
        return "a third-party mirror copy (converted from traditional characters, or cleaned of inserted pinyin)"
    return None


# --------------------------------------------------------------------------------------------
# the agencies table


def agencies_frame(raw_dir: Path, seen: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``agencies`` table: every current division's government, every body reports resolved to, the overrides.

    ``seen``: (agency_id, agency_printed) of the loaded reports; their printed names become ``variants``.
    """
    ar = agency_resolver(raw_dir)
    reg = ar.resolver.reg
    rows: dict[str, dict] = {}

    def add(res: Resolution | None, source: str) -> None:
        if res is None or not res.agency_id or res.agency_id in rows:
            return
        rows[res.agency_id] = {"agency_id": res.agency_id, "name": res.name, "variants": None, "region_code": res.region_code,
                               "level": res.level, "parent_id": res.parent_id, "kind": res.kind, "source": source}

    for a in ar.overrides.agencies.values():
        add(_from_agency(a, None, "override"), "override")
        rows[a.agency_id]["variants"] = "|".join(a.variants) or None
    for d in reg.by_code.values():
        if d.status == "current":
            add(ar.agency(ar.resolver.government_id(d.code)), "registry")
    if seen is not None and len(seen):
        printed: dict[str, set[str]] = {}  # agency_id -> its printed names (plain Python: one pandas group per body
        for agency_id, name in zip(seen.agency_id, seen.agency_printed):  # cost seconds at 100,000 bodies)
            if isinstance(agency_id, str):
                names = printed.setdefault(agency_id, set())
                if isinstance(name, str):
                    names.add(name)
        for agency_id in sorted(printed):
            add(ar.agency(agency_id), "resolved")
            if agency_id in rows and rows[agency_id]["source"] != "override":
                names = sorted(p for p in printed[agency_id] if p != rows[agency_id]["name"])
                rows[agency_id]["variants"] = "|".join(names) or None
            parent = rows.get(agency_id, {}).get("parent_id")
            while parent and parent not in rows:  # e.g. a department of a zone that has its own code
                add(ar.agency(parent), "resolved")
                parent = rows[parent]["parent_id"] if parent in rows else None
    return pd.DataFrame(list(rows.values()), columns=AGENCY_COLUMNS)


def regions_frame() -> pd.DataFrame:
    """The ``regions`` table: the bundled division registry (current and former divisions)."""
    return pd.DataFrame(default_resolver().reg.frame_rows(),
                        columns=["region_code", "name", "level", "parent_code", "status", "successor_code", "changed", "source"])
