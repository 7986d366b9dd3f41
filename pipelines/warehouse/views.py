"""DuckDB views generated from the registry: the published/quarantine split, the wide tables and the analyst views.

The wide and analyst views read the stored tables of ``facts.py`` (never pivoting ``cells`` at query time)
and filter on columns stored with every row — ``status`` for the published views, ``in_analysis`` for the
analyst views (``v_*``), which count the reports of ONE indirection view, ``analysis_reports`` (today the
canonical published copies): pointing it at another set of reports is the one-line change ``ANALYSIS_REPORTS``. Every
view keeps ``report_year`` (and the wide and analyst views ``region_code``) as plain columns of its stored
table, so filters on them reach the table scans; joins are on ``report_year`` too, so a year filter reaches
both sides.
"""

from __future__ import annotations

from pipelines.identity.copies import canonical_view
from pipelines.registry import WIDE_TABLES, load_registry
from pipelines.warehouse.facts import report_dims

PUBLISHED_STATUSES = ("published", "published_partial")
QUARANTINE_STATUSES = ("quarantined", "rejected")
# the reports every analyst view and roll-up counts (it must have report_id, report_year and report_kind)
ANALYSIS_REPORTS = "SELECT * FROM canonical_reports"
# the stored wide table behind each documented wide view
WIDE_VIEWS = {"t2_wide": "fact_t2", "t3_wide": "fact_t3", "t4_wide": "fact_t4", "old_table": "fact_old"}
REFUSAL_ROWS = ("t3.results.denied.", "t3.results.unable.", "t3.results.not_processed.")
OLD_REFUSAL_PREFIX = "old.applications.answered.denied."


def _wide_columns(view: str) -> str:
    """The documented columns of a wide view: report id and year, the table's own columns, then region_code."""
    table = WIDE_VIEWS[view]
    own = [c.name for c in load_registry().table(table) if c.name not in report_dims(table)]
    return ", ".join(f'w."{c}"' for c in ["report_id", "report_year", *own, "region_code"])


def view_statements() -> list[str]:
    """CREATE VIEW statements, in dependency order."""
    published = ", ".join(f"'{s}'" for s in PUBLISHED_STATUSES)
    quarantine = ", ".join(f"'{s}'" for s in QUARANTINE_STATUSES)
    out = [
        "CREATE OR REPLACE VIEW rule_results AS SELECT * FROM document_rule_results UNION ALL SELECT * FROM cross_rule_results",
        f"CREATE OR REPLACE VIEW published_reports AS SELECT * FROM reports WHERE status IN ({published})",
        canonical_view(),
        f"CREATE OR REPLACE VIEW analysis_reports AS {ANALYSIS_REPORTS}",
        # an inner join on the unique (report_id, report_year) rather than a semi join: DuckDB then carries a
        # filter on the year over to the reports side too (published reports are always dated)
        (
            "CREATE OR REPLACE VIEW published_cells AS\n"
            "SELECT c.* FROM cells c JOIN (SELECT report_id, report_year FROM published_reports) p\n"
            "  ON p.report_id = c.report_id AND p.report_year = c.report_year"
        ),
        # dated and undated reports apart: '=' on the year lets a year filter reach rule_results
        "CREATE OR REPLACE VIEW quarantine AS\n" + "\nUNION ALL\n".join(
            "SELECT r.report_id, r.source_file, r.report_year, r.agency, r.status, r.reason, r.n_errors, f.failed_rules\n"
            "FROM reports r LEFT JOIN (\n"
            "  SELECT report_id, report_year, string_agg(DISTINCT rule_id, ' ' ORDER BY rule_id) AS failed_rules\n"
            "  FROM rule_results WHERE outcome = 'fail' AND severity = 'error' GROUP BY report_id, report_year\n"
            f") f ON f.report_id = r.report_id AND {on}\n"
            f"WHERE r.status IN ({quarantine}) AND {where}"
            for on, where in (("f.report_year = r.report_year", "r.report_year IS NOT NULL"),
                              ("f.report_year IS NULL", "r.report_year IS NULL"))
        ),
    ]
    for view, table in WIDE_VIEWS.items():
        out.append(f"CREATE OR REPLACE VIEW {view} AS SELECT {_wide_columns(view)} FROM {table} w")
        # the status is stored with every row (rewritten whenever the report is loaded): no join needed
        out.append(f"CREATE OR REPLACE VIEW published_{view} AS SELECT {_wide_columns(view)} FROM {table} w "
                   f"WHERE w.status IN ({published})")
    return out + analyst_views()


