"""National scale: a warehouse of 1,000,000 reports (the 10k synthetic warehouse copied 100 times), every documented
view and every README SQL example timed cold and warm, through ``xxgk sql`` and through DuckDB directly, with peak
memory; the stored analysis tables built and refreshed at that size; on the 10k warehouse, today's views checked
row for row against the views of main (tests/data/views_main.sql).

Usage: ``.venv/bin/python benchmarks/national.py [--scratch /tmp/xxgk-national] [--copies 100] [--keep]``
(``make benchmark-national``). Writes the key ``national`` of benchmarks/results.json and prints the README table.
The 10k base is ``xxgk synth`` (21 districts of 95 bodies, 5 report years: 10,000 reports) + ``xxgk run``; the
copies are made in SQL (no extraction), every 10th copied report marked quarantined so joins and filters meet a
realistic mix. Files stay in --scratch (about 3 GB) and are deleted at the end unless --keep. DuckDB is capped at
--memory-limit. Not a test: nothing here passes or fails. Figures taken while other work runs are noisy; the
load average is recorded with them.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import duckdb  # noqa: E402  (the package is imported where needed: the timing children stay lean)

XXGK = str(Path(sys.executable).parent / "xxgk")
YEARS = (2018, 2019, 2021, 2023, 2024)
YEAR, PROVINCE = 2023, "35"  # the slice timed for every view: a report year it holds, one province (copy 35)


def all_queries(db: Path) -> list[dict]:
    """Every timed query: two per documented view (one province's rows for a year, every column fetched; the whole
    view counted by year), then the README examples (their SQL and xxgk sql arguments)."""
    from pipelines.warehouse.views import VIEWS
    from readme_examples import readme_sql_examples

    con = duckdb.connect(str(db), read_only=True)
    out = []
    try:
        for view in VIEWS:
            columns = {r[0] for r in con.execute(f"DESCRIBE {view}").fetchall()}
            years = [r[0] for r in con.execute(f"SELECT DISTINCT report_year FROM {view} ORDER BY 1").fetchall()]
            year = YEAR if YEAR in years or not years else years[0]
            # the province by region code, else by the copy prefix of report_id (a directory of raw/)
            where = f"region_code LIKE '{PROVINCE}%'" if "region_code" in columns else f"report_id LIKE 'n{PROVINCE}/%'"
            out.append({"name": f"{view}: one province, {year}", "args": [],
                        "sql": f"SELECT * FROM {view} WHERE report_year = {year} AND {where}"})
            out.append({"name": f"{view}: whole view by year", "args": [],
                        "sql": f"SELECT report_year, count(*) FROM {view} GROUP BY ALL ORDER BY 1"})
    finally:
        con.close()
    for command, _ in readme_sql_examples():
        args = shlex.split(command)[2:]  # after .venv/bin/xxgk sql
        out.append({"name": f"README: {args[-1]}", "sql": args[-1], "args": args[:-1]})
    return out


# ---- timing ---------------------------------------------------------------------------------------------------------

def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM: reset by exec, unlike getrusage's maxrss)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def _direct(db: str, sql: str, memory_limit: str, repeat: int) -> None:
    """(in a child process) one query: the first run in a fresh process (cold), then ``repeat`` more (warm); every
    row fetched, as Arrow (building Python tuples of a big result would time Python, not the query)."""
    import pyarrow  # noqa: F401  (imported before the clock starts)

    con = duckdb.connect(db, read_only=True, config={"memory_limit": memory_limit})
    con.execute("SET enable_progress_bar = false")
    times, rows = [], 0
    for _ in range(1 + repeat):
        start = time.perf_counter()
        rows = con.sql(sql).to_arrow_table().num_rows
        times.append(time.perf_counter() - start)
    print(json.dumps({"cold": times[0], "warm": statistics.median(times[1:]), "rows": rows,
                      "peak_mb": _peak_mb()}))


def _run_child(cmd: list[str]) -> tuple[float, float, float, bytes]:
    """Wall seconds, CPU seconds (user + system), peak resident memory in MB of that child alone, its standard output.

    Started through GNU time: a child started straight from this (big) process would inherit its peak memory."""
    with tempfile.NamedTemporaryFile("r") as peak:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", peak.name, *cmd], capture_output=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{shlex.join(cmd)} failed: {proc.stderr.decode(errors='replace')[-500:]}")
        kb, user, system = peak.read().split()[-3:]
    return wall, float(user) + float(system), int(kb) / 1024, proc.stdout


def time_direct(db: Path, sql: str, memory_limit: str, repeat: int) -> dict:
    """DuckDB directly (Python client, all rows fetched as Arrow): cold and warm seconds, peak memory of the process."""
    out = _run_child([sys.executable, __file__, "--direct", str(db), memory_limit, str(repeat), sql])[-1]
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in json.loads(out).items()}


def time_cli(warehouse: Path, args: list[str], sql: str, repeat: int) -> dict:
    """``xxgk sql`` (a new process each run, output discarded): the first run, the median of the next (wall and CPU
    seconds), peak memory."""
    runs = [_run_child([XXGK, "sql", "--warehouse", str(warehouse), *args, sql]) for _ in range(1 + repeat)]
    return {"first": round(runs[0][0], 3), "median": round(statistics.median(r[0] for r in runs[1:]), 3),
            "cpu_median": round(statistics.median(r[1] for r in runs[1:]), 3), "peak_mb": round(max(r[2] for r in runs))}


# ---- building -------------------------------------------------------------------------------------------------------

def build_base(scratch: Path) -> tuple[Path, dict]:
    """The 10k synthetic warehouse: `xxgk synth` + `xxgk run` (reused when already built in scratch)."""
    raw, wh = scratch / "raw10k", scratch / "wh10k"
    info = {}
    if not (wh / "xxgk.duckdb").exists():
        shutil.rmtree(raw, ignore_errors=True)
        shutil.rmtree(wh, ignore_errors=True)
        years = [a for y in YEARS for a in ("--year", str(y))]
        subprocess.run([XXGK, "synth", str(raw), "--districts", "21", "--bodies-per-district", "94", "--seed", "3", *years],
                       check=True, stdout=subprocess.DEVNULL)
        seconds, _, peak, _ = _run_child([XXGK, "run", "--raw", str(raw), "--warehouse", str(wh), "--quiet"])
        info = {"xxgk_run_seconds": round(seconds, 1), "xxgk_run_peak_mb": round(peak)}
    return wh, info


def build_national(base: Path, target: Path, copies: int, memory_limit: str, reuse: bool) -> dict:
    """The copies, then the analysis tables filled as one load would (one transaction), then incremental refreshes."""
    from pipelines.warehouse.facts import analysis_current, refresh_analysis
    from pipelines.warehouse.replicate import REPORT_TABLES, replicate
    from pipelines.warehouse.store import _transaction

    if not reuse:
        shutil.rmtree(target, ignore_errors=True)
    with _transaction(target):  # tables and views
        pass
    current = reuse and analysis_current(target / "xxgk.duckdb")
    con = duckdb.connect(str(target / "xxgk.duckdb"), config={"memory_limit": memory_limit})
    con.execute("SET enable_progress_bar = false")
    try:
        start = time.perf_counter()
        if reuse and con.execute("SELECT count(*) FROM reports").fetchone()[0]:
            rows = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in REPORT_TABLES}
        else:
            rows = replicate(base / "xxgk.duckdb", con, copies, quarantine_every=10)
        copied = time.perf_counter() - start
        start = time.perf_counter()
        full = None
        if not current:
            con.execute("BEGIN")
            refresh_analysis(con, [])
            con.execute("COMMIT")
            full = round(time.perf_counter() - start, 1)
        incremental = {}
        for n in (1, 1000):
            ids = [r[0] for r in con.execute(f"SELECT report_id FROM reports WHERE report_year = {YEAR} "
                                             f"ORDER BY hash(report_id) LIMIT {n}").fetchall()]
            start = time.perf_counter()
            con.execute("BEGIN")
            refresh_analysis(con, ids)
            incremental[f"{n}_reports_seconds"] = round(time.perf_counter() - start, 2)
            con.execute("ROLLBACK")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return {"rows": rows, "copy_seconds": round(copied, 1), "full_refresh_seconds": full,
            "incremental_refresh": incremental, "build_peak_mb": round(_peak_mb()),
            "database_gb": round((target / "xxgk.duckdb").stat().st_size / 1e9, 2)}


def readme_table(results: dict) -> str:
    """The README table: per query, DuckDB warm and cold, xxgk sql (wall and CPU), rows, the larger peak memory."""
    lines = ["| query | DuckDB warm | DuckDB cold | `xxgk sql` (CPU) | rows | peak memory |", "|---|---|---|---|---|---|"]
    for q in results["queries"]:
        d, c = q["direct"], q["cli"]
        lines.append(f"| {q['name']} | {d['warm']:.2f} s | {d['cold']:.2f} s | {c['median']:.2f} s ({c['cpu_median']:.2f} s) | "
                     f"{d['rows']:,} | {max(d['peak_mb'], c['peak_mb']) / 1024:.2f} GB |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/xxgk-national"))
    ap.add_argument("--copies", type=int, default=100)
    ap.add_argument("--memory-limit", default="3GB", help="DuckDB memory limit for building and direct queries")
    ap.add_argument("--repeat", type=int, default=3, help="warm runs per query")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    ap.add_argument("--keep", action="store_true", help="keep the warehouses in --scratch")
    ap.add_argument("--reuse", action="store_true", help="reuse the copies an earlier --keep run left in --scratch")
    args = ap.parse_args()
    results = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "load_average_start": os.getloadavg(),
               "cpu_count": os.cpu_count(), "memory_limit": args.memory_limit}
    from legacy_views import compare_with_legacy

    try:
        base, results["base"] = build_base(args.scratch)
        results["base"]["differences_from_main_views"] = compare_with_legacy(base / "xxgk.duckdb", args.scratch / "legacy")
        print("10k: rows differing from main's views:", results["base"]["differences_from_main_views"], flush=True)
        national = args.scratch / "wh1m"
        results["build"] = build_national(base, national, args.copies, args.memory_limit, args.reuse)
        print("1M:", results["build"], flush=True)
        db = national / "xxgk.duckdb"
        results["select_1_cli"] = time_cli(national, [], "SELECT 1", 9)
        results["queries"] = []
        for q in all_queries(db):
            q["direct"] = time_direct(db, q["sql"], args.memory_limit, args.repeat)
            q["cli"] = time_cli(national, q["args"], q["sql"], args.repeat)
            results["queries"].append(q)
            print(f"{q['name']:60s} direct {q['direct']}  xxgk sql {q['cli']}", flush=True)
        results["load_average_end"] = os.getloadavg()
    finally:
        if not args.keep:
            shutil.rmtree(args.scratch, ignore_errors=True)
    previous = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    previous["national"] = results
    args.out.write_text(json.dumps(previous, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(readme_table(results))
    print(f"written to {args.out} (key 'national')")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--direct":
        _direct(sys.argv[2], sys.argv[5], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(main())
