"""Stage 1 and 2: segment the document into table regions and read each printed row's label.

Regions come from printed anchors: Table 二 starts at 第二十条第（一）项 (or its first 信息内容
header), Table 三 at 本列数据的勾稽关系 / 申请人情况, Table 四 at a 行政复议 … 行政诉讼 header made of
header words only. The old 统计表 has no anchor: its rows are recognised by their labels at the
start of a line. Running text before the anchors is narrative and is not read for rows (a
sentence mentioning 行政许可 is not a table row).

Every line inside the regions becomes ``PrintedRow``s (see ``table_model``): grid and pipe lines
cell by cell, running text by finding complete label variants and then fuzzy-matching the text
left between them that is followed by values. A label-like text with values that matches no
template row becomes an ``UNCODED`` row, so that nothing printed as a table row is dropped.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from pipelines.extract import glued
from pipelines.extract.documents import DAMAGE, Document, FREE
from pipelines.extract.headers import t2_column_keys, t2_header_columns_in_text, t2_header_key
from pipelines.extract.labels import FUZZY, LabelIndex, LabelMatch, label_index, variants
from pipelines.extract.table_model import BARE, HEADER, LABEL, LABELLED, UNCODED, PrintedRow, Token
from pipelines.extract.text import core, fold, has_cjk, match_form, norm, squeeze, squeeze_with_map
from pipelines.extract.values import is_value_like

_VALUE_CHARS = r"[\s\d.,+\-/—–]"
_LEADING_UNIT = r"(?:\s*(?:万元|元|件|条|项|个|人次|人|次|篇|份)(?=[\s\d]))?"
VALUE_RUN = re.compile(_LEADING_UNIT + _VALUE_CHARS + r"*(?:(?<=\d)(?:万元|元))?")
_HAS_DIGIT = re.compile(r"\d")
_TRAILING_ENUM = re.compile(r"(?<!\.)[1-9][.、]$")
_SEGMENT = re.compile(r"(?:[1-9][.、])?[^\d]+(?=\d)")
_T4_HEADER_CHARS = frozenset("行政复议诉讼结果维持纠正其他尚未审结总计合未经直接起后单位件()（）:：,，、|/")
# words of the table furniture that are never row labels
_NOT_A_ROW = re.compile(
    r"^(?:信息内容|第二十条第\(.\)项|申请人情况|自然人|法人或其他组织|商业企业|科研机构|社会公益组织|法律服务机构|"
    r"其他|总计|合计|小计|统计指标|单位|统计数|指标名称|计量单位|数据\d*|[一二三四五六七八九十]+、.*情况)$"
)
MAX_UNCODED_LABEL = 40
_UNIT_THEN_NUMBER = re.compile(r"^(万元|元|件|条|项|个|人次|人|次|篇|份)(?=[\d-])")
_OLD_ROW_LINE = re.compile(r"(.*?[^\d\s])\s*(?:件|条|项|个|人次|人|次|篇|份|万元|元)?\s*([\d.,]+)$")
_MEASURE_WORDS = frozenset("件份个条项人次篇名家起场期年月日号%％")  # after a number: a figure in a sentence or a date
T4_HEADER_LINES = 40  # header rows (or one character per token) between 行政复议 and Table 四's values
# after a number without a space: Latin letters or control characters mean damaged bytes, not a unit
_GARBLED_AFTER = re.compile(r"[A-Za-z\x00-\x08\x0e-\x1f\x7f\ufffd]")


@dataclass
class Anchors:
    """Where the tables of a new-era report start (line index, cell index or offset in the squeezed line)."""

    t2: tuple[int, int] | None = None
    t3: tuple[int, int] | None = None
    old: tuple[int, int] | None = None  # the old 统计表's header (统计指标 | 单位 | 统计数)
    t4: tuple[int, int] | None = None  # the first value of Table 四 (after its header)
    t4_header: tuple[int, int] | None = None
    t4_header_text: str = ""


@dataclass
class Scan:
    """Printed rows of one document, in reading order, and the anchors that bound them."""

    era: str
    rows: list[PrintedRow] = field(default_factory=list)
    anchors: Anchors = field(default_factory=Anchors)
    forms: dict[int, tuple[str, list[int], str]] = field(default_factory=dict)

    def line_forms(self, doc: Document, li: int) -> tuple[str, list[int], str]:
        """(squeezed match form, index into the folded text, folded text) of a free line, computed once."""
        got = self.forms.get(li)
        if got is None:
            folded = fold(doc.lines[li].cells[0].text)
            squeezed, index = squeeze_with_map(folded)
            got = (squeezed, index, folded)
            self.forms[li] = got
        return got


def _find_anchor(doc: Document, scan: Scan, variants: list[str]) -> tuple[int, int] | None:
    forms = [match_form(v) for v in variants]
    for li, line in enumerate(doc.lines):
        if line.mode == FREE:
            text = line.cells[0].text
            if not any(v[0] in text for v in variants):  # cheap pre-filter on the first character
                continue
            squeezed, _, _ = scan.line_forms(doc, li)
            hits = [k for k in (squeezed.find(f) for f in forms) if k >= 0]
            if hits:
                return (li, min(hits))
        else:
            for ci, cell in enumerate(line.cells):
                if cell.text and any(f in match_form(cell.text) for f in forms):
                    return (li, ci)
    return None


def find_t4_header(doc: Document, start: tuple[int, int] | None) -> tuple[tuple[int, int], tuple[int, int], str] | None:
    """Table 四's header: 行政复议 … 行政诉讼 made of header words only, up to the first digit.

    The header may run over several lines (one per header row, or one character per token);
    it is searched from every line that mentions 行政复议, over at most ``T4_HEADER_LINES`` lines.
    Returns (header position, position of the first value, the header text).
    """
    first = start[0] if start else 0
    for li in range(first, len(doc.lines)):
        if "复" in doc.lines[li].text and "行政复议" in squeeze(doc.lines[li].text):
            found = _t4_header_from(doc, li, start if li == first else None)
            if found:
                return found
    return None


def _t4_header_from(doc: Document, first: int, start: tuple[int, int] | None):
    parts: list[str] = []
    owners: list[tuple[int, int, list[int] | None]] = []  # (line, cell, squeezed->folded index for free lines)
    bounds: list[int] = []
    pos = 0
    for li in range(first, min(first + T4_HEADER_LINES, len(doc.lines))):
        line = doc.lines[li]
        for ci, cell in enumerate(line.cells):
            if line.mode == FREE:
                squeezed, index = squeeze_with_map(fold(cell.text))
                if li == first and start is not None:
                    cut = start[1]
                    squeezed, index = squeezed[cut:], index[cut:]
                text, idx = squeezed, index
            else:
                if li == first and start is not None and ci <= start[1]:
                    continue
                text, idx = norm(cell.text), None
            bounds.append(pos)
            owners.append((li, ci, idx))
            parts.append(text + "|")
            pos += len(text) + 1
    stream = "".join(parts)
    for m in re.finditer("行政复议", stream):
        k = m.end()
        while k < len(stream) and not stream[k].isdigit():
            if stream[k] not in _T4_HEADER_CHARS:
                break
            k += 1
        if k >= len(stream) or not stream[k].isdigit() or "行政诉讼" not in stream[m.start() : k]:
            continue
        return _place(owners, bounds, m.start()), _place(owners, bounds, k), stream[m.start() : k].replace("|", "")
    return None


def _place(owners, bounds, k: int) -> tuple[int, int]:
    j = bisect.bisect_right(bounds, k) - 1
    li, ci, idx = owners[j]
    if idx is None:
        return (li, ci)
    off = k - bounds[j]
    return (li, idx[off] if off < len(idx) else (idx[-1] + 1 if idx else 0))


class Scanner:
    """Reads a document's lines into printed rows (one pass, regions decided by the anchors)."""

    def __init__(self, doc: Document, era: str):
        self.doc = doc
        self.era = era
        self.index: LabelIndex = label_index(era)
        self.scan = Scan(era)
        self.t2_keys = t2_column_keys()

    # ------------------------------------------------------------------ regions
    def locate(self) -> None:
        """Find the table anchors (new eras)."""
        a = self.scan.anchors
        if self.era == "old2014":
            a.old = _find_anchor(self.doc, self.scan, variants("anchor", "old"))
            return
        a.t2 = _find_anchor(self.doc, self.scan, variants("anchor", "t2"))
        a.t3 = _find_anchor(self.doc, self.scan, variants("anchor", "t3"))
        found = find_t4_header(self.doc, a.t3 or a.t2)
        if found:
            a.t4_header, a.t4, a.t4_header_text = found

    def allowed(self, pos: tuple[int, int], mode: str) -> frozenset[str]:
        """Tables whose rows may sit at a position."""
        if self.era == "old2014":
            return frozenset({"old"})
        a = self.scan.anchors
        tables = set()
        if a.t2 is not None and pos >= a.t2 and (a.t3 is None or pos < a.t3):
            tables.add("t2")
        if (mode != FREE or a.t3 is None or pos >= a.t3) and (a.t4_header is None or pos < a.t4_header):
            tables.add("t3")
        return frozenset(tables)

    # ------------------------------------------------------------------ scanning
    def run(self) -> Scan:
        """Every printed row of the document."""
        self.locate()
        a = self.scan.anchors
        # running text is read for rows from the first anchor on (anywhere when Table 三 has no anchor)
        starts = [p for p in (a.t2, a.t3) if p is not None]
        first_free = min(starts)[0] if starts and a.t3 is not None else 0
        for li, line in enumerate(self.doc.lines):
            if line.mode == FREE:
                if self.era == "old2014":
                    self._scan_free_old(li, line)
                elif li >= first_free and (a.t4_header is None or li <= a.t4_header[0]):
                    self._scan_free(li, line)
            else:
                self._scan_cells(li, line)
        self.scan.rows.sort(key=lambda r: r.pos)  # headers of a line are found before its rows
        return self.scan

    def _add(self, row: PrintedRow) -> None:
        self.scan.rows.append(row)

    def _scan_cells(self, li: int, line) -> None:
        cells = line.cells
        if cells and all(is_value_like(c.text) for c in cells):
            if any(c.text.strip() for c in cells):
                self._add(PrintedRow(BARE, (li, 0), line.mode, line.source_kind, tokens=[Token(c.text, c) for c in cells],
                                     table_index=cells[0].table_index))
            return
        i = 0
        while i < len(cells):
            cell = cells[i]
            pos = (li, i)
            if is_value_like(cell.text):
                i += 1
                continue
            if core(cell.text) == "信息内容":
                cols = [t2_header_key(c.text, self.t2_keys) for c in cells[i + 1 :]]
                self._add(PrintedRow(HEADER, pos, line.mode, line.source_kind, columns=[c for c in cols if c != ""],
                                     label_cell=cell))
                i += 1
                continue
            j = i + 1
            while j < len(cells) and (is_value_like(cells[j].text) or DAMAGE in cells[j].text):
                j += 1
            # a value cell touching an unreadable region, or a label followed by a cell that is no value and then
            # by figures ('予以公开 | W | 0 | 0'): the row's values are printed but cannot be read
            damaged = any(DAMAGE in cells[k].text for k in range(i + 1, j)) or (
                j == i + 1 < len(cells) and any(_HAS_DIGIT.search(c.text) for c in cells[j:])
                and self.index.match_cell(cells[j].text, self.allowed((li, j), line.mode)) is None)
            tokens = [] if damaged else [Token(cells[k].text, cells[k]) for k in range(i + 1, j)]
            match = self.index.match_cell(cell.text, self.allowed(pos, line.mode))
            if match is not None and match.how == FUZZY and i > 0 and has_cjk(cells[i - 1].text) \
                    and not is_value_like(cells[i - 1].text) \
                    and self.index.match_cell(cells[i - 1].text, self.allowed((li, i - 1), line.mode)) is None:
                match = None  # '3. 政务微博 | 公开政府信息数 | 条 | 425': the end of a label split over two cells
            if match is None:
                if tokens and any(_HAS_DIGIT.search(t.text) for t in tokens) and self._row_like(cell.text):
                    self._add(PrintedRow(UNCODED, pos, line.mode, line.source_kind, label=cell.text, label_cell=cell,
                                         tokens=tokens, fragment=" | ".join(t.text for t in tokens), table_index=cell.table_index))
                    i = j
                else:
                    i += 1
                continue
            kind = LABELLED if tokens else LABEL
            self._add(PrintedRow(kind, pos, line.mode, line.source_kind, label=cell.text, label_cell=cell, match=match,
                                 tokens=tokens, fragment=" | ".join(t.text for t in tokens), table_index=cell.table_index,
                                 ends_line=j == len(cells), damaged=damaged,
                                 next_line=cells[j].line if j < len(cells) else None))
            i = j

    @staticmethod
    def _row_like(text: str) -> bool:
        n = norm(text)
        return has_cjk(n) and 2 <= len(n) <= MAX_UNCODED_LABEL and not _NOT_A_ROW.match(core(n))

    def _scan_free(self, li: int, line) -> None:
        """Running text inside the tables: labels with the values after them; leftover text followed by values."""
        cell = line.cells[0]
        squeezed, index, folded = self.scan.line_forms(self.doc, li)
        a = self.scan.anchors
        starts = [p for p in (a.t2, a.t3) if p is not None]
        first = min(starts) if starts and a.t3 is not None else None
        lo = first[1] if first is not None and first[0] == li else 0
        hi = len(squeezed)
        if a.t4_header is not None and a.t4_header[0] == li:
            hi = bisect.bisect_left(index, a.t4_header[1])
        allowed_any = frozenset({"t2", "t3"})
        hits = []
        for occ in self.index.find_in_text(squeezed[lo:hi], allowed_any):
            start, end = occ.start + lo, occ.end + lo
            rows = tuple(r for r in occ.rows if r.table_id in self.allowed((li, start), FREE))
            if rows:
                hits.append((start, end, LabelMatch(rows, occ.how)))
        # Table 二 column headers inside running text
        for m in re.finditer("信息内容", squeezed[lo:hi]):
            k = m.end() + lo
            stop = min((s for s, _, _ in hits if s > k), default=hi)
            self._add(PrintedRow(HEADER, (li, m.start() + lo), FREE, line.source_kind,
                                 columns=t2_header_columns_in_text(squeezed[k:stop]), label_cell=cell))
        spans: list[tuple[int, int, LabelMatch | None]] = []
        cursor = lo
        for start, end, match in hits:
            spans.extend(self._leftovers(li, squeezed, index, folded, cursor, start))
            spans.append((start, end, match))
            cursor = self._value_end(squeezed, index, folded, end, hi)
        spans.extend(self._leftovers(li, squeezed, index, folded, cursor, hi))
        spans.sort(key=lambda s: s[0])
        for n, (start, end, match) in enumerate(spans):
            stop = spans[n + 1][0] if n + 1 < len(spans) else hi
            frag = self._fragment(squeezed, index, folded, end, stop)
            tokens = [] if frag == DAMAGE else value_tokens(frag, cell)
            # figures after the label on its own line that are no run of values ('予以公开 | 9 | 0' in a
            # table line damaged at its start): the row's values are printed but cannot be read
            damaged = frag == DAMAGE or (match is not None and not tokens and _HAS_DIGIT.search(squeezed, end, stop) is not None)
            label = squeezed[start:end]
            if match is None:
                if not tokens:
                    continue
                kind = UNCODED
            else:
                kind = LABELLED if tokens else LABEL
            self._add(PrintedRow(kind, (li, start), FREE, line.source_kind, label=label, label_cell=cell, match=match,
                                 tokens=tokens, fragment=frag.strip(), damaged=damaged))
        if not hits and not spans:
            self._bare_free(li, line, folded)
            if (not self.scan.rows or self.scan.rows[-1].pos[0] != li) and len(squeezed) <= MAX_UNCODED_LABEL + 20:
                self._label_alone(li, line, squeezed[lo:hi])

    def _label_alone(self, li: int, line, text: str) -> None:
        """A line that is only a (possibly misprinted) label: its values follow on the next line."""
        if not self._row_like(text):
            return
        allowed = self.allowed((li, 0), FREE)
        match = self.index.match_cell(text, allowed) if allowed else None
        if match is not None:
            self._add(PrintedRow(LABEL, (li, 0), FREE, line.source_kind, label=text, label_cell=line.cells[0], match=match))

    def _fragment(self, squeezed, index, folded, end: int, stop: int) -> str:
        """Value text printed after a label (in the folded text, whitespace kept: it separates numbers)."""
        if end >= len(index):
            return ""
        begin = index[end - 1] + 1 if end > 0 else 0
        limit = index[stop] if stop < len(index) else len(folded)
        frag = VALUE_RUN.match(folded, begin, limit).group(0)
        after = folded[begin + len(frag) : begin + len(frag) + 1]
        if frag.strip() and (after == DAMAGE or (frag[-1:].isdigit() and _GARBLED_AFTER.match(after))):
            return DAMAGE  # '42j2\ufffd4.47': a number run into Latin letters or control bytes is no number
        if after and not after.isspace() and not after.isdigit():
            trimmed = frag.rstrip()
            m = _TRAILING_ENUM.search(trimmed)
            if m:
                frag = trimmed[: m.start()]
        return frag

    def _value_end(self, squeezed, index, folded, end: int, hi: int) -> int:
        """Squeezed offset just after the value run that follows ``end``."""
        frag = self._fragment(squeezed, index, folded, end, hi)
        return min(end + (0 if frag == DAMAGE else len(squeeze(frag))), hi)

    def _leftovers(self, li, squeezed, index, folded, lo: int, hi: int) -> list[tuple[int, int, LabelMatch | None]]:
        """Text between recognised rows that is followed by values: a fuzzy label, or an uncoded row."""
        out = []
        if hi - lo < 2:
            return out
        for m in _SEGMENT.finditer(squeezed, lo, hi):
            seg_start, seg_end = m.start(), m.end()
            frag = self._fragment(squeezed, index, folded, seg_end, hi)
            if frag == DAMAGE or not _HAS_DIGIT.search(frag):
                continue
            after = folded[index[seg_end - 1] + 1 + len(frag) :].lstrip()[:1] if seg_end - 1 < len(index) else ""
            if after and after in _MEASURE_WORDS:
                continue  # '收到8份申请': a number in a sentence, not a table row
            allowed = self.allowed((li, seg_start), FREE)
            if not allowed:
                continue
            # a (misprinted) label runs from the last sentence boundary; an uncoded row's label from the last clause
            boundary = max(squeezed.rfind(c, seg_start, seg_end) for c in "。；;")
            sentence = boundary + 1 if boundary >= 0 else seg_start
            seg = squeezed[sentence:seg_end]
            match = self.index.match_cell(seg, allowed) if has_cjk(seg[-2:]) and len(seg) <= 2 * MAX_UNCODED_LABEL else None
            if match is not None and match.how != FUZZY and len(core(seg)) > len(core(match.rows[0].labels[0])) + 8:
                match = None
            if match is None:
                clause = sentence + max(seg.rfind(c) for c in "：:，,") + 1
                seg = squeezed[clause:seg_end]
                if not self._row_like(seg) or not has_cjk(seg[-2:]):
                    continue
                sentence = clause
            out.append((sentence, seg_end, match))
        return out

    def _bare_free(self, li: int, line, folded: str) -> None:
        """A line of values only (a row whose label was printed elsewhere, or lost)."""
        stripped = folded.strip()
        if not stripped or not _HAS_DIGIT.search(stripped):
            return
        run = VALUE_RUN.match(stripped)
        cell = line.cells[0]
        if run.end() == len(stripped):
            tokens = value_tokens(stripped, cell)
            if not all(is_value_like(t.text) for t in tokens):
                return
        elif is_value_like(stripped):
            tokens = [Token(stripped, cell)]  # one value with a note: 22（其中修订16件）
        else:
            return
        self._add(PrintedRow(BARE, (li, 0), FREE, line.source_kind, tokens=tokens, fragment=stripped))

    def _scan_free_old(self, li: int, line) -> None:
        """Old 统计表 rows in running text: a label at the start of the line (anywhere after the table's
        header, for a table flattened into running text), its values after it."""
        cell = line.cells[0]
        text = cell.text
        squeezed, index, folded = self.scan.line_forms(self.doc, li)
        anchor = self.scan.anchors.old
        if anchor is not None and anchor[0] == li:
            occs = [o for o in self.index.find_in_text(squeezed, frozenset({"old"})) if o.start >= anchor[1]] or \
                self.index.find_in_text(squeezed, frozenset({"old"}), at_start_only_for=frozenset({"old"}))
        elif anchor is not None and anchor[0] < li and line.source_kind == "text" and len(squeezed) > 200:
            occs = self.index.find_in_text(squeezed, frozenset({"old"}))
        else:
            occs = self.index.find_in_text(squeezed, frozenset({"old"}), at_start_only_for=frozenset({"old"}))
        if not occs:
            if len(squeezed) <= 60 and "\t" not in text:
                m = _OLD_ROW_LINE.match(folded.strip())
                if m and has_cjk(m.group(1)):
                    match = self.index.match_cell(m.group(1), frozenset({"old"}))
                    if match is not None and match.how == FUZZY:
                        tokens = [Token(p, cell) for p in glued.tokenize(folded.strip()[m.end(1):])]
                        self._add(PrintedRow(LABELLED, (li, 0), FREE, line.source_kind, label=m.group(1), label_cell=cell,
                                             match=match, tokens=tokens, fragment=" ".join(t.text for t in tokens)))
                        return
            self._bare_free(li, line, folded)
            return
        for k, occ in enumerate(occs):
            stop = occs[k + 1].start if k + 1 < len(occs) else len(squeezed)
            frag = self._fragment(squeezed, index, folded, occ.end, stop)
            damaged = frag == DAMAGE
            tokens = [] if damaged else value_tokens(frag, cell)
            kind = LABELLED if tokens else LABEL
            self._add(PrintedRow(kind, (li, occ.start), FREE, line.source_kind, label=squeezed[occ.start : occ.end],
                                 label_cell=cell, match=LabelMatch(occ.rows, occ.how), tokens=tokens, fragment=frag.strip(),
                                 damaged=damaged))


def value_tokens(frag: str, cell) -> list[Token]:
    """Tokens of a printed value fragment; a unit glued before the number (条10931) is its own token."""
    pieces = glued.tokenize(frag)
    if pieces and (m := _UNIT_THEN_NUMBER.match(pieces[0])):
        pieces[:1] = [m.group(1), pieces[0][m.end():]]
    return [Token(p, cell) for p in pieces]


def scan_document(doc: Document, era: str) -> Scan:
    """Segment the document into table regions and read its printed rows."""
    return Scanner(doc, era).run()
