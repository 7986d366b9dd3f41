-- The views and the roll-up query as defined on main at 1f4e89e (pivoting cells at query time, roll-ups in one
-- SQL over the warehouse), before the stored analysis tables; tests/test_analysis.py and benchmarks/national.py
-- check that today's views and out_region_rollups return the same rows.
CREATE OR REPLACE VIEW rule_results AS SELECT * FROM document_rule_results UNION ALL SELECT * FROM cross_rule_results;

CREATE OR REPLACE VIEW published_reports AS SELECT * FROM reports WHERE status IN ('published', 'published_partial');

CREATE OR REPLACE VIEW published_cells AS SELECT c.* FROM cells c JOIN published_reports USING (report_id);

CREATE OR REPLACE VIEW canonical_reports AS
SELECT r.*, CASE WHEN r.scope = 'region_aggregate' THEN 'region_aggregate'
                 WHEN r.agency_kind = 'department' THEN 'department' ELSE 'own' END AS report_kind
FROM published_reports r JOIN report_copies c USING (report_id) WHERE c.is_canonical;

CREATE OR REPLACE VIEW quarantine AS
SELECT r.report_id, r.source_file, r.report_year, r.agency, r.status, r.reason, r.n_errors,
  (SELECT string_agg(DISTINCT x.rule_id, ' ' ORDER BY x.rule_id) FROM rule_results x
    WHERE x.report_id = r.report_id AND x.outcome = 'fail' AND x.severity = 'error') AS failed_rules
FROM reports r WHERE r.status IN ('quarantined', 'rejected');

CREATE OR REPLACE VIEW t2_wide AS
SELECT c.report_id, any_value(c.report_year) AS report_year, i.row_key, min(i.row_order) AS row_order,
  any_value(i.row_label) AS row_label,
  max(c.value) FILTER (WHERE i.column_key = 'new_made') AS "new_made",
  max(c.value) FILTER (WHERE i.column_key = 'new_published') AS "new_published",
  max(c.value) FILTER (WHERE i.column_key = 'published_total') AS "published_total",
  max(c.value) FILTER (WHERE i.column_key = 'prev_year_items') AS "prev_year_items",
  max(c.value) FILTER (WHERE i.column_key = 'change') AS "change",
  max(c.value) FILTER (WHERE i.column_key = 'decisions') AS "decisions",
  max(c.value) FILTER (WHERE i.column_key = 'items') AS "items",
  max(c.value) FILTER (WHERE i.column_key = 'amount') AS "amount",
  max(c.value) FILTER (WHERE i.column_key = 'issued') AS "issued",
  max(c.value) FILTER (WHERE i.column_key = 'repealed') AS "repealed",
  max(c.value) FILTER (WHERE i.column_key = 'in_force') AS "in_force"
FROM cells c JOIN indicators i ON i.code = c.code AND i.table_id = 't2'
GROUP BY c.report_id, i.row_key;

CREATE OR REPLACE VIEW t3_wide AS
SELECT c.report_id, any_value(c.report_year) AS report_year, i.row_key, min(i.row_order) AS row_order,
  any_value(i.row_label) AS row_label,
  max(c.value) FILTER (WHERE i.column_key = 'natural_person') AS "natural_person",
  max(c.value) FILTER (WHERE i.column_key = 'commercial_enterprise') AS "commercial_enterprise",
  max(c.value) FILTER (WHERE i.column_key = 'research_institution') AS "research_institution",
  max(c.value) FILTER (WHERE i.column_key = 'public_welfare_org') AS "public_welfare_org",
  max(c.value) FILTER (WHERE i.column_key = 'legal_service_org') AS "legal_service_org",
  max(c.value) FILTER (WHERE i.column_key = 'other_org') AS "other_org",
  max(c.value) FILTER (WHERE i.column_key = 'total') AS "total"
FROM cells c JOIN indicators i ON i.code = c.code AND i.table_id = 't3'
GROUP BY c.report_id, i.row_key;

CREATE OR REPLACE VIEW t4_wide AS
SELECT c.report_id, any_value(c.report_year) AS report_year, split_part(i.column_key, '.', 1) AS block,
  max(c.value) FILTER (WHERE split_part(i.column_key, '.', 2) = 'maintained') AS maintained,
  max(c.value) FILTER (WHERE split_part(i.column_key, '.', 2) = 'corrected') AS corrected,
  max(c.value) FILTER (WHERE split_part(i.column_key, '.', 2) = 'other') AS other,
  max(c.value) FILTER (WHERE split_part(i.column_key, '.', 2) = 'pending') AS pending,
  max(c.value) FILTER (WHERE split_part(i.column_key, '.', 2) = 'total') AS total
FROM cells c JOIN indicators i ON i.code = c.code AND i.table_id = 't4'
GROUP BY c.report_id, split_part(i.column_key, '.', 1);

CREATE OR REPLACE VIEW old_table AS
SELECT c.report_id, c.report_year, i.row_order, c.code, i.section_label, i.row_label, i.unit, c.value, c.raw
FROM cells c JOIN indicators i ON i.code = c.code AND i.table_id = 'old';

