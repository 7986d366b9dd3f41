"""Planning the work of a run: report years -> document shards -> work units.

A report year's documents are split into **shards** by a stable hash of their report id
(``2**bits`` shards, ``bits`` growing with the year's size, so a shard holds up to ~2 ×
``SHARD_DOCS`` documents). Each shard is one Parquet file per table
(``parquet/<table>/<year>/<shard>.parquet``) and one state file listing its documents with
their **version**: a hash of everything that decides the document's rows (the extraction
record's key — sha256, type, manifest hints, parser version —, the rule engine's version, the
agency registry, the report year and, for a report whose glued digits needed another copy,
the other copies' hashes). A document whose version is unchanged is never re-read or
re-evaluated: its rows are copied; a shard whose documents are all unchanged is not touched.

The documents that must be (re)evaluated are packed into **work units** of about
``UNIT_DOCS`` documents (whole shards, several small years in one unit): a unit is what one
step — in this process, a Dask worker or any other executor — extracts, checks and writes.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipelines.extract.twins import agency_key
from pipelines.warehouse.records import record_key
from pipelines.warehouse.storage import Storage

SHARD_DOCS = 1000
UNIT_DOCS = 2000


@dataclass(frozen=True)
class DocSpec:
    """One document as a work unit needs it (from the inventory)."""

    report_id: str
    partition_key: str
    report_year: int | None
    shard: str
    source_file: str
    file_type: str
    sha256: str
    size_bytes: int
    source_url: str | None  # raw/MANIFEST.csv's source column
    manifest_agency: str | None  # raw/MANIFEST.csv's agency column (context for placing the body)
    hints: tuple  # sorted (name, value) pairs from raw/MANIFEST.csv
    record_key: str
    version: str  # what decides the document's rows (see the module docstring)
    base_version: str  # the same without the other copies of the report (a report found to need them gets them added)
    agency_printed: str | None  # as the inventory read it (for finding other copies)

    @property
    def hints_dict(self) -> dict:
        """The manifest hints as the extractor takes them."""
        return dict(self.hints)


@dataclass
class ShardWork:
    """One shard to rewrite: the documents to (re)evaluate and those whose rows are copied."""

    partition_key: str
    shard: str
    bits: int
    fingerprint: str
    docs: list[DocSpec]
    keep: list[str]
    previous: bool  # whether a previous file of this shard exists (rows to copy from)


@dataclass
class WorkUnit:
    """The shards one step processes."""

    unit_id: str
    shards: list[ShardWork] = field(default_factory=list)

    @property
    def documents(self) -> int:
        """Documents to (re)evaluate in this unit."""
        return sum(len(s.docs) for s in self.shards)


@dataclass
class YearPlan:
    """What a report year consists of after this run, and which of its shards change."""

    partition_key: str
    bits: int
    fingerprint: str
    shards: dict[str, str]  # shard -> fingerprint
    documents: int
    dirty: list[str]
    stale: list[str]  # shards of the previous layout that no longer exist
    inputs: dict = field(default_factory=dict)  # code and registry versions the year is built with

    @property
    def unchanged(self) -> bool:
        """Nothing to write for this year."""
        return not self.dirty and not self.stale


def shard_bits(n_docs: int, shard_docs: int = SHARD_DOCS) -> int:
    """How many hash bits split a year of ``n_docs`` documents (0 = one shard)."""
    return 0 if n_docs <= 2 * shard_docs else math.ceil(math.log2(n_docs / shard_docs))


def shard_of(report_id: str, bits: int) -> str:
    """The shard of a report id: the first ``bits`` bits of its sha256, in hex."""
    if bits == 0:
        return "0"
    value = int.from_bytes(hashlib.sha256(report_id.encode("utf-8")).digest()[:4], "big") >> (32 - bits)
    return format(value, f"0{math.ceil(bits / 4)}x")


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()


def held_version(base_version: str, twins: str) -> str:
    """Version of a report whose glued digits depend on the year's other copies of it (``twins``: their digest)."""
    return _digest(base_version, twins)


def shard_fingerprint(bits: int, versions: dict[str, str]) -> str:
    """Identity of a shard: the layout and its documents' versions."""
    return _digest(bits, sorted(versions.items()))


def year_fingerprint(bits: int, shards: dict[str, str]) -> str:
    """Identity of a report year: the layout and its shards' fingerprints."""
    return _digest(bits, sorted(shards.items()))


def year_state_path(key: str) -> str:
    """Where a year's manifest lives."""
    return f"state/years/{key}.json"


def shard_state_path(key: str, shard: str) -> str:
    """Where a shard's document list and summary live."""
    return f"state/shards/{key}/{shard}.json"


def shard_file(table: str, key: str, shard: str) -> str:
    """The Parquet file of one table's shard."""
    return f"parquet/{table}/{key}/{shard}.parquet"


def year_file(table: str, key: str) -> str:
    """The Parquet file of a per-year table (report_copies) or a warehouse-wide table's year."""
    return f"parquet/{table}/{key}.parquet"


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def hints_of(row) -> tuple:
    """Manifest hints (report year, agency) of an inventory row, used only when the document does not say."""
    hints = {}
    if row.manifest_year is not None and not pd.isna(row.manifest_year):
        hints["report_year"] = int(row.manifest_year)
    if row.manifest_agency:
        hints["agency"] = row.manifest_agency
    return tuple(sorted(hints.items()))


