"""Narrative rules (kind ``narrative``): what the text states against what the tables print.

Table cells are compared as *intervals*: a printed number is exact; a blank cell is derived
from an error-level sum identity when all its parts are printed (上海科委 2024 prints 结转 总计
blank but its parts give 1), and otherwise only bounded below by its printed parts (上海 2019's
blank 总计 column: 予以公开 ≥ 258+12+1+1). A statement is a failure only when it lies outside
that interval, a pass only when the interval is one number equal to it, and otherwise not
assessable. A figure the text does not state makes its conjunct not assessable.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from functools import lru_cache

from pipelines.extract.narrative import NarrativeFigure, first_values
from pipelines.registry import load_registry
from pipelines.rules.expressions import cell_code, linear_constraints, substitutions

INF = math.inf
_IMPLIES = re.compile(r"\((narr\.\w+) implies ([^()]*)\)")


@dataclass
class Interval:
    lo: float
    hi: float

    @property
    def exact(self) -> bool:
        return self.lo == self.hi

    def __add__(self, other: "Interval") -> "Interval":
        return Interval(self.lo + other.lo, self.hi + other.hi)

    def __sub__(self, other: "Interval") -> "Interval":
        return Interval(self.lo - other.hi, self.hi - other.lo)


class NotStated(Exception):
    """A narrative figure the text does not state."""


class TableView:
    """Interval values of a report's cells, with blanks derived from sum identities where possible."""

    def __init__(self, era: str, values: dict[str, float | None]):
        self.era = era
        self.values = values
        self._memo: dict[str, Interval] = {}

    def get(self, code: str, depth: int = 0) -> Interval:
        if code in self._memo:
            return self._memo[code]
        v = self.values.get(code)
        if v is not None:
            out = Interval(v, v)
        else:
            ind = load_registry().by_code.get(code)
            out = Interval(-INF, INF) if ind is not None and ind.value_type == "signed" else Interval(0.0, INF)
            if depth < 3:
                for total, parts in _sum_definitions(self.era).get(code, ()):
                    s = Interval(0.0, 0.0)
                    for p in parts:
                        s = s + self.get(p, depth + 1)
                    out = Interval(max(out.lo, s.lo), min(out.hi, s.hi))
        self._memo[code] = out
        return out


@lru_cache(maxsize=8)
def _sum_definitions(era: str) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """code -> [(code, parts)] for every error-level equality 'code = sum of parts'."""
    out: dict[str, list] = {}
    for _, coeffs in linear_constraints(era):
        pos = [c for c, k in coeffs.items() if k > 0]
        neg = [c for c, k in coeffs.items() if k < 0]
        for single, others in ((pos, neg), (neg, pos)):
            if len(single) == 1 and all(abs(coeffs[c]) == 1 for c in coeffs):
                out.setdefault(single[0], []).append((single[0], tuple(others)))
    return out


class _Eval:
    def __init__(self, figures: dict[str, NarrativeFigure], table: TableView):
        self.figures = figures
        self.table = table
        self.used: list[NarrativeFigure] = []

    def narr(self, name: str) -> float:
        fig = self.figures.get(name)
        if fig is None and name == "granted_or_partial":
            a, b = self.figures.get("granted"), self.figures.get("partially_granted")
            if a and b:
                self.used += [a, b]
                return a.value + b.value
        if fig is None:
            raise NotStated(name)
        self.used.append(fig)
        return fig.value

    def num(self, node) -> Interval:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "narr":
            v = self.narr(node.attr)
            return Interval(v, v)
        code = cell_code(node)
        if code is not None:
            return self.table.get(code)
        if isinstance(node, ast.Constant):
            return Interval(float(node.value), float(node.value))
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            left, right = self.num(node.left), self.num(node.right)
            return left + right if isinstance(node.op, ast.Add) else left - right
        raise ValueError(f"unsupported in a narrative rule: {ast.unparse(node)}")

    def truth(self, node) -> tuple[str, Interval | None, Interval | None]:
        """('pass' | 'fail' | 'na', found, expected)."""
        if isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.Eq):
            left, right = self.num(node.left), self.num(node.comparators[0])
            if left.exact and right.exact and left.lo == right.lo:
                return "pass", left, right
            if left.hi < right.lo or right.hi < left.lo:
                return "fail", left, right
            return "na", left, right
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            results = []
            for v in node.values:
                try:
                    results.append(self.truth(v))
                except NotStated:
                    results.append(("na", None, None))
            for r in results:
                if r[0] == "pass":
                    return r
            if all(r[0] == "fail" for r in results):
                return results[0]
            return "na", results[0][1], results[0][2]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "implies":
            self.narr(node.args[0].attr)
            return self.truth(node.args[1])
        raise ValueError(f"unsupported in a narrative rule: {ast.unparse(node)}")


