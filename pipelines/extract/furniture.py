"""Removing page furniture (page numbers, running headers and footers) before tables are read.

Text copied from paginated documents carries the page's furniture into the middle of tables:
``第 3 页 共 8 页``, ``- 3 -``, ``3/8``, ``Page 3``, and the report's title repeated at the top of
each page. A line that is only furniture is dropped; furniture inside a line of running text is
cut out only in its unambiguous forms (a page number between dashes or in 第…页). A bare
number on a line of its own is never treated as a page number — it may be a table cell.
"""

from __future__ import annotations

import re
from collections import Counter

from pipelines.extract.documents import FREE, Cell, Document, Line
from pipelines.extract.text import norm

_WHOLE_LINE = re.compile(
    r"^\s*(?:"
    r"第\s*\d{1,4}\s*页\s*(?:[,，/／]?\s*共\s*\d{1,4}\s*页)?"  # 第 3 页 共 8 页
    r"|共\s*\d{1,4}\s*页\s*第\s*\d{1,4}\s*页"
    r"|[-—–－]\s*\d{1,4}\s*[-—–－]"  # - 3 -
    r"|(?:page|Page|PAGE|P\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?"
    r"|\d{1,4}\s*/\s*\d{1,4}\s*页?"  # 3/8
    r")\s*$"
)
_IN_LINE = re.compile(r"(?<!\S)(?:第\s*\d{1,4}\s*页\s*(?:[,，/／]?\s*共\s*\d{1,4}\s*页)?|[-—–－]\s*\d{1,4}\s*[-—–－])(?!\S)")
MIN_REPEATS = 2


def strip_furniture(doc: Document) -> int:
    """Remove page furniture from a document's free lines in place; returns how many pieces were removed."""
    removed = 0
    running = _running_titles(doc)
    seen: set[str] = set()
    kept: list[Line] = []
    for line in doc.lines:
        if line.mode != FREE:
            kept.append(line)
            continue
        text = line.cells[0].text
        if running:
            n = norm(text)
            if n in running:
                if n in seen:
                    removed += 1
                    continue
                seen.add(n)
        if _WHOLE_LINE.match(text):
            removed += 1
            continue
        if ("页" in text or "-" in text or "—" in text) and _IN_LINE.search(text):
            new, n = _IN_LINE.subn(" ", text)
            removed += n
            c = line.cells[0]
            line = Line([Cell(new, c.line, c.page, c.table_index, c.row_index, c.col_index, c.bbox, c.confidence, c.alternatives)],
                        line.mode, line.source_kind)
        kept.append(line)
    doc.lines = kept
    return removed


def _running_titles(doc: Document) -> set[str]:
    """Short free lines naming the report that recur (running headers; the first one is the title)."""
    counts = Counter()
    for line in doc.lines:
        if line.mode == FREE:
            n = norm(line.cells[0].text)
            if 6 <= len(n) <= 60 and ("报告" in n or "年报" in n):
                counts[n] += 1
    return {t for t, k in counts.items() if k >= MIN_REPEATS}
