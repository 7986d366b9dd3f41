"""What the report shows, read from the warehouse with DuckDB.

Counts and rankings are aggregated in SQL; the per-report detail (findings, the cells they
name, not-assessable instances per rule, extraction issues) is read with one sorted scan per
table and cut into pages (``Details``), so time grows with the warehouse and memory with a page. Bodies and regions come from the
body resolver: ``reports.agency_match`` / ``agency_unresolved_reason``, tables ``agencies`` and ``regions``.
"""

from __future__ import annotations

from collections import deque

import duckdb
import pandas as pd

UNRESOLVED = "r.agency_match = 'unresolved'"  # a report whose body the resolver could not place
# a body: its registry id, else its printed name (never guessed into another body)
BODY_KEY = "coalesce(r.agency_id, 'printed:' || coalesce(r.agency_printed, r.report_id))"
BODY_NAME = "coalesce(r.agency, r.agency_printed, '（未读出单位名称）')"
FAILED = "SELECT DISTINCT report_id FROM rule_results WHERE outcome = 'fail'"
# a report's region: the code of its body and the full name of the division (province, prefecture, county)
REGION_JOIN = (
    "LEFT JOIN agencies a ON a.agency_id = r.agency_id LEFT JOIN regions g ON g.region_code = a.region_code "
    "LEFT JOIN regions g1 ON g1.region_code = g.parent_code LEFT JOIN regions g2 ON g2.region_code = g1.parent_code"
)
REGION = "a.region_code, nullif(concat_ws('', g2.name, g1.name, g.name), '') AS region_name"


def overview(con: duckdb.DuckDBPyConnection) -> dict:
    """The summary cards: documents by status, findings by severity, what could not be read or placed."""
    statuses = dict(con.execute("SELECT status, count(*) FROM reports GROUP BY 1").fetchall())
    fails = dict(con.execute("SELECT severity, count(*) FROM rule_results WHERE outcome = 'fail' GROUP BY 1").fetchall())
    return {
        "documents": sum(statuses.values()),
        "statuses": statuses,
        "errors": fails.get("error", 0),
        "warnings": fails.get("warning", 0),
        "reports_with_failures": con.execute(f"SELECT count(*) FROM ({FAILED})").fetchone()[0],
        "not_assessable": con.execute("SELECT count(*) FROM rule_results WHERE outcome = 'not_assessable'").fetchone()[0],
        "unresolved": con.execute(f"SELECT count(*) FROM reports r WHERE {UNRESOLVED}").fetchone()[0],
        "unreadable_cells": con.execute(
            "SELECT count(*) FROM cells WHERE value_status NOT IN ('number', 'blank', 'na')").fetchone()[0],
        "unreadable_parts": con.execute(
            "SELECT count(*) FROM extraction_issues WHERE severity = 'warning'").fetchone()[0],
    }


def rules_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per rule: failed instances, reports concerned, not-assessable instances; failures first."""
    return con.execute(
        """SELECT * FROM (
             SELECT rule_id, any_value(severity) AS severity, any_value(kind) AS kind,
                    count(*) FILTER (WHERE outcome = 'fail') AS failed,
                    count(DISTINCT report_id) FILTER (WHERE outcome = 'fail') AS reports,
                    count(*) FILTER (WHERE outcome = 'not_assessable') AS not_assessable
             FROM rule_results GROUP BY rule_id)
           ORDER BY failed = 0, severity <> 'error', failed DESC, not_assessable DESC, rule_id"""
    ).df()


def status_by_year(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Documents per report year and status."""
    return con.execute(
        "SELECT coalesce(CAST(report_year AS VARCHAR), '未读出') AS year, status, count(*) AS n FROM reports GROUP BY ALL ORDER BY 1"
    ).df()


def failures_by_body_year(con: duckdb.DuckDBPyConnection, top: int) -> pd.DataFrame:
    """Failed instances per body and year, for the ``top`` bodies with most failures."""
    return con.execute(
        f"""WITH f AS (
              SELECT {BODY_KEY} AS body, {BODY_NAME} AS name, coalesce(CAST(r.report_year AS VARCHAR), '未读出') AS year
              FROM rule_results x JOIN reports r USING (report_id) WHERE x.outcome = 'fail'),
            top AS (SELECT body FROM f GROUP BY body ORDER BY count(*) DESC, body LIMIT {int(top)})
            SELECT any_value(name) AS name, year, count(*) AS n FROM f JOIN top USING (body) GROUP BY body, year ORDER BY 1, 2"""
    ).df()


