"""Candidate readings of digits glued together by flattening ("640020470" = 64,0,0,2,0,4,70).

Every way of cutting a row's digits into its cells is enumerated (numbers never start with a
redundant 0; counts are integers; only money may carry decimals; a minus sign starts a number;
whitespace that survived in the text is a hard boundary). The cuts are the row's candidate
readings; the verification stage (``verify``) keeps those the table's equalities allow.
"""

from __future__ import annotations

import re
from functools import lru_cache

MAX_SPLITS_PER_ROW = 20_000  # more cuts than this: the row is left missing (too many readings)
MAX_COUNT_DIGITS = 9  # no count in these tables reaches a billion
MAX_MONEY_CHARS = 16

_COUNT = re.compile(r"0|[1-9]\d*")
_SIGNED = re.compile(r"-?(?:0|[1-9]\d*)")
_MONEY = re.compile(r"(?:0|[1-9]\d*)(?:\.\d+)?")
_UNIT_SUFFIX = re.compile(r"(万元|元)$")
_MINUS = re.compile(r"(?<=[\d.])(?=-)")
_PATTERNS = {"money": _MONEY, "signed": _SIGNED, "count": _COUNT}


def tokenize(fragment: str) -> list[str]:
    """Whitespace pieces of a printed fragment, with a minus sign starting a new piece."""
    pieces = []
    for tok in fragment.split():
        pieces.extend(p for p in _MINUS.split(tok) if p) if "-" in tok else pieces.append(tok)
    return pieces


def valid(text: str, kind: str) -> bool:
    """True when ``text`` is a well-formed number of the kind (count / signed / money)."""
    return _PATTERNS.get(kind, _COUNT).fullmatch(text) is not None


@lru_cache(maxsize=4096)
def _cuts(piece: str, kinds: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Ways to cut one piece into ``len(kinds)`` valid numbers of those kinds (prefixes pruned early)."""
    n, k = len(piece), len(kinds)
    out: list[tuple[str, ...]] = []
    # the most characters parts j.. can still take (a piece longer than that has no cut)
    room = [0] * (k + 1)
    for j in range(k - 1, -1, -1):
        room[j] = room[j + 1] + (MAX_MONEY_CHARS if kinds[j] == "money" else MAX_COUNT_DIGITS + 1)

    def rec(start: int, j: int, acc: tuple[str, ...]) -> bool:
        if n - start > room[j]:
            return True
        if j == k - 1:
            last = piece[start:]
            if last and valid(last, kinds[j]) and not _dead(last, kinds[j]):
                out.append(acc + (last,))
            return len(out) < MAX_SPLITS_PER_ROW
        # leave at least one character for each remaining part
        for end in range(start + 1, n - (k - 1 - j) + 1):
            part = piece[start:end]
            if _dead(part, kinds[j]):
                break  # growing the part never makes it valid
            if not valid(part, kinds[j]):
                continue
            if not rec(end, j + 1, acc + (part,)):
                return False
        return True

    if k <= n:
        rec(0, 0, ())
    return tuple(out)


def _dead(part: str, kind: str) -> bool:
    """True when no longer part starting like this can be valid (a redundant leading 0, or too many digits)."""
    digits = part[1:] if part.startswith("-") else part
    if len(digits) > (MAX_MONEY_CHARS if kind == "money" else MAX_COUNT_DIGITS):
        return True
    return len(digits) > 1 and digits[0] == "0" and not (kind == "money" and digits[1] == ".")


def row_splits(pieces: list[str], kinds: tuple[str, ...]) -> tuple[list[tuple[str, ...]], bool]:
    """Every valid cut of a row's printed pieces into ``len(kinds)`` cells, and whether the list is complete."""
    pieces = list(pieces)
    unit = None
    if pieces:
        m = _UNIT_SUFFIX.search(pieces[-1])
        if m:
            unit = m.group(1)
            pieces[-1] = pieces[-1][: m.start()]
    width = len(kinds)
    if not pieces or len(pieces) > width or any(not p for p in pieces):
        return [], True
    out: list[tuple[str, ...]] = []

    def rec(i: int, start: int, acc: tuple[str, ...]) -> bool:
        if i == len(pieces):
            if start == width:
                out.append(acc)
            return len(out) < MAX_SPLITS_PER_ROW
        remaining = len(pieces) - i - 1
        for k in range(1, width - start - remaining + 1):
            for parts in _cuts(pieces[i], kinds[start : start + k]):
                if not rec(i + 1, start + k, acc + parts):
                    return False
        return True

    complete = rec(0, 0, ())
    if unit:
        out = [split[:-1] + (split[-1] + unit,) for split in out]
    return out, complete


def number(text: str) -> float:
    """Value of a candidate reading (a unit suffix is ignored)."""
    return float(_UNIT_SUFFIX.sub("", text))
