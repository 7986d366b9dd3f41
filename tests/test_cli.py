"""The command line: every command has help and is documented in README; SQL output formats."""

from __future__ import annotations

import json

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
