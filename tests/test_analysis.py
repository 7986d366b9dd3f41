"""The stored analysis tables and the views on them: the same rows as the views they replace, kept in step
with every load (incrementally, as a full rebuild would), filters that reach the table scans, and the SQL
examples of README returning what README prints."""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner

from conftest import RAW, ROOT
from legacy_views import compare_with_legacy
from readme_examples import readme_sql_examples
from pipelines.cli import main
from pipelines.registry import load_registry
from pipelines.runner import run_pipeline
from pipelines.warehouse.facts import ANALYSIS_TABLES, REQUEST_MEASURES, STATE_TABLE, refresh_analysis
from pipelines.warehouse.replicate import COPIED_ONCE, REPORT_TABLES, replicate
from pipelines.warehouse.store import BOOKKEEPING_TABLES, OUT_TABLES, _ensure_tables
from pipelines.warehouse.views import VIEWS

ROW_GROUP = 2048  # DuckDB's smallest row group: small tables span many, so pruning shows in the plans
COMPARED = (*ANALYSIS_TABLES, "out_region_rollups")


@pytest.fixture(scope="session")
def samples(tmp_path_factory, worker_id):
    """The warehouse `make run` builds: every bundled sample of raw/, loaded year by year (so refreshed incrementally).

    Built once for all test processes (pytest-xdist workers share the parent of their temporary directories);
    tests only read it, or copy it first."""
    root = tmp_path_factory.getbasetemp()
    root = root.parent if worker_id != "master" else root
    wh = root / "samples-warehouse"
    with open(root / "samples-warehouse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (wh / "done").exists():
            shutil.rmtree(wh, ignore_errors=True)
            run_pipeline(RAW, wh, workers=1, progress=False, instance=dg.DagsterInstance.ephemeral())
            (wh / "done").touch()
    return wh


def _copy(samples: Path, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name / "xxgk.duckdb"
    path.parent.mkdir(parents=True)
    shutil.copyfile(samples / "xxgk.duckdb", path)
    return path


def _differences(a: Path, b: Path) -> dict[str, int]:
    """Rows of each analysis table in one database and not the other (both ways)."""
    con = duckdb.connect(str(a), read_only=True)
    try:
        con.execute(f"ATTACH '{b}' AS other (READ_ONLY)")
        return {t: con.execute(f"SELECT (SELECT count(*) FROM (FROM main.{t} EXCEPT ALL FROM other.{t})) + "
                               f"(SELECT count(*) FROM (FROM other.{t} EXCEPT ALL FROM main.{t}))").fetchone()[0]
                for t in COMPARED}
    finally:
        con.close()


def test_views_return_what_the_views_on_main_returned(samples, tmp_path):
    """Every documented view and out_region_rollups: row for row what the pivoting views and the one-shot roll-up SQL
    of main (tests/data/views_main.sql) give on the same warehouse."""
    differences = compare_with_legacy(samples / "xxgk.duckdb", tmp_path)
    assert set(differences) >= set(VIEWS) - {"analysis_reports"}
    assert differences == dict.fromkeys(differences, 0)
    con = duckdb.connect(str(samples / "xxgk.duckdb"), read_only=True)
    try:
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COMPARED}
    finally:
        con.close()
    assert all(counts.values()), counts  # nothing compared empty


def test_incremental_refresh_equals_full_rebuild(samples, tmp_path):
    """Reports deleted, moved to another body and re-valued, refreshed by id, and one quarantined without being named:
    the analysis tables and roll-ups equal a rebuild from scratch; an edited agency registry rebuilds everything."""
    inc, full = _copy(samples, tmp_path, "incremental"), _copy(samples, tmp_path, "full")
    changes = [
        # a child report of a region with roll-ups: its values change
        "UPDATE cells SET value = value + 7 WHERE value IS NOT NULL AND report_id = "
        "(SELECT min(r.report_id) FROM published_reports r JOIN agencies a USING (agency_id) "
        " WHERE a.parent_id IN (SELECT region_id FROM out_region_rollups))",
        # a report counted by the analyst views is quarantined
        "UPDATE reports SET status = 'quarantined' WHERE report_id = (SELECT max(report_id) FROM analysis_reports)",
        # a report is removed
        "DELETE FROM cells WHERE report_id = (SELECT min(report_id) FROM published_reports WHERE scope = 'region_aggregate')",
        "DELETE FROM reports WHERE report_id NOT IN (SELECT report_id FROM cells) AND status LIKE 'published%' "
        "AND scope = 'region_aggregate'",
        # a report moves to another body (another region)
        "UPDATE reports SET agency_id = (SELECT min(agency_id) FROM agencies WHERE parent_id IS NULL) "
        "WHERE report_id = (SELECT min(report_id) FROM published_reports WHERE agency_id IS NOT NULL AND scope = 'agency')",
    ]
    touched = set()
    for path in (inc, full):
        con = duckdb.connect(str(path))
        try:
            before = {r[0]: r[1:] for r in con.execute("SELECT report_id, status, agency_id FROM reports").fetchall()}
            values = dict(con.execute("SELECT report_id, sum(value) FROM cells GROUP BY 1").fetchall())
            for statement in changes:
                con.execute(statement)
            after = {r[0]: r[1:] for r in con.execute("SELECT report_id, status, agency_id FROM reports").fetchall()}
            new_values = dict(con.execute("SELECT report_id, sum(value) FROM cells GROUP BY 1").fetchall())
            touched = {i for i in before.keys() | after.keys() if before.get(i) != after.get(i) or values.get(i) != new_values.get(i)}
            # the quarantined report is not named: leaving analysis_reports is found by the refresh itself
            quarantined = {i for i in touched if after.get(i, (None,))[0] == "quarantined"}
            if path == full:
                con.execute(f"DELETE FROM {STATE_TABLE}")  # forget what was computed: rebuild everything
            con.execute("BEGIN")
            result = refresh_analysis(con, sorted(touched - quarantined))
            con.execute("COMMIT")
            assert result["full"] == (path == full)
        finally:
            con.close()
    assert len(touched) == 4 and len(quarantined) == 1
    differences = _differences(inc, full)
    assert differences == dict.fromkeys(COMPARED, 0), differences

    con = duckdb.connect(str(inc))
    try:
        agency = con.execute("SELECT min(f.agency_id) FROM fact_reports f JOIN fact_t3 USING (report_id)").fetchone()[0]
        con.execute("UPDATE agencies SET region_code = '990000' WHERE agency_id = ?", [agency])
        con.execute("BEGIN")
        assert refresh_analysis(con, [])["full"]
        con.execute("COMMIT")
        assert con.execute("SELECT DISTINCT fact_t3.region_code FROM fact_t3 JOIN fact_reports USING (report_id) "
                           "WHERE agency_id = ?", [agency]).fetchall() == [("990000",)]
    finally:
        con.close()


def test_a_table_that_drifted_from_the_registry_is_rebuilt(samples, tmp_path):
    """An analysis table whose columns differ from the registry (an older layout) is dropped, recreated and refilled."""
    path = _copy(samples, tmp_path, "drift")
    con = duckdb.connect(str(path))
    try:
        rows = con.execute("SELECT count(*) FROM fact_t3").fetchone()[0]
        con.execute("DROP TABLE fact_t3")
        con.execute("CREATE TABLE fact_t3 (report_id VARCHAR, total DOUBLE)")
        con.execute("BEGIN")
        _ensure_tables(con)
        assert refresh_analysis(con, [])["full"]
        con.execute("COMMIT")
        assert [r[0] for r in con.execute("DESCRIBE fact_t3").fetchall()] == [c.name for c in load_registry().table("fact_t3")]
        assert con.execute("SELECT count(*) FROM fact_t3").fetchone()[0] == rows
    finally:
        con.close()


def test_stored_tables_and_views_match_the_registry(samples):
    """Every analysis table has the registry's columns; every view in the warehouse is documented, and every documented view exists."""
    con = duckdb.connect(str(samples / "xxgk.duckdb"), read_only=True)
    try:
        for table in ANALYSIS_TABLES:
            assert [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()] == [c.name for c in load_registry().table(table)]
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'").fetchall()}
        assert views == set(VIEWS)
    finally:
        con.close()
    described = {c.name: c.description for c in load_registry().table("fact_reports")}
    for measure, codes in REQUEST_MEASURES.items():
        assert all(code in described[measure] for code in codes), measure


# ---- filters reach the scans ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def spread(samples, tmp_path_factory):
    """The samples copied 30 times (other ids, bodies, provinces; every 7th report quarantined) into row groups of 2,048
    rows, analysis tables rebuilt: a warehouse whose tables span many row groups, sorted as the loads sort them."""
    path = tmp_path_factory.mktemp("spread") / "xxgk.duckdb"
    con = _attach(path)
    try:
        con.execute("BEGIN")
        _ensure_tables(con)
        con.execute("COMMIT")
        replicate(samples / "xxgk.duckdb", con, 30, quarantine_every=7)
        con.execute("BEGIN")
        refresh_analysis(con, [])
        con.execute("COMMIT")
        # the samples have no region printing an aggregate of registered children: pretend some do, so that
        # v_rollup_vs_reported has rows to scan
        con.execute("UPDATE out_region_rollups SET aggregate_report_id = region_id WHERE hash(region_id) % 3 = 0")
    finally:
        con.close()
    return path


def test_replicate_copies_every_table(samples, spread):
    """Every table of the warehouse is copied by ``replicate`` (report tables once per copy, the registry once) or
    computed from the copies (analysis tables, roll-ups): a table added to the warehouse cannot be forgotten."""
    con = duckdb.connect(str(spread), read_only=True)
    try:
        con.execute(f"ATTACH '{samples / 'xxgk.duckdb'}' AS src (READ_ONLY)")
        tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'").fetchall()}
        computed = {*ANALYSIS_TABLES, *OUT_TABLES, STATE_TABLE, *BOOKKEEPING_TABLES}
        assert tables - computed == {*REPORT_TABLES, *COPIED_ONCE}
        for table in tables - computed:
            n = con.execute(f'SELECT count(*) FROM src."{table}"').fetchone()[0]
            assert con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == n * (1 if table in COPIED_ONCE else 30), table
    finally:
        con.close()


def _attach(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"ATTACH '{path}' AS w (ROW_GROUP_SIZE {ROW_GROUP})")
    con.execute("USE w")
    return con


def _scans(con: duckdb.DuckDBPyConnection, sql: str, profile: Path) -> list[dict]:
    """The table scans of the query's EXPLAIN ANALYZE profile: table, filters, rows scanned."""
    con.execute("PRAGMA enable_profiling = 'json'")
    con.execute(f"PRAGMA profiling_output = '{profile}'")
    con.execute(sql).fetchall()
    con.execute("PRAGMA disable_profiling")
    out = []

    def walk(node):
        if node.get("type") == "TABLE_SCAN":
            info = node["extra_info"]
            filters = info.get("Filters", [])
            out.append({"table": info["Table"].rsplit(".", 1)[-1], "rows": node["rows_scanned"],
                        "filters": " ".join(filters) if isinstance(filters, list) else filters})
        for child in node.get("children", []):
            walk(child)

    for node in json.loads(profile.read_text())["operator"]:
        walk(node)
    return out


def test_documented_views_read_only_the_rows_a_filter_asks_for(spread, tmp_path):
    """For every documented view filtered by report year, by year and region, and by code: the filter reaches the scan of
    every table read, and no scan reads more than the rows of that year (and region) plus a row group either side."""
    con = _attach(spread)
    try:
        checked = 0
        for view in VIEWS:
            columns = {r[0] for r in con.execute(f"DESCRIBE {view}").fetchall()}
            source = view if con.execute(f"SELECT count(*) FROM {view}").fetchone()[0] else "fact_reports"  # an empty view
            year = con.execute(f"SELECT report_year FROM {source} GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
            cases = [{"report_year": year}]
            if "region_code" in columns:
                region = con.execute(f"SELECT region_code FROM {source} WHERE report_year = ? AND region_code IS NOT NULL "
                                     "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1", [year]).fetchone()[0]
                cases.append({"report_year": year, "region_code": region})
            for code_column in {"code", "row_key"} & columns:
                code = con.execute(f"SELECT min({code_column}) FROM {view}").fetchone()[0] or "t3.new_received.total"
                cases.append({code_column: code})
            for case in cases:
                where = " AND ".join(f"{k} = {v!r}" for k, v in case.items())
                scans = _scans(con, f"SELECT * FROM {view} WHERE {where}", tmp_path / "profile.json")
                assert scans, (view, where)
                for scan in scans:
                    table_columns = {r[0] for r in con.execute(f"DESCRIBE {scan['table']}").fetchall()}
                    # the 统计表 branch of v_refusal_reasons shows its code as row_key
                    rename = {"row_key": "code"} if scan["table"] == "fact_old" else {}
                    pushed = {rename.get(k, k): v for k, v in case.items() if rename.get(k, k) in table_columns}
                    for k, v in pushed.items():  # in the scan, unless every row of the table matches anyway
                        others = con.execute(f"SELECT count(*) FROM {scan['table']} WHERE {k} IS DISTINCT FROM ?", [v]).fetchone()[0]
                        assert k in scan["filters"] or not others, (view, where, scan)
                    sliced = " AND ".join(f"{k} = {v!r}" for k, v in pushed.items() if k in ("report_year", "region_code"))
                    need = con.execute(f"SELECT count(*) FROM {scan['table']}" + (f" WHERE {sliced}" if sliced else "")).fetchone()[0]
                    assert scan["rows"] <= need + 2 * ROW_GROUP, (view, where, scan, need)
                    checked += 1
        assert checked > 40
    finally:
        con.close()


# ---- README ---------------------------------------------------------------------------------------------------------

def test_readme_sql_examples_return_what_readme_prints(samples):
    """Every README SQL example, run on the warehouse of the bundled samples, prints exactly what README shows.

    With XXGK_UPDATE_README=1 the outputs in README are rewritten instead (after a change that alters them on purpose)."""
    examples = readme_sql_examples()
    assert len(examples) >= 6
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command, printed in examples:
        args = shlex.split(command)[1:]
        result = CliRunner().invoke(main, [*args, "--warehouse", str(samples)])
        assert result.exit_code == 0, (command, result.output)
        if os.environ.get("XXGK_UPDATE_README") == "1":
            readme = readme.replace(f"{command}\n```\n\n```\n{printed}```", f"{command}\n```\n\n```\n{result.output}```")
            continue
        assert [ln.rstrip() for ln in result.output.splitlines()] == [ln.rstrip() for ln in printed.splitlines()], command
    if os.environ.get("XXGK_UPDATE_README") == "1":
        (ROOT / "README.md").write_text(readme, encoding="utf-8")


def test_an_unchanged_rerun_still_refreshes_stale_analysis_tables(samples, tmp_path):
    """Analysis tables computed by other code (here: a stale fingerprint) are rebuilt by the next load even when no
    partition changed; with current tables the rerun writes nothing."""
    from pipelines.runner import warehouse_config
    from pipelines.warehouse.facts import analysis_current
    from pipelines.warehouse.loader import load

    wh = tmp_path / "warehouse"
    shutil.copytree(samples, wh)
    key = "2023"
    cfg = warehouse_config(RAW, wh, workers=1, progress=False)
    assert analysis_current(wh / "xxgk.duckdb")
    before = (wh / "xxgk.duckdb").stat().st_mtime_ns
    assert load(cfg, [key]) == {key: {"skipped": True}} and (wh / "xxgk.duckdb").stat().st_mtime_ns == before
    con = duckdb.connect(str(wh / "xxgk.duckdb"))
    con.execute(f"UPDATE {STATE_TABLE} SET value = 'computed by an older xxgk'")
    con.close()
    assert not analysis_current(wh / "xxgk.duckdb")
    load(cfg, [key])
    assert analysis_current(wh / "xxgk.duckdb")
