"""Extraction throughput on the bundled samples (documents per second per core), written to a file.

Usage: ``.venv/bin/python benchmarks/benchmark.py [--repeat N] [--out benchmarks/results.json]``
(or ``make benchmark``). Each document type is extracted in one process, one document after the
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", type=Path, default=ROOT / "raw")
    ap.add_argument("--extra", type=Path, default=ROOT / "tests" / "data" / "fixtures", help="more sample files")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
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
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
