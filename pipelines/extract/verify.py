"""Stage 5: verification — choosing among candidate readings with the table's own equalities.

Some cells have more than one possible reading: digits glued by flattening (``77132470``), OCR
readings with alternatives (``Cell.alternatives``) or with digits OCR engines confuse (1/7, 3/8,
0/6/9, 5/6). All of them go through one solver over the error-level equalities of rules.csv
(``rules.expressions.linear_constraints``: row sums, column sums, conservation, Table 四 block
totals). Policy (PLAN.md interface 2):

* glued digits: a cell is recovered (``split``) only when every combination of cuts that
  satisfies the equalities gives it the same value; otherwise it stays missing
  (``value_status = ambiguous``) with its candidates. Figures the narrative states about a table
  cell (``narr.* == cell`` in the narrative rules) are then used as evidence, one at a time, for
  cells still ambiguous (``narrative``); a statement that fits no cut is ignored;
* OCR: a reading an evaluable equality confirms is kept (``confirmed``); a cell that is only in
  failing equalities is re-read from its alternatives, and replaced only when every satisfying
  combination gives the same value (``alternative``), otherwise missing with
  ``value_status = ocr_unverified`` and the candidates; an OCR cell no equality covers is kept
  only at or above ``OCR_CONFIDENCE_THRESHOLD`` and marked ``unchecked``.

Printed text cells are never changed: a document's own arithmetic error stays as printed and is
reported by the rules. ``verification_status`` labels every cell (confirmed / contradicted /
unchecked) for the warehouse.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import lru_cache

from pipelines.registry import load_registry
from pipelines.rules.expressions import RuleSyntaxError, _linear, linear_constraints, substitutions
from pipelines.extract.glued import number

OCR_CONFIDENCE_THRESHOLD = 0.90
MAX_SOLUTIONS = 20_000
MAX_TRIES = 200_000  # candidate readings tried per group of linked cells (bounds the search); beyond: undecided
CONFUSABLE_DIGITS = {"1": "7", "7": "1", "3": "8", "8": "3", "0": "69", "6": "095", "9": "06", "5": "6"}

CONFIRMED = "confirmed"
CONTRADICTED = "contradicted"
UNCHECKED = "unchecked"


@dataclass
class Unit:
    """Cells read together whose printed reading is uncertain, with their candidate readings."""

    codes: tuple[str, ...]
    candidates: list[tuple[str, ...]]
    source: str  # "glued" or "ocr"
    primary: tuple[str, ...] | None = None
    complete: bool = True  # False when the candidate list was capped
    confidence: float | None = None


@dataclass
class Outcome:
    """What the stage decided, per code."""

    values: dict[str, str] = field(default_factory=dict)  # code -> printed reading chosen
    how: dict[str, str] = field(default_factory=dict)  # code -> split | narrative | alternative | confirmed | unchecked
    undecided: dict[str, list[str]] = field(default_factory=dict)  # code -> candidate readings
    evidence: dict[str, str] = field(default_factory=dict)  # code -> the narrative sentence used
    bounded: set[str] = field(default_factory=set)  # codes left undecided because a search bound was reached
    notes: list[str] = field(default_factory=list)
    consistent: bool = True  # False when no combination satisfied every equality (each unit then decided alone)


def ocr_candidates(text: str, alternatives: tuple[str, ...] = ()) -> list[str]:
    """The reader's reading, its alternatives, and every single-digit confusion of them (1/7, 3/8, 0/6/9, 5/6)."""
    out = [text, *alternatives]
    for base in list(out):
        for i, ch in enumerate(base):
            for sub in CONFUSABLE_DIGITS.get(ch, ""):
                cand = base[:i] + sub + base[i + 1 :]
                if not (len(cand) > 1 and cand[0] == "0"):
                    out.append(cand)
    return list(dict.fromkeys(out))


# ------------------------------------------------------------------------------------------------
# the solver


@dataclass
class _Solved:
    options: dict[int, list[tuple[str, ...]]]
    undecidable: set[int]
    consistent: bool
    bounded: set[int] = field(default_factory=set)  # units left undecided because a search bound was reached


