"""Rules across reports: the same body in consecutive years (cross_year) and a region against its parts (cross_level).

* Reports of one body are grouped by agency registry id (printed-name variants resolve to one
  id), else by the normalized printed name, and by scope (a region aggregate is not compared
  with an agency report of the same name when both scopes are known). When a body has several
  copies for a year (HTML page and flattened text), the one with most printed values is used.
* ``x[t]`` / ``x[t-1]`` / ``x[t+1]`` in rules.csv index report years; a missing cell makes the
  instance not assessable, as everywhere.
* Cross-level rules run only for reports whose scope is ``region_aggregate`` (L-SCOPE) and
  compare with the reports of the agency registry's direct children; a child without a report
  makes the comparison not assessable (UNCERTAIN), never a failure.
* Incremental: ``targets`` restricts the findings to some reports (those a change can affect,
  see ``warehouse.loader``); the reports they are compared with are loaded alongside.
  Expressions are parsed once per rule (``_compiled``), not once per pair of reports.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from pipelines.agencies import AgencyRegistry
from pipelines.extract.text import norm
from pipelines.registry import ERAS, Rule, load_registry
from pipelines.rules.expressions import cell_code, substitutions

USABLE = ("published", "published_partial", "quarantined")
CLONE_MIN_CELLS = 20
CLONE_MIN_NONZERO = 3
CROSS_MEASURE_COLUMNS = ["report_id", "report_year", "rule_id", "kind", "severity", "op", "instance", "cells",
                         "found", "expected", "violation", "missing", "touched", "evidence"]


@dataclass
class Report:
    """What the cross rules need of one report."""

    report_id: str
    year: int
    era: str
    scope: str
    agency_id: str | None
    key: str
    values: dict[str, float]
    printed: set[str]
    direct: int = 0
    published: bool = False

    @property
    def preference(self) -> tuple:
        """Which copy of a body's report for a year stands for it: most cells printed apart, then published."""
        return (self.direct, self.published, len(self.values))


def body_key(agency_id, agency) -> str:
    """Identity of a reporting body across years."""
    if agency_id and not pd.isna(agency_id):
        return str(agency_id)
    return "printed:" + norm(agency or "")


def load_reports(reports: pd.DataFrame, cells: pd.DataFrame) -> list[Report]:
    """Usable reports (published, partial or quarantined) with their printed values."""
    reports = reports[reports.status.isin(USABLE) & reports.report_year.notna() & reports.era.isin(ERAS)]
    cells = cells[cells.report_id.isin(reports.report_id)].sort_values("report_id", kind="stable")
    ids = cells.report_id.to_numpy()
    codes = cells.code.to_numpy()
    values = cells.value.to_numpy(dtype=float)
    direct_flags = (cells.recovery.to_numpy() == "none") & ~np.isnan(values) if "recovery" in cells else None
    starts = {}
    if len(ids):
        uniq, first = np.unique(ids, return_index=True)
        bounds = list(first) + [len(ids)]
        starts = {rid: (bounds[i], bounds[i + 1]) for i, rid in enumerate(uniq)}
    out = []
    for r in reports.itertuples(index=False):
        a, b = starts.get(r.report_id, (0, 0))
        vals = {c: float(v) for c, v in zip(codes[a:b], values[a:b]) if v == v}
        direct = int(direct_flags[a:b].sum()) if direct_flags is not None else 0
        out.append(Report(r.report_id, int(r.report_year), r.era, r.scope, None if pd.isna(r.agency_id) else r.agency_id,
                          body_key(r.agency_id, r.agency), vals, set(codes[a:b].tolist()), direct,
                          r.status == "published"))
    return out


def representatives(reports: list[Report]) -> dict[tuple, Report]:
    """(body key, year) -> the copy that stands for that body's report of that year."""
    best: dict[tuple, Report] = {}
    for r in reports:
        k = (r.key, r.year)
        if k not in best or r.preference > best[k].preference:
            best[k] = r
    return best


def _compatible(a: Report, b: Report) -> bool:
    """Same scope, or at least one scope not stated."""
    return a.scope == b.scope or "unknown" in (a.scope, b.scope)


