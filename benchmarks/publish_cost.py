"""What publishing the DuckDB file costs a run, on a warehouse of 100,000 reports.

Usage: ``.venv/bin/python benchmarks/publish_cost.py [--reports 100000] [--source WAREHOUSE] [--repeat 5]``.
Builds the bundled samples' warehouse (or takes ``--source``), replicates its readable reports
(every table keyed by report_id) into a DuckDB file of ``--reports`` reports, then times, with the
real ``pipelines.warehouse.publish``:

* ``copy``: the staged copy a run makes at its first write (reflink where the file system can);
* ``session_one_report``: a whole write session adding one report — lock, staged copy, one
  transaction, checkpoint, fsync, atomic rename — i.e. what publishing adds to a run.

Medians of ``--repeat``; written to ``benchmarks/results.json`` under ``publish`` (read-merge-write).
Not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from pipelines.warehouse import publish, store  # noqa: E402


def build(source: Path, target: Path, reports: int) -> int:
    """A warehouse of ``reports`` reports: the readable reports of ``source`` repeated under new ids."""
    target.mkdir(parents=True, exist_ok=True)
    db = publish.published_path(target)
    con = duckdb.connect(str(db), config={"storage_compatibility_version": publish.STORAGE_VERSION})
    try:
        con.execute(f"ATTACH '{publish.published_path(source)}' AS src (READ_ONLY)")
        templates = con.execute("SELECT count(*) FROM src.reports WHERE status <> 'rejected'").fetchone()[0]
        copies = -(-reports // templates)
        con.execute("CREATE TEMP TABLE ids AS SELECT report_id FROM src.reports WHERE status <> 'rejected'")
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'").fetchall():
            cols = [c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = 'src' "
                                              "AND table_name = ? ORDER BY column_index", [table]).fetchall()]
            if "report_id" in cols:
                con.execute(f'CREATE TABLE "{table}" AS SELECT * REPLACE (report_id || \'#\' || i AS report_id) '
                            f'FROM src."{table}" s, range({copies}) r(i) WHERE s.report_id IN (SELECT report_id FROM ids)')
            else:
                con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM src."{table}"')
        return templates * copies
    finally:
        con.close()


def timed(fn, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return {"median": round(statistics.median(runs), 3), "min": round(min(runs), 3), "runs": repeat}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=100_000)
    ap.add_argument("--source", type=Path, default=None, help="a built warehouse [default: build the bundled samples]")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="xxgk-publish-") as tmp:
        tmp = Path(tmp)
        source = args.source
        if source is None:
            from pipelines.runner import run_pipeline

            source = tmp / "samples"
            run_pipeline(ROOT / "raw", source, progress=False)
        wh = tmp / "big"
        n = build(source, wh, args.reports)
        db = publish.published_path(wh)
        size_mb = db.stat().st_size / 2**20

        copy = timed(lambda: publish._clone(db, tmp / "copy.duckdb"), args.repeat)

        def one_report():
            with publish.writer_session(wh), store._transaction(wh) as con:
                con.execute("INSERT INTO reports SELECT * REPLACE ('bench#' || gen_random_uuid() AS report_id) "
                            "FROM reports LIMIT 1")

        session = timed(one_report, args.repeat)
    result = {"reports": n, "database_mb": round(size_mb, 1), "copy_seconds": copy, "session_one_report_seconds": session,
              "note": "loaded shared machine (2 cores); ext4 without reflink, so the copy is a byte copy"}
    results = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    results["publish"] = result
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