def _holds(coeffs: dict[str, float], assign: dict[str, float], fixed: dict[str, float]) -> bool:
    total = sum(coef * (assign[c] if c in assign else fixed[c]) for c, coef in coeffs.items())
    return abs(total) < 1e-6


def solve(units: list[Unit], fixed: dict[str, float], constraints) -> _Solved:
    """Candidate combinations of the units that satisfy every applicable linear constraint.

    A constraint applies when every code in it is either fixed or in a unit (a missing cell is
    not zero). Units linked by a constraint are enumerated together; a group with more than
    ``MAX_SOLUTIONS`` combinations is left undecided beyond what each unit alone decides.
    """
    owner: dict[str, int] = {}
    for i, u in enumerate(units):
        for code in u.codes:
            owner[code] = i
    cands = {i: list(u.candidates) for i, u in enumerate(units)}
    links: list[tuple[dict[str, float], set[int]]] = []
    for _, coeffs in constraints:
        if not any(c in owner for c in coeffs) or not all(c in owner or c in fixed for c in coeffs):
            continue
        touched = {owner[c] for c in coeffs if c in owner}
        if len(touched) == 1:
            (i,) = touched
            u = units[i]
            # the constant part once, then only the unit's own positions per candidate
            const = sum(coef * fixed[c] for c, coef in coeffs.items() if c not in owner)
            at = [(k, coeffs[c]) for k, c in enumerate(u.codes) if c in coeffs]
            cands[i] = [s for s in cands[i] if abs(const + sum(coef * number(s[k]) for k, coef in at)) < 1e-6]
        else:
            links.append((coeffs, touched))
    undecidable = {i for i, u in enumerate(units) if not u.complete}
    bounded = set(undecidable)
    consistent = all(cands.values()) if cands else True
    for group in _components(len(units), [t for _, t in links]):
        if len(group) == 1:
            continue
        group_links = [(co, t) for co, t in links if t <= group]
        solutions = _enumerate(units, cands, sorted(group), group_links, fixed)
        if solutions is None:
            undecidable |= group
            bounded |= group
        elif not solutions:
            consistent = False
        else:
            for i in group:
                cands[i] = sorted({s[i] for s in solutions})
    return _Solved(cands, undecidable, consistent, bounded)


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


def _enumerate(units, cands, order, links, fixed):
    """All consistent combinations of a group of linked units, or None when there are too many
    (more than ``MAX_SOLUTIONS``, or more than ``MAX_TRIES`` readings tried)."""
    order = sorted(order, key=lambda i: len(cands[i]))
    solutions: list[dict[int, tuple[str, ...]]] = []
    assigned: dict[int, tuple[str, ...]] = {}
    values: dict[str, float] = {}
    aborted = False
    tries = 0

    def rec(depth: int) -> None:
        nonlocal aborted, tries
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
        for split in cands[i]:
            tries += 1
            if tries > MAX_TRIES:
                aborted = True
                break
            for c, v in zip(units[i].codes, split):
                values[c] = number(v)
            if all(_holds(co, values, fixed) for co in ready):
                assigned[i] = split
                rec(depth + 1)
                del assigned[i]
            if aborted:
                break
        for c in units[i].codes:
            values.pop(c, None)

    if all(cands[i] for i in order):
        rec(0)
    return None if aborted else solutions


def _per_code(units: list[Unit], solved: _Solved) -> tuple[dict[str, str], dict[str, list[str]]]:
    decided, undecided = {}, {}
    for i, u in enumerate(units):
        for k, code in enumerate(u.codes):
            options = sorted({s[k] for s in solved.options[i]}, key=lambda v: (number(v), v))
            if len(options) == 1 and i not in solved.undecidable:
                decided[code] = options[0]
            else:
                undecided[code] = options
    return decided, undecided


# ------------------------------------------------------------------------------------------------
# narrative evidence


