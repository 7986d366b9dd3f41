"""Figures and claims stated in the narrative text (收到申请X件, 占33.9%, 均获维持 …).

Patterns live in the registry (``narrative_patterns.csv`` for figures, ``labels.csv`` kinds
``claim`` and ``template_hole``). Only running text is searched (table rows are excluded);
every figure keeps its sentence and place so that a finding can quote its evidence.
"""

from __future__ import annotations

import bisect
import csv
import itertools
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources

from pipelines.extract.documents import FREE, Document
from pipelines.extract.text import fold, has_cjk, squeeze
from pipelines.registry import load_registry

_STOP = "。；;！!？?\n"
CATEGORIES = ("granted_or_partial", "granted", "partially_granted", "denied", "unable", "not_processed", "other")


@dataclass
class NarrativeFigure:
    """One number or claim stated in the text, with its sentence and place."""

    figure: str
    value: float
    code: str | None
    qualifier: str | None
    sentence: str
    line: int | None
    page: int | None
    offset: int
    occurrence: int = 1

    def to_dict(self) -> dict:
        """Plain dict."""
        return asdict(self)


@dataclass(frozen=True)
class _Pattern:
    figure: str
    eras: str
    regex: re.Pattern
    code: str | None
    required: str = ""  # text every match contains: where it is absent the pattern is not run
    before: tuple[int, int] | None = None  # fewest and most characters a match has before ``required`` (None: unbounded)


_MAX_BEFORE = 8  # a longer stretch before the required text: the regex's own search is as quick


def literal_anchor(regex: re.Pattern) -> tuple[str, tuple[int, int] | None]:
    """The longest run of literal characters at the pattern's top level ('' if none or flags change
    matching), and how many characters (fewest, most) a match has before it (None when unbounded).

    Every match contains the run, so a text without it has no match: a substring test skips the
    regex; and a match can only start that many characters before one of the run's occurrences
    (patterns with an optional prefix or a lookbehind are otherwise tried at every position).
    """
    if regex.flags & (re.IGNORECASE | re.VERBOSE):
        return "", None
    items = re._parser.parse(regex.pattern)
    best, best_at, run, run_at = "", 0, "", 0
    for i, (op, arg) in enumerate(items):
        if op is re._constants.LITERAL:
            if not run:
                run_at = i
            run += chr(arg)
        else:
            if len(run) > len(best):
                best, best_at = run, run_at
            run = ""
    if len(run) > len(best):
        best, best_at = run, run_at
    if not best:
        return "", None
    if best_at == 0:
        return best, None  # the pattern starts with it: the regex engine itself searches for it
    lo, hi = re._parser.SubPattern(items.state, items.data[:best_at]).getwidth()
    return best, ((lo, hi) if hi <= _MAX_BEFORE else None)


def required_text(regex: re.Pattern) -> str:
    """Text every match of the pattern contains ('' when none is known): see ``literal_anchor``."""
    return literal_anchor(regex)[0]


def find_all(pat: _Pattern, text: str):
    """The matches of ``pat.regex.finditer(text)``, the regex tried only where its required text allows a match to start."""
    if pat.required not in text:
        return
    if pat.before is None:
        yield from pat.regex.finditer(text)
        return
    lo, hi = pat.before
    match, need = pat.regex.match, pat.required
    pos = 0
    at = text.find(need, lo)
    while at >= 0:
        # leftmost first, as finditer: every start before this window was tried with an earlier occurrence
        for start in range(max(pos, at - hi), at - lo + 1):
            m = match(text, start)
            if m:
                yield m
                pos = m.end()  # never empty: it holds the required text
                at = text.find(need, pos + lo)
                break
        else:
            at = text.find(need, at + 1)


