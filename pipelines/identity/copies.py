"""Copies of the same report: grouped, one canonical, the others linked to it (``report_copies``).

A body publishes one report per year and scope; several files with the same body, report year
and scope are copies of it (an HTML page and its flattened text, a PDF, a mirror site's copy, a
re-publication). A report whose scope is ``unknown`` joins the body's only stated scope for that
year. The canonical copy is chosen by, in order: an original before a mirror (``mirror_reason``),
status (published, published_partial, quarantined, rejected), fewer error-level failures, more
values read, fewer not-assessable rule instances, then report id. Analyst views and roll-ups
count the canonical copy only (``canonical_reports``).
"""

from __future__ import annotations

import pandas as pd

from pipelines.identity.names import DEPARTMENT, clean

STATUS_RANK = {"published": 0, "published_partial": 1, "quarantined": 2, "rejected": 3}
COLUMNS = ["report_id", "report_year", "copy_group", "canonical_report_id", "is_canonical", "copy_role", "reason"]


def _body(r) -> str:
    if isinstance(r.agency_id, str) and r.agency_id:
        return r.agency_id
    if isinstance(r.agency_printed, str) and clean(r.agency_printed):
        return "printed:" + clean(r.agency_printed)
    return "report:" + r.report_id


def _rank(r) -> tuple:
    return (isinstance(r.mirror_reason, str), STATUS_RANK.get(r.status, 9), int(r.n_errors), -int(r.n_values),
            int(r.n_not_assessable), r.report_id)


def _why(best, other) -> str:
    """The first criterion on which ``best`` beats ``other``."""
    if isinstance(other.mirror_reason, str) and not isinstance(best.mirror_reason, str):
        return f"the original beats a mirror ({other.mirror_reason})"
    if best.status != other.status:
        return f"{best.status} beats {other.status}"
    if best.n_errors != other.n_errors:
        return f"fewer error-level failures ({best.n_errors} vs {other.n_errors})"
    if best.n_values != other.n_values:
        return f"more values read ({best.n_values} vs {other.n_values})"
    if best.n_not_assessable != other.n_not_assessable:
        return f"fewer not-assessable rule instances ({best.n_not_assessable} vs {other.n_not_assessable})"
    return "equally complete; the first report id"


def _role(best, other) -> str:
    if other.sha256 == best.sha256:
        return "duplicate"
    if isinstance(other.mirror_reason, str):
        return "mirror"
    if other.file_type != best.file_type:
        return "format_copy"
    return "republication"


def report_copies(reports: pd.DataFrame) -> pd.DataFrame:
    """One row per report: its copy group, the group's canonical report, its role and why."""
    if reports.empty:
        return pd.DataFrame(columns=COLUMNS)
    reps = list(reports.itertuples(index=False))
    known: dict[tuple, set[str]] = {}
    for r in reps:
        if r.scope != "unknown" and not pd.isna(r.report_year):
            known.setdefault((_body(r), int(r.report_year)), set()).add(r.scope)
    groups: dict[str, list] = {}
    for r in reps:
        if pd.isna(r.report_year):
            groups["report:" + r.report_id + "/undated"] = [r]
            continue
        body, year = _body(r), int(r.report_year)
        scopes = known.get((body, year), set())
        scope = next(iter(scopes)) if r.scope == "unknown" and len(scopes) == 1 else r.scope
        groups.setdefault(f"{body}/{year}/{scope}", []).append(r)
    rows = []
    for group, members in groups.items():
        members.sort(key=_rank)
        best = members[0]
        n = len(members)
        for r in members:
            year = None if pd.isna(r.report_year) else int(r.report_year)
            if r is best:
                reason = "the only copy" if n == 1 else (
                    f"canonical of {n} copies (same body, year and scope): " + "; ".join(_why(best, o) for o in members[1:]))
                rows.append([r.report_id, year, group, best.report_id, True, "canonical", reason])
            else:
                rows.append([r.report_id, year, group, best.report_id, False, _role(best, r),
                             f"copy of {best.report_id}: {_why(best, r)}"])
    return pd.DataFrame(rows, columns=COLUMNS)


def canonical_view() -> str:
    """CREATE VIEW canonical_reports: published canonical copies with report_kind (region_aggregate / own / department)."""
    return (
        "CREATE OR REPLACE VIEW canonical_reports AS\n"
        "SELECT r.*, CASE WHEN r.scope = 'region_aggregate' THEN 'region_aggregate'\n"
        f"                 WHEN r.agency_kind = '{DEPARTMENT}' THEN 'department' ELSE 'own' END AS report_kind\n"
        "FROM published_reports r JOIN report_copies c ON c.report_id = r.report_id AND c.report_year = r.report_year\n"
        "WHERE c.is_canonical"  # the year in the join carries a filter on it over to report_copies (published: dated)
    )
