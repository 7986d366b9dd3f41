"""Stage 4: parsing the value tokens of every placed row into cells (or candidate readings).

Each ``Reading`` gives a template row and its printed tokens. The column order comes from the
table's ``ColumnMap`` (Table 二: the 信息内容 header before the row). A token that is one clean
printed number becomes a cell directly; a run of glued digits (flattened text) or an OCR'd token
becomes a ``verify.Unit`` whose candidate readings the verification stage decides. A row whose
tokens do not fit its columns is not read, and every cell of it is reported with the reason.
Values detached from their row onto a line of their own (``22（其中修订16件）``) are re-attached
when exactly one cell of the adjacent row is blank, and reported otherwise.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from pipelines.extract import glued
from pipelines.extract.documents import FREE, GRID, PIPE
from pipelines.extract.headers import t2_columns
from pipelines.extract.labels import FUZZY, ORDER, POSITION, PREFIX
from pipelines.extract.placement import trim
from pipelines.extract.model import CellRecord
from pipelines.extract.text import bare, core, match_form
from pipelines.extract.table_model import BARE, HEADER, ColumnMap, PrintedRow, Reading, Token, location, row_location
from pipelines.extract.values import BLANK, NUMBER, is_unit, parse_cell
from pipelines.extract.verify import Unit, ocr_candidates
from pipelines.registry import TemplateRow, load_registry, subtotal_code

_LEADING_ZERO = re.compile(r"0\d+")
_WS = re.compile(r"\s")
_NOT_DIGIT = re.compile(r"[^\d.\-]")
SPAN_AGREEMENT = 0.5
_EDGE_FIGURE = re.compile(r"^\d|\d$")
_ANNOTATED = re.compile(r"^\s*[+-]?\d[\d,.]*\s*(?:万元|元|件|条|项|个)?\s*[(（].+[)）]\s*$")


@dataclass
class Missing:
    """Why the cells of a row were not read."""

    kind: str
    table_id: str
    codes: list[str]
    message: str
    location: str | None
    printed: str = ""


@dataclass
class ReadCells:
    """Cells read directly, candidate units for verification, printed subtotals, copies and what was lost."""

    direct: dict[str, CellRecord] = field(default_factory=dict)
    units: list[tuple[Unit, Reading, CellRecord]] = field(default_factory=list)
    subtotals: list[CellRecord] = field(default_factory=list)
    copies: list[tuple[Reading, dict[str, CellRecord]]] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    detached: list[tuple[str, str]] = field(default_factory=list)  # (message, location)


def record(code: str, tok: Token, rd: Reading, column_match: str, recovery: str = "none", raw: str | None = None) -> CellRecord:
    """A cell record for one printed token (``raw`` overrides the token text)."""
    parsed = parse_cell(tok.text if raw is None else raw)
    cell = tok.cell
    src = rd.source
    label = src.label or None
    return CellRecord(
        code=code,
        table_id=code.split(".", 1)[0],
        value=parsed.value,
        raw=parsed.raw,
        value_status=parsed.status,
        unit=parsed.unit,
        label=label if rd.how not in (ORDER, POSITION) else None,
        label_match=rd.how,
        column_match=column_match,
        recovery=recovery,
        source_kind=src.source_kind,
        confidence=cell.confidence,
        page=cell.page,
        line=cell.line,
        table_index=cell.table_index,
        row_index=cell.row_index,
        col_index=cell.col_index,
        bbox=",".join(f"{v:.1f}" for v in cell.bbox) if cell.bbox else None,
        context=src.fragment or None,
    )


class CellReader:
    """Parses the readings of one document."""

    def __init__(self, era: str, rows: list[PrintedRow], columns: dict[str, ColumnMap], t2_start):
        self.era = era
        self.rows = rows
        self.columns = columns
        self.t2_start = t2_start
        self.out = ReadCells()
        self.source_of: dict[str, PrintedRow] = {}  # code -> printed row of its direct cell
        self.placed: set[int] = set()  # ids of printed rows that fill a template row

    def _t2_header(self, pos) -> list[str]:
        headers = [r for r in self.rows if r.kind == HEADER and r.pos < pos and (self.t2_start is None or r.pos >= self.t2_start)]
        return headers[-1].columns if headers else []

    def codes_for(self, rd: Reading, n_tokens: int) -> tuple[list[str] | None, str, int | None, str]:
        """Codes of the row's value columns in printed order, how the columns were determined,
        the position of a printed subtotal column, and a reason when they cannot be determined."""
        row = rd.row
        table = row.table_id
        if table == "t2":
            n = n_tokens if rd.source.mode != FREE or n_tokens == row.width else row.width
            cmap = t2_columns(self._t2_header(rd.source.pos), row.column_keys, n)
            if cmap is None or cmap.how == "order":
                return list(row.codes), "order" if cmap else "header", None, ""
            if cmap.how == "unknown":
                return None, "unknown", None, cmap.note
            return [row.codes[row.column_keys.index(k)] for k in cmap.keys], "header", None, ""
        if table in ("t3", "t4") and table in self.columns:
            cmap = self.columns[table]
            if cmap.how == "unknown":
                return None, "unknown", None, cmap.note
            if table == "t3":
                return [row.codes[row.column_keys.index(k)] for k in cmap.keys], cmap.how, cmap.subtotal, ""
            return [f"t4.{k}" for k in cmap.keys], cmap.how, None, ""
        return list(row.codes), "header" if table != "old" else "position", None, ""

    def read(self, readings: list[Reading]) -> ReadCells:
        """Parse every reading (main copies first; copies are compared afterwards)."""
        self.placed = {id(rd.source) for rd in readings}
        self.spaced = self._spaced_tables(readings)
        self.spans = self._spans(readings)
        self.glued_ends = self._glued_ends(readings)
        spliced = self._spliced(readings)
        for rd in sorted(readings, key=lambda r: r.copy):
            if id(rd) in spliced:
                self._lose("row_shape", rd.row.table_id, list(rd.row.codes),
                           f"row '{rd.source.label or rd.row.key}': {spliced[id(rd)]}; not read", rd, list(rd.tokens))
                continue
            self._read_one(rd)
        self._reattach()
        return self.out

    def _read_one(self, rd: Reading) -> None:
        row = rd.row
        tokens = list(rd.tokens)
        unit_token = None
        if row.has_unit_column and tokens and is_unit(tokens[0].text):
            unit_token = tokens.pop(0)
        width = row.width + (1 if row.table_id == "t3" and self.columns.get("t3", ColumnMap((), "")).subtotal is not None else 0)
        if rd.source.mode == PIPE and row.table_id in self.spans:
            tokens, why = self._pipe_cells(rd, tokens, width)
            if why:
                self._lose("row_shape", row.table_id, list(row.codes), f"row '{rd.source.label or row.key}': {why}; not read",
                           rd, tokens)
                return
        else:
            if rd.source.mode == GRID and _shifts(tokens, width) > 1:
                self._lose("row_shape", row.table_id, list(row.codes),
                           f"row '{rd.source.label or row.key}': {len(tokens)} cells for {width} column(s), blank at both ends: "
                           "the values fit under more than one set of columns; not read", rd, tokens)
                return
            tokens = trim(tokens, rd.source.mode, width)
        if rd.source.mode != FREE and len(tokens) < width and all(t.text.strip() for t in tokens) and any(
            len(t.text.split()) > 1 for t in tokens
        ):
            tokens = [Token(p, t.cell) for t in tokens for p in t.text.split()]
        codes, column_match, sub_at, why = self.codes_for(rd, len(tokens))
        label = rd.source.label or row.key
        if codes is None:
            self._lose("columns_unknown", row.table_id, list(row.codes), f"row '{label}': {why}", rd, tokens)
            return
        if sub_at is not None and len(tokens) == len(codes) + 1:
            sub_tok = tokens.pop(sub_at)
            sub = record(subtotal_code("legal_persons", row.key.split(".", 1)[1]), sub_tok, rd, column_match)
            if not rd.copy:
                self.out.subtotals.append(sub)
        kinds = _kinds(tuple(codes))
        if len(tokens) == len(codes) and all(_single(t.text, k) for t, k in zip(tokens, kinds)):
            cells = {}
            for code, tok, kind in zip(codes, tokens, kinds):
                rec = record(code, tok, rd, column_match)
                if rd.source.source_kind == "ocr" and not rd.copy and rec.value_status != BLANK:
                    # a reader's alternatives belong to its whole cell: they apply when the token is the cell
                    alts = tok.cell.alternatives if tok.text.strip() == tok.cell.text.strip() else ()
                    options = [c for c in ocr_candidates(_digits(tok.text), alts) if glued.valid(c, kind)]
                    unit = Unit((code,), [(o,) for o in options], "ocr", primary=(_digits(tok.text),),
                                confidence=tok.cell.confidence)
                    self.out.units.append((unit, rd, rec))
                    continue
                cells[code] = rec
        elif rd.source.mode == FREE and not tokens and unit_token is not None and len(codes) == 1:
            cells = {codes[0]: record(codes[0], Token("", unit_token.cell), rd, column_match)}
        elif rd.source.mode == FREE and 1 < len(tokens) < len(codes) and row.table_id in self.spaced:
            self._lose(
                "row_shape", row.table_id, list(codes),
                f"row '{label}': {len(tokens)} value(s) for {len(codes)} column(s) in a table printed with its cells apart "
                "(blank cells dropped in conversion?); not read", rd, tokens,
            )
            return
        elif rd.source.mode == FREE and 0 < len(tokens) <= len(codes):
            pieces = [t.text for t in tokens]
            splits, complete = glued.row_splits(pieces, kinds)
            anchor = tokens[0]
            template = record(codes[0], anchor, rd, column_match, recovery="split", raw="")
            unit = Unit(tuple(codes), splits, "glued", complete=complete)
            if not rd.copy:
                self.out.units.append((unit, rd, template))
            return
        else:
            self._lose(
                "row_shape", row.table_id, list(codes),
                f"row '{label}': {len(tokens)} value cell(s) for {len(codes)} column(s); not read", rd, tokens,
            )
            return
        if rd.copy:
            self.out.copies.append((rd, cells))
        else:
            for code, rec in cells.items():
                if code not in self.out.direct:
                    self.out.direct[code] = rec
                    self.source_of[code] = rd.source

    def _spliced(self, readings: list[Reading]) -> dict[int, str]:
        """Readings that may hold the values of the template row after them, in the fixed tables of the 2019
        and 2021 formats: that row is printed nowhere (not even its label) while a later row of the table is.
        A span deleted from inside one row to inside the next takes the second row's label with it and leaves
        the first row's label with the second row's values — in a one-cell-per-line or '|'-flattened table,
        even a clean-looking row. Also a fuzzy label that ends with another row's whole label (two labels
        spliced: the values are the second row's), and in any table a label matched only approximately that
        begins or ends with a figure (``行政许可 9 | 7``: a value run into the label cell, ``97`` split by a
        tab or a lost cell boundary — which figures are the row's cannot be told). Returns id(reading) -> the reason."""
        printed = {r.chosen.key for r in self.rows if r.chosen is not None} | {rd.row.key for rd in readings}
        template = [r for r in load_registry().template(self.era) if self.era in r.eras and not r.is_subtotal]
        out: dict[int, str] = {}
        for rd in readings:
            if rd.copy:
                continue
            how = {rd.how, rd.source.match.how if rd.source.match is not None else None}
            if how & {FUZZY, PREFIX} and _EDGE_FIGURE.search(core(match_form(rd.source.label or ""))):
                out[id(rd)] = ("a figure is printed inside its label, which matches the template only approximately: "
                               "a value run into the label cell, the row's own figures cannot be told apart")
                continue
            if rd.how in (ORDER, POSITION) or rd.row.table_id == "old":
                continue  # the old 统计表's rows vary from report to report: a row not printed is no sign
            rows = [r for r in template if r.table_id == rd.row.table_id]
            if FUZZY in how and (other := _label_at_end(match_form(rd.source.label or ""), rd.row, rows)):
                out[id(rd)] = (f"its label ends with the label of {other.key}: two labels spliced by a deletion, "
                               "these values may be that row's")
                continue
            k = next((i for i, r in enumerate(rows) if r.key == rd.row.key), None)
            if k is None or k + 1 >= len(rows):
                continue
            nxt = rows[k + 1]
            if nxt.key in printed or not any(r.key in printed for r in rows[k + 2 :]):
                continue
            if nxt.key.startswith("t3.results.other.") and "t3.results.other" in printed:
                continue  # （六） printed as its single 2019 row
            out[id(rd)] = (f"the next row of the table ({nxt.key}) is printed nowhere: a deletion may have joined "
                           "the two rows, and these values may be the next row's")
        return out

    def _pipe_cells(self, rd: Reading, tokens: list[Token], width: int) -> tuple[list[Token], str]:
        """A '|'-flattened row's cells, using the table's own layout for the empty cells after its last value.

        Where row boundaries are lost, the empty cells after a row's last value are blank cells,
        padding or the separator of the next row. When every complete row of the table spans the
        same number of cells, a short row spanning that number ends in blank cells (read as blank),
        and a row spanning more (a repeated or inserted line) is not read. In a one-cell-per-line table
        a short row whose last empty cell shares its line with the next label is not read either, unless
        most complete rows of the table end that way too: a deleted value line and a '|' inserted before that
        label make up the span, and no blank is printed.
        """
        span = self.spans[rd.row.table_id]
        lead, _ = _split_trailing(tokens)
        if len(lead) == width and (len(tokens) <= span or rd.source.ends_line):
            return lead, ""
        if len(lead) < width and len(tokens) == span:
            if rd.row.table_id not in self.glued_ends and _glued_to_next(tokens, rd.source.next_line):
                return tokens, (f"{len(lead)} value(s) for {width} column(s), printed one cell per line, but its last "
                                "empty cell shares its line with the next label (a deleted line and an inserted '|'?)")
            # each blank sits in the empty cell printed at its position (its own line in a one-cell-per-line table)
            return lead + [Token("", tokens[min(k, len(tokens) - 1)].cell) for k in range(len(lead), width)], ""
        return tokens, (f"{len(lead)} value(s) in {len(tokens)} cells where every complete row of the table spans "
                        f"{span} (a repeated, inserted or deleted line?)")

    def _spans(self, readings: list[Reading]) -> dict[str, int]:
        """Per table, the number of '|' cells every complete row spans (value cells and the empty ones after them)."""
        seen: dict[str, Counter] = {}
        for rd in readings:
            if rd.source.mode != PIPE or rd.copy:
                continue
            lead, trailing = _split_trailing(rd.tokens)
            if len(lead) == rd.row.width and all(t.text.strip() for t in lead) and trailing and not rd.source.ends_line:
                seen.setdefault(rd.row.table_id, Counter())[len(rd.tokens)] += 1
        out = {}
        for table, spans in seen.items():
            (span, n), total = spans.most_common(1)[0], sum(spans.values())
            if n >= 2 and n > SPAN_AGREEMENT * total:  # a few odd rows (repeated lines) do not break the convention
                out[table] = span
        return out

    @staticmethod
    def _glued_ends(readings: list[Reading]) -> set[str]:
        """Tables most of whose complete '|' rows end in an empty cell on the next label's line ('|label')."""
        votes: dict[str, int] = {}
        for rd in readings:
            if rd.source.mode == PIPE and not rd.copy and len(_split_trailing(rd.tokens)[0]) == rd.row.width:
                glued = _glued_to_next(rd.tokens, rd.source.next_line)
                votes[rd.row.table_id] = votes.get(rd.row.table_id, 0) + (1 if glued else -1)
        return {table for table, n in votes.items() if n > 0}

    @staticmethod
    def _spaced_tables(readings: list[Reading]) -> set[str]:
        """Tables printed as running text with their cells apart (most rows give one token per column).

        In such a table a row with fewer tokens than columns lost blank cells in conversion: its
        values cannot be placed. Only tables whose rows run together (平潭's flattened pages) are
        read as glued digits.
        """
        spaced: dict[str, int] = {}
        glued_rows: dict[str, int] = {}
        for rd in readings:
            if rd.source.mode != FREE or rd.row.width < 3:
                continue
            n = len(rd.tokens)
            table = rd.row.table_id
            if n == rd.row.width:
                spaced[table] = spaced.get(table, 0) + 1
            elif n == 1:
                glued_rows[table] = glued_rows.get(table, 0) + 1
        return {t for t, n in spaced.items() if n >= 3 and n > glued_rows.get(t, 0)}

    def _lose(self, kind: str, table: str, codes: list[str], message: str, rd: Reading, tokens: list[Token]) -> None:
        if rd.copy:
            return
        printed = " | ".join(t.text for t in tokens) or rd.source.fragment
        self.out.missing.append(Missing(kind, table, codes, message, row_location(rd.source), printed))

    def _reattach(self) -> None:
        """Values printed on a line of their own next to a row with exactly one blank cell."""
        by_row: dict[int, list[CellRecord]] = {}
        for code, rec in self.out.direct.items():
            by_row.setdefault(id(self.source_of[code]), []).append(rec)
        for k, row in enumerate(self.rows):
            if row.kind != BARE or id(row) in self.placed:
                continue
            toks = [t for t in row.tokens if t.text.strip()]
            if len(toks) != 1 or not _ANNOTATED.match(toks[0].text):
                continue
            fits = []
            for j in (k - 1, k + 1):
                if 0 <= j < len(self.rows) and id(self.rows[j]) in self.placed:
                    blanks = [r for r in by_row.get(id(self.rows[j]), []) if r.value_status == BLANK]
                    if len(blanks) == 1:
                        fits.append(blanks[0])
            if len(fits) == 1:
                target = fits[0]
                parsed = parse_cell(toks[0].text)
                target.value, target.raw, target.value_status, target.unit = parsed.value, parsed.raw, parsed.status, parsed.unit
                target.recovery = "reattached"
                target.context = f"{target.context or ''} (value printed on its own line at {location(toks[0].cell)})".strip()
            else:
                self.out.detached.append((
                    f"value '{toks[0].text.strip()}' printed on a line of its own: no adjacent row has exactly one "
                    "blank cell to take it; not attached", location(toks[0].cell)))


def _label_at_end(label: str, row: TemplateRow, rows: list[TemplateRow]) -> TemplateRow | None:
    """Another template row of the table whose whole label (without numbering) ends a fuzzy-matched label."""
    own = {bare(match_form(v)) for v in row.labels}
    for other in rows:
        if other.key == row.key:
            continue
        for v in other.labels:
            tail = bare(match_form(v))
            if len(tail) >= 2 and label.endswith(tail) and not any(o.endswith(tail) for o in own):
                return other
    return None


@lru_cache(maxsize=4096)
def _kinds(codes: tuple[str, ...]) -> tuple[str, ...]:
    """Value types (count / signed / money) of a row's codes."""
    by_code = load_registry().by_code
    return tuple(by_code[c].value_type if c in by_code else "count" for c in codes)


def _shifts(tokens: list[Token], width: int) -> int:
    """In how many windows of ``width`` consecutive cells a grid row's non-blank cells all fit (1 when the row is not wider)."""
    filled = [k for k, t in enumerate(tokens) if t.text.strip()]
    if len(tokens) <= width or not filled:
        return 1
    return max(0, min(filled[0], len(tokens) - width) - max(0, filled[-1] - width + 1) + 1)


def _glued_to_next(tokens: list[Token], next_line: int | None) -> bool:
    """Whether a row printed one cell per line ends in an empty cell on the line of the cell after it."""
    lines = [t.cell.line for t in tokens]
    return (next_line is not None and len(lines) > 1 and None not in lines and len(set(lines)) == len(lines)
            and lines[-1] == next_line)


def _split_trailing(tokens: list[Token]) -> tuple[list[Token], int]:
    """(tokens up to the last non-empty one, number of empty cells after it)."""
    end = len(tokens)
    while end and not tokens[end - 1].text.strip():
        end -= 1
    return tokens[:end], len(tokens) - end


def _digits(text: str) -> str:
    return _WS.sub("", text)


@lru_cache(maxsize=65536)
def _single(text: str, kind: str) -> bool:
    """False for a token that is a run of glued digits rather than one number (a count with a leading 0)."""
    if text.isdigit():
        return not (kind == "count" and len(text) > 1 and text[0] == "0")
    parsed = parse_cell(text)
    if parsed.status != NUMBER:
        return True
    digits = _NOT_DIGIT.sub("", text.split("(")[0].split("（")[0])
    return not (kind == "count" and _LEADING_ZERO.fullmatch(digits))


