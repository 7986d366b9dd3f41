"""DuckDB views generated from the registry: readable wide tables and the published/quarantine split."""

from __future__ import annotations

from pipelines.identity.copies import canonical_view
from pipelines.registry import APPLICANT_COLUMNS, load_registry

PUBLISHED_STATUSES = ("published", "published_partial")
QUARANTINE_STATUSES = ("quarantined", "rejected")


def _pivot(view: str, table_id: str, columns: list[str], source: str = "cells") -> str:
    cols = ",\n  ".join(f"max(c.value) FILTER (WHERE i.column_key = '{k}') AS \"{k.replace('.', '_')}\"" for k in columns)
    return (
        f"CREATE OR REPLACE VIEW {view} AS\n"
        f"SELECT c.report_id, any_value(c.report_year) AS report_year, i.row_key, min(i.row_order) AS row_order,\n"
        f"  any_value(i.row_label) AS row_label,\n  {cols}\n"
        f"FROM {source} c JOIN indicators i ON i.code = c.code AND i.table_id = '{table_id}'\n"
        f"GROUP BY c.report_id, i.row_key"
    )


def view_statements() -> list[str]:
    """CREATE VIEW statements, in dependency order."""
    reg = load_registry()
    t2_cols = list(dict.fromkeys(i.column_key for i in reg.indicators if i.table_id == "t2"))
    t4_cols = ["maintained", "corrected", "other", "pending", "total"]
    published = ", ".join(f"'{s}'" for s in PUBLISHED_STATUSES)
    quarantine = ", ".join(f"'{s}'" for s in QUARANTINE_STATUSES)
    out = [
        "CREATE OR REPLACE VIEW rule_results AS SELECT * FROM document_rule_results UNION ALL SELECT * FROM cross_rule_results",
        f"CREATE OR REPLACE VIEW published_reports AS SELECT * FROM reports WHERE status IN ({published})",
        "CREATE OR REPLACE VIEW published_cells AS SELECT c.* FROM cells c JOIN published_reports USING (report_id)",
        canonical_view(),
        (
            "CREATE OR REPLACE VIEW quarantine AS\n"
            "SELECT r.report_id, r.source_file, r.report_year, r.agency, r.status, r.reason, r.n_errors,\n"
            "  (SELECT string_agg(DISTINCT x.rule_id, ' ' ORDER BY x.rule_id) FROM rule_results x\n"
            "    WHERE x.report_id = r.report_id AND x.outcome = 'fail' AND x.severity = 'error') AS failed_rules\n"
            f"FROM reports r WHERE r.status IN ({quarantine})"
        ),
    ]
    for source, prefix in (("cells", ""), ("published_cells", "published_")):
        out.append(_pivot(f"{prefix}t2_wide", "t2", t2_cols, source))
        out.append(_pivot(f"{prefix}t3_wide", "t3", list(APPLICANT_COLUMNS), source))
        out.append(
            f"CREATE OR REPLACE VIEW {prefix}t4_wide AS\n"
            "SELECT c.report_id, any_value(c.report_year) AS report_year, split_part(i.column_key, '.', 1) AS block,\n  "
            + ",\n  ".join(f"max(c.value) FILTER (WHERE split_part(i.column_key, '.', 2) = '{k}') AS {k}" for k in t4_cols)
            + f"\nFROM {source} c JOIN indicators i ON i.code = c.code AND i.table_id = 't4'\n"
            "GROUP BY c.report_id, split_part(i.column_key, '.', 1)"
        )
        out.append(
            f"CREATE OR REPLACE VIEW {prefix}old_table AS\n"
            "SELECT c.report_id, c.report_year, i.row_order, c.code, i.section_label, i.row_label, i.unit, c.value, c.raw\n"
            f"FROM {source} c JOIN indicators i ON i.code = c.code AND i.table_id = 'old'"
        )
    out += analyst_views()
    return out


