"""A chunk of lines printed again inside a table: the rows it cuts are not read.

A copy-paste or scraping fault can print a run of a document's lines a second time, dropped into
a table. In one-cell-per-line and pipe-flattened text the copied ``|`` lines then end a row where
a blank cell would (the original printed 0), or give a row twice, once cut short. The values of
a row the chunk cuts are not what the publisher printed for that row, and nothing in the row
itself shows it. So a run of at least ``MIN_RUN`` lines equal to an earlier run of the document,
that holds a printed row's label line, marks every row whose lines run across one of its ends:
such a row is not read (reason ``repeated_lines``), and the report is never plain published. A
table printed twice whole (rows complete on both sides of the copy) cuts no row and is left to
the comparison of copies.
"""

from __future__ import annotations

from pipelines.extract.documents import Document
from pipelines.extract.table_model import PrintedRow, row_location
from pipelines.extract.text import has_cjk

MIN_RUN = 3  # lines of a repeated run; one repeated line is the duplicated-line family, handled by placement
TEXT_TYPES = ("txt", "md")  # line breaks carry the layout only in text; HTML/PDF/DOCX lines are the reader's


def _runs(lines: list[str]) -> list[tuple[int, int]]:
    """Runs [start, end) of at least MIN_RUN lines (0-based) equal to an earlier run and holding a line with letters."""
    first: dict[tuple[str, ...], int] = {}
    runs: list[tuple[int, int]] = []
    covered = 0
    for i in range(len(lines) - MIN_RUN + 1):
        gram = tuple(lines[i : i + MIN_RUN])
        if not any(has_cjk(s) for s in gram):
            continue
        j = first.setdefault(gram, i)
        if j == i or i < covered:
            continue
        lo, hi = i, i + MIN_RUN
        while lo > covered and lo - i + j > 0 and lines[lo - 1] == lines[lo - 1 - i + j]:
            lo -= 1
        while hi < len(lines) and lines[hi] == lines[hi - i + j]:
            hi += 1
        runs.append((lo, hi))
        covered = hi
    return runs


def _span(row: PrintedRow) -> tuple[int, int] | None:
    """First and last source line of a printed row (its label and its value cells)."""
    numbers = [c.line for c in [row.label_cell, *(t.cell for t in row.tokens)] if c is not None and c.line]
    return (min(numbers), max(numbers)) if numbers else None


def cut_rows(doc: Document, rows: list[PrintedRow]) -> list[tuple[PrintedRow, str]]:
    """Rows a repeated chunk of lines runs into, each with the message saying where (see the module docstring)."""
    if doc.file_type not in TEXT_TYPES or not rows:
        return []
    base = doc.text_first_line
    spans = [(row, _span(row)) for row in rows]
    end = max((span[1] for _, span in spans if span is not None), default=0)
    lines = [s.strip() for s in doc.text.split("\n", end - base + 1)[: end - base + 1]]  # nothing after the tables
    label_lines = {row.label_cell.line for row in rows if row.label and row.label_cell is not None and row.label_cell.line}
    out: list[tuple[PrintedRow, str]] = []
    for lo, hi in _runs(lines):
        first, last = lo + base, hi - 1 + base  # source line numbers of the run
        if not any(first <= n <= last for n in label_lines):
            continue
        for row, span in spans:
            if span is None or not (span[0] <= last and span[1] >= first):
                continue
            if span[0] < first or span[1] > last:
                out.append((row, f"row '{row.label}' ({row_location(row)}): lines {first}–{last} repeat earlier lines of the "
                                 "document (a copied chunk) and cut this row; not read"))
    return out
