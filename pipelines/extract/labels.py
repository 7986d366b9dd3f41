"""Finding template rows by their printed labels.

A ``LabelIndex`` holds, for one era, every label variant of every template row (printed labels
from indicators.csv plus the general variants in labels.csv) in three comparison forms (see
``text``: numbering kept, numbering dropped, notes dropped), with OCR look-alikes folded. It is
built once per process and era (``label_index``).

* ``match_cell`` matches a whole cell (grid tables): exact form, then without numbering/notes,
  then a label followed by an appended definition (``行政许可：指…``), then fuzzy (rapidfuzz,
  so a misprint or an OCR error in one or two characters still matches a long label);
* ``find_in_text`` finds complete label variants inside running text (numbering included, so a
  short label never fires inside a sentence); the text left between them is matched with
  ``match_cell`` by the scanner (fuzzy matching of running text).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from pipelines.extract.text import bare, core, lookalike, match_form
from pipelines.registry import TemplateRow, load_registry

EXACT = "exact"
CORE = "core"
VARIANT = "variant"
FUZZY = "fuzzy"
PREFIX = "prefix"
ORDER = "order"
POSITION = "position"
PAIRED = "paired"

FUZZY_CUTOFF = 85.0
MIN_FUZZY_LENGTH = 4
_NOTE_START = tuple("(:：,，;；—-－:")


@dataclass(frozen=True)
class LabelMatch:
    """Template rows a printed label may denote, and how it matched."""

    rows: tuple[TemplateRow, ...]
    how: str


@dataclass(frozen=True)
class Occurrence:
    """A label found inside (squeezed) running text: [start, end) in that text."""

    start: int
    end: int
    rows: tuple[TemplateRow, ...]
    how: str


class LabelIndex:
    """All label variants of one era's template rows, ready for matching."""

    def __init__(self, era: str):
        reg = load_registry()
        self.era = era
        self.rows = reg.template(era)
        extra = {(lb.key, lb.variant) for lb in reg.labels_of("row")}
        self._exact: dict[str, list[TemplateRow]] = {}
        self._core: dict[str, list[TemplateRow]] = {}
        self._bare: dict[str, list[TemplateRow]] = {}
        self._is_variant: set[tuple[str, str]] = set()
        free: dict[tuple[str, str], tuple[TemplateRow, bool]] = {}
        for row in self.rows:
            for label in row.labels:
                is_extra = (row.key, label) in extra
                m = match_form(label)
                for form, table in ((m, self._exact), (core(m), self._core), (bare(m), self._bare)):
                    bucket = table.setdefault(form, [])
                    if row not in bucket:
                        bucket.append(row)
                    if is_extra:
                        self._is_variant.add((row.key, form))
                free.setdefault((m, row.key), (row, is_extra))
        # longest first so that 行政规范性文件 wins over 规范性文件 at the same place
        self.free_variants = sorted(((f, r, e) for (f, _), (r, e) in free.items()), key=lambda t: -len(t[0]))
        # fuzzy matching compares a label with numbering and notes (1 error in 29 characters) and without (the core words)
        self._fuzzy_rows: dict[str, list[TemplateRow]] = {}
        for table in (self._exact, self._bare):
            for form, rows in table.items():
                if len(form) >= MIN_FUZZY_LENGTH:
                    bucket = self._fuzzy_rows.setdefault(form, [])
                    bucket.extend(r for r in rows if r not in bucket)
        self._fuzzy_choices = list(self._fuzzy_rows)
        self._prefixes = sorted({f for f in self._core if len(f) >= 2}, key=len, reverse=True)
        self._by_first: dict[str, list[tuple[str, TemplateRow, bool]]] = {}
        self._first_index: dict[str, list[int]] = {}
        for k, v in enumerate(self.free_variants):
            self._by_first.setdefault(v[0][:1], []).append(v)
            self._first_index.setdefault(v[0][:1], []).append(k)

    def match_cell(self, text: str, tables: frozenset[str] | set[str]) -> LabelMatch | None:
        """Match a whole cell's text to template rows of the allowed tables."""
        if not text:
            return None
        return self._match(match_form(text), frozenset(tables))

    @lru_cache(maxsize=16384)
    def _match(self, m: str, tables: frozenset[str]) -> LabelMatch | None:
        if len(m) < 2:
            return None
        c = core(m)
        for form, table, how in ((m, self._exact, EXACT), (c, self._core, CORE), (bare(m), self._bare, CORE)):
            if how != EXACT and len(form) < 4 and c == m:
                continue  # a bare 总计/其他 is a column header, not the numbered row
            rows = tuple(r for r in table.get(form, ()) if r.table_id in tables)
            if rows:
                if any((r.key, form) in self._is_variant for r in rows):
                    how = VARIANT
                return LabelMatch(rows, how)
        return self._prefix(c, tables) or self._fuzzy((m, bare(m)), tables)

    def _prefix(self, c: str, tables: frozenset[str]) -> LabelMatch | None:
        """A complete label followed by an appended note or definition (行政许可（指…）, 行政许可：…)."""
        for form in self._prefixes:
            if len(form) < len(c) and c.startswith(form) and c[len(form)] in _NOTE_START and len(form) >= 4:
                rows = tuple(r for r in self._core[form] if r.table_id in tables)
                if rows:
                    return LabelMatch(rows, PREFIX)
        return None

    def _fuzzy(self, targets: tuple[str, ...], tables: frozenset[str]) -> LabelMatch | None:
        best: list[tuple[float, TemplateRow]] = []
        for target in dict.fromkeys(targets):
            if len(target) < MIN_FUZZY_LENGTH:
                continue
            hits = process.extract(target, self._fuzzy_choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=6)
            for form, score, _ in hits:
                if abs(len(form) - len(target)) > max(3, len(form) // 4):
                    continue
                best.extend((score, r) for r in self._fuzzy_rows[form] if r.table_id in tables)
        if not best:
            return None
        top = max(b[0] for b in best)
        rows = tuple(dict.fromkeys(r for score, r in best if score == top))
        return LabelMatch(rows, FUZZY)

    def find_in_text(self, squeezed: str, tables: set[str], at_start_only_for: frozenset[str] = frozenset()) -> list[Occurrence]:
        """Every complete label variant inside whitespace-free text, without overlaps (longest wins)."""
        text = lookalike(squeezed)
        taken = bytearray(len(text))
        found: list[list] = []
        if tables <= at_start_only_for:
            candidates = self._by_first.get(text[:1], ())
        elif len(text) < 200:  # only the variants whose first character occurs in the text, longest first
            candidates = [self.free_variants[k] for k in sorted(k for ch in set(text) for k in self._first_index.get(ch, ()))]
        else:
            candidates = self.free_variants
        for form, row, is_extra in candidates:
            if row.table_id not in tables or len(form) < 2:
                continue
            start = 0
            while True:
                k = text.find(form, start)
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
                taken[k:end] = b"\x01" * (end - k)
                found.append([k, end, [row], is_extra])
        found.sort(key=lambda f: f[0])
        return [Occurrence(k, end, tuple(rows), VARIANT if is_extra else EXACT) for k, end, rows, is_extra in found]


@lru_cache(maxsize=128)
def variants(kind: str, key: str | None = None) -> tuple[str, ...]:
    """The registry's printed variants of one kind (and key), read once per process."""
    return tuple(load_registry().variants(kind, key))


@lru_cache(maxsize=8)
def label_index(era: str) -> LabelIndex:
    """Label index of one era, built once per process."""
    return LabelIndex(era)