def analyst_views() -> list[str]:
    """Views for common questions (documented in docs/data_dictionary.md); all count ``analysis_reports`` only.

    They read the stored ``in_analysis`` flag, which ``facts.refresh_analysis`` keeps equal to membership of
    ``analysis_reports`` (a join with it would cost more than the rest of a national query).
    """
    refusal = " OR ".join(f"w.row_key LIKE '{p}%'" for p in REFUSAL_ROWS)
    body = "w.region_code, w.agency_kind, w.scope"  # (report_kind placed as in the views these replaced)
    outcomes = ", ".join(f'w."{c}"' for c in load_registry().wide_columns(WIDE_TABLES["fact_t4"]))
    measures = ", ".join(c.name for c in load_registry().table("fact_reports") if c.type == "float64")
    return [
        (
            "CREATE OR REPLACE VIEW v_requests_by_region_year AS\n"
            f"SELECT w.report_year, w.region_code, w.agency, w.agency_kind, w.scope, w.report_kind, w.report_id, {measures}\n"
            "FROM fact_reports w WHERE w.in_analysis"
        ),
        (
            "CREATE OR REPLACE VIEW v_refusal_reasons AS\n"
            f"SELECT w.report_year, w.agency, w.report_kind, w.report_id, w.row_label AS reason, w.row_key, w.total AS requests, {body}\n"
            f"FROM fact_t3 w WHERE w.in_analysis AND ({refusal})\n"
            "UNION ALL\n"
            f"SELECT w.report_year, w.agency, w.report_kind, w.report_id, w.row_label, w.code, w.value, {body}\n"
            f"FROM fact_old w WHERE w.in_analysis AND w.code LIKE '{OLD_REFUSAL_PREFIX}%' AND w.code <> '{OLD_REFUSAL_PREFIX}total'"
        ),
        (
            "CREATE OR REPLACE VIEW v_review_litigation_outcomes AS\n"
            f"SELECT w.report_year, w.agency, w.report_kind, w.report_id, w.block, {outcomes}, {body}\n"
            "FROM fact_t4 w WHERE w.in_analysis"
        ),
        (
            "CREATE OR REPLACE VIEW v_rollup_vs_reported AS\n"
            "SELECT region_id, region_name, report_year, code, reported_value, rollup_value, difference, complete, missing_children,\n"
            "  region_code\n"
            "FROM out_region_rollups WHERE aggregate_report_id IS NOT NULL"
        ),
    ]


VIEWS = {
    "rule_results": "All findings: document_rule_results (in-table and narrative rules, per report year) plus cross_rule_results (cross-year and cross-level rules).",
    "published_reports": "Reports that pass every blocking (error-level) rule: status published or published_partial.",
    "canonical_reports": "Published reports that are their copy group's canonical copy (report_copies), each counted once, with report_kind: region_aggregate (综合…编制而成), own (a government's, office's, town's or zone's own report) or department — never sum an aggregate with its parts.",
    "analysis_reports": "The reports every analyst view (v_*) and out_region_rollups count: today canonical_reports.",
    "published_cells": "Cells of the published reports only.",
    "quarantine": "Reports kept out of the published tables (quarantined or rejected), with the reason and the failed error rules.",
    "t2_wide": "Table 二 as printed: one row per report and row (规章, 行政规范性文件, 行政许可 …), one column per printed column (stored table fact_t2).",
    "published_t2_wide": "t2_wide restricted to published reports.",
    "t3_wide": "Table 三 as printed: one row per report and row (本年新收 … 结转下年度), columns natural_person … total (stored table fact_t3).",
    "published_t3_wide": "t3_wide restricted to published reports.",
    "t4_wide": "Table 四: one row per report and block (review, litigation_direct, litigation_after_review), columns maintained … total (stored table fact_t4).",
    "published_t4_wide": "t4_wide restricted to published reports.",
    "old_table": "The 2014-2018 统计表: one row per report and indicator (stored table fact_old).",
    "published_old_table": "old_table restricted to published reports.",
    "v_requests_by_region_year": "Requests received (本年新收 / old 收到申请数), carried over, processed and carried forward per analysis report, with region code, agency kind, scope and report_kind.",
    "v_refusal_reasons": "Refusals and non-answers by reason (不予公开 1-8, 无法提供 1-3, 不予处理 1-5; old 不同意公开 reasons) per analysis report, with region code, agency kind, scope and report_kind.",
    "v_review_litigation_outcomes": "行政复议 / 行政诉讼 outcomes (maintained, corrected, other, pending, total) per analysis report and block, with region code, agency kind, scope and report_kind.",
    "v_rollup_vs_reported": "For regions with their own aggregate report: printed value vs the sum of the children's analysis reports, per code.",
}
VIEW_NAMES = tuple(VIEWS)
