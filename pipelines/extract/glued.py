"""Recovering cells from digits glued together by flattening ("640020470" = 64,0,0,2,0,4,70).

Every way of cutting a row's digits into its cells is enumerated (numbers never start with a
redundant 0; counts are integers; only money may carry decimals; a minus sign starts a
number; whitespace that survived in the text is a hard boundary). The table's own error-level
equalities from rules.csv (row sums, column sums, conservation, Table 四 block totals) then
filter the combinations. A cell is recovered only when every surviving combination gives it
the same value; otherwise it stays missing and its candidate values are reported.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

MAX_SPLITS_PER_ROW = 200_000
MAX_SOLUTIONS = 20_000

_COUNT = re.compile(r"^(0|[1-9]\d*)$")
_SIGNED = re.compile(r"^-?(0|[1-9]\d*)$")
_MONEY = re.compile(r"^(0|[1-9]\d*)(\.\d+)?$")
_UNIT_SUFFIX = re.compile(r"(万元|元)$")


@dataclass
class GluedRow:
    """A row whose printed digits must be cut into ``len(codes)`` cells."""

    key: str
    codes: tuple[str, ...]
    kinds: tuple[str, ...]
    pieces: list[str]
    candidates: list[tuple[str, ...]] = field(default_factory=list)
    too_many: bool = False


@dataclass
class SplitResult:
    """Outcome per code: a recovered printed string, or the candidate values when undecided."""

    values: dict[str, str]
    ambiguous: dict[str, list[str]]
    consistent: bool
    note: str = ""


def tokenize(fragment: str) -> list[str]:
    """Whitespace pieces of a printed fragment, with a minus sign starting a new piece."""
    pieces = []
    for tok in fragment.split():
        pieces.extend(p for p in re.split(r"(?<=[\d.])(?=-)", tok) if p)
    return pieces


def _valid(text: str, kind: str) -> bool:
    if kind == "money":
        return bool(_MONEY.match(text))
    if kind == "signed":
        return bool(_SIGNED.match(text))
    return bool(_COUNT.match(text))


def _cuts(piece: str, k: int, kinds: tuple[str, ...]):
    """Ways to cut one piece into k valid numbers of the given kinds."""
    n = len(piece)
    if k > n:
        return
    for points in itertools.combinations(range(1, n), k - 1):
        bounds = (0, *points, n)
        parts = tuple(piece[bounds[i] : bounds[i + 1]] for i in range(k))
        if all(_valid(p, kinds[i]) for i, p in enumerate(parts)):
            yield parts


def row_splits(row: GluedRow) -> list[tuple[str, ...]]:
    """Every valid cut of the row's pieces into its cells (capped at MAX_SPLITS_PER_ROW)."""
    pieces = list(row.pieces)
    unit = None
    if pieces:
        m = _UNIT_SUFFIX.search(pieces[-1])
        if m:
            unit = m.group(1)
            pieces[-1] = pieces[-1][: m.start()]
    width = len(row.codes)
    if not pieces or len(pieces) > width or any(not p for p in pieces):
        return []
    out: list[tuple[str, ...]] = []

    def rec(i: int, start: int, acc: tuple[str, ...]) -> bool:
        if i == len(pieces):
            if start == width:
                out.append(acc)
            return len(out) < MAX_SPLITS_PER_ROW
        remaining_pieces = len(pieces) - i - 1
        for k in range(1, width - start - remaining_pieces + 1):
            for parts in _cuts(pieces[i], k, row.kinds[start : start + k]):
                if not rec(i + 1, start + k, acc + parts):
                    return False
        return True

    complete = rec(0, 0, ())
    row.too_many = not complete
    if unit:
        out = [split[:-1] + (split[-1] + unit,) for split in out]
    return out


def _num(text: str) -> float:
    return float(_UNIT_SUFFIX.sub("", text))


def solve(
    rows: list[GluedRow],
    fixed: dict[str, float],
    constraints: tuple[tuple[str, dict[str, float]], ...],
) -> SplitResult:
    """Choose splits for glued rows that satisfy every applicable linear constraint.

    ``fixed`` holds the numeric cells read directly (constraints touching a code that is in
    neither ``fixed`` nor a glued row are skipped: a missing cell is not zero).
    """
    owner: dict[str, int] = {}
    for i, row in enumerate(rows):
        row.candidates = row_splits(row)
        for code in row.codes:
            owner[code] = i
    applicable = [
        (rid, coeffs) for rid, coeffs in constraints
        if any(c in owner for c in coeffs) and all(c in owner or c in fixed for c in coeffs)
    ]

    def holds(coeffs: dict[str, float], assign: dict[str, float]) -> bool:
        total = sum(coef * (assign[c] if c in assign else fixed[c]) for c, coef in coeffs.items())
        return abs(total) < 1e-6

    # row-local constraints first
    for i, row in enumerate(rows):
        local = [co for _, co in applicable if all(owner.get(c) == i or (c in fixed and c not in owner) for c in co)]
        if local:
            kept = []
            for split in row.candidates:
                assign = {c: _num(v) for c, v in zip(row.codes, split)}
                if all(holds(co, assign) for co in local):
                    kept.append(split)
            row.candidates = kept
    order = sorted(range(len(rows)), key=lambda i: len(rows[i].candidates))
    multi = [(rid, co) for rid, co in applicable if len({owner[c] for c in co if c in owner}) > 1]
    rows_of = [{owner[c] for c in co if c in owner} for _, co in multi]
    solutions: list[dict[int, tuple[str, ...]]] = []
    assigned: dict[int, tuple[str, ...]] = {}
    values: dict[str, float] = {}

    def rec(depth: int) -> bool:
        if depth == len(order):
            solutions.append(dict(assigned))
            return len(solutions) < MAX_SOLUTIONS
        i = order[depth]
        row = rows[i]
        done = set(order[: depth + 1])
        ready = [co for (_, co), rs in zip(multi, rows_of) if i in rs and rs <= done]
        for split in row.candidates:
            for c, v in zip(row.codes, split):
                values[c] = _num(v)
            if all(holds(co, values) for co in ready):
                assigned[i] = split
                if not rec(depth + 1):
                    return False
                del assigned[i]
        for c in row.codes:
            values.pop(c, None)
        return True

    if rows and all(r.candidates for r in rows):
        rec(0)
    consistent = bool(solutions)
    if consistent:
        per_row = {i: sorted({s[i] for s in solutions}) for i in range(len(rows))}
        note = ""
    else:
        per_row = {i: rows[i].candidates for i in range(len(rows))}
        note = "no cut of the glued digits satisfies all of the table's equalities"
    result = SplitResult(values={}, ambiguous={}, consistent=consistent, note=note)
    for i, row in enumerate(rows):
        splits = per_row[i]
        for k, code in enumerate(row.codes):
            options = sorted({s[k] for s in splits}, key=lambda v: (_num(v), v))
            if len(options) == 1 and not row.too_many:
                result.values[code] = options[0]
            else:
                result.ambiguous[code] = options
    return result
