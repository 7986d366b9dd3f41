"""Evaluating rule instances over many reports at once (pandas, vectorised per instance).

For every report and rule instance the evaluator computes ``found`` (left side), ``expected``
(right side) and ``violation``: how far the rule is from holding (> 0 fails, <= 0 holds,
null = not assessable because a referenced cell is missing — blank is missing, never 0).
These *measures* are what the Great Expectations suites validate (``suites``).
"""

from __future__ import annotations

import ast

import numpy as np
import pandas as pd

from pipelines.rules.expressions import RuleInstance, cell_code, instances_for

TOLERANCE = 1e-6
MEASURE_COLUMNS = [
    "report_id", "rule_id", "kind", "severity", "op", "instance", "cells", "found", "expected", "violation", "missing",
    "touched",
]


def wide_frames(cells: pd.DataFrame, report_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(values, present) indexed by report_id with one column per code.

    ``values`` holds numbers (NaN for blank, '/', ambiguous or absent cells); ``present`` says
    whether the row was printed at all (for present()/absent()).
    """
    index = pd.Index(report_ids, name="report_id")
    if cells.empty:
        return pd.DataFrame(index=index), pd.DataFrame(index=index)
    values = cells.pivot_table(index="report_id", columns="code", values="value", aggfunc="first", dropna=False)
    values = values.reindex(index)
    present = cells.assign(flag=1).pivot_table(index="report_id", columns="code", values="flag", aggfunc="max")
    present = present.reindex(index).fillna(0).astype(bool)
    return values, present


class _Eval:
    def __init__(self, values: pd.DataFrame, present: pd.DataFrame):
        self.values = values
        self.present = present
        self.n = len(values.index)

    def num(self, node: ast.AST):
        code = cell_code(node)
        if code is not None:
            if code in self.values.columns:
                return self.values[code].astype(float)
            return pd.Series(np.nan, index=self.values.index)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self.num(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = self.num(node.left), self.num(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "abs":
            return abs(self.num(node.args[0]))
        raise ValueError(f"unsupported numeric expression: {ast.unparse(node)}")

    def pred(self, node: ast.AST) -> pd.Series:
        if isinstance(node, ast.BoolOp):
            parts = [self.pred(v) for v in node.values]
            out = parts[0]
            for p in parts[1:]:
                out = (out & p) if isinstance(node.op, ast.And) else (out | p)
            return out
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ~self.pred(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("present", "absent"):
            code = cell_code(node.args[0])
            has = self.present[code] if code in self.present.columns else pd.Series(False, index=self.present.index)
            return has if node.func.id == "present" else ~has
        raise ValueError(f"unsupported predicate: {ast.unparse(node)}")


def _violation(op: str, found: pd.Series, expected: pd.Series) -> pd.Series:
    if op == "==":
        return (found - expected).abs()
    if op in ("<=", "<"):
        return found - expected
    if op in (">=", ">"):
        return expected - found
    raise ValueError(op)


def measure(era: str, values: pd.DataFrame, present: pd.DataFrame) -> pd.DataFrame:
    """Long frame of measures, one row per (report, rule instance) of an era's in-table rules."""
    ev = _Eval(values, present)
    index = values.index
    n = len(index)
    instances = instances_for(era)
    if not instances or not n:
        return pd.DataFrame(columns=MEASURE_COLUMNS)
    cols: dict[str, list] = {k: [] for k in ("found", "expected", "violation", "missing", "touched")}
    for inst in instances:
        found, expected, violation, missing = _measure_one(ev, inst, index)
        touched = np.zeros(n, dtype=bool)
        for c in inst.codes:
            if c in present.columns:
                touched |= present[c].to_numpy()
        for k, arr in zip(cols, (found, expected, violation, missing, touched)):
            cols[k].append(np.asarray(arr))
    k = len(instances)

    def repeat(attr):
        return np.repeat(np.array([attr(i) for i in instances], dtype=object), n)

    return pd.DataFrame(
        {
            "report_id": np.tile(index.to_numpy(dtype=object), k),
            "rule_id": repeat(lambda i: i.rule_id),
            "kind": repeat(lambda i: i.rule.kind),
            "severity": repeat(lambda i: i.rule.severity),
            "op": repeat(lambda i: i.op),
            "instance": repeat(lambda i: i.instance),
            "cells": repeat(lambda i: " ".join(i.codes)),
            "found": np.concatenate(cols["found"]).astype(float),
            "expected": np.concatenate(cols["expected"]).astype(float),
            "violation": np.concatenate(cols["violation"]).astype(float),
            "missing": np.concatenate(cols["missing"]),
            "touched": np.concatenate(cols["touched"]),
        }
    )


def _measure_one(ev: _Eval, inst: RuleInstance, index: pd.Index):
    n = len(index)
    codes = [c for c in inst.codes]
    if inst.op == "predicate":
        ok = ev.pred(inst.lhs).to_numpy()
        has_any = np.zeros(n, dtype=bool)
        for c in codes:
            if c in ev.present.columns:
                has_any |= ev.present[c].to_numpy()
        violation = np.where(has_any, np.where(ok, 0.0, 1.0), np.nan)
        found = np.where(has_any, ok.astype(float), np.nan)
        expected = np.where(has_any, 1.0, np.nan)
        missing = np.where(has_any, "", "rows not printed")
        return found, expected, violation, missing
    if inst.op == "integer":
        x = _series(ev.num(inst.lhs), index)
        found = x.to_numpy()
        expected = np.round(found)
        violation = np.abs(found - expected)
    else:
        f = _series(ev.num(inst.lhs), index)
        e = _series(ev.num(inst.rhs), index)
        found, expected = f.to_numpy(), e.to_numpy()
        violation = _violation(inst.op, f, e).to_numpy()
    missing_mask = np.zeros((n, len(codes)), dtype=bool)
    for k, c in enumerate(codes):
        if c in ev.values.columns:
            missing_mask[:, k] = ev.values[c].isna().to_numpy()
        else:
            missing_mask[:, k] = True
    names = np.array(codes, dtype=object)
    any_missing = missing_mask.any(axis=1)
    missing = np.full(n, "", dtype=object)
    for i in np.flatnonzero(any_missing):  # names only where something is missing (most rows of a full table: none)
        missing[i] = " ".join(names[missing_mask[i]])
    violation = np.where(any_missing, np.nan, violation)
    return found, expected, violation, missing


def _series(x, index: pd.Index) -> pd.Series:
    if isinstance(x, pd.Series):
        return x.reindex(index)
    return pd.Series(float(x), index=index)


def outcome(violation: pd.Series) -> pd.Series:
    """pass / fail / not_assessable from violation amounts."""
    out = np.where(violation.isna(), "not_assessable", np.where(violation > TOLERANCE, "fail", "pass"))
    return pd.Series(out, index=violation.index)
