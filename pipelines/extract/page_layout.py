"""One page as pieces of printed text plus ruling lines -> reader lines (GRID rows, FREE text).

Shared by the text-layer PDF reader (pieces are characters from pypdfium2, rules are the page's
drawn segments) and the OCR reader (pieces are recognised text runs, rules are lines found in
the image), so both give the table matcher the same shapes:

* ruled tables are found with pdfplumber's lattice algorithm (its ``table`` module works on
  plain edge dicts: snap, join, intersect, smallest cells, contiguous groups); every table row
  becomes a ``GRID`` line whose cells keep page, bbox, table/row/column. A framed block with a
  single column is running text, not a table;
* every piece outside those tables joins a ``FREE`` line: pieces are grouped into lines by
  height and ordered left to right, with a space where the printed gap or a printed space is.

Lines come out top to bottom. Coordinates are PDF points from the page's top-left corner.
A cell keeps the lowest confidence of its pieces and, when pieces carry alternative readings,
the cell's text with one piece replaced by each of its alternatives.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from pipelines.extract.documents import FREE, GRID, Cell, Line
from pipelines.extract.text import clean_line, fix_glyphs

TOLERANCE = 3.0  # points: snapping and joining rules, grouping text into lines, word gaps (pdfplumber's defaults)
MAX_ALTERNATIVES = 8


@dataclass(slots=True)
class Piece:
    """Printed text (one character or one recognised run) and its box in points."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    space_before: bool = False  # a printed space precedes it in the text stream
    confidence: float | None = None
    alternatives: tuple[str, ...] = ()
    base: float | None = None  # the height that puts it on a printed line (a character's baseline); default: its middle

    def __post_init__(self):
        if self.base is None:
            self.base = (self.top + self.bottom) / 2


@dataclass
class Table:
    """A ruled table: its bbox and rows of cell bboxes (None where a merged cell continues)."""

    bbox: tuple[float, float, float, float]
    rows: list[list[tuple[float, float, float, float] | None]]


def edge(x0: float, top: float, x1: float, bottom: float) -> dict | None:
    """A horizontal or vertical drawn segment as a pdfplumber edge (None when it is slanted)."""
    if abs(bottom - top) <= 0.5:
        y = (top + bottom) / 2
        x0, x1 = min(x0, x1), max(x0, x1)
        return {"object_type": "line", "orientation": "h", "x0": x0, "x1": x1, "top": y, "bottom": y,
                "doctop": y, "width": x1 - x0, "height": 0.0}
    if abs(x1 - x0) <= 0.5:
        x = (x0 + x1) / 2
        top, bottom = min(top, bottom), max(top, bottom)
        return {"object_type": "line", "orientation": "v", "x0": x, "x1": x, "top": top, "bottom": bottom,
                "doctop": top, "width": 0.0, "height": bottom - top}
    return None


def find_tables(edges: list[dict]) -> list[Table]:
    """Ruled tables (two or more columns) formed by the edges, top to bottom.

    pdfplumber's lattice method with its default tolerances: its ``merge_edges`` snaps and joins
    the edges; intersections, smallest cells and cell groups are computed here with indexes
    (the same result as ``pdfplumber.table``, without its quadratic scans).
    """
    if len(edges) < 4:
        return []
    from pdfplumber.table import Table as _PlumberTable, merge_edges
    from pdfplumber.utils import filter_edges

    merged = merge_edges(filter_edges(edges, min_length=1), TOLERANCE, TOLERANCE, TOLERANCE, TOLERANCE)
    merged = filter_edges(merged, min_length=TOLERANCE)
    tables = []
    for group in _cell_groups(_cells(merged)):
        t = _PlumberTable(None, group)
        rows = [list(r.cells) for r in t.rows]
        if max((sum(c is not None for c in r) for r in rows), default=0) > 1:
            tables.append(Table(t.bbox, rows))
    return tables