def _conjuncts(expression: str) -> list[ast.AST]:
    text = _IMPLIES.sub(r"implies(\1, \2)", expression)
    tree = ast.parse(text, mode="eval").body
    if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And):
        return list(tree.values)
    return [tree]


def _row(rule, instance, outcome, found, expected, cells, evidence, missing=""):
    def point(iv):
        if iv is None:
            return None
        if iv.exact:
            return iv.lo
        return iv.lo if iv.lo > 0 else None

    f, e = point(found), point(expected)
    if outcome == "fail":
        violation = 1.0 if f is None or e is None else max(abs(f - e), 1.0)
    elif outcome == "pass":
        violation = 0.0
    else:
        violation = None
    return {
        "rule_id": rule.rule_id, "kind": rule.kind, "severity": rule.severity, "op": "==", "instance": instance,
        "cells": " ".join(cells), "found": f, "expected": e, "violation": violation, "missing": missing,
        "touched": True, "evidence": evidence,
        "bound": None if expected is None or expected.exact else ("at least" if expected.hi == INF else "between"),
    }


@lru_cache(maxsize=8)
def _plan(era: str) -> tuple:
    """Per era: (rule, handler) or (rule, [(instance, node, codes)]) — parsed once, reused for every report."""
    out = []
    for rule in load_registry().rules_for(era, ("narrative",)):
        handler = _HANDLERS.get(rule.rule_id.rsplit("-", 1)[0] if rule.rule_id.endswith(("V19", "V21")) else rule.rule_id)
        if handler:
            out.append((rule, handler, ()))
            continue
        parts = []
        for label, expression in substitutions(rule):
            for node in _conjuncts(expression):
                names = _narr_names(node)
                parts.append((" ".join(p for p in (label, ",".join(names)) if p), node, _codes(node)))
        out.append((rule, None, tuple(parts)))
    return tuple(out)


def narrative_measures(era: str, figures: list[NarrativeFigure], values: dict[str, float | None]) -> list[dict]:
    """Measures of every narrative rule of an era for one report (report_id added by the caller)."""
    first = first_values(figures)
    table = TableView(era, values)
    rows: list[dict] = []
    for rule, handler, parts in _plan(era):
        if handler:
            rows.extend(handler(rule, figures, first, table))
            continue
        for instance, node, codes in parts:
            ev = _Eval(first, table)
            try:
                outcome, found, expected = ev.truth(node)
            except NotStated as exc:
                rows.append(_row(rule, instance, "na", None, None, codes, "", missing=f"not stated in the text: {exc}"))
                continue
            evidence = " / ".join(dict.fromkeys(f.sentence for f in ev.used))
            missing = ""
            if outcome == "na":
                missing = "table cells blank or absent: " + " ".join(c for c in codes if values.get(c) is None)
            rows.append(_row(rule, instance, outcome, found, expected, codes, evidence, missing))
    return rows


def _codes(node) -> tuple[str, ...]:
    out = []
    for n in ast.walk(node):
        c = cell_code(n)
        if c is not None and not c.startswith("narr."):
            out.append(c)
    return tuple(dict.fromkeys(out))


def _narr_names(node) -> list[str]:
    return list(dict.fromkeys(
        n.attr for n in ast.walk(node)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "narr"
    ))


