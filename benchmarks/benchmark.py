"""The engine's benchmark: extraction per format, and the pipeline's stages on real and synthetic landing zones.

Usage: ``.venv/bin/python benchmarks/benchmark.py [--synthetic 100000] [--repeat 3] [--out benchmarks/results.json] [--keep]``
(``make benchmark`` runs every script of benchmarks/). Writes the top-level key ``engine`` of
``benchmarks/results.json`` (the other keys belong to the other benchmark scripts and are kept).

Measured, each as a median of ``--repeat`` runs where a run is short enough to repeat:

* extraction: documents per second on one core, per format, over the bundled real documents
  (the re-rendered messy shapes of tests/robustness/ are measured by ``benchmarks/extract_text.py``);
* bundled samples (raw/): full build, unchanged rerun (the "nothing changed" path, timed as ``xxgk run``
  itself), unchanged rerun through Dagster, one new report;
* synthetic region (``xxgk synth``, one report year of N documents): full rebuild, unchanged
  rerun, one new report, one changed report, one removed report — each with the stage
  breakdown (inventory, extraction, rules, GX, Parquet, DuckDB, warehouse-wide rules, report,
  orchestration) from the Dagster event log and the units' CPU accounting.

Each phase's figures are written as soon as it ends (``"complete": false`` until the last one), so an
interrupted run keeps what it measured; ``--keep`` leaves the scratch landing zones and warehouses in place
(``--scratch``) to profile them afterwards.

Not a test: nothing passes or fails. Figures depend on the machine's load; say so when quoting.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("XXGK_PROGRESS", "0")

FORMATS = {"txt": (".txt",), "md": (".md",), "html": (".html", ".htm"), "pdf": (".pdf",), "docx": (".docx",)}
# measured at commit 5638926 (before this work), same machine: README / docs/measurements.md
BEFORE = {
    "extraction_ms_per_document": {"txt/md/html": 19.9, "pdf": 492.5, "docx": 16.1},
    "bundled_unchanged_rerun_s": "18-21 (16 in-process Dagster runs, ~1,100 check events)",
    "synthetic_10k_full_rebuild_s": 188.1,
    "synthetic_10k_one_new_report_s": 23.7,
    "synthetic_10k_unchanged_rerun_s": 1.5,
    "synthetic_100k_full_rebuild_s": "~1,860 (31 min, extrapolated: 15 s + 20.6 ms/doc)",
    "stages_10k_full_s": {"inventory": 19.0, "extraction (pool wall)": 49.6, "frames": 36.7, "rules (GX rule suite 11.7)": 27.9,
                          "GX schema": 25.4, "parquet": 4.6, "duckdb": 4.7, "cross rules": 19.6, "report": 14.0,
                          "dagster": 3.9},
}
STAGE_OF_STEP = {
    "document_inventory": "inventory", "process_report_year.plan_report_years": "plan",
    "process_report_year.publish_report_years": "publish", "report_year_checks": "checks",
    "warehouse_db": "duckdb", "cross_rule_results": "warehouse_wide_rules", "out_region_rollups": "warehouse_wide_rules",
    "gx_validation": "gx_after_publish", "quality_report": "report",
}


def documents(base: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in base.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def extraction(paths: list[Path], repeat: int) -> dict:
    """Documents per second on one core (median of ``repeat`` passes; pages for PDFs)."""
    from pipelines.extract import extract_document

    extract_document(paths[0])  # imports and caches
    runs = []
    for _ in range(repeat):
        start = time.process_time()
        for p in paths:
            extract_document(p)
        runs.append(time.process_time() - start)
    med = statistics.median(runs)
    out = {"documents": len(paths), "cpu_seconds_per_pass": round(med, 4),
           "documents_per_second_per_core": round(len(paths) / med, 1), "ms_per_document": round(1000 * med / len(paths), 2)}
    if paths[0].suffix.lower() == ".pdf":
        import pypdfium2

        pages = sum(len(pypdfium2.PdfDocument(str(p))) for p in paths)
        out.update(pages=pages, ms_per_page=round(1000 * med / pages, 1))
    return out


def timed_build(raw: Path, wh: Path, workers: int) -> dict:
    """One ``xxgk run`` in a fresh Python process (imports included, as a user runs it): wall time, stages, memory."""
    import subprocess

    start, spawned = time.perf_counter(), time.time()
    proc = subprocess.run([sys.executable, __file__, "--one-build", str(raw), str(wh), str(workers)],
                          capture_output=True, text=True, env={**os.environ, "XXGK_PROGRESS": "0"})
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"xxgk run failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["stages_wall_seconds"]["python_startup"] = round(out.pop("started_at") - spawned, 2)
    out["stages_wall_seconds"]["python_exit"] = round(wall - (out.pop("ended_at") - spawned), 2)
    out["seconds"] = round(wall, 2)
    published = out.pop("published_at")
    out["published_after_seconds"] = None if published is None else round(published - spawned, 2)
    return out


def cli_run(raw: Path, wh: Path, workers: int) -> dict:
    """``xxgk run`` itself in a fresh process, as a user runs it: wall and CPU seconds (for the unchanged reruns, whose
    fast path starts no Dagster run at all)."""
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).with_name("xxgk")), "run", "--raw", str(raw), "--warehouse", str(wh),
                           "--workers", str(workers), "--quiet"], capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"xxgk run failed:\n{proc.stderr[-3000:]}")
    return {"seconds": round(wall, 2), "cpu_seconds": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
            "skipped": "nothing changed" in proc.stdout, "command": "xxgk run"}


def one_build(raw: Path, wh: Path, workers: int) -> dict:
    """Inside the fresh process: run the pipeline and read the stage breakdown from the Dagster event log."""
    start, epoch = time.perf_counter(), time.time()
    import dagster as dg

    from pipelines.runner import run_pipeline

    instance = dg.DagsterInstance.ephemeral()
    published_at, published_cpu = [], []  # when the merged warehouse was published (renamed), before GX and the report

    def published():
        published_at.append(time.time())
        published_cpu.append(cpu_of_tree())  # CPU seconds until then, every process: less sensitive to the load

    summary = run_pipeline(raw, wh, workers=workers, progress=False, instance=instance, on_published=published)
    wall = time.perf_counter() - start
    cpu_seconds = cpu_of_tree()  # the worker pool is still alive: its processes are counted here
    stages: dict[str, float] = {}
    cpu: dict[str, float] = {}
    runs = instance.get_runs()
    for run in runs:
        starts = {}
        for entry in instance.all_logs(run.run_id):
            ev = entry.dagster_event
            if ev is None:
                continue
            if ev.event_type_value == "STEP_START":
                starts[ev.step_key] = entry.timestamp
            elif ev.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and ev.step_key in starts:
                key = ev.step_key
                stage = STAGE_OF_STEP.get(key, "units" if key.startswith("process_report_year.process_units") else key)
                stages[stage] = stages.get(stage, 0.0) + entry.timestamp - starts[key]
            elif ev.event_type_value == "ASSET_MATERIALIZATION":
                meta = ev.event_specific_data.materialization.metadata
                if "cpu_seconds_by_stage" in meta:
                    cpu = meta["cpu_seconds_by_stage"].value
    stages = {k: round(v, 2) for k, v in stages.items()}
    stages["orchestration_and_imports"] = round(wall - sum(stages.values()), 2)
    return {"seconds": round(wall, 2), "started_at": epoch, "ended_at": time.time(),
            "published_at": published_at[0] if published_at else None,
            "published_cpu_seconds": round(published_cpu[0], 2) if published_cpu else None,
            "stages_wall_seconds": stages, "unit_cpu_seconds": cpu, "dagster_runs": len(runs),
            "cpu_seconds": round(cpu_seconds, 2),
            "skipped": "nothing changed" in summary,
            "peak_rss_mb": {"process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}}


def cpu_of_tree() -> float:
    """CPU seconds of this process and every process under it: the live ones (the extraction worker pool, its
    forkserver) and those that ended and were waited for (replaced workers)."""
    import psutil

    def spent(p: psutil.Process) -> float:
        t = p.cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    me = psutil.Process()
    total = spent(me)
    for child in me.children(recursive=True):
        try:
            total += spent(child)
        except psutil.Error:
            pass
    return total


def median_of(results: list[dict]) -> dict:
    best = sorted(results, key=lambda r: r["seconds"])[len(results) // 2]
    return {**best, "runs_seconds": [r["seconds"] for r in results]}


def bundled(raw: Path, scratch: Path, workers: int, repeat: int) -> dict:
    """Full build, unchanged reruns and one new report on the bundled samples."""
    from pipelines.warehouse.stamp import STAMP

    local_raw, wh = scratch / "raw", scratch / "warehouse"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(raw, local_raw)
    out = {"documents": len([p for p in local_raw.rglob("*") if p.is_file() and p.suffix.lower() != ".csv"]) - 1}
    out["full_build"] = timed_build(local_raw, wh, workers)
    out["unchanged_rerun"] = median_of([cli_run(local_raw, wh, workers) for _ in range(repeat)])
    runs = []
    for _ in range(repeat):
        (wh / STAMP).unlink(missing_ok=True)
        runs.append(timed_build(local_raw, wh, workers))
    out["unchanged_rerun_through_dagster"] = median_of(runs)
    runs = []
    donors = sorted((local_raw / "incoming").glob("*2023*.txt"))[:repeat] or sorted((local_raw / "incoming").glob("*.txt"))[:repeat]
    for i, donor in enumerate(donors):
        shutil.copy2(donor, local_raw / "incoming" / f"zz_new_{i}_{donor.name}")
        runs.append(timed_build(local_raw, wh, workers))
    out["one_new_report"] = median_of(runs)
    return out


def synthetic(n: int, scratch: Path, workers: int, repeat: int) -> dict:
    """The synthetic region with ~n reports in one report year: full rebuild and incremental changes."""
    from pipelines.synth import generate

    raw, wh = scratch / "raw", scratch / "warehouse"
    shutil.rmtree(scratch, ignore_errors=True)
    per_district = max(100, -(-n // 25))  # synth uses a real prefecture: at most a few dozen counties
    start = time.perf_counter()
    summary = generate(raw, districts=max(1, round(n / per_district)), bodies_per_district=per_district - 1, years=(2023,), seed=3)
    out = {"documents": summary.documents, "workers": workers, "generate_seconds": round(time.perf_counter() - start, 1)}
    out["full_rebuild"] = timed_build(raw, wh, workers)
    out["unchanged_rerun"] = median_of([cli_run(raw, wh, workers) for _ in range(repeat)])
    year = raw / "2023"
    donors = sorted(year.glob("*.html"))[:repeat]
    runs = []
    for i, donor in enumerate(donors):
        shutil.copy2(donor, year / f"zz_new_{i}.html")
        runs.append(timed_build(raw, wh, workers))
    out["one_new_report"] = median_of(runs)
    runs = []
    for i in range(repeat):
        target = year / f"zz_new_{i}.html"
        target.write_text(target.read_text(encoding="utf-8").replace("</body>", f"<p>修订 {i}</p></body>"), encoding="utf-8")
        runs.append(timed_build(raw, wh, workers))
    out["one_changed_report"] = median_of(runs)
    runs = []
    for i in range(repeat):
        (year / f"zz_new_{i}.html").unlink()
        runs.append(timed_build(raw, wh, workers))
    out["one_removed_report"] = median_of(runs)
    out["duckdb_file_mb"] = round((wh / "xxgk.duckdb").stat().st_size / 2**20, 1)
    return out


def markdown(engine: dict) -> str:
    """README's benchmark tables from the ``engine`` results."""
    def run(section, name):
        r = engine.get(section, {}).get(name)
        if not r:
            return "–"
        text = f"{r['seconds']:.1f} s"
        if r.get("published_after_seconds") and r["published_after_seconds"] < r["seconds"] - 0.5:
            text += f" (published after {r['published_after_seconds']:.1f} s)"
        return text + f", {r['cpu_seconds']:.1f} s CPU" if r.get("cpu_seconds") else text

    syn = engine.get("synthetic", {})
    n = syn.get("documents", 0)
    lines = ["| what | before | now (median) |", "|---|---|---|"]
    for fmt, r in engine.get("extraction", {}).items():
        lines.append(f"| extraction, {fmt} ({r['documents']} bundled documents, CPU) | "
                     f"{BEFORE['extraction_ms_per_document'].get('pdf' if fmt == 'pdf' else 'docx' if fmt == 'docx' else 'txt/md/html')} "
                     f"ms/doc | {r['ms_per_document']} ms/doc, {r['documents_per_second_per_core']} docs/s/core"
                     + (f", {r['ms_per_page']} ms/page" if "ms_per_page" in r else "") + " |")
    lines += [
        f"| bundled samples ({engine['bundled']['documents']}), full build | – | {run('bundled', 'full_build')} |",
        f"| bundled samples, unchanged rerun (target < 2 s) | {BEFORE['bundled_unchanged_rerun_s']} | {run('bundled', 'unchanged_rerun')} |",
        f"| bundled samples, unchanged rerun through Dagster (no record of the last run) | – | {run('bundled', 'unchanged_rerun_through_dagster')} |",
        f"| bundled samples, one new report | – | {run('bundled', 'one_new_report')} |",
    ]
    if syn:
        before = {10005: ("synthetic_10k_full_rebuild_s", "synthetic_10k_one_new_report_s")}.get(n, (None, None))
        lines += [
            f"| synthetic, {n:,} reports, full rebuild | {BEFORE.get(before[0], BEFORE['synthetic_100k_full_rebuild_s']) if before[0] or n >= 100000 else '–'} s | {run('synthetic', 'full_rebuild')} |",
            f"| synthetic, unchanged rerun | {BEFORE['synthetic_10k_unchanged_rerun_s'] if n < 20000 else '–'} s | {run('synthetic', 'unchanged_rerun')} |",
            f"| synthetic, one new report | {BEFORE.get(before[1], '–') if before[1] else '–'} s | {run('synthetic', 'one_new_report')} |",
            f"| synthetic, one changed report | – | {run('synthetic', 'one_changed_report')} |",
            f"| synthetic, one removed report | – | {run('synthetic', 'one_removed_report')} |",
        ]
        full = syn["full_rebuild"]
        lines += ["", f"Stages of the {n:,}-report full rebuild (wall seconds of the Dagster steps; the units' CPU seconds summed "
                      "over the processes):", "", "| stage | wall s | CPU s | CPU ms/report |", "|---|---|---|---|"]
        cpu = full.get("unit_cpu_seconds", {})
        for stage, wall in full["stages_wall_seconds"].items():
            lines.append(f"| {stage} | {wall} | | |")
        for stage, sec in cpu.items():
            lines.append(f"| units: {stage} | | {sec:.1f} | {1000 * sec / n:.2f} |")
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--one-build":
        print(json.dumps(one_build(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))))
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "--table":  # README's tables from a results file
        print(markdown(json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))["engine"]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", type=Path, default=ROOT / "raw")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--synthetic", type=int, default=100_000, help="documents of the synthetic run (0: skip it)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    ap.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "xxgk-benchmark")
    ap.add_argument("--keep", action="store_true", help="keep the scratch landing zones and warehouses (to profile them)")
    args = ap.parse_args()

    from pipelines.extract import PARSER_VERSION

    result = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) or "benchmark.py",
        "parser_version": PARSER_VERSION,
        "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "before": BEFORE,
        "extraction": {},
    }
    for name, suffixes in FORMATS.items():
        paths = documents(args.raw, suffixes) + documents(ROOT / "tests" / "data" / "fixtures", suffixes)
        if paths:
            result["extraction"][name] = extraction(paths, args.repeat)
            print(f"extraction {name:5s} {result['extraction'][name]}", flush=True)
    # the re-rendered shapes of every truth document: benchmarks/extract_text.py (key "extraction_text")
    result["complete"] = False  # until the last phase: each phase's figures are written as soon as it ends
    save(args.out, result)
    result["bundled"] = bundled(args.raw, args.scratch / "bundled", args.workers, args.repeat)
    print("bundled", json.dumps({k: v.get("seconds", v) if isinstance(v, dict) else v for k, v in result["bundled"].items()}), flush=True)
    save(args.out, result)
    if args.synthetic:
        result["synthetic"] = synthetic(args.synthetic, args.scratch / "synthetic", args.workers, args.repeat)
        print("synthetic", json.dumps({k: v.get("seconds", v) if isinstance(v, dict) else v for k, v in result["synthetic"].items()}),
              flush=True)
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["complete"] = True
    if not args.keep:
        shutil.rmtree(args.scratch, ignore_errors=True)
    save(args.out, result)
    print(f"written to {args.out} (key 'engine')" + (f"; scratch kept in {args.scratch}" if args.keep else ""))
    return 0


def save(out: Path, result: dict) -> None:
    """Write ``result`` as the key ``engine`` of the results file (the other benchmarks' keys kept)."""
    merged = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    merged = {k: v for k, v in merged.items() if k not in ("when", "parser_version", "machine", "extraction", "pipeline")}
    merged["engine"] = result
    out.write_text(json.dumps(merged, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