def _row(rule: Rule, report: Report, instance: str, outcome: str, found, expected, cells, evidence, missing=""):
    violation = {"pass": 0.0, "fail": abs((found or 0) - (expected or 0)) or 1.0, "na": None}[outcome]
    return {
        "report_id": report.report_id, "report_year": report.year, "rule_id": rule.rule_id, "kind": rule.kind,
        "severity": rule.severity, "op": "==", "instance": instance, "cells": " ".join(cells), "found": found,
        "expected": expected, "violation": violation, "missing": missing, "touched": True, "evidence": evidence,
    }


# --------------------------------------------------------------------------------------------
# cross-year


def _offset(node) -> int:
    if isinstance(node, ast.Name):
        return 0
    if isinstance(node, ast.BinOp) and isinstance(node.right, ast.Constant):
        return node.right.value if isinstance(node.op, ast.Add) else -node.right.value
    raise ValueError(ast.unparse(node))


class _YearEval:
    def __init__(self, reports: dict[int, Report]):
        self.reports = reports  # offset -> report
        self.refs: list[tuple[str, int]] = []

    def num(self, node) -> float | None:
        if isinstance(node, ast.Subscript):
            code = cell_code(node.value)
            k = _offset(node.slice)
            self.refs.append((code, k))
            rep = self.reports.get(k)
            return None if rep is None else rep.values.get(code)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.BinOp):
            a, b = self.num(node.left), self.num(node.right)
            if a is None or b is None:
                return None
            return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}[type(node.op)]
        raise ValueError(ast.unparse(node))


def _offsets(node) -> set[int]:
    return {_offset(n.slice) for n in ast.walk(node) if isinstance(n, ast.Subscript)}


@lru_cache(maxsize=None)
def _compiled(rule_id: str) -> tuple:
    """A cross-year rule parsed once: (label, conjuncts, [(node, earlier offset, later offset)]) per substitution."""
    rule = load_registry().rule_by_id[rule_id]
    out = []
    for label, text in substitutions(rule):
        tree = ast.parse(text, mode="eval").body
        conjuncts = tree.values if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And) else [tree]
        parts = []
        for node in conjuncts:
            offs = _offsets(node)  # {-1, 0} or {0, 1}: the later year is the current report
            parts.append((node, min(offs), max(offs)))
        out.append((label, len(conjuncts), tuple(parts)))
    return tuple(out)


def cross_year_measures(reports: list[Report], targets: set[str] | None = None) -> list[dict]:
    """Measures of every cross_year rule over consecutive years of each body (only for ``targets`` when given)."""
    reg = load_registry()
    rows: list[dict] = []
    best = representatives(reports)
    for current in reports:
        if targets is not None and current.report_id not in targets:
            continue
        prev = best.get((current.key, current.year - 1))
        if prev is None or not _compatible(prev, current):
            continue
        for rule in reg.rules_for(current.era, ("cross_year",)):
            rows.extend(_year_rule(rule, prev, current))
    return rows


def _year_rule(rule: Rule, prev: Report, current: Report) -> list[dict]:
    evidence = f"compared with {prev.report_id} ({prev.year})"
    if rule.rule_id.startswith("Y-CLONE"):
        common = [c for c in current.values if c in prev.values and not c.startswith("printed_subtotal")]
        nonzero = sum(1 for c in common if current.values[c] != 0)
        if len(common) < CLONE_MIN_CELLS or nonzero < CLONE_MIN_NONZERO:
            return [_row(rule, current, "", "na", None, None, [], evidence, missing="too few printed cells in common")]
        same = all(current.values[c] == prev.values[c] for c in common)
        return [_row(rule, current, f"{len(common)} cells", "fail" if same else "pass", float(same), 0.0, [], evidence)]
    out = []
    for label, n_conjuncts, parts in _compiled(rule.rule_id):
        for node, earlier, later in parts:
            ev = _YearEval({earlier: prev, later: current})
            left, right = ev.num(node.left), ev.num(node.comparators[0])
            codes = list(dict.fromkeys(c for c, _ in ev.refs))
            instance = " ".join(p for p in (label, codes[0] if n_conjuncts > 1 else "") if p)
            if rule.rule_id.startswith("Y-JUMP") and n_conjuncts > 1:
                both = [ev.reports[k].values.get(c) for c, k in ev.refs if ev.reports.get(k)]
                if len(both) < 2 or any(v is None or v <= 0 for v in both):
                    out.append(_row(rule, current, instance + (" " + _op(node)), "na", left, right, codes, evidence,
                                    missing="needs both years > 0"))
                    continue
            if left is None or right is None:
                out.append(_row(rule, current, instance, "na", left, right, codes, evidence, missing="cell missing in one year"))
                continue
            op = _op(node)
            ok = {"==": abs(left - right) < 1e-6, "<=": left <= right + 1e-6, ">=": left >= right - 1e-6}[op]
            out.append(_row(rule, current, instance + (f" {op}" if rule.rule_id.startswith("Y-JUMP") else ""),
                            "pass" if ok else "fail", left, right, codes, evidence))
    return out