# ---------------------------------------------------------------------------------------------
# rules whose expression is a scheme rather than a formula


def _pct(rule, figures, first, table):
    """Every printed percentage = its count / the answered total, within the printed rounding (or truncation)."""
    out = []
    answered = first.get("answered")
    denominator = answered.value if answered else None
    denom_cells = ["t3.total_processed.total"]
    if denominator is None:
        iv = table.get("t3.total_processed.total")
        denominator = iv.lo if iv.exact else None
    for f in figures:
        if f.figure != "pct":
            continue
        count = first.get(f.qualifier)
        if count is None or not denominator:
            out.append(_row(rule, f"pct:{f.qualifier}", "na", None, None, denom_cells, f.sentence,
                            missing="count or denominator not stated"))
            continue
        exact = 100.0 * count.value / denominator
        text = f"{f.value:g}"
        decimals = len(text.split(".")[1]) if "." in text else 0
        unit = 10 ** (-decimals)
        ok = round(exact, decimals) == round(f.value, decimals) or math.floor(exact / unit + 1e-9) * unit == f.value
        out.append(_row(rule, f"pct:{f.qualifier}", "pass" if ok else "fail", Interval(f.value, f.value),
                        Interval(round(exact, decimals + 1), round(exact, decimals + 1)), denom_cells,
                        f.sentence + (f" (denominator {denominator:g})" if ok is False else "")))
    return out


def _blank(rule, figures, first, table):
    holes = [f for f in figures if f.figure == "template_hole"]
    if not holes:
        return [_row(rule, "", "pass", None, None, [], "")]
    return [_row(rule, f"hole:{k + 1}", "fail", None, None, [], f"{h.qualifier!r} in: {h.sentence}") for k, h in enumerate(holes)]


def _old_restate(rule, figures, first, table):
    """Figures the narrative ties to a 统计表 cell equal that cell; a blank cell the text gives a number for is reported."""
    out = []
    for name, f in first.items():
        if not f.code:
            continue
        printed = table.values.get(f.code)
        if printed is None:
            outcome = "fail" if f.code in table.values else "na"
            row = _row(rule, f.code, outcome, Interval(f.value, f.value), None, [f.code], f.sentence,
                       missing="" if outcome == "fail" else "cell not printed")
            if outcome == "fail":
                row["bound"] = "table cell blank"
            out.append(row)
            continue
        outcome = "pass" if printed == f.value else "fail"
        out.append(_row(rule, f.code, outcome, Interval(f.value, f.value), Interval(printed, printed), [f.code], f.sentence))
    return out


def _old_self(rule, figures, first, table):
    """The narrative agrees with itself: parts listed with a total add up; 'all in person' vs other channels."""
    out = []
    received, parts = first.get("received"), [first.get(k) for k in ("in_person", "online")]
    if received and all(parts) and all(p.sentence == received.sentence for p in parts):
        total = sum(p.value for p in parts)
        out.append(_row(rule, "received=parts", "pass" if total == received.value else "fail",
                        Interval(received.value, received.value), Interval(total, total),
                        ["old.applications.received.total"], received.sentence))
    claim = first.get("says_all_in_person")
    if claim:
        others = [f for f in figures if f.figure == "online" and f.value > 0]
        online_cell = table.values.get("old.applications.received.online")
        if others or (online_cell or 0) > 0:
            evidence = claim.sentence + " / " + (others[0].sentence if others else "Table: 网络申请数 = %g" % online_cell)
            out.append(_row(rule, "all_in_person", "fail", Interval(0, 0),
                            Interval(others[0].value if others else online_cell, others[0].value if others else online_cell),
                            ["old.applications.received.online"], evidence))
        else:
            out.append(_row(rule, "all_in_person", "pass", None, None, [], claim.sentence))
    return out


_HANDLERS = {"N-PCT": _pct, "N-BLANK": _blank, "N-OLD-RESTATE": _old_restate, "N-OLD-SELF": _old_self}