def listed_reports(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Reports the findings pages list: with a failed rule or not (fully) published — those needing action first,
    then by region, body and year."""
    return con.execute(
        f"""WITH n AS (
              SELECT report_id,
                     count(*) FILTER (WHERE outcome = 'fail' AND severity = 'error') AS n_error,
                     count(*) FILTER (WHERE outcome = 'fail' AND severity = 'warning') AS n_warning
              FROM rule_results GROUP BY report_id)
            SELECT r.report_id, {BODY_NAME} AS body_name, {REGION}, r.report_year, r.status,
                   coalesce(n.n_error, 0) AS n_error, coalesce(n.n_warning, 0) AS n_warning,
                   (r.status = 'quarantined' OR coalesce(n.n_error, 0) + coalesce(n.n_warning, 0) > 0) AS needs_action
            FROM reports r LEFT JOIN n USING (report_id) {REGION_JOIN}
            WHERE r.status <> 'published' OR coalesce(n.n_error, 0) + coalesce(n.n_warning, 0) > 0
            ORDER BY needs_action DESC, a.region_code NULLS LAST, body_name, r.report_year NULLS LAST, r.report_id"""
    ).df()


class Details:
    """The detail of many reports, read in a given order with one scan of each table, then cut into pages.

    ``order`` holds (report_id, ord). Each part — report rows, failures, the cells the failures
    name, not-assessable instances grouped per rule with the cells they miss, extraction issues —
    is one query sorted by ``ord`` and read in batches; ``take(limit)`` returns everything with
    ``ord < limit``. Whatever the number of pages, each table is read once and memory holds one
    page at a time.
    """

    QUERIES = {
        "reports": f"SELECT o.ord, r.*, {REGION}, k.is_canonical, k.canonical_report_id, k.copy_role "
                   f"FROM reports r JOIN _order o USING (report_id) {REGION_JOIN} LEFT JOIN report_copies k USING (report_id) ORDER BY o.ord",
        "findings": "SELECT o.ord, x.* FROM rule_results x JOIN _order o USING (report_id) WHERE x.outcome = 'fail' "
                    "ORDER BY o.ord, x.severity, x.rule_id, x.instance",
        "cells": """WITH f AS (SELECT DISTINCT o.ord, x.report_id, unnest(string_split(x.cells, ' ')) AS code
                               FROM rule_results x JOIN _order o USING (report_id) WHERE x.outcome = 'fail')
                    SELECT f.ord, c.report_id, c.code, c.raw, c.value_status, c.page, c.line, c.table_index, c.row_index,
                           c.col_index, c.source_kind, c.recovery FROM f JOIN cells c USING (report_id, code)
                    UNION ALL
                    SELECT f.ord, s.report_id, s.code, s.raw, 'number', s.page, s.line, NULL, NULL, NULL, s.source_kind, 'none'
                    FROM f JOIN printed_subtotals s USING (report_id, code)
                    ORDER BY 1""",
        # per report and rule: how many instances could not be assessed, and which printed cells they miss
        "not_assessable": """WITH n AS (SELECT o.ord, x.report_id, x.rule_id, x.cells, x.message
                                        FROM rule_results x JOIN _order o USING (report_id) WHERE x.outcome = 'not_assessable'),
                    counted AS (SELECT ord, report_id, rule_id, count(*) AS n, min(message) AS message FROM n GROUP BY ALL),
                    codes AS (SELECT DISTINCT ord, report_id, rule_id, unnest(string_split(cells, ' ')) AS code FROM n),
                    missing AS (
                      SELECT k.ord, k.report_id, k.rule_id, k.code, coalesce(c.value_status, 'not_printed') AS status, c.raw
                      FROM codes k LEFT JOIN cells c USING (report_id, code)
                      WHERE (k.code IN (SELECT code FROM indicators) OR k.code LIKE 'printed_subtotal.%')
                        AND coalesce(c.value_status, 'not_printed') <> 'number')
                    SELECT c.ord, c.report_id, c.rule_id, c.n, c.message,
                           list({'code': m.code, 'status': m.status, 'raw': m.raw} ORDER BY m.code) FILTER (WHERE m.code IS NOT NULL) AS missing
                    FROM counted c LEFT JOIN missing m USING (ord, report_id, rule_id)
                    GROUP BY ALL ORDER BY c.ord, c.rule_id""",
        # what could not be read, per report and kind: how often, and the first places (cell, location, text as printed)
        "issues": "SELECT o.ord, i.report_id, i.severity, i.kind, count(*) AS n, min(i.message) AS message, "
                  "list({'code': i.code, 'location': i.location, 'printed': i.printed} ORDER BY i.location, i.code)[1:8] AS places "
                  "FROM extraction_issues i JOIN _order o USING (report_id) WHERE i.severity <> 'info' "
                  "GROUP BY ALL ORDER BY o.ord, i.severity, i.kind",
    }
    BATCH = 5_000

    def __init__(self, con: duckdb.DuckDBPyConnection, order: pd.DataFrame, parts: tuple[str, ...] = tuple(QUERIES)):
        self._streams = {}
        for part in parts:
            cur = con.cursor()
            cur.register("_order", order[["report_id", "ord"]])
            cur.execute(self.QUERIES[part])
            self._streams[part] = [cur, [d[0] for d in cur.description], deque(), False]

    def take(self, limit: int) -> dict[str, list[dict]]:
        """Every row of every part with ``ord < limit`` (parts the stream was not asked for are empty)."""
        out = {}
        for part, stream in self._streams.items():
            cur, names, buffer, done = stream
            rows = []
            while True:
                while buffer and buffer[0][0] < limit:
                    rows.append(dict(zip(names, buffer.popleft())))
                if buffer or done:
                    break
                batch = cur.fetchmany(self.BATCH)
                if not batch:
                    stream[3] = done = True
                buffer.extend(batch)
            out[part] = rows
        return out

    def close(self) -> None:
        """Close the cursors."""
        for cur, *_ in self._streams.values():
            cur.close()


def rollup_mismatches(con: duckdb.DuckDBPyConnection, limit: int) -> tuple[pd.DataFrame, int]:
    """Regions whose aggregate report differs from the sum of their children: the largest differences, and how many."""
    where = "FROM v_rollup_vs_reported WHERE abs(difference) > 1e-6"
    total = con.execute(f"SELECT count(*) {where}").fetchone()[0]
    frame = con.execute(
        f"SELECT region_id, region_name, report_year, code, reported_value, rollup_value, difference, complete, missing_children "
        f"{where} ORDER BY abs(difference) DESC, region_id, report_year, code LIMIT {int(limit)}").df()
    return frame, total


def rollup_overview(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per region and year: compared cells, cells that differ, whether every child reported."""
    return con.execute(
        """SELECT region_id, any_value(region_name) AS region_name, report_year,
                  count(*) FILTER (WHERE reported_value IS NOT NULL) AS compared,
                  count(*) FILTER (WHERE abs(difference) > 1e-6) AS differing,
                  any_value(children_registered) AS children_registered, any_value(children_reported) AS children_reported,
                  any_value(missing_children) AS missing_children,
                  any_value(aggregate_report_id) AS aggregate_report_id
           FROM out_region_rollups GROUP BY region_id, report_year ORDER BY differing DESC, region_id, report_year"""
    ).df()


def cross_year_sql(limit: int | None) -> str:
    """Year-over-year findings (Y-* rules) with the body and its region."""
    return f"""SELECT x.*, {BODY_NAME} AS body_name, r.status, r.source_url, r.source_path, {REGION}
            FROM rule_results x JOIN reports r USING (report_id) {REGION_JOIN}
            WHERE x.kind = 'cross_year' AND x.outcome = 'fail'
            ORDER BY x.severity, body_name, x.report_year, x.rule_id, x.instance {'' if limit is None else f'LIMIT {int(limit)}'}"""


def cross_year_failures(con: duckdb.DuckDBPyConnection, limit: int) -> tuple[pd.DataFrame, int]:
    """The first ``limit`` year-over-year findings (``cross_year_sql``), and how many there are."""
    total = con.execute("SELECT count(*) FROM rule_results WHERE kind = 'cross_year' AND outcome = 'fail'").fetchone()[0]
    return con.execute(cross_year_sql(limit)).df(), total


def unresolved_sql(limit: int | None) -> str:
    """Printed names the resolver could not place, with its reason, most reports first."""
    return f"""SELECT coalesce(r.agency_printed, '（未读出单位名称）') AS printed_name, count(*) AS reports,
                   string_agg(DISTINCT CAST(r.report_year AS VARCHAR), '、' ORDER BY CAST(r.report_year AS VARCHAR)) AS years,
                   string_agg(DISTINCT r.status, ' ') AS statuses, any_value(r.agency_unresolved_reason) AS reason,
                   min(r.report_id) AS example_report, any_value(r.source_url) AS source_url
            FROM reports r WHERE {UNRESOLVED}
            GROUP BY 1 ORDER BY reports DESC, printed_name {'' if limit is None else f'LIMIT {int(limit)}'}"""


def unresolved_bodies(con: duckdb.DuckDBPyConnection, limit: int) -> tuple[pd.DataFrame, int, int]:
    """The first ``limit`` unresolved printed names (``unresolved_sql``), and how many reports and names there are."""
    reports, names = con.execute(
        f"SELECT count(*), count(DISTINCT coalesce(r.agency_printed, '')) FROM reports r WHERE {UNRESOLVED}").fetchone()
    return con.execute(unresolved_sql(limit)).df(), reports, names


def letter_bodies(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Bodies that get a letter: a failed rule or a quarantined report (canonical copies only: another copy of the
    same report would repeat its problems); with their name, region and reports."""
    return con.execute(
        f"""SELECT {BODY_KEY} AS body, any_value({BODY_NAME}) AS body_name, any_value(a.region_code) AS region_code,
                   any_value(nullif(concat_ws('', g2.name, g1.name, g.name), '')) AS region_name,
                   list(r.report_id ORDER BY r.report_year, r.report_id) AS report_ids,
                   count(*) FILTER (WHERE r.status = 'quarantined') AS quarantined
            FROM reports r {REGION_JOIN}
            WHERE (r.status = 'quarantined' OR r.report_id IN ({FAILED}))
              AND r.report_id NOT IN (SELECT report_id FROM report_copies WHERE NOT is_canonical)
            GROUP BY 1 ORDER BY any_value(a.region_code) NULLS LAST, body_name, body"""
    ).df()
