"""Municipal and provincial roll-ups: each region's children summed, next to the region's own aggregate report.

Runs as DuckDB SQL over the whole warehouse (so it scales with the data, not with Python):
children come from the agencies table (``parent_id``: the division registry, resolved bodies,
raw/agencies.csv overrides); a child counts with one canonical published report per year; only
cells the registry marks additive are summed. The region's own report is used only when its
scope is ``region_aggregate`` (综合…编制而成), as for the cross-level rules.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.warehouse.store import connect

ROLLUP_SQL = """
WITH reps AS (
  SELECT * FROM (
    SELECT r.*, row_number() OVER (PARTITION BY agency_id, report_year
                                   ORDER BY (status = 'published') DESC, n_values DESC, report_id) AS rn
    FROM canonical_reports r
    WHERE agency_id IS NOT NULL AND report_year IS NOT NULL
  ) WHERE rn = 1
),
kids AS (SELECT agency_id AS child_id, name AS child_name, parent_id AS region_id FROM agencies WHERE parent_id IS NOT NULL),
regions AS (
  SELECT a.agency_id AS region_id, a.name AS region_name, a.region_code, count(k.child_id) AS children_registered
  FROM agencies a JOIN kids k ON k.region_id = a.agency_id GROUP BY 1, 2, 3
),
years AS (SELECT DISTINCT k.region_id, r.report_year FROM kids k JOIN reps r ON r.agency_id = k.child_id),
reported AS (
  SELECT y.region_id, y.report_year,
         count(r.report_id) AS children_reported,
         string_agg(CASE WHEN r.report_id IS NULL THEN k.child_name END, '|' ORDER BY k.child_name) AS missing_children
  FROM years y JOIN kids k ON k.region_id = y.region_id
  LEFT JOIN reps r ON r.agency_id = k.child_id AND r.report_year = y.report_year
  GROUP BY 1, 2
),
sums AS (
  SELECT k.region_id, r.report_year, c.code, round(sum(c.value), 6) AS rollup_value, count(c.value) AS children_with_value
  FROM kids k JOIN reps r ON r.agency_id = k.child_id
  JOIN cells c ON c.report_id = r.report_id
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
LEFT JOIN cells rc ON rc.report_id = a.report_id AND rc.code = s.code
ORDER BY g.region_id, s.report_year, s.code
"""


def compute_rollups(warehouse: Path) -> pd.DataFrame:
    """The ``out_region_rollups`` table over the loaded warehouse."""
    con = connect(warehouse, read_only=True)
    try:
        return con.execute(ROLLUP_SQL).df()
    finally:
        con.close()
