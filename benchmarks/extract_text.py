"""Extraction speed of text documents (txt/md/html): the bundled raw/ samples and their re-renderings.

Usage: ``.venv/bin/python benchmarks/extract_text.py [--repeat 7] [--out benchmarks/results.json]``
(``make benchmark`` runs every script in benchmarks/). One process, one document after the
other, so the figures are per core. Each document is extracted ``--repeat`` times; its median
is kept (wall clock and CPU time: on a shared, loaded machine the CPU time is the steadier figure),
and a set's documents/second/core is its document count over the sum of those medians.
The re-renderings are the robustness suite's shapes (tests/robustness/render.py) of every truth
document, written to a temporary folder. Writes the key ``extraction_text`` of the results file
(read-merge-write: other benchmarks keep their keys). Not a test: nothing passes or fails.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pipelines.extract import PARSER_VERSION, extract_document  # noqa: E402

TEXT_SUFFIXES = (".txt", ".md", ".html", ".htm")


def per_document(paths: list[Path], repeat: int) -> tuple[list[float], list[float]]:
    """Median wall-clock and CPU seconds of ``extract_document`` for each path."""
    for p in paths:
        extract_document(p)  # warm imports and per-process caches (label indexes, compiled patterns)
    wall, cpu = [], []
    for p in paths:
        w, c = [], []
        for _ in range(repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            extract_document(p)
            w.append(time.perf_counter() - start)
            c.append(time.process_time() - start_cpu)
        wall.append(statistics.median(w))
        cpu.append(statistics.median(c))
    return wall, cpu


def summary(paths: list[Path], times: tuple[list[float], list[float]]) -> dict:
    """Figures of one set of documents: wall clock, and CPU time (less sensitive to a loaded machine)."""
    out = {"documents": len(paths)}
    for name, values in zip(("wall", "cpu"), times):
        by_type: dict[str, list[float]] = {}
        for p, t in zip(paths, values):
            by_type.setdefault(p.suffix.lower().lstrip("."), []).append(t)
        out[name] = {
            "documents_per_second_per_core": round(len(paths) / sum(values), 1),
            "ms_per_document": {"mean": round(1000 * sum(values) / len(values), 2),
                                "median": round(1000 * statistics.median(values), 2),
                                "max": round(1000 * max(values), 2)},
            "median_ms_by_type": {k: round(1000 * statistics.median(v), 2) for k, v in sorted(by_type.items())},
        }
    return out


def renderings(folder: Path) -> list[Path]:
    """Write every robustness re-rendering of every truth document into ``folder``."""
    from robustness.render import write_all

    return [p for p in write_all(folder) if p.suffix.lower() in TEXT_SUFFIXES]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--raw", type=Path, default=ROOT / "raw")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    ap.add_argument("--no-renderings", action="store_true", help="only the bundled raw/ documents")
    args = ap.parse_args()
    raw = sorted(p for p in args.raw.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES and p.name != "README.md")
    result = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "parser_version": PARSER_VERSION,
              "repeat": args.repeat, "bundled": summary(raw, per_document(raw, args.repeat))}
    if not args.no_renderings:
        with tempfile.TemporaryDirectory() as tmp:
            paths = renderings(Path(tmp))
            result["renderings"] = summary(paths, per_document(paths, args.repeat))
    previous = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    previous["extraction_text"] = result
    args.out.write_text(json.dumps(previous, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