def _op(node) -> str:
    return {ast.Eq: "==", ast.LtE: "<=", ast.GtE: ">="}[type(node.ops[0])]


# --------------------------------------------------------------------------------------------
# cross-level


def _level_codes(era: str) -> list[str]:
    """x of L-AGG/L-DISTRICTS: additive cells of the era's tables (stocks and de-duplicated totals excluded)."""
    return [i.code for i in load_registry().indicators_for(era) if i.additive]


def cross_level_measures(reports: list[Report], agencies: AgencyRegistry, targets: set[str] | None = None) -> list[dict]:
    """Measures of L-AGG / L-DISTRICTS for region-aggregate reports with registered children (only ``targets`` when given)."""
    reg = load_registry()
    rows: list[dict] = []
    by_agency_year = {(r.agency_id, r.year): r for r in representatives(reports).values() if r.agency_id}
    children_of: dict[str, list] = {}
    for a in agencies.agencies.values():
        if a.parent_id:
            children_of.setdefault(a.parent_id, []).append(a)
    for r in reports:
        if r.scope != "region_aggregate" or not r.agency_id or (targets is not None and r.report_id not in targets):
            continue
        rules = reg.rules_for(r.era, ("cross_level",))
        kids = children_of.get(r.agency_id, [])
        if not kids:
            for rule in rules:
                rows.append(_row(rule, r, "", "na", None, None, [], "", missing="no child agencies known (division registry, resolved reports, raw/agencies.csv)"))
            continue
        kid_reports = {a.agency_id: by_agency_year.get((a.agency_id, r.year)) for a in kids}
        for rule in rules:
            subset = kids if rule.rule_id.startswith("L-AGG") else [a for a in kids if a.kind in ("government_aggregate", "township")]
            if not subset:
                continue
            missing_kids = [a.name for a in subset if kid_reports[a.agency_id] is None]
            if missing_kids:
                rows.append(_row(rule, r, "", "na", None, None, [], "",
                                 missing="children without a report for this year: " + ", ".join(missing_kids)))
                continue
            part_values = [kid_reports[a.agency_id].values for a in subset]

            def evidence(code):  # built only for the findings that are stored (failures, not assessable)
                return "; ".join(f"{a.name} ({kid_reports[a.agency_id].report_id}) = {'blank' if v.get(code) is None else f'{v[code]:g}'}"
                                 for a, v in zip(subset, part_values))

            for code in _level_codes(r.era):
                if code not in r.values:
                    continue
                parts = [v.get(code) for v in part_values]
                if None in parts:
                    rows.append(_row(rule, r, code, "na", r.values[code], None, [code], evidence(code), missing="a child's cell is blank"))
                    continue
                total = sum(parts)
                ok = abs(r.values[code] - total) < 1e-6 if rule.rule_id.startswith("L-AGG") else total <= r.values[code] + 1e-6
                rows.append(_row(rule, r, code, "pass" if ok else "fail", r.values[code], total, [code],
                                 "" if ok else evidence(code)))
    return rows


def cross_measures(reports: pd.DataFrame, cells: pd.DataFrame, agencies: AgencyRegistry,
                   targets: set[str] | None = None) -> pd.DataFrame:
    """All cross-report measures as a frame (same columns as document measures plus report_year, evidence)."""
    reps = load_reports(reports, cells)
    rows = cross_year_measures(reps, targets) + cross_level_measures(reps, agencies, targets)
    # numbers as floats whatever a chunk holds (a chunk of only blanks would give object columns, which pandas'
    # concatenation of chunks will stop ignoring when it infers dtypes)
    return pd.DataFrame(rows, columns=CROSS_MEASURE_COLUMNS).astype({c: "float64" for c in ("found", "expected", "violation")})


def children_of(agencies: AgencyRegistry) -> dict[str, list[str]]:
    """agency id -> ids of its registered children."""
    out: dict[str, list[str]] = {}
    for a in agencies.agencies.values():
        if a.parent_id:
            out.setdefault(a.parent_id, []).append(a.agency_id)
    return out
