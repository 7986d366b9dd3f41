"""Finding template rows by their printed labels.

A ``LabelIndex`` holds, for one era, every label variant of every template row (printed labels
from indicators.csv plus the variants in labels.csv) in three normal forms (see ``text``).
Cells are matched whole (grid tables); running text is searched for complete variants,
numbering included, so that a short label never fires inside a sentence.
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from pipelines.extract.text import _QUOTES, bare, core, norm
from pipelines.registry import TemplateRow, load_registry

EXACT = "exact"
CORE = "core"
VARIANT = "variant"
FUZZY = "fuzzy"
ORDER = "order"
POSITION = "position"


@dataclass(frozen=True)
class LabelMatch:
    """Template rows a printed label may denote, and how it matched."""

    rows: tuple[TemplateRow, ...]
    how: str


@dataclass(frozen=True)
class Occurrence:
    """A label found inside running text: [start, end) in the original string."""

    start: int
    end: int
    rows: tuple[TemplateRow, ...]
    how: str


def normalized_with_map(text: str) -> tuple[str, list[int]]:
    """``norm(text)`` plus, for each normalized character, its index in ``text``."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        n = unicodedata.normalize("NFKC", ch).translate(_QUOTES)
        for c in n:
            if c.isspace() or c in "\u200b\u200c\u200d\ufeff":
                continue
            out.append(c)
            index.append(i)
    return "".join(out), index


class LabelIndex:
    """All label variants of one era's template rows, ready for matching."""

    def __init__(self, era: str):
        reg = load_registry()
        self.era = era
        self.rows = reg.template(era)
        extra = {(lb.key, lb.variant) for lb in reg.labels_of("row")}
        self._norm: dict[str, list[TemplateRow]] = {}
        self._core: dict[str, list[TemplateRow]] = {}
        self._bare: dict[str, list[TemplateRow]] = {}
        self._is_variant: set[tuple[str, str]] = set()
        self.free_variants: list[tuple[str, TemplateRow, bool]] = []
        for row in self.rows:
            for label in row.labels:
                is_extra = (row.key, label) in extra
                for form, table in ((norm(label), self._norm), (core(label), self._core), (bare(label), self._bare)):
                    bucket = table.setdefault(form, [])
                    if row not in bucket:
                        bucket.append(row)
                    if is_extra:
                        self._is_variant.add((row.key, form))
                self.free_variants.append((norm(label), row, is_extra))
        # longest first so that 行政规范性文件 wins over 规范性文件 at the same place
        self.free_variants.sort(key=lambda t: -len(t[0]))

    def match_cell(self, text: str, tables: set[str]) -> LabelMatch | None:
        """Match a whole cell's text to template rows of the allowed tables."""
        if not text or len(norm(text)) < 2:
            return None
        for form, table, how in ((norm(text), self._norm, EXACT), (core(text), self._core, CORE), (bare(text), self._bare, CORE)):
            if how != EXACT and len(form) < 4 and core(text) == norm(text):
                continue  # a bare 总计/其他 is a column header, not the numbered row
            rows = tuple(r for r in table.get(form, ()) if r.table_id in tables)
            if rows:
                if any((r.key, form) in self._is_variant for r in rows):
                    how = VARIANT
                return LabelMatch(rows, how)
        return self._fuzzy(text, tables)

    def _fuzzy(self, text: str, tables: set[str]) -> LabelMatch | None:
        target = bare(text)
        if len(target) < 4:
            return None
        best: list[tuple[float, TemplateRow]] = []
        for form, rows in self._bare.items():
            if len(form) < 4 or abs(len(form) - len(target)) > max(3, len(form) // 4):
                continue
            ratio = difflib.SequenceMatcher(None, target, form, autojunk=False).ratio()
            if ratio >= 0.85:
                best.extend((ratio, r) for r in rows if r.table_id in tables)
        if not best:
            return None
        top = max(b[0] for b in best)
        rows = tuple(dict.fromkeys(r for ratio, r in best if ratio == top))
        return LabelMatch(rows, FUZZY)

    def find_in_text(self, text: str, tables: set[str], at_start_only_for: set[str] = frozenset()) -> list[Occurrence]:
        """Every complete label variant inside running text, without overlaps (longest wins)."""
        normed, index = normalized_with_map(text)
        taken = [False] * len(normed)
        found: list[tuple[int, int, list[TemplateRow], bool]] = []
        for form, row, is_extra in self.free_variants:
            if row.table_id not in tables or len(form) < 2:
                continue
            start = 0
            while True:
                k = normed.find(form, start)
                if k < 0:
                    break
                start = k + 1
                if row.table_id in at_start_only_for and k != 0:
                    continue
                end = k + len(form)
                if any(taken[k:end]):
                    # same span already claimed by an equal-length variant of another row: share it
                    for f in found:
                        if f[0] == k and f[1] == end and row not in f[2]:
                            f[2].append(row)
                    continue
                for j in range(k, end):
                    taken[j] = True
                found.append((k, end, [row], is_extra))
        found.sort()
        out = []
        for k, end, rows, is_extra in found:
            o_start = index[k]
            o_end = index[end - 1] + 1
            out.append(Occurrence(o_start, o_end, tuple(rows), VARIANT if is_extra else EXACT))
        return out


@lru_cache(maxsize=8)
def label_index(era: str) -> LabelIndex:
    """Cached label index per era."""
    return LabelIndex(era)


def contains_any(text: str, variants: list[str]) -> bool:
    """True when the normalized text contains any normalized variant."""
    n = norm(text)
    return any(norm(v) in n for v in variants if v)
