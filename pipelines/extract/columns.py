"""Deciding the column order of Table 三 and Table 四 from the printed headers and the equalities.

A complete printed header gives the order. The table's own equalities then confirm it: each
row of Table 三 has 总计 = 自然人 + the five organisations (T3-COL), each block of Table 四 has
总计 = 维持 + 纠正 + 其他 + 尚未审结 (T4-SUM). Where the header is unreadable (cut, OCR'd,
``数据1``…), the template order is accepted only when no row contradicts it, or when no other
placement of the 总计 column explains the rows better (then the equalities fail under every order:
it is the document's own printing error, which the rules report, not a question of order);
otherwise the cells stay missing with the reason.
"""

from __future__ import annotations

from pipelines.extract.headers import T4_BLOCKS, T4_OUTCOMES
from pipelines.extract.table_model import ColumnMap
from pipelines.extract.values import NUMBER, parse_cell
from pipelines.registry import APPLICANT_COLUMNS

T3_ORDER = APPLICANT_COLUMNS
T4_ORDER = tuple(f"{b}.{o}" for b in T4_BLOCKS for o in T4_OUTCOMES)


def numbers(texts: list[str]) -> list[float] | None:
    """The values of a row of printed cells when every one is a plain number, else None."""
    out = []
    for t in texts:
        p = parse_cell(t)
        if p.status != NUMBER:
            return None
        out.append(p.value)
    return out


def _t3_failures(order: tuple[str, ...], rows: list[list[float]]) -> int:
    fails = 0
    for vals in rows:
        v = dict(zip(order, vals))
        if abs(v["total"] - sum(v[c] for c in APPLICANT_COLUMNS[:-1])) > 1e-6:
            fails += 1
    return fails


def _t4_failures(order: tuple[str, ...], vals: list[float]) -> int:
    v = dict(zip(order, vals))
    return sum(
        1 for b in T4_BLOCKS
        if abs(v[f"{b}.total"] - sum(v[f"{b}.{o}"] for o in T4_OUTCOMES[:-1])) > 1e-6
    )


def _moved_total(order: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The template order with 总计 moved to every other position (the usual reordering)."""
    others = [c for c in order if c != "total"]
    return [tuple(others[:k] + ["total"] + others[k:]) for k in range(len(others) + 1) if k != len(others)]


def decide_t3(header: ColumnMap, rows: list[list[float]]) -> ColumnMap:
    """Column order of Table 三 given the header reading and the rows printed as plain numbers."""
    if header.how == "header":
        fails = _t3_failures(header.keys, rows)
        if fails and header.keys != T3_ORDER and _t3_failures(T3_ORDER, rows) < fails:
            return ColumnMap((), "unknown", note=(
                f"the printed header order {list(header.keys)} contradicts 总计 = sum of the applicant columns on {fails} row(s)"
            ))
        return header
    fails = _t3_failures(T3_ORDER, rows)
    if not fails:
        evidence = f"template order accepted: 总计 = sum of the applicant columns holds on all {len(rows)} fully printed row(s)"
        return ColumnMap(T3_ORDER, "order", note=f"{header.note}; {evidence}" if header.note else evidence)
    better = [o for o in _moved_total(T3_ORDER) if _t3_failures(o, rows) < fails]
    if better or fails * 2 > len(rows):
        return ColumnMap((), "unknown", note=(
            f"{header.note or 'column header not readable'}; the template order contradicts 总计 = sum of the applicant "
            f"columns on {fails} of {len(rows)} row(s), so the column order cannot be established"
        ))
    return ColumnMap(T3_ORDER, "order", note=(
        f"{header.note or 'column header not readable'}; template order kept: {fails} row(s) break 总计 = sum, "
        "and no other column order explains them (the document's own error)"
    ))


def decide_t4(header: ColumnMap, vals: list[float] | None) -> ColumnMap:
    """Column order of Table 四 given the header reading and its values (None when not plain numbers)."""
    if header.how == "header":
        if vals is not None and header.keys != T4_ORDER:
            fails = _t4_failures(header.keys, vals)
            if fails > _t4_failures(T4_ORDER, vals):
                return ColumnMap((), "unknown", note=f"the printed header order contradicts 总计 = sum in {fails} block(s)")
        return header
    if vals is None:
        return ColumnMap(T4_ORDER, "order", note=f"{header.note}; template order (its digits are checked when split)")
    fails = _t4_failures(T4_ORDER, vals)
    if not fails:
        return ColumnMap(T4_ORDER, "order", note=f"{header.note}; template order accepted: 总计 = sum holds in all three blocks")
    if any(_t4_failures(o, vals) < fails for o in _t4_moved_totals()):
        return ColumnMap((), "unknown", note=(
            f"{header.note}; the template order contradicts 总计 = sum in {fails} block(s) and another column order "
            "satisfies more of them, so the column order cannot be established"
        ))
    return ColumnMap(T4_ORDER, "order", note=(
        f"{header.note}; template order kept: {fails} block(s) break 总计 = sum under every column order "
        "(the document's own error, reported by the rules)"
    ))


def _t4_moved_totals() -> list[tuple[str, ...]]:
    """Table 四 orders with each block's 总计 moved to another position (the same move in every block)."""
    out = []
    for k in range(len(T4_OUTCOMES) - 1):
        inner = list(T4_OUTCOMES[:-1])
        inner.insert(k, "total")
        out.append(tuple(f"{b}.{o}" for b in T4_BLOCKS for o in inner))
    return out