def plan_years(
    storage: Storage, raw_dir: Path, inventory: pd.DataFrame, keys: list[str], inputs: dict, unit_docs: int = UNIT_DOCS,
    parallel: int = 1,
) -> tuple[list[YearPlan], list[WorkUnit]]:
    """The plan of each report year in ``keys`` and the work units that carry it out (at least ``parallel`` units
    when there are enough shards, so that every process gets work). ``inputs``: ``process.build_inputs``."""
    plans, work = [], []
    for key in keys:
        plan, shards = _plan_year(storage, raw_dir, inventory[inventory.partition_key == key], key, inputs)
        plans.append(plan)
        work.extend(shards)
    total = sum(len(s.docs) for s in work)
    return plans, pack_units(work, max(1, min(unit_docs, math.ceil(total / max(1, parallel)))))


def _plan_year(storage, raw_dir, docs, key, inputs):
    from pipelines.inventory import read_manifest

    previous = storage.read_json(year_state_path(key)) or {}
    manifest = read_manifest(raw_dir)  # its row of a document (notes, source, agency) goes into the document's rows
    bits = shard_bits(len(docs), inputs["shard_docs"])
    held = {rid: k for shard in previous.get("shards", {}).values() for rid, k in shard.get("held", {}).items()}
    twin_digest = twin_digests(raw_dir, docs, held)
    by_shard: dict[str, list[DocSpec]] = {}
    for r in docs.itertuples(index=False):
        year = None if r.report_year is None or pd.isna(r.report_year) else int(r.report_year)
        hints = hints_of(r)
        rkey = record_key(r.sha256, r.file_type, dict(hints), inputs["parser"])
        base = _digest(rkey, inputs["engine"], inputs["identity"], key, year, r.source_file, int(r.size_bytes),
                       manifest.get(r.source_path))
        version = held_version(base, twin_digest[r.source_path]) if r.source_path in twin_digest else base
        shard = shard_of(r.source_path, bits)
        by_shard.setdefault(shard, []).append(DocSpec(
            r.source_path, key, year, shard, r.source_file, r.file_type, r.sha256, int(r.size_bytes),
            _text(getattr(r, "manifest_source", None)), _text(r.manifest_agency), hints, rkey, version, base,
            _text(r.agency_printed) or _text(r.manifest_agency),
        ))
    fingerprints = {s: shard_fingerprint(bits, {d.report_id: d.version for d in ds}) for s, ds in by_shard.items()}
    old = {s: v["fingerprint"] for s, v in previous.get("shards", {}).items()} if previous.get("bits") == bits else {}
    dirty = sorted(s for s, fp in fingerprints.items() if old.get(s) != fp or not storage.exists(shard_state_path(key, s)))
    stale = sorted(set(previous.get("shards", {})) - set(fingerprints))
    work = []
    for s in dirty:
        state = storage.read_json(shard_state_path(key, s)) if s in old else None
        known = (state or {}).get("docs", {})
        docs_now = sorted(by_shard[s], key=lambda d: d.report_id)
        redo = [d for d in docs_now if known.get(d.report_id) != d.version]
        keep = [d.report_id for d in docs_now if known.get(d.report_id) == d.version]
        work.append(ShardWork(key, s, bits, fingerprints[s], redo, keep, previous=state is not None))
    plan = YearPlan(key, bits, year_fingerprint(bits, fingerprints), fingerprints, len(docs), dirty, stale, inputs)
    return plan, work


def twin_digests(raw_dir, docs: pd.DataFrame, held: dict) -> dict[str, str]:
    """For reports whose glued digits needed another copy: a hash of the other copies in the year (path and sha256)."""
    if not held:
        return {}
    keys = {}
    for r in docs.itertuples(index=False):
        k = agency_key(raw_dir, r.agency_printed if isinstance(r.agency_printed, str) else r.manifest_agency)
        keys.setdefault(k, []).append((r.source_path, r.sha256))
    return {rid: _digest(sorted(p for p in keys.get(k, []) if p[0] != rid)) for rid, k in held.items()}


def pack_units(work: list[ShardWork], unit_docs: int = UNIT_DOCS) -> list[WorkUnit]:
    """Group shards into units of about ``unit_docs`` documents to evaluate (a shard is never split)."""
    units: list[WorkUnit] = []
    current = WorkUnit("u000")
    for s in work:
        if current.shards and current.documents + len(s.docs) > unit_docs:
            units.append(current)
            current = WorkUnit(f"u{len(units):03d}")
        current.shards.append(s)
    if current.shards:
        units.append(current)
    return units


def deal(units: list[WorkUnit], slots: int) -> list[list[WorkUnit]]:
    """Spread units over ``slots`` parallel steps, largest first onto the least loaded slot."""
    out: list[list[WorkUnit]] = [[] for _ in range(slots)]
    load = [0] * slots
    for unit in sorted(units, key=lambda u: -max(1, u.documents)):
        i = load.index(min(load))
        out[i].append(unit)
        load[i] += max(1, unit.documents)
    return out
