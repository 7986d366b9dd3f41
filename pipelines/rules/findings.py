"""From rule measures to stored findings (``rule_results`` rows) with a readable message."""

from __future__ import annotations

import ast
from functools import lru_cache

import pandas as pd

from pipelines.registry import load_registry
from pipelines.rules.expressions import cell_code, instances_for, referenced_codes

# not-assessable instances worth storing: sums and bounds with a printed row (a blank total
# next to printed parts), narrative statements the tables cannot confirm, and region
# comparisons with a missing child. A blank cell's own nonneg/integer instances are only counted.
STORED_NOT_ASSESSABLE_KINDS = {"sum", "identity", "bound", "cross_level"}


def columns(table: str) -> list[str]:
    """Column names of a warehouse table."""
    return [c.name for c in load_registry().table(table)]


def rule_result_rows(measures: pd.DataFrame, years: dict[str, int | None]) -> pd.DataFrame:
    """The stored findings: failures, and the informative not-assessable instances."""
    cols = columns("rule_results")
    if measures.empty:
        return pd.DataFrame(columns=cols)
    missing = measures.missing.fillna("") if "missing" in measures else pd.Series("", index=measures.index)
    stated = measures.kind.eq("narrative") & ~missing.str.startswith("not stated")
    keep = (measures.outcome == "fail") | (
        (measures.outcome == "not_assessable") & measures.touched & (measures.kind.isin(STORED_NOT_ASSESSABLE_KINDS) | stated)
    )
    m = measures[keep].copy()
    if "evidence" not in m.columns:
        m["evidence"] = None
    m["evidence"] = m.evidence.where(m.evidence.fillna("") != "", None)
    if "report_year" not in m.columns or m.report_year.isna().all():
        m["report_year"] = m.report_id.map(years)
    m["message"] = [message(r) for r in m.itertuples(index=False)]
    m["violation"] = m.violation.where(m.outcome == "fail")
    return m[cols]


def fmt(x) -> str:
    """A number as printed (no trailing .0), or 'blank'."""
    if x is None or pd.isna(x):
        return "blank"
    x = float(x)
    return str(int(x)) if x.is_integer() else f"{x:g}"


def message(r) -> str:
    """One sentence saying what was found and what was expected."""
    where = f" [{r.instance}]" if r.instance else ""
    if r.outcome == "not_assessable":
        return f"{r.rule_id}{where} not assessable: missing {r.missing}"
    if r.kind == "integer":
        return f"{r.rule_id}{where}: {r.cells} = {fmt(r.found)} is not an integer"
    if r.kind == "nonneg":
        return f"{r.rule_id}{where}: {r.cells.split()[0]} = {fmt(r.found)} is negative"
    if r.op == "predicate":
        return f"{r.rule_id}{where}: does not hold for the printed rows ({r.cells})"
    if r.kind == "narrative":
        bound = getattr(r, "bound", None)
        bound = None if bound is None or (isinstance(bound, float) and pd.isna(bound)) else bound
        table = "blank" if bound == "table cell blank" else (f"{bound} {fmt(r.expected)}" if bound else fmt(r.expected))
        return f"{r.rule_id}{where}: the text states {fmt(r.found)}, the tables give {table}"
    if r.kind == "cross_year":
        return f"{r.rule_id}{where}: {fmt(r.found)} this year, expected {fmt(r.expected)} from the previous year's report"
    if r.kind == "cross_level":
        return f"{r.rule_id}{where}: the region prints {fmt(r.found)}, its parts sum to {fmt(r.expected)}"
    inst = instance_index().get((r.rule_id, r.instance))
    left = describe_side(inst.lhs) if inst else "left side"
    right = describe_side(inst.rhs) if inst and inst.rhs is not None else "right side"
    verb = {"==": "but", "<=": "exceeds", "<": "exceeds", ">=": "is below", ">": "is below"}.get(r.op, "vs")
    return f"{r.rule_id}{where}: {left} = {fmt(r.found)} {verb} {right} = {fmt(r.expected)}"


@lru_cache(maxsize=1)
def instance_index() -> dict:
    """In-table rule instances by (rule_id, instance) across eras."""
    out = {}
    for era in ("old2014", "v2019", "v2021"):
        for inst in instances_for(era):
            out[(inst.rule_id, inst.instance)] = inst
    return out


def _plain_sum(node) -> bool:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _plain_sum(node.left) and _plain_sum(node.right)
    return cell_code(node) is not None


def describe_side(node) -> str:
    """A short human description of one side of a rule (a cell, a sum of cells, an expression)."""
    code = cell_code(node)
    if code is not None:
        return code
    codes = referenced_codes(node)
    if _plain_sum(node) and len(codes) > 2:
        return f"the sum of {len(codes)} cells ({codes[0]} …)"
    text = ast.unparse(node)
    return text if len(text) <= 90 else text[:87] + "…"
