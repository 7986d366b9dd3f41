"""Municipal and provincial roll-ups: each region's children summed, next to the region's own aggregate report.

``out_region_rollups`` is kept in step with the loads (``refresh_rollups``, called by
``pipelines.warehouse.facts.refresh_analysis`` inside the load transaction): only the regions and years
whose children or aggregate report changed are recomputed, in DuckDB SQL. Children come from the
agencies table (``parent_id``: the division registry, resolved bodies, raw/agencies.csv overrides); a
child counts with one report of ``analysis_reports`` per year (the canonical published copy; the one with
most values should a body have several); only cells the registry marks additive are summed,
so a stock is never added up. The region's own report is used only when its scope is
``region_aggregate`` (综合…编制而成), as for the cross-level rules — a region's aggregate is compared with
its parts, never added to them.
"""

from __future__ import annotations

import duckdb

ROLLUP_SQL = """
WITH reps AS (
  SELECT * FROM (
    SELECT r.report_id, r.agency_id, r.report_year, r.scope,
           row_number() OVER (PARTITION BY r.agency_id, r.report_year
                              ORDER BY (r.status = 'published') DESC, r.n_values DESC, r.report_id) AS rn
    FROM analysis_reports r {members}
    WHERE r.agency_id IS NOT NULL AND r.report_year IS NOT NULL
  ) WHERE rn = 1
),
kids AS (SELECT agency_id AS child_id, name AS child_name, parent_id AS region_id FROM agencies WHERE parent_id IS NOT NULL),
regions AS (
  SELECT a.agency_id AS region_id, a.name AS region_name, a.region_code, count(k.child_id) AS children_registered
  FROM agencies a JOIN kids k ON k.region_id = a.agency_id GROUP BY 1, 2, 3
),
years AS (
  SELECT DISTINCT k.region_id, r.report_year FROM kids k JOIN reps r ON r.agency_id = k.child_id {scope}
),
reported AS (
  SELECT y.region_id, y.report_year,
         count(r.report_id) AS children_reported,
         string_agg(CASE WHEN r.report_id IS NULL THEN k.child_name END, '|' ORDER BY k.child_name) AS missing_children
  FROM years y JOIN kids k ON k.region_id = y.region_id
  LEFT JOIN reps r ON r.agency_id = k.child_id AND r.report_year = y.report_year
  GROUP BY 1, 2
),
sums AS (
  SELECT y.region_id, y.report_year, c.code, round(sum(c.value), 6) AS rollup_value, count(c.value) AS children_with_value
  FROM years y JOIN kids k ON k.region_id = y.region_id
  JOIN reps r ON r.agency_id = k.child_id AND r.report_year = y.report_year
  JOIN cells c ON c.report_id = r.report_id AND c.report_year = r.report_year
  JOIN indicators i ON i.code = c.code AND i.additive
  GROUP BY 1, 2, 3
),
aggregate AS (SELECT agency_id AS region_id, report_year, report_id FROM reps WHERE scope = 'region_aggregate')
SELECT g.region_id, g.region_name, g.region_code, s.report_year, s.code, s.rollup_value,
       g.children_registered, p.children_reported, s.children_with_value, p.missing_children,
       (p.children_reported = g.children_registered AND s.children_with_value = g.children_registered) AS complete,
       a.report_id AS aggregate_report_id, rc.value AS reported_value, round(rc.value - s.rollup_value, 6) AS difference
FROM sums s
JOIN regions g USING (region_id)
JOIN reported p ON p.region_id = s.region_id AND p.report_year = s.report_year
LEFT JOIN aggregate a ON a.region_id = s.region_id AND a.report_year = s.report_year
LEFT JOIN cells rc ON rc.report_id = a.report_id AND rc.report_year = a.report_year AND rc.code = s.code
ORDER BY s.report_year, g.region_code, g.region_id, s.code
"""
_SCOPE = "_rollup_scope"
_MEMBERS = "_rollup_members"


def rollup_sql() -> str:
    """The roll-up query for the (region_id, report_year) pairs of the scope table."""
    return ROLLUP_SQL.format(
        members=f"SEMI JOIN {_MEMBERS} m ON m.agency_id = r.agency_id AND m.report_year = r.report_year",
        scope=f"SEMI JOIN {_SCOPE} s ON s.region_id = k.region_id AND s.report_year = r.report_year",
    )


def refresh_rollups(con: duckdb.DuckDBPyConnection, touched: str | None) -> int:
    """Recompute ``out_region_rollups`` for the regions and years a change touched; all of it when ``touched`` is None.

    ``touched`` names a table of (agency_id, report_year) whose reports changed: each touches its parent
    region (as a child) and its own region (as the aggregate report). A full recompute goes one report year
    at a time, so its memory stays that of one year. Returns the rows written.
    """
    if touched is not None:
        return _recompute(
            con,
            f"SELECT a.parent_id AS region_id, t.report_year FROM {touched} t JOIN agencies a USING (agency_id) "
            f"UNION SELECT agency_id, report_year FROM {touched}",
        )
    con.execute("DELETE FROM out_region_rollups")
    years = con.execute("SELECT DISTINCT report_year FROM analysis_reports WHERE report_year IS NOT NULL ORDER BY 1").fetchall()
    return sum(
        _recompute(con, f"SELECT DISTINCT parent_id AS region_id, {int(year)} AS report_year FROM agencies WHERE parent_id IS NOT NULL")
        for (year,) in years
    )


def _recompute(con: duckdb.DuckDBPyConnection, scope: str) -> int:
    """Replace the roll-up rows of the (region_id, report_year) pairs that ``scope`` selects."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_SCOPE} AS SELECT DISTINCT region_id, report_year FROM ({scope}) "
                "WHERE region_id IS NOT NULL AND report_year IS NOT NULL")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_MEMBERS} AS SELECT DISTINCT agency_id, report_year FROM ("
        f"  SELECT k.agency_id, s.report_year FROM {_SCOPE} s JOIN agencies k ON k.parent_id = s.region_id"
        f"  UNION ALL SELECT region_id, report_year FROM {_SCOPE})"
    )
    con.execute(f"DELETE FROM out_region_rollups o USING {_SCOPE} s WHERE o.region_id = s.region_id AND o.report_year = s.report_year")
    before = con.execute("SELECT count(*) FROM out_region_rollups").fetchone()[0]
    con.execute(f"INSERT INTO out_region_rollups {rollup_sql()}")
    written = con.execute("SELECT count(*) FROM out_region_rollups").fetchone()[0] - before
    con.execute(f"DROP TABLE {_SCOPE}")
    con.execute(f"DROP TABLE {_MEMBERS}")
    return written