@lru_cache(maxsize=1)
def patterns() -> tuple[_Pattern, ...]:
    """Compiled figure patterns from the registry."""
    with resources.files("pipelines.registry").joinpath("data", "narrative_patterns.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    compiled = [(r, re.compile(r["pattern"])) for r in rows]
    return tuple(_Pattern(r["figure"], r["eras"], rx, r["code"] or None, *literal_anchor(rx)) for r, rx in compiled)


def _era_group(era: str | None) -> str | None:
    if era in ("v2019", "v2021"):
        return "new"
    if era == "old2014":
        return "old"
    return None


class _Flat:
    """Running text of a document without whitespace, mapped back to lines and pages."""

    def __init__(self, doc: Document):
        parts, self.starts, self.places = [], [], []
        pos = 0
        for line in doc.lines:
            if line.mode != FREE:
                continue
            cell = line.cells[0]
            if not has_cjk(cell.text):
                continue  # a line of values: no figure is stated there
            normed = squeeze(fold(cell.text))
            parts.append(normed)
            self.starts.append(pos)
            self.places.append((cell.line, cell.page))
            pos += len(normed)
        self.text = "".join(parts)

    def sentence(self, start: int, end: int) -> str:
        lo = max((self.text.rfind(c, 0, start) for c in _STOP), default=-1) + 1
        hi_candidates = [self.text.find(c, end) for c in _STOP]
        hi = min([h for h in hi_candidates if h >= 0], default=len(self.text))
        return self.text[lo : hi + 1][:400]

    def place(self, offset: int) -> tuple[int | None, int | None]:
        if not 0 <= offset < len(self.text):
            return (None, None)
        return self.places[bisect.bisect_right(self.starts, offset) - 1]


def extract_narrative(doc: Document, era: str | None) -> list[NarrativeFigure]:
    """Every figure and claim of the narrative text, in order of appearance."""
    group = _era_group(era)
    if group is None:
        return []
    flat = _Flat(doc)
    text = flat.text
    found: list[NarrativeFigure] = []
    taken: list[tuple[int, int]] = []
    for pat in patterns():
        if pat.eras not in (group, "all") or pat.figure == "pct":
            continue
        for m in find_all(pat, text):
            span = m.span("n")
            if any(a <= span[0] < b for a, b in taken):
                continue  # the same number already read as another figure
            line, page = flat.place(m.start())
            found.append(
                NarrativeFigure(pat.figure, float(m.group("n")), pat.code, None, flat.sentence(m.start(), m.end()),
                                line, page, m.start())
            )
            taken.append(span)
    pct = next(p for p in patterns() if p.figure == "pct")
    for fig in list(found):
        if fig.figure not in CATEGORIES:
            continue
        end = _figure_end(text, fig.offset)
        m = pct.regex.match(text, end, min(len(text), end + 12)) or pct.regex.search(text[end : end + 10])
        if m:
            line, page = flat.place(fig.offset)
            found.append(NarrativeFigure("pct", float(m.group("n")), None, fig.figure, fig.sentence, line, page, end))
    for key, rx, required in _claims():
        if required not in text:
            continue
        for m in rx.finditer(text):
            line, page = flat.place(m.start())
            found.append(NarrativeFigure(key, 1.0, None, m.group(0), flat.sentence(m.start(), m.end()), line, page, m.start()))
    free = [ln.cells[0] for ln in doc.lines if ln.mode == FREE]
    joined = "\n".join(c.text for c in free)
    starts = list(itertools.accumulate((len(c.text) + 1 for c in free[:-1]), initial=0))
    for rx in _holes():
        seen: set[int] = set()
        for m in rx.finditer(joined):  # the patterns never span a line break
            k = bisect.bisect_right(starts, m.start()) - 1
            if k not in seen:
                seen.add(k)
                cell = free[k]
                found.append(NarrativeFigure("template_hole", 1.0, None, m.group(0), cell.text[:300], cell.line, cell.page, -1))
    found.sort(key=lambda f: (f.offset, f.figure))
    counts: dict[tuple, int] = {}
    for f in found:
        key = (f.figure, f.qualifier if f.figure == "pct" else None)
        counts[key] = counts.get(key, 0) + 1
        f.occurrence = counts[key]
    return found


@lru_cache(maxsize=1)
def _claims() -> tuple[tuple[str, re.Pattern, str], ...]:
    """Compiled claim patterns (labels.csv kind ``claim``) with the text each match contains."""
    compiled = [(lb.key, re.compile(lb.variant)) for lb in load_registry().labels_of("claim")]
    return tuple((key, rx, required_text(rx)) for key, rx in compiled)


@lru_cache(maxsize=1)
def _holes() -> tuple[re.Pattern, ...]:
    """Compiled template-hole patterns (labels.csv kind ``template_hole``)."""
    return tuple(re.compile(lb.variant) for lb in load_registry().labels_of("template_hole"))


_FIGURE_END = re.compile(r"\d+(?:\.\d+)?[件条次篇人]")


def _figure_end(text: str, start: int) -> int:
    m = _FIGURE_END.search(text, start)
    return m.end() if m else start


def first_values(figures: list[NarrativeFigure]) -> dict[str, NarrativeFigure]:
    """The first occurrence of each figure (percentages keyed ``pct:<category>``)."""
    out: dict[str, NarrativeFigure] = {}
    for f in figures:
        key = f"pct:{f.qualifier}" if f.figure == "pct" else f.figure
        out.setdefault(key, f)
    return out


def evidence(figures: list[NarrativeFigure]) -> dict[str, tuple[float, str]]:
    """The first stated value of each figure with its sentence (evidence for the verification stage)."""
    return {k: (f.value, f.sentence) for k, f in first_values(figures).items() if not k.startswith("pct:") and f.code is None}