@lru_cache(maxsize=8)
def narrative_constraints(era: str) -> tuple[tuple[str, str, dict[str, float]], ...]:
    """(rule_id, narrative figure, {code: coefficient}) for every 'narr.X == cells' equality of the era's narrative rules."""
    out = []
    for rule in load_registry().rules_for(era, ("narrative",)):
        for _, text in substitutions(rule):
            try:
                tree = ast.parse(text, mode="eval").body
            except SyntaxError:
                continue
            parts = tree.values if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And) else [tree]
            for part in parts:
                if not (isinstance(part, ast.Compare) and len(part.ops) == 1 and isinstance(part.ops[0], ast.Eq)):
                    continue
                coeffs: dict[str, float] = {}
                try:
                    _linear(part.left, 1.0, coeffs)
                    _linear(part.comparators[0], -1.0, coeffs)
                except RuleSyntaxError:
                    continue
                figures = [c for c in coeffs if c.startswith("narr.")]
                if len(figures) == 1 and len(coeffs) > 1:
                    out.append((rule.rule_id, figures[0][5:], {k: v for k, v in coeffs.items() if v}))
    return tuple(out)


# ------------------------------------------------------------------------------------------------
# the stage


def verify(era: str, fixed: dict[str, float], units: list[Unit], figures: dict[str, tuple[float, str]] | None = None) -> Outcome:
    """Decide every uncertain cell (see the module docstring). ``figures``: narrative figure -> (value, sentence)."""
    out = Outcome()
    constraints = linear_constraints(era)
    glued = [u for u in units if u.source == "glued"]
    ocr = [u for u in units if u.source == "ocr"]
    primaries = {u.codes[0]: number(u.primary[0]) for u in ocr if u.primary and _is_number(u.primary[0])}
    # OCR cells in an equality that fails with the readings as given, and in none that holds, are suspects
    known = {**fixed, **primaries}
    failing: set[str] = set()
    holding: set[str] = set()
    for _, coeffs in constraints:
        if all(c in known for c in coeffs):
            (holding if _holds(coeffs, {}, known) else failing).update(c for c in coeffs if c in primaries)
    suspects = failing - holding
    for _, coeffs in constraints:
        # an equality that fails although each OCR cell in it is confirmed elsewhere: two compensating misreadings
        # (or the document's own error) — every OCR cell in it is re-read
        in_it = [c for c in coeffs if c in primaries]
        if in_it and all(c in known for c in coeffs) and not _holds(coeffs, {}, known) and not suspects & set(in_it):
            suspects |= set(in_it)
    ocr_no_number = {u.codes[0] for u in ocr if u.codes[0] not in primaries}
    solve_units = glued + [u for u in ocr if u.codes[0] in suspects or u.codes[0] in ocr_no_number]
    base = {**fixed, **{c: v for c, v in primaries.items() if c not in suspects}}
    solved = solve(solve_units, base, constraints)
    if not solved.consistent:
        out.consistent = False
        out.notes.append("no combination of the candidate readings satisfies all of the table's equalities")
        # glued digits fall back to what each row decides with its own equalities (the document's own error
        # is then reported by the rules); OCR readings are never chosen against a failing equality
        solved = solve(solve_units, base, tuple((r, co) for r, co in constraints if _single_unit(co, solve_units)))
        for i, u in enumerate(solve_units):
            if u.source == "ocr":
                solved.undecidable.add(i)
    decided, undecided = _per_code(solve_units, solved)
    out.bounded = {c for i in solved.bounded for c in solve_units[i].codes}
    for u in solve_units:
        if u.source == "ocr" and u.codes[0] in undecided and not undecided[u.codes[0]]:
            undecided[u.codes[0]] = [c[0] for c in u.candidates]  # nothing fits: show what was read and tried
    source = {c: u.source for u in solve_units for c in u.codes}
    for code, value in decided.items():
        out.values[code] = value
        if source[code] == "glued":
            out.how[code] = "split"
        else:
            unit = next(u for u in ocr if u.codes[0] == code)
            out.how[code] = CONFIRMED if unit.primary and value == unit.primary[0] else "alternative"
    if figures and any(source[c] == "glued" for c in undecided):
        _narrative(era, solve_units, base, decided, undecided, figures, out, source)
    for code, options in undecided.items():
        if code not in out.values:
            out.undecided[code] = options
    # OCR cells outside every failing equality
    final = {**base, **{c: number(v) for c, v in out.values.items()}}
    for u in ocr:
        code = u.codes[0]
        if code in out.values or code in out.undecided:
            continue
        status = cell_status(code, final, constraints)
        if status == CONFIRMED or (u.confidence is not None and u.confidence >= OCR_CONFIDENCE_THRESHOLD):
            out.values[code] = u.primary[0]
            out.how[code] = CONFIRMED if status == CONFIRMED else UNCHECKED
        else:
            out.undecided[code] = [u.primary[0]] if u.primary else []
    return out


