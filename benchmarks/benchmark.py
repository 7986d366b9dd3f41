"""Extraction throughput on the bundled samples (documents per second per core), written to a file.

Usage: ``.venv/bin/python benchmarks/benchmark.py [--repeat N] [--synthetic 10000] [--out benchmarks/results.json]``
(or ``make benchmark``). ``--synthetic N`` also generates N synthetic reports (``xxgk synth``)
and times the whole pipeline: full rebuild, an unchanged rerun, and the update after one new
report is added. Each document type is extracted in one process, one document after the
other, so documents/second is per core; the pipeline multiplies it by ``--workers``.
Not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.extract import PARSER_VERSION, extract_document  # noqa: E402

GROUPS = {
    "txt/md/html": (".txt", ".md", ".html", ".htm"),
    "pdf": (".pdf",),
    "docx": (".docx",),
}


def documents(raw: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in raw.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def measure(paths: list[Path], repeat: int) -> dict:
    extract_document(paths[0])  # warm imports and caches
    runs = []
    pages = 0
    cells = 0
    for _ in range(repeat):
        start = time.perf_counter()
        cells = 0
        for p in paths:
            ext = extract_document(p)
            cells += len(ext.cells)
        runs.append(time.perf_counter() - start)
    if paths[0].suffix.lower() == ".pdf":
        import pdfplumber

        for p in paths:
            with pdfplumber.open(p) as pdf:
                pages += len(pdf.pages)
    best = min(runs)
    out = {
        "documents": len(paths),
        "cells_per_pass": cells,
        "seconds_per_pass": {"min": round(best, 4), "median": round(statistics.median(runs), 4)},
        "documents_per_second_per_core": round(len(paths) / best, 2),
        "ms_per_document": round(1000 * best / len(paths), 1),
    }
    if pages:
        out["pages"] = pages
        out["ms_per_page"] = round(1000 * best / pages, 1)
    return out


def pipeline_benchmark(n: int, workers: int, scratch: Path) -> dict:
    """Full rebuild, one-report incremental update and unchanged rerun on ~n synthetic reports."""
    import shutil

    import dagster as dg

    from pipelines.runner import run_pipeline
    from pipelines.synth import generate

    per_district = max(100, -(-n // 25))  # synth uses a real prefecture: at most a few dozen counties
    districts = max(1, round(n / per_district))
    raw, wh = scratch / "raw", scratch / "warehouse"
    shutil.rmtree(scratch, ignore_errors=True)
    start = time.perf_counter()
    summary = generate(raw, districts=districts, bodies_per_district=per_district - 1, years=(2023,), seed=3)
    generated = time.perf_counter() - start
    instance = dg.DagsterInstance.ephemeral()
    timings = {}
    for label in ("full_rebuild", "unchanged_rerun"):
        start = time.perf_counter()
        run_pipeline(raw, wh, workers=workers, progress=False, instance=instance)
        timings[label] = round(time.perf_counter() - start, 1)
    donor = next((raw / "2023").glob("*.html"))
    shutil.copy2(donor, raw / "2023" / "zz_new_report.html")
    start = time.perf_counter()
    run_pipeline(raw, wh, workers=workers, progress=False, instance=instance)
    timings["one_new_report"] = round(time.perf_counter() - start, 1)
    return {"documents": summary.documents, "workers": workers, "generate_seconds": round(generated, 1),
            "seconds": timings, "documents_per_second_full": round(summary.documents / timings["full_rebuild"], 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", type=Path, default=ROOT / "raw")
    ap.add_argument("--extra", type=Path, default=ROOT / "tests" / "data" / "fixtures", help="more sample files")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    ap.add_argument("--synthetic", type=int, default=0, help="also time the whole pipeline on N synthetic reports")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/xxgk-benchmark"), help="where synthetic data and warehouse go")
    args = ap.parse_args()
    results = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "parser_version": PARSER_VERSION,
        "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(), "platform": platform.platform()},
        "extraction": {},
    }
    for name, suffixes in GROUPS.items():
        paths = documents(args.raw, suffixes) + documents(args.extra, suffixes)
        if paths:
            results["extraction"][name] = measure(paths, args.repeat)
            print(f"{name:12s} {results['extraction'][name]}")
    if args.synthetic:
        results["pipeline"] = pipeline_benchmark(args.synthetic, args.workers, args.scratch)
        print(f"pipeline     {results['pipeline']}")
    elif args.out.exists():  # keep the last pipeline measurement when only extraction is re-measured
        previous = json.loads(args.out.read_text(encoding="utf-8"))
        if "pipeline" in previous:
            results["pipeline"] = previous["pipeline"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