def _cells(edges: list[dict]) -> list[tuple[float, float, float, float]]:
    """The smallest rectangles whose four sides are edges (pdfplumber's intersections_to_cells)."""
    vs = sorted((e for e in edges if e["orientation"] == "v"), key=lambda e: (e["x0"], e["top"]))
    hs = sorted((e for e in edges if e["orientation"] == "h"), key=lambda e: (e["top"], e["x0"]))
    points: dict[tuple[float, float], tuple[set, set]] = {}
    for vi, v in enumerate(vs):
        for hi, h in enumerate(hs):
            if (v["top"] <= h["top"] + TOLERANCE and v["bottom"] >= h["top"] - TOLERANCE
                    and v["x0"] >= h["x0"] - TOLERANCE and v["x0"] <= h["x1"] + TOLERANCE):
                sets = points.setdefault((v["x0"], h["top"]), (set(), set()))
                sets[0].add(vi)
                sets[1].add(hi)
    columns: dict[float, list[tuple[float, float]]] = {}
    rows: dict[float, list[tuple[float, float]]] = {}
    for pt in sorted(points):
        columns.setdefault(pt[0], []).append(pt)
        rows.setdefault(pt[1], []).append(pt)
    cells = []
    for pt in sorted(points):
        v_here, h_here = points[pt]
        below = [p for p in columns[pt[0]] if p[1] > pt[1]]
        right = [p for p in rows[pt[1]] if p[0] > pt[0]]
        found = None
        for b in below:
            if not v_here & points[b][0]:
                continue
            for r in right:
                if not h_here & points[r][1]:
                    continue
                corner = (r[0], b[1])
                if corner in points and points[corner][0] & points[r][0] and points[corner][1] & points[b][1]:
                    found = (pt[0], pt[1], corner[0], corner[1])
                    break
            if found:
                break
        if found:
            cells.append(found)
    return cells


