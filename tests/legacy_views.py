"""The views and roll-ups as they were defined before the stored analysis tables (tests/data/views_main.sql),
compared row for row with today's: used by tests/test_analysis.py on the bundled samples and by
benchmarks/national.py on the 10k synthetic warehouse."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb

LEGACY_SQL = Path(__file__).resolve().parent / "data" / "views_main.sql"


def legacy_statements() -> tuple[list[str], str]:
    """(CREATE VIEW statements, roll-up query) of tests/data/views_main.sql."""
    text = "\n".join(line for line in LEGACY_SQL.read_text(encoding="utf-8").splitlines() if not line.startswith("--"))
    parts = [p.strip() for p in text.split(";") if p.strip()]
    return [p for p in parts if p.startswith("CREATE")], next(p for p in parts if not p.startswith("CREATE"))


def compare_with_legacy(db: Path, scratch: Path) -> dict[str, int]:
    """Differences (rows in one result and not the other, both ways) per legacy view and for out_region_rollups.

    The legacy views are built in a copy of ``db`` and materialised there; today's views are read from ``db``
    restricted to the legacy view's columns (today's views may add columns, e.g. region_code).
    """
    views, rollup = legacy_statements()
    names = [re.match(r"CREATE OR REPLACE VIEW (\w+)", v).group(1) for v in views]
    scratch.mkdir(parents=True, exist_ok=True)
    copy = scratch / "legacy.duckdb"
    shutil.copyfile(db, copy)
    con = duckdb.connect(str(copy))
    try:
        for statement in views:
            con.execute(statement)
        for name in names:
            con.execute(f'CREATE TABLE "legacy__{name}" AS SELECT * FROM "{name}"')
        con.execute(f"CREATE TABLE legacy__out_region_rollups AS {rollup}")
        columns = {name: [d[0] for d in con.execute(f'SELECT * FROM "legacy__{name}" LIMIT 0').description]
                   for name in [*names, "out_region_rollups"]}
    finally:
        con.close()
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute(f"ATTACH '{copy}' AS legacy (READ_ONLY)")
        out = {}
        for name, cols in columns.items():
            select = ", ".join(f'"{c}"' for c in cols)
            new, old = f'SELECT {select} FROM main."{name}"', f'SELECT {select} FROM legacy."legacy__{name}"'
            out[name] = con.execute(
                f"SELECT (SELECT count(*) FROM ({new} EXCEPT ALL {old})) + (SELECT count(*) FROM ({old} EXCEPT ALL {new}))"
            ).fetchone()[0]
        return out
    finally:
        con.close()
