"""Inventory benchmark: how fast raw/ is listed, hashed and dated (issue 13 §2), before and after the cheap reading.

Usage: ``.venv/bin/python benchmarks/inventory.py [--synthetic 10000] [--out benchmarks/results.json]``

* ``inventory_cold`` — ``take_stock`` on a landing zone never seen: every file hashed and its
  year read (text: the extraction reader + metadata, no tables; PDF: the text layer of the first
  pages);
* ``inventory_unchanged`` — the same landing zone again with the previous inventory: nothing re-read;
* ``year_by_full_read`` — the year read as the inventory read it before (the whole document
  parsed by the extraction reader, PDF table finding included), for comparison;
* per type, medians of ms per document for the bundled real documents.

Times are CPU seconds of this process (``time.process_time``): the machines are shared, and the
inventory is one process.

Writes the top-level key ``inventory`` of the results file (read, merge, write).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _full_read_year(path: Path):
    """The year as the inventory used to read it: the whole document through the extraction reader."""
    from pipelines.extract.documents import file_type_of, read_document
    from pipelines.extract.metadata import fill_metadata
    from pipelines.extract.model import Extraction

    try:
        doc = read_document(path)
    except Exception:
        return None
    ext = Extraction(source_path=str(path), file_type=file_type_of(path))
    fill_metadata(doc, ext)
    return ext.report_year


def per_type(repeat: int = 3) -> dict:
    """Median ms per document of the cheap and the full reading, by file type, on the bundled documents."""
    from pipelines.inventory import document_path, path_id, sniff, walk

    raw = ROOT / "raw"
    docs = [document_path(raw, path_id(f.rel)) for f in walk(raw) if f.reason_kind is None]
    out: dict[str, dict] = {}
    for kind in sorted({p.suffix.lower() for p in docs}):
        group = [p for p in docs if p.suffix.lower() == kind]
        row = {}
        for name, fn in (("cheap_ms", sniff), ("full_read_ms", _full_read_year)):
            times = []
            for p in group:
                fn(p)  # warm caches
                best = min(_timed(fn, p) for _ in range(repeat))
                times.append(best * 1000)
            row[name] = round(statistics.median(times), 2)
        row["documents"] = len(group)
        out[kind.lstrip(".")] = row
    return out


def _timed(fn, *args) -> float:
    start = time.process_time()
    fn(*args)
    return time.process_time() - start


def landing_zone(n: int, scratch: Path) -> dict:
    """Cold and unchanged inventory of n synthetic reports plus the bundled samples; the full-read year for comparison."""
    from pipelines.inventory import take_stock
    from pipelines.synth import generate

    raw = scratch / "raw"
    if scratch.exists():
        shutil.rmtree(scratch)
    per_district = max(100, -(-n // 25))  # as benchmarks/benchmark.py: synth uses a real prefecture (a few dozen counties)
    districts = max(1, round(n / per_district))
    generate(raw, districts=districts, bodies_per_district=per_district - 1, years=(2023,), seed=3)
    shutil.copytree(ROOT / "raw" / "incoming", raw / "incoming")
    cold = _timed(take_stock, raw)
    stock = take_stock(raw)
    unchanged = _timed(take_stock, raw, stock.documents)
    assert take_stock(raw, stock.documents).documents.equals(stock.documents)
    paths = [raw / p for p in stock.documents.source_path]
    full = sum(_timed(_full_read_year, p) for p in paths)
    docs = len(stock.documents)
    shutil.rmtree(scratch)
    return {"documents": docs, "inventory_cold_cpu_seconds": round(cold, 2), "inventory_unchanged_cpu_seconds": round(unchanged, 2),
            "year_by_full_read_cpu_seconds": round(full, 2), "cold_ms_per_document": round(cold / docs * 1000, 2)}


def main() -> None:
    """Run the inventory benchmark and merge its figures into the results file."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synthetic", type=int, default=10000, help="synthetic reports in the landing zone")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/xxgk-benchmark-inventory"))
    args = ap.parse_args()
    results = {"by_type": per_type()}
    if args.synthetic:
        results["landing_zone"] = landing_zone(args.synthetic, args.scratch)
    current = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    current["inventory"] = results
    args.out.write_text(json.dumps(current, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
