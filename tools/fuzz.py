"""Long fuzz run: millions of mutated reports through extraction, judged by the oracle of tests/hostile/mutate.py.

    nice -n 19 .venv/bin/python tools/fuzz.py --cases 1000000 --processes 2
    .venv/bin/python tools/fuzz.py --replay 'synth:flat:31'        # one case: its mutations and findings

Cases are numbered; case ``seed:n`` is the same document on every machine, so a finding is
reproduced with ``--replay``. Progress (cases, rate, findings by kind, estimated time left) is
printed as chunks finish; the totals and the first findings of each kind go to
``tools/fuzz_results.json`` (``--out``). ``--start`` continues a run where another stopped.
Exit status 1 when any finding was made.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

KEEP = 20  # findings kept per kind in the results file


def _init() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    import logging

    logging.disable(logging.WARNING)
    if sys.platform == "linux":  # a worker never outlives the run that started it
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _chunk(args: tuple[list[str], int, int]) -> tuple[Counter, list[dict], float]:
    from hostile import mutate

    seeds, start, count = args
    counts, findings, seconds = mutate.run(seeds, range(start, start + count), batch=count * len(seeds))
    return counts, [f.__dict__ for f in findings], seconds


def _replay(case_id: str) -> int:
    from hostile import mutate

    seed_name, number = case_id.rsplit(":", 1)
    seed = mutate.load_seed(seed_name)
    case = mutate.make_case(seed, int(number))
    base = mutate.Baseline.of(seed)
    outcome = mutate.judge(case, base)
    mutate.judge_statuses([outcome])
    out = Path(tempfile.gettempdir()) / f"xxgk-fuzz-replay{case.suffix}"
    out.write_bytes(case.data)
    print(f"case {case.id}: {'; '.join(case.steps)}\nmutated document: {out}")
    if outcome.ext is not None:
        ext = outcome.ext
        print(f"extraction: year {ext.report_year}, era {ext.era}, {len(mutate.confident(ext))} confident cells, "
              f"lost {len(outcome.lost)}; issues: " + "; ".join(f"{i.kind}: {i.message[:80]}" for i in ext.issues))
    for f in outcome.findings:
        print(f"FINDING {f.kind}: {f.detail}")
    return 1 if outcome.findings else 0


def main(argv: list[str] | None = None) -> int:
    """Run the long fuzz (or replay one case)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=1_000_000, help="mutated documents in total (spread over the seeds)")
    p.add_argument("--seeds", choices=["ci", "all"], default="all", help="seed documents (tests/hostile/mutate.py)")
    p.add_argument("--processes", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    p.add_argument("--start", type=int, default=0, help="first case number per seed (continue an earlier run)")
    p.add_argument("--chunk", type=int, default=100, help="case numbers per task (× seeds documents)")
    p.add_argument("--out", type=Path, default=ROOT / "tools" / "fuzz_results.json")
    p.add_argument("--replay", metavar="SEED:N", help="run one case and print its mutations and findings")
    args = p.parse_args(argv)
    _init()
    if args.replay:
        return _replay(args.replay)
    from hostile import mutate

    seeds = mutate.ALL_SEEDS if args.seeds == "all" else mutate.CI_SEEDS
    per_seed = -(-args.cases // len(seeds))
    tasks = [(seeds, n, min(args.chunk, args.start + per_seed - n)) for n in range(args.start, args.start + per_seed, args.chunk)]
    total = per_seed * len(seeds)
    counts: Counter = Counter()
    kept: dict[str, list[dict]] = {}
    seconds = 0.0
    began = time.monotonic()
    print(f"fuzz: {total:,} cases ({len(seeds)} seeds × {per_seed:,}, numbers {args.start}–{args.start + per_seed - 1}), "
          f"{args.processes} processes", flush=True)

    def save(done_seconds: float) -> dict:
        result = {
            "command": "tools/fuzz.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "seeds": seeds, "first_case": args.start, "cases_planned": total, "cases": counts["cases"],
            "processes": args.processes, "wall_seconds": round(done_seconds, 1),
            "cases_per_second": round(counts["cases"] / done_seconds, 2) if done_seconds else None,
            "extraction_ms_per_case": round(seconds / max(counts["cases"], 1) * 1000, 1),
            "findings": {k: v for k, v in counts.items() if k != "cases"},
            "examples": kept,
        }
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return result

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    pool = mp.get_context("forkserver").Pool(args.processes, initializer=_init, maxtasksperchild=20)
    results = pool.imap_unordered(_chunk, tasks)
    try:
        for _ in tasks:
            while True:
                if stop:
                    raise KeyboardInterrupt
                try:
                    c, found, secs = results.next(timeout=1.0)
                    break
                except mp.TimeoutError:
                    continue
            counts.update(c)
            seconds += secs
            for f in found:
                kept.setdefault(f["kind"], [])
                if len(kept[f["kind"]]) < KEEP:
                    kept[f["kind"]].append(f)
            done = counts["cases"]
            elapsed = time.monotonic() - began
            rate = done / elapsed if elapsed else 0.0
            bad = {k: v for k, v in counts.items() if k != "cases"}
            save(elapsed)
            print(f"  {done:,}/{total:,} cases, {rate:,.1f}/s, {seconds / max(done, 1) * 1000:.1f} ms extraction each, "
                  f"findings {bad or 'none'}, about {(total - done) / rate / 3600 if rate else 0:,.1f} h left", flush=True)
        pool.close()
    except KeyboardInterrupt:
        print("fuzz: interrupted; the figures so far are saved", flush=True)
        pool.terminate()
    finally:
        pool.join()
    elapsed = time.monotonic() - began
    result = save(elapsed)
    print(f"fuzz: {counts['cases']:,} cases in {elapsed / 60:.1f} min; findings {result['findings'] or 'none'}; "
          f"results in {args.out}")
    return 1 if result["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