CREATE OR REPLACE VIEW published_t2_wide AS
SELECT c.report_id, any_value(c.report_year) AS report_year, i.row_key, min(i.row_order) AS row_order,
  any_value(i.row_label) AS row_label,
  max(c.value) FILTER (WHERE i.column_key = 'new_made') AS "new_made",
  max(c.value) FILTER (WHERE i.column_key = 'new_published') AS "new_published",
  max(c.value) FILTER (WHERE i.column_key = 'published_total') AS "published_total",
  max(c.value) FILTER (WHERE i.column_key = 'prev_year_items') AS "prev_year_items",
  max(c.value) FILTER (WHERE i.column_key = 'change') AS "change",
  max(c.value) FILTER (WHERE i.column_key = 'decisions') AS "decisions",
  max(c.value) FILTER (WHERE i.column_key = 'items') AS "items",
  max(c.value) FILTER (WHERE i.column_key = 'amount') AS "amount",
  max(c.value) FILTER (WHERE i.column_key = 'issued') AS "issued",
  max(c.value) FILTER (WHERE i.column_key = 'repealed') AS "repealed",
  max(c.value) FILTER (WHERE i.column_key = 'in_force') AS "in_force"
FROM published_cells c JOIN indicators i ON i.code = c.code AND i.table_id = 't2'
GROUP BY c.report_id, i.row_key;

CREATE OR REPLACE VIEW published_t3_wide AS
SELECT c.report_id, any_value(c.report_year) AS report_year, i.row_key, min(i.row_order) AS row_order,
  any_value(i.row_label) AS row_label,
  max(c.value) FILTER (WHERE i.column_key = 'natural_person') AS "natural_person",
  max(c.value) FILTER (WHERE i.column_key = 'commercial_enterprise') AS "commercial_enterprise",
  max(c.value) FILTER (WHERE i.column_key = 'research_institution') AS "research_institution",
  max(c.value) FILTER (WHERE i.column_key = 'public_welfare_org') AS "public_welfare_org",
  max(c.value) FILTER (WHERE i.column_key = 'legal_service_org') AS "legal_service_org",
  max(c.value) FILTER (WHERE i.column_key = 'other_org') AS "other_org",
  max(c.value) FILTER (WHERE i.column_key = 'total') AS "total"
FROM published_cells c JOIN indicators i ON i.code = c.code AND i.table_id = 't3'
GROUP BY c.report_id, i.row_key;

CREATE OR REPLACE VIEW published_t4_wide AS
SELECT c.report_id, any_value(c.report_year) AS report_year, split_part(i.column_key, '.', 1) AS block,
  max(c.value) FILTER (WHERE split_part(i.column_key, '.', 2) = 'maintained') AS maintained,
  max(c.value) FILTER (WHERE split_part(i.column_key, '.', 2) = 'corrected') AS corrected,
  max(c.value) FILTER (WHERE split_part(i.column_key, '.', 2) = 'other') AS other,
  max(c.value) FILTER (WHERE split_part(i.column_key, '.', 2) = 'pending') AS pending,
  max(c.value) FILTER (WHERE split_part(i.column_key, '.', 2) = 'total') AS total
FROM published_cells c JOIN indicators i ON i.code = c.code AND i.table_id = 't4'
GROUP BY c.report_id, split_part(i.column_key, '.', 1);

CREATE OR REPLACE VIEW published_old_table AS
SELECT c.report_id, c.report_year, i.row_order, c.code, i.section_label, i.row_label, i.unit, c.value, c.raw
FROM published_cells c JOIN indicators i ON i.code = c.code AND i.table_id = 'old';

CREATE OR REPLACE VIEW v_requests_by_region_year AS
SELECT r.report_year, a.region_code, r.agency, a.kind AS agency_kind, r.scope, r.report_kind, r.report_id,
  max(c.value) FILTER (WHERE c.code IN ('t3.new_received.total', 'old.applications.received.total')) AS new_requests,
  max(c.value) FILTER (WHERE c.code = 't3.carried_over.total') AS carried_over,
  max(c.value) FILTER (WHERE c.code IN ('t3.total_processed.total', 'old.applications.answered.total')) AS processed,
  max(c.value) FILTER (WHERE c.code = 't3.carried_forward.total') AS carried_forward
FROM canonical_reports r LEFT JOIN agencies a USING (agency_id) LEFT JOIN cells c USING (report_id)
GROUP BY ALL;

CREATE OR REPLACE VIEW v_refusal_reasons AS
SELECT r.report_year, r.agency, r.report_kind, r.report_id, i.row_label AS reason, i.row_key, c.value AS requests
FROM canonical_reports r JOIN cells c USING (report_id) JOIN indicators i ON i.code = c.code
WHERE (c.code LIKE 't3.results.denied.%.total' OR c.code LIKE 't3.results.unable.%.total'
       OR c.code LIKE 't3.results.not_processed.%.total' OR c.code LIKE 'old.applications.answered.denied.%')
  AND c.code <> 'old.applications.answered.denied.total';

CREATE OR REPLACE VIEW v_review_litigation_outcomes AS
SELECT r.report_year, r.agency, r.report_kind, w.*  EXCLUDE (report_year)
FROM canonical_reports r JOIN published_t4_wide w USING (report_id);

CREATE OR REPLACE VIEW v_rollup_vs_reported AS
SELECT region_id, region_name, report_year, code, reported_value, rollup_value, difference, complete, missing_children
FROM out_region_rollups WHERE aggregate_report_id IS NOT NULL;

-- out_region_rollups
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
ORDER BY g.region_id, s.report_year, s.code;