def _narrative(era, units, base, decided, undecided, figures, out: Outcome, source) -> None:
    """Use the narrative's statements about table cells, one at a time, for cells still ambiguous."""
    constraints = list(linear_constraints(era))
    fixed = {**base, **{c: number(v) for c, v in decided.items()}}
    open_units = [u for u in units if any(c in undecided for c in u.codes) and u.source == "glued"]
    for rule_id, figure, coeffs in narrative_constraints(era):
        if figure not in figures or not any(c in undecided and c not in out.values for c in coeffs):
            continue
        value, sentence = figures[figure]
        trial_fixed = {**fixed, f"narr.{figure}": value}
        solved = solve(open_units, trial_fixed, (*constraints, (rule_id, coeffs)))
        if not solved.consistent:
            out.notes.append(f"the narrative's {figure} = {value:g} fits no reading of the glued digits; not used")
            continue
        now, rest = _per_code(open_units, solved)
        gained = {c: v for c, v in now.items() if c in undecided and c not in out.values}
        if not gained:
            continue
        undecided.update({c: v for c, v in rest.items() if c in undecided})
        constraints.append((rule_id, coeffs))
        fixed = trial_fixed
        for code, v in gained.items():
            out.values[code] = v
            out.how[code] = "narrative"
            out.evidence[code] = sentence


def _single_unit(coeffs: dict[str, float], units: list[Unit]) -> bool:
    owners = {i for i, u in enumerate(units) for c in u.codes if c in coeffs}
    return len(owners) <= 1


def _is_number(text: str) -> bool:
    try:
        number(text)
        return True
    except ValueError:
        return False


def cell_status(code: str, values: dict[str, float], constraints) -> str:
    """confirmed: an evaluable equality over the cell holds and none fails; contradicted: one fails; else unchecked."""
    status = UNCHECKED
    for _, coeffs in constraints:
        if code not in coeffs or not all(c in values for c in coeffs):
            continue
        if not _holds(coeffs, {}, values):
            return CONTRADICTED
        status = CONFIRMED
    return status


def _bound_fails(coeffs: dict[str, float], values: dict[str, float]) -> bool:
    """An equality with unknown cells that cannot hold whatever they are: the unknowns are counts or amounts
    (never negative) all on one side, and the known cells already exceed the other ('总计 0' beside parts
    1 and 1 and a blank)."""
    by_code = load_registry().by_code
    unknown = [c for c in coeffs if c not in values]
    if any(by_code[c].value_type == "signed" if c in by_code else True for c in unknown):
        return False
    signs = {coeffs[c] > 0 for c in unknown}
    if len(signs) != 1:
        return False
    known = sum(coef * values[c] for c, coef in coeffs.items() if c in values)
    return known > 1e-6 if signs == {True} else known < -1e-6


def statuses(values: dict[str, float], era: str) -> dict[str, str]:
    """verification status of every code with a value (see ``cell_status``), computed in one pass; an equality
    with unknown cells contradicts its known cells when no non-negative values of the unknowns can satisfy it."""
    out = {c: UNCHECKED for c in values}
    for _, coeffs in linear_constraints(era):
        if not all(c in values for c in coeffs):
            if any(c in values for c in coeffs) and _bound_fails(coeffs, values):
                for c in coeffs:
                    if c in values:
                        out[c] = CONTRADICTED
            continue
        ok = _holds(coeffs, {}, values)
        for c in coeffs:
            if not ok:
                out[c] = CONTRADICTED
            elif out[c] == UNCHECKED:
                out[c] = CONFIRMED
    return out
