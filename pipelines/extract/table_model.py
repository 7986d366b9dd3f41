"""The table model every stage works on, built on top of the readers' ``Document``.

A reader gives lines of cells (``documents``); the scanner turns the lines inside the tables
into ``PrintedRow``s — what a printed row *is* before anything is decided about it:

* ``LABELLED`` – a label and the value tokens printed after it;
* ``LABEL`` – a label printed alone (its values are on another line, or lost);
* ``BARE`` – values printed without a label (a row whose label was detached by conversion);
* ``HEADER`` – Table 二 column headers (信息内容 …);
* ``UNCODED`` – a label-like text with values that matches no template row (an extra local row
  such as 行政检查, or a misprint too far from any label): kept, never dropped.

Placement then gives rows a ``TemplateRow`` (``chosen``) and ``Reading``s carry the tokens
that fill a template row into value parsing and verification.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.extract.documents import Cell
from pipelines.extract.labels import LabelMatch
from pipelines.registry import TemplateRow

LABELLED = "labelled"
LABEL = "label"
BARE = "bare"
HEADER = "header"
UNCODED = "uncoded"


@dataclass
class Token:
    """A printed value token and the cell it came from."""

    text: str
    cell: Cell


@dataclass
class PrintedRow:
    """One printed row of a statistical table (see the module docstring for the kinds)."""

    kind: str
    pos: tuple[int, int]
    mode: str
    source_kind: str
    label: str = ""
    label_cell: Cell | None = None
    match: LabelMatch | None = None
    tokens: list[Token] = field(default_factory=list)
    fragment: str = ""
    columns: list[str | None] = field(default_factory=list)
    chosen: TemplateRow | None = None
    instance: int = 0
    table_index: int | None = None
    damaged: bool = False  # its values are printed on its line but unreadable (undecodable bytes, NULs, no run of values)
    ends_line: bool = False  # its value cells run to the end of the line (nothing printed after them)
    next_line: int | None = None  # text line where the cell after its value cells (the next label) starts

    @property
    def table_id(self) -> str | None:
        """Table of the row's first candidate template row (None for bare and uncoded rows)."""
        if self.chosen is not None:
            return self.chosen.table_id
        if self.match is not None and self.match.rows:
            return self.match.rows[0].table_id
        return None


@dataclass
class Reading:
    """A template row with the tokens that fill it, and how the row was identified."""

    row: TemplateRow
    source: PrintedRow
    tokens: list[Token]
    how: str
    copy: bool = False


@dataclass
class ColumnMap:
    """Column keys of a table's value cells in printed order, and how they were determined.

    ``how``: ``header`` (read from the printed headers), ``order`` (template order, accepted
    because the table's equalities hold under it), ``unknown`` (headers unreadable and the
    template order is contradicted: the cells stay missing). ``subtotal`` marks a printed
    subtotal column (法人或其他组织小计) by its position.
    """

    keys: tuple[str, ...]
    how: str
    note: str = ""
    subtotal: int | None = None


def location(obj) -> str:
    """Human-readable place of a cell or record: page, table/row, line."""
    parts = []
    if getattr(obj, "page", None):
        parts.append(f"page {obj.page}")
    if getattr(obj, "table_index", None) is not None:
        parts.append(f"table {obj.table_index + 1} row {(obj.row_index or 0) + 1}")
    if getattr(obj, "line", None):
        parts.append(f"line {obj.line}")
    return ", ".join(parts) or "unknown place"


def row_location(row: PrintedRow) -> str:
    """Place of a printed row (its label cell, else its first token)."""
    cell = row.label_cell or (row.tokens[0].cell if row.tokens else None)
    return location(cell) if cell is not None else f"line index {row.pos[0]}"