def _cell_groups(cells: list[tuple[float, float, float, float]]) -> list[list[tuple[float, float, float, float]]]:
    """Cells sharing a corner, transitively (pdfplumber's cells_to_tables), top to bottom; lone cells dropped."""
    parent = list(range(len(cells)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[float, float], int] = {}
    for i, (x0, top, x1, bottom) in enumerate(cells):
        for corner in ((x0, top), (x0, bottom), (x1, top), (x1, bottom)):
            j = owner.setdefault(corner, i)
            parent[find(i)] = find(j)
    groups: dict[int, list] = {}
    for i, c in enumerate(cells):
        groups.setdefault(find(i), []).append(c)
    out = sorted(groups.values(), key=lambda g: min((c[1], c[0]) for c in g))
    return [g for g in out if len(g) > 1]


class _CellIndex:
    """Which cell of which table a point falls in (half-open boxes, as pdfplumber assigns characters)."""

    def __init__(self, tables: list[Table]):
        self.tables = tables
        self.grids = []
        for t in tables:
            xs = sorted({v for r in t.rows for c in r if c for v in (c[0], c[2])})
            ys = sorted({v for r in t.rows for c in r if c for v in (c[1], c[3])})
            slots = {}
            for ri, row in enumerate(t.rows):
                for ci, c in enumerate(row):
                    if c is None:
                        continue
                    for i in range(bisect.bisect_left(xs, c[0]), bisect.bisect_left(xs, c[2])):
                        for j in range(bisect.bisect_left(ys, c[1]), bisect.bisect_left(ys, c[3])):
                            slots[(i, j)] = (ri, ci)
            self.grids.append((xs, ys, slots))

    def locate(self, x: float, y: float) -> tuple[int, int, int] | None:
        """(table, row, column) holding the point, or None outside every table cell."""
        for k, t in enumerate(self.tables):
            x0, top, x1, bottom = t.bbox
            if not (x0 <= x < x1 and top <= y < bottom):
                continue
            xs, ys, slots = self.grids[k]
            hit = slots.get((bisect.bisect_right(xs, x) - 1, bisect.bisect_right(ys, y) - 1))
            if hit:
                return (k, *hit)
        return None

    def inside(self, x: float, y: float) -> bool:
        """True when the point lies within a table's bbox (its text is not running text)."""
        return any(t.bbox[0] <= x <= t.bbox[2] and t.bbox[1] <= y <= t.bbox[3] for t in self.tables)


def _rows_of(pieces: list[Piece]) -> list[list[Piece]]:
    """Pieces grouped into printed lines by their base (chained within the tolerance), left to right."""
    ordered = sorted(pieces, key=lambda p: p.base)
    rows: list[list[Piece]] = []
    last = None
    for p in ordered:
        if last is None or p.base > last + TOLERANCE:
            rows.append([])
        rows[-1].append(p)
        last = p.base
    return [sorted(r, key=lambda p: p.x0) for r in rows]


def _join(row: list[Piece], texts: list[str] | None = None) -> str:
    texts = texts or [p.text for p in row]
    out = [texts[0]]
    for k in range(1, len(row)):
        p = row[k]
        if p.space_before or p.x0 - row[k - 1].x1 > TOLERANCE:
            out.append(" ")
        out.append(texts[k])
    return "".join(out)


def _text(rows: list[list[Piece]], sep: str) -> str:
    return sep.join(_join(r) for r in rows)


def _confidence(pieces: list[Piece]) -> float | None:
    return min((p.confidence for p in pieces if p.confidence is not None), default=None)


def _alternatives(rows: list[list[Piece]], sep: str, finish) -> tuple[str, ...]:
    """The text with one piece replaced by each of its alternatives (piece order, capped)."""
    if not any(p.alternatives for row in rows for p in row):
        return ()
    base = finish(_text(rows, sep))
    out: list[str] = []
    for ri, row in enumerate(rows):
        for k, p in enumerate(row):
            for alt in p.alternatives:
                texts = [q.text for q in row]
                texts[k] = alt
                lines = [_join(r) if i != ri else _join(r, texts) for i, r in enumerate(rows)]
                text = finish(sep.join(lines))
                if text != base and text not in out:
                    out.append(text)
                if len(out) >= MAX_ALTERNATIVES:
                    return tuple(out)
    return tuple(out)


def _bbox(pieces: list[Piece]) -> tuple[float, float, float, float]:
    return (min(p.x0 for p in pieces), min(p.top for p in pieces), max(p.x1 for p in pieces), max(p.bottom for p in pieces))


def page_lines(
    pieces: list[Piece], tables: list[Table], page: int, first_table: int, table_kind: str, text_kind: str
) -> list[Line]:
    """The page's reader lines, top to bottom: a GRID line per table row, a FREE line per text line.

    ``first_table`` is the document-wide index of this page's first table.
    """
    index = _CellIndex(tables)
    in_cells: dict[tuple[int, int, int], list[Piece]] = {}
    free: list[Piece] = []
    for p in pieces:
        x, y = (p.x0 + p.x1) / 2, (p.top + p.bottom) / 2
        hit = index.locate(x, y) if tables else None
        if hit is not None:
            in_cells.setdefault(hit, []).append(p)
        elif not (tables and index.inside(x, y)):
            free.append(p)
    items: list[tuple[float, int, Line]] = []
    for k, t in enumerate(tables):
        for r, row in enumerate(t.rows):
            cells = []
            for c, box in enumerate(row):
                if box is None:
                    continue
                got = in_cells.get((k, r, c), [])
                rows = _rows_of(got)
                cells.append(Cell(
                    fix_glyphs(_text(rows, "\n")).strip(), page=page, table_index=first_table + k, row_index=r,
                    col_index=c, bbox=box, confidence=_confidence(got),
                    alternatives=_alternatives(rows, "\n", lambda s: fix_glyphs(s).strip()),
                ))
            if cells:
                items.append((min(b[1] for b in row if b), 0, Line(cells, GRID, table_kind)))
    for n, row in enumerate(_rows_of(free)):
        text = clean_line(fix_glyphs(_join(row)))
        if not text:
            continue
        cell = Cell(text, page=page, line=n + 1, bbox=_bbox(row), confidence=_confidence(row),
                    alternatives=_alternatives([row], " ", lambda s: clean_line(fix_glyphs(s))))
        items.append((row[0].top if len(row) == 1 else min(p.top for p in row), 1, Line([cell], FREE, text_kind)))
    items.sort(key=lambda it: (it[0], it[1]))
    return [line for _, _, line in items]