def analyst_views() -> list[str]:
    """Views for common questions (documented in docs/data_dictionary.md)."""
    return [
        (
            "CREATE OR REPLACE VIEW v_requests_by_region_year AS\n"
            "SELECT r.report_year, a.region_code, r.agency, a.kind AS agency_kind, r.scope, r.report_kind, r.report_id,\n"
            "  max(c.value) FILTER (WHERE c.code IN ('t3.new_received.total', 'old.applications.received.total')) AS new_requests,\n"
            "  max(c.value) FILTER (WHERE c.code = 't3.carried_over.total') AS carried_over,\n"
            "  max(c.value) FILTER (WHERE c.code IN ('t3.total_processed.total', 'old.applications.answered.total')) AS processed,\n"
            "  max(c.value) FILTER (WHERE c.code = 't3.carried_forward.total') AS carried_forward\n"
            "FROM canonical_reports r LEFT JOIN agencies a USING (agency_id) LEFT JOIN cells c USING (report_id)\n"
            "GROUP BY ALL"
        ),
        (
            "CREATE OR REPLACE VIEW v_refusal_reasons AS\n"
            "SELECT r.report_year, r.agency, r.report_kind, r.report_id, i.row_label AS reason, i.row_key, c.value AS requests\n"
            "FROM canonical_reports r JOIN cells c USING (report_id) JOIN indicators i ON i.code = c.code\n"
            "WHERE (c.code LIKE 't3.results.denied.%.total' OR c.code LIKE 't3.results.unable.%.total'\n"
            "       OR c.code LIKE 't3.results.not_processed.%.total' OR c.code LIKE 'old.applications.answered.denied.%')\n"
            "  AND c.code <> 'old.applications.answered.denied.total'"
        ),
        (
            "CREATE OR REPLACE VIEW v_review_litigation_outcomes AS\n"
            "SELECT r.report_year, r.agency, r.report_kind, w.*  EXCLUDE (report_year)\n"
            "FROM canonical_reports r JOIN published_t4_wide w USING (report_id)"
        ),
        (
            "CREATE OR REPLACE VIEW v_rollup_vs_reported AS\n"
            "SELECT region_id, region_name, report_year, code, reported_value, rollup_value, difference, complete, missing_children\n"
            "FROM out_region_rollups WHERE aggregate_report_id IS NOT NULL"
        ),
    ]


VIEWS = {
    "rule_results": "All findings: document_rule_results (in-table and narrative rules, per report year) plus cross_rule_results (cross-year and cross-level rules).",
    "published_reports": "Reports that pass every blocking (error-level) rule: status published or published_partial.",
    "published_cells": "Cells of the published reports only.",
    "canonical_reports": "Published reports that are their copy group's canonical copy (report_copies), each counted once, with report_kind: region_aggregate (综合…编制而成), own (a government's, office's, town's or zone's own report) or department — never sum an aggregate with its parts.",
    "quarantine": "Reports kept out of the published tables (quarantined or rejected), with the reason and the failed error rules.",
    "t2_wide": "Table 二 as printed: one row per report and row (规章, 行政规范性文件, 行政许可 …), one column per printed column.",
    "t3_wide": "Table 三 as printed: one row per report and row (本年新收 … 结转下年度), columns natural_person … total.",
    "t4_wide": "Table 四: one row per report and block (review, litigation_direct, litigation_after_review), columns maintained … total.",
    "old_table": "The 2014-2018 统计表: one row per report and indicator.",
    "published_t2_wide": "t2_wide restricted to published reports.",
    "published_t3_wide": "t3_wide restricted to published reports.",
    "published_t4_wide": "t4_wide restricted to published reports.",
    "published_old_table": "old_table restricted to published reports.",
    "v_requests_by_region_year": "Requests received (本年新收 / old 收到申请数), carried over, processed and carried forward per canonical published report, with region code, agency kind and report_kind.",
    "v_refusal_reasons": "Refusals and non-answers by reason (不予公开 1-8, 无法提供 1-3, 不予处理 1-5; old 不同意公开 reasons) per canonical published report.",
    "v_review_litigation_outcomes": "行政复议 / 行政诉讼 outcomes (maintained, corrected, other, pending, total) per canonical published report and block.",
    "v_rollup_vs_reported": "For regions with their own aggregate report: printed value vs the sum of the children's published reports, per code.",
}
VIEW_NAMES = tuple(VIEWS)
