"""The command line: every command has help and is documented in README; SQL output formats."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import ROOT
from pipelines.cli import main

COMMANDS = sorted(main.commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_command_has_help_and_readme_entry(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and len(result.output) > 80
    assert f"xxgk {command}" in (ROOT / "README.md").read_text(encoding="utf-8"), f"README does not document xxgk {command}"


def test_sql_formats(tmp_path):
    import duckdb

    wh = tmp_path / "wh"
    wh.mkdir()
    con = duckdb.connect(str(wh / "xxgk.duckdb"))
    con.execute("CREATE TABLE t AS SELECT 1 AS a, '平潭' AS b")
    con.close()
    runner = CliRunner()
    assert runner.invoke(main, ["sql", "--warehouse", str(wh), "--format", "csv", "SELECT * FROM t"]).output == "a,b\n1,平潭\n"
    assert json.loads(runner.invoke(main, ["sql", "--warehouse", str(wh), "--format", "json", "SELECT * FROM t"]).output) == [{"a": 1, "b": "平潭"}]
    table = runner.invoke(main, ["sql", "--warehouse", str(wh), "SELECT * FROM t"]).output
    assert "平潭" in table and "(1 row)" in table
    denied = runner.invoke(main, ["sql", "--warehouse", str(wh), "DELETE FROM t"])
    assert denied.exit_code != 0 and "read-only" in denied.output
    missing = runner.invoke(main, ["sql", "--warehouse", str(tmp_path / "nowhere"), "SELECT 1"])
    assert missing.exit_code != 0 and "xxgk run" in missing.output


def test_dagster_definitions_load():
    from pipelines.definitions import defs

    repo = defs.get_repository_def()
    assert {"build_report_year", "regional_rollup"} <= {j.name for j in repo.get_all_jobs()}
    assert {"raw_changes", "regional_rollup_after_load"} <= {s.name for s in repo.sensor_defs}
    assert [s.cron_schedule for s in repo.schedule_defs] == ["0 2 * * *"]


@pytest.fixture
def small_warehouse(tmp_path):
    import duckdb

    wh = tmp_path / "wh"
    wh.mkdir()
    con = duckdb.connect(str(wh / "xxgk.duckdb"))
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1, 2, 'x'), (3, 4, 'y')) v(a, b, c)")
    con.close()
    return wh


READS = [
    "PIVOT t ON c USING sum(a)", "SELECT * FROM (PIVOT t ON c USING sum(a)) p", "WITH p AS (PIVOT t ON c USING sum(a)) FROM p",
    "UNPIVOT t ON a, b INTO NAME k VALUE v", "SUMMARIZE t", "FROM t", "FROM t SELECT a", "DESCRIBE t", "SHOW TABLES",
    "EXPLAIN SELECT 1", "EXPLAIN ANALYZE SELECT 1", "EXPLAIN PIVOT t ON c USING sum(a)", "VALUES (1)", "TABLE t",
    "/* a comment */ SELECT 1; SELECT 2",
]
WRITES = [
    "DELETE FROM t", "CREATE TEMP TABLE z AS SELECT 1", "CREATE TEMP TABLE z AS PIVOT t ON c USING sum(a)",
    "INSERT INTO t SELECT * FROM (PIVOT t ON c USING sum(a))", "WITH x AS (SELECT 1, 2, 'z') INSERT INTO t FROM x",
    "EXPLAIN ANALYZE CREATE TEMP TABLE z AS SELECT 1", "EXPLAIN ANALYZE INSERT INTO t VALUES (5, 5, 'z')",
    "COPY (PIVOT t ON c USING sum(a)) TO 'x.csv'", "SET memory_limit = '64GB'", "PRAGMA version", "CALL pragma_version()",
    "ATTACH ':memory:' AS m", "INSTALL httpfs", "LOAD httpfs", "CHECKPOINT", "SELECT 1; DROP TABLE t",
]


@pytest.mark.parametrize("query", READS)
def test_sql_runs_every_kind_of_query(small_warehouse, query):
    result = CliRunner().invoke(main, ["sql", "--warehouse", str(small_warehouse), query])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("query", WRITES)
def test_sql_refuses_every_write(small_warehouse, query):
    result = CliRunner().invoke(main, ["sql", "--warehouse", str(small_warehouse), query])
    assert result.exit_code != 0 and "read-only" in result.output, result.output


def test_sql_stops_at_its_time_and_memory_limits(small_warehouse):
    runner = CliRunner()
    slow = runner.invoke(main, ["sql", "--warehouse", str(small_warehouse), "--timeout", "0.5",
                                "SELECT count(*) FROM range(100000) a, range(100000) b, range(100000) c"])
    assert slow.exit_code != 0 and "time limit (0.5 s, 2GB)" in slow.output, slow.output
    big = runner.invoke(main, ["sql", "--warehouse", str(small_warehouse), "--memory-limit", "20MB",
                               "SELECT list(range) FROM range(10000000)"])
    assert big.exit_code != 0 and "memory" in big.output and "--memory-limit" in big.output, big.output
    bad = runner.invoke(main, ["sql", "--warehouse", str(small_warehouse), "--memory-limit", "lots", "SELECT 1"])
    assert bad.exit_code != 0 and "lots" in bad.output


def test_sql_from_a_file_and_csv_for_excel(small_warehouse, tmp_path):
    runner = CliRunner()
    query = tmp_path / "q.sql"
    query.write_text("-- 平潭\nSELECT c, a FROM t ORDER BY a;\n", encoding="utf-8")
    out = runner.invoke(main, ["sql", "--warehouse", str(small_warehouse), "--file", str(query), "--format", "csv", "--excel"])
    assert out.exit_code == 0 and out.stdout_bytes == "\ufeffc,a\nx,1\ny,3\n".encode()
    plain = runner.invoke(main, ["sql", "--warehouse", str(small_warehouse), "--file", "-", "--format", "csv"], input="SELECT 1 AS one")
    assert plain.output == "one\n1\n"
    assert runner.invoke(main, ["sql", "--warehouse", str(small_warehouse), "--excel", "SELECT 1"]).exit_code == 2
    assert runner.invoke(main, ["sql", "--warehouse", str(small_warehouse), "--file", str(query), "SELECT 1"]).exit_code == 2


def test_sql_table_cuts_wide_cells_by_their_width_on_screen(small_warehouse):
    from rich.cells import cell_len

    long = "x" * 300
    cjk = "福建省平潭综合实验区管理委员会政府信息公开工作年度报告" * 3
    out = CliRunner().invoke(main, ["sql", "--warehouse", str(small_warehouse), "--max-width", "30",
                                    f"SELECT '{long}' AS ascii, '{cjk}' AS chinese, 12345 AS n"]).output
    lines = out.splitlines()
    assert lines[0].split() == ["ascii", "chinese", "n"]
    assert "…" in lines[2] and long not in out and cjk not in out
    assert cell_len(lines[2]) <= 30 + 30 + 5 + 2 * 3
    many = CliRunner().invoke(main, ["sql", "--warehouse", str(small_warehouse), "--max-rows", "5", "SELECT * FROM range(12)"])
    assert len(many.output.splitlines()) == 2 + 5 + 1 and "(12 rows; first 5 shown" in many.output


def test_sql_does_not_import_the_heavy_libraries(small_warehouse):
    """`xxgk sql` starts fast: the query path imports duckdb, click and rich, not pandas, pyarrow, numpy or Dagster."""
    code = ("import sys\nfrom pipelines.cli import main\n"
            f"sys.argv = ['xxgk', 'sql', '--warehouse', {str(small_warehouse)!r}, 'SELECT 1']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy', 'dagster', 'great_expectations') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines()[-1] == "[]", proc.stdout


def test_sql_reads_the_last_published_warehouse_while_a_run_writes(small_warehouse, tmp_path):
    """Inside a write session (as `xxgk run` holds one) `xxgk sql` sees the published file, not the staged copy;
    before the first publish it says a run is writing the warehouse."""
    import duckdb

    from pipelines.warehouse.publish import writable, writer_session

    query = ["sql", "--format", "csv", "--warehouse", str(small_warehouse), "SELECT count(*) AS n FROM t"]
    with writer_session(small_warehouse, command="xxgk run"):
        with writable(small_warehouse) as staged:
            con = duckdb.connect(str(staged))
            con.execute("INSERT INTO t VALUES (5, 6, 'z')")
            con.close()
        assert CliRunner().invoke(main, query).output == "n\n2\n"
    assert CliRunner().invoke(main, query).output == "n\n3\n"  # published at the end of the session
    first = tmp_path / "first"
    with writer_session(first, command="xxgk run"):
        out = CliRunner().invoke(main, ["sql", "--warehouse", str(first), "SELECT 1"])
        assert out.exit_code == 1 and f"pid {os.getpid()}" in out.output and "publishes it when it ends" in out.output
