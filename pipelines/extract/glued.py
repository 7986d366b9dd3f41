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
    neither ``fixed`` nor a glued row are skipped: a missing cell is not zero). Rows linked by
    a constraint are enumerated together; if a group has more combinations than
    ``MAX_SOLUTIONS`` nothing in it is decided beyond what each row alone decides.
    """
    owner: dict[str, int] = {}
    for i, row in enumerate(rows):
        row.candidates = row_splits(row)
        for code in row.codes:
            owner[code] = i
    applicable = [
        coeffs for _, coeffs in constraints
        if any(c in owner for c in coeffs) and all(c in owner or c in fixed for c in coeffs)
    ]

    def holds(coeffs: dict[str, float], assign: dict[str, float]) -> bool:
        total = sum(coef * (assign[c] if c in assign else fixed[c]) for c, coef in coeffs.items())
        return abs(total) < 1e-6

    links: list[tuple[dict[str, float], set[int]]] = []
    for coeffs in applicable:
        touched = {owner[c] for c in coeffs if c in owner}
        if len(touched) == 1:
            (i,) = touched
            row = rows[i]
            row.candidates = [
                split for split in row.candidates
                if holds(coeffs, {c: _num(v) for c, v in zip(row.codes, split)})
            ]
        else:
            links.append((coeffs, touched))
    per_row: dict[int, list[tuple[str, ...]]] = {i: list(r.candidates) for i, r in enumerate(rows)}
    undecidable: set[int] = {i for i, r in enumerate(rows) if r.too_many}
    consistent = all(r.candidates for r in rows)
    for group in _components(len(rows), [t for _, t in links]):
        if len(group) == 1:
            continue
        group_links = [(co, t) for co, t in links if t <= group]
        solutions = _enumerate(rows, sorted(group), group_links, holds)
        if solutions is None:
            undecidable |= group
        elif not solutions:
            consistent = False
        else:
            for i in group:
                per_row[i] = sorted({s[i] for s in solutions})
    note = "" if consistent else "no cut of the glued digits satisfies all of the table's equalities"
    result = SplitResult(values={}, ambiguous={}, consistent=consistent, note=note)
    for i, row in enumerate(rows):
        splits = per_row[i]
        for k, code in enumerate(row.codes):
            options = sorted({s[k] for s in splits}, key=lambda v: (_num(v), v))
            if len(options) == 1 and i not in undecidable:
                result.values[code] = options[0]
            else:
                result.ambiguous[code] = options
    return result


def _components(n: int, edges: list[set[int]]) -> list[set[int]]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for edge in edges:
        first, *rest = sorted(edge)
        for other in rest:
            parent[find(other)] = find(first)
    groups: dict[int, set[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), set()).add(i)
    return list(groups.values())


def _enumerate(rows, order, links, holds):
    """All consistent combinations of a group of linked rows, or None when there are too many."""
    order = sorted(order, key=lambda i: len(rows[i].candidates))
    solutions: list[dict[int, tuple[str, ...]]] = []
    assigned: dict[int, tuple[str, ...]] = {}
    values: dict[str, float] = {}
    aborted = False

    def rec(depth: int) -> None:
        nonlocal aborted
        if aborted:
            return
        if depth == len(order):
            solutions.append(dict(assigned))
            if len(solutions) > MAX_SOLUTIONS:
                aborted = True
            return
        i = order[depth]
        done = set(order[: depth + 1])
        ready = [co for co, t in links if i in t and t <= done]
        for split in rows[i].candidates:
            for c, v in zip(rows[i].codes, split):
                values[c] = _num(v)
            if all(holds(co, values) for co in ready):
                assigned[i] = split
                rec(depth + 1)
                del assigned[i]
            if aborted:
                break
        for c in rows[i].codes:
            values.pop(c, None)

    if all(rows[i].candidates for i in order):
        rec(0)
    return None if aborted else solutions
