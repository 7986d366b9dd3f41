"""Mapping printed table rows to registry codes.

The matcher walks a ``Document``'s lines once and records events in reading order:

* **hits** – a template row recognised by its printed label, with the value cells after it;
* **bare rows** – lines made only of values (rows whose label was detached by conversion);
* **headers** – Table 二 column headers (信息内容 …), used to place a row's values.

Rows are then assigned to template rows in template order (a label that reappears earlier in
the template starts a new copy of the table; the copy with the most rows is the table), bare
rows are placed between labelled rows only when their number equals the number of missing
template rows there, Table 四's single unlabelled row is located after its header, and glued
digits are split by ``glued``. Nothing is placed by counting numbers alone: every value sits
under a printed label, in a gap bounded by printed labels, or in Table 四's printed header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipelines.extract import glued
from pipelines.extract.documents import FREE, GRID, PIPE, Cell, Document
from pipelines.extract.labels import ORDER, POSITION, LabelIndex, LabelMatch, label_index, normalized_with_map
from pipelines.extract.model import ERROR, INFO, WARNING, CellRecord, Extraction
from pipelines.extract.text import bare, core, norm
from pipelines.extract.values import is_unit, is_value_like, parse_cell
from pipelines.registry import TemplateRow, load_registry
from pipelines.rules.expressions import linear_constraints

_VALUE_CHARS = r"[\s\d.,+\-/／—–－]"
_LEADING_UNIT = r"(?:\s*(?:万元|元|件|条|项|个|人次|人|次|篇|份)(?=[\s\d]))?"
_VALUE_RUN = re.compile(r"^" + _LEADING_UNIT + _VALUE_CHARS + r"*(?:(?<=\d)(?:万元|元))?")
_TRAILING_ENUM = re.compile(r"\d+[.、]$")
_T4_HEADER_CHARS = set("行政复议诉讼结果维持纠正其他尚未审结总计未经直接起后单位件()（）:：,，、|/")


@dataclass
class Token:
    """A printed value token and the cell it came from."""

    text: str
    cell: Cell
    offset: int | None = None


@dataclass
class Event:
    """Something found while reading lines (a labelled row, a bare value row, or a header)."""

    kind: str
    pos: tuple[int, int]
    mode: str
    source_kind: str
    match: LabelMatch | None = None
    label: str = ""
    label_cell: Cell | None = None
    tokens: list[Token] = field(default_factory=list)
    fragment: str = ""
    columns: list[str] = field(default_factory=list)
    chosen: TemplateRow | None = None
    instance: int = 0


@dataclass
class Reading:
    """A template row with the tokens that fill it (before number parsing)."""

    row: TemplateRow
    event: Event
    tokens: list[Token]
    how: str
    order_note: str = ""


class TableReader:
    """Reads the statistical tables of one document of a known era into ``Extraction``."""

    def __init__(self, doc: Document, era: str, ext: Extraction, twin_lookup=None):
        self.doc = doc
        self.era = era
        self.ext = ext
        self.reg = load_registry()
        self.index: LabelIndex = label_index(era)
        self.twin_lookup = twin_lookup
        self.events: list[Event] = []
        self.t2_start = self._first_anchor(self.reg.variants("anchor", "t2")) if era != "old2014" else None
        self.t3_start = self._first_anchor(self.reg.variants("anchor", "t3")) if era != "old2014" else None
        self.t4_pos: tuple[int, int] | None = None
        self._column_forms = self._column_variants()

    # ------------------------------------------------------------------ anchors and regions
    def _first_anchor(self, variants: list[str]) -> tuple[int, int] | None:
        forms = [norm(v) for v in variants]
        for li, line in enumerate(self.doc.lines):
            if line.mode == FREE:
                normed, index = normalized_with_map(line.cells[0].text)
                hits = [normed.find(f) for f in forms if f in normed]
                if hits:
                    return (li, index[min(hits)])
            else:
                for ci, cell in enumerate(line.cells):
                    if any(f in norm(cell.text) for f in forms):
                        return (li, ci)
        return None

    def _allowed(self, pos: tuple[int, int], mode: str) -> set[str]:
        if self.era == "old2014":
            return {"old"}
        tables = set()
        if self.t2_start is not None and pos >= self.t2_start and (self.t3_start is None or pos < self.t3_start):
            tables.add("t2")
        if mode != FREE or self.t3_start is None or pos >= self.t3_start:
            tables.add("t3")
        return tables

    # ------------------------------------------------------------------ scanning
    def scan(self) -> None:
        """Turn lines into events."""
        for li, line in enumerate(self.doc.lines):
            if line.mode == FREE:
                self._scan_free(li, line)
            else:
                self._scan_cells(li, line)

    def _scan_cells(self, li: int, line) -> None:
        cells = line.cells
        if cells and all(is_value_like(c.text) for c in cells):
            if any(c.text.strip() for c in cells):
                self.events.append(Event("bare", (li, 0), line.mode, line.source_kind, tokens=[Token(c.text, c) for c in cells]))
            return
        i = 0
        while i < len(cells):
            cell = cells[i]
            pos = (li, i)
            if is_value_like(cell.text):
                i += 1
                continue
            if core(cell.text) == "信息内容":
                cols = [self._column_key(c.text) for c in cells[i + 1 :]]
                self.events.append(Event("header", pos, line.mode, line.source_kind, columns=[c for c in cols if c]))
                i += 1
                continue
            match = self.index.match_cell(cell.text, self._allowed(pos, line.mode))
            if match is None:
                i += 1
                continue
            j = i + 1
            while j < len(cells) and is_value_like(cells[j].text):
                j += 1
            tokens = [Token(cells[k].text, cells[k]) for k in range(i + 1, j)]
            fragment = " | ".join(t.text for t in tokens)
            self.events.append(
                Event("hit", pos, line.mode, line.source_kind, match=match, label=cell.text, label_cell=cell, tokens=tokens, fragment=fragment)
            )
            i = j

    def _scan_free(self, li: int, line) -> None:
        cell = line.cells[0]
        text = cell.text
        allowed_any = {"old"} if self.era == "old2014" else {"t2", "t3"}
        occs = self.index.find_in_text(text, allowed_any, at_start_only_for={"old"})
        occs = [o for o in occs if any(r.table_id in self._allowed((li, o.start), FREE) for r in o.rows)]
        # Table 二 column headers inside running text
        for m in re.finditer("信息内容", text):
            stop = min((o.start for o in occs if o.start > m.end()), default=len(text))
            self.events.append(
                Event("header", (li, m.start()), FREE, line.source_kind, columns=self._columns_in_text(text[m.end() : stop]))
            )
        if not occs:
            stripped = text.strip()
            run = _VALUE_RUN.match(stripped)
            if stripped and run and run.end() == len(stripped) and re.search(r"\d", stripped):
                tokens = [Token(p, cell) for p in glued.tokenize(stripped)]
                self.events.append(Event("bare", (li, 0), FREE, line.source_kind, tokens=tokens, fragment=stripped))
            return
        for k, occ in enumerate(occs):
            stop = occs[k + 1].start if k + 1 < len(occs) else len(text)
            rest = text[occ.end : stop]
            frag = _VALUE_RUN.match(rest).group(0)
            after = rest[len(frag) : len(frag) + 1]
            if after and not after.isspace() and not after.isdigit():
                frag = _TRAILING_ENUM.sub("", frag.rstrip()) if _TRAILING_ENUM.search(frag.rstrip()) else frag
            rows = tuple(r for r in occ.rows if r.table_id in self._allowed((li, occ.start), FREE))
            tokens = [Token(p, cell, occ.end) for p in glued.tokenize(frag)]
            self.events.append(
                Event(
                    "hit", (li, occ.start), FREE, line.source_kind, match=LabelMatch(rows, occ.how),
                    label=text[occ.start : occ.end], label_cell=cell, tokens=tokens, fragment=frag.strip(),
                )
            )

    # ------------------------------------------------------------------ Table 二 headers
    def _column_variants(self) -> list[tuple[str, str]]:
        forms: dict[str, str] = {}
        for lb in self.reg.labels_of("column"):
            forms.setdefault(bare(lb.variant), lb.key)
        for ind in self.reg.indicators:
            if ind.table_id == "t2":
                forms.setdefault(bare(ind.column_label), ind.column_key)
        return sorted(forms.items(), key=lambda kv: -len(kv[0]))

    def _column_key(self, text: str) -> str | None:
        form = bare(text)
        for variant, key in self._column_forms:
            if form == variant:
                return key
        return None

    def _columns_in_text(self, text: str) -> list[str]:
        normed = norm(text)
        found = []
        taken = [False] * len(normed)
        for variant, key in self._column_forms:
            start = 0
            while (k := normed.find(variant, start)) >= 0:
                start = k + 1
                if not any(taken[k : k + len(variant)]):
                    for j in range(k, k + len(variant)):
                        taken[j] = True
                    found.append((k, key))
        return [key for _, key in sorted(found)]

    # ------------------------------------------------------------------ Table 四
    def locate_t4(self) -> Reading | None:
        """Table 四's single row: the first value run after a 行政复议 … 行政诉讼 header made of header words only."""
        if self.era == "old2014":
            return None
        t3_hits = [e.pos for e in self.events if e.kind == "hit" and e.chosen is not None and e.chosen.table_id == "t3"]
        start = max(t3_hits) if t3_hits else (self.t3_start or (0, 0))
        stream: list[tuple[str, int, int, int]] = []  # (char, line, cell, original offset)
        for li, line in enumerate(self.doc.lines):
            if li < start[0]:
                continue
            for ci, cell in enumerate(line.cells):
                if li == start[0] and (line.mode != FREE and ci <= start[1]):
                    continue
                normed, index = normalized_with_map(cell.text)
                first = 0
                if li == start[0] and line.mode == FREE:
                    first = next((k for k, o in enumerate(index) if o >= start[1]), len(normed))
                for k in range(first, len(normed)):
                    stream.append((normed[k], li, ci, index[k]))
                stream.append(("|", li, ci, -1))
        text = "".join(s[0] for s in stream)
        for m in re.finditer("行政复议", text):
            k = m.end()
            while k < len(text) and not text[k].isdigit():
                if text[k] not in _T4_HEADER_CHARS:
                    break
                k += 1
            if k >= len(text) or not text[k].isdigit() or "行政诉讼" not in text[m.start() : k]:
                continue
            _, li, ci, off = stream[k]
            line = self.doc.lines[li]
            self.t4_pos = (li, ci if line.mode != FREE else off)
            if line.mode != FREE:
                cells = line.cells[ci:]
                run = []
                for c in cells:
                    if not is_value_like(c.text):
                        break
                    run.append(Token(c.text, c))
                tokens = run
                fragment = " | ".join(t.text for t in tokens)
            else:
                cell = line.cells[0]
                frag = _VALUE_RUN.match(cell.text[off:]).group(0)
                tokens = [Token(p, cell, off) for p in glued.tokenize(frag)]
                fragment = frag.strip()
                nxt = li + 1
                while len(tokens) < 15 and nxt < len(self.doc.lines) and self.doc.lines[nxt].mode == FREE:
                    more = self.doc.lines[nxt].cells[0]
                    run = _VALUE_RUN.match(more.text.strip())
                    if not (run and run.end() == len(more.text.strip())):
                        break
                    tokens += [Token(p, more) for p in glued.tokenize(more.text)]
                    fragment += " " + more.text.strip()
                    nxt += 1
            row = self.reg.template_row(self.era, "t4")
            event = Event("hit", self.t4_pos, line.mode, line.source_kind, label="", tokens=tokens, fragment=fragment)
            return Reading(row, event, tokens, POSITION)
        return self._t4_blank_grid(start)

    def _t4_blank_grid(self, start: tuple[int, int]) -> Reading | None:
        """Table 四 printed as a grid whose data row is entirely blank (a form not yet filled in)."""
        lines = self.doc.lines
        for li in range(start[0], len(lines)):
            line = lines[li]
            if line.mode == FREE:
                continue
            forms = [norm(c.text) for c in line.cells]
            if "行政复议" not in forms or "行政诉讼" not in forms:
                continue
            for nxt in range(li + 1, min(li + 6, len(lines))):
                cand = lines[nxt]
                if cand.mode == FREE:
                    break
                if all(is_value_like(c.text) for c in cand.cells):
                    tokens = [Token(c.text, c) for c in cand.cells]
                    self.t4_pos = (nxt, 0)
                    row = self.reg.template_row(self.era, "t4")
                    event = Event("hit", self.t4_pos, cand.mode, cand.source_kind, label="", tokens=tokens,
                                  fragment=" | ".join(t.text for t in tokens))
                    return Reading(row, event, tokens, POSITION)
                if not all(set(norm(c.text)) <= _T4_HEADER_CHARS for c in cand.cells):
                    break
        return None

    # ------------------------------------------------------------------ assignment
    def segment(self) -> None:
        """Choose a template row for every labelled row; a jump back in the template starts a new copy."""
        hits = [e for e in self.events if e.kind == "hit" and e.match and e.match.rows and e.tokens]
        self.instances: dict[str, list[list[Event]]] = {}
        for table in ("t2", "t3", "old"):
            table_hits = [h for h in hits if h.match.rows[0].table_id == table]
            instances: list[list[Event]] = []
            last = -1
            for h in table_hits:
                cands = sorted(h.match.rows, key=lambda r: r.order)
                later = [r for r in cands if r.order > last]
                if not instances or not later:
                    instances.append([])
                    h.chosen = cands[0]
                else:
                    h.chosen = later[0]
                h.instance = len(instances) - 1
                instances[-1].append(h)
                last = h.chosen.order
            if instances:
                self.instances[table] = instances

    def assign(self) -> list[Reading]:
        """Readings for the main copy of each table (other copies fill gaps and are compared)."""
        readings: list[Reading] = []
        for table, instances in self.instances.items():
            main = max(range(len(instances)), key=lambda k: (len(instances[k]), k))
            main_rows = {h.chosen.key for h in instances[main]}
            for k, inst in enumerate(instances):
                for h in inst:
                    if k == main or h.chosen.key not in main_rows:
                        readings.append(Reading(h.chosen, h, list(h.tokens), h.match.how))
                        main_rows.add(h.chosen.key)
                    else:
                        readings.append(Reading(h.chosen, h, list(h.tokens), h.match.how, order_note="copy"))
            if table == "t3":
                readings.extend(self._fill_gaps(instances[main]))
        return readings

    def _fill_gaps(self, inst: list[Event]) -> list[Reading]:
        rows = [r for r in self.reg.template(self.era) if r.table_id == "t3" and self.era in r.eras and not r.is_subtotal]
        filled = {h.chosen.key for h in inst}
        bares = [e for e in self.events if e.kind == "bare" and (self.t3_start is None or e.pos >= self.t3_start)]
        if self.t4_pos is not None:
            bares = [e for e in bares if e.pos < self.t4_pos]
        width = 7
        anchors = sorted(inst, key=lambda h: h.pos)
        out: list[Reading] = []
        bounds = [None, *anchors, None]
        for prev, nxt in zip(bounds, bounds[1:]):
            lo = prev.chosen.order if prev else -1
            hi = nxt.chosen.order if nxt else 10**9
            in_gap = [
                b for b in bares
                if (prev is None or b.pos > prev.pos) and (nxt is None or b.pos < nxt.pos)
            ]
            if prev is None and nxt is not None and self.t3_start is None:
                continue
            candidates = [b for b in in_gap if len(self._trim(b.tokens, b.mode, width)) == width]
            slots = [r for r in rows if lo < r.order < hi and r.key not in filled]
            if not candidates:
                continue
            if len(candidates) == len(slots):
                for b, r in zip(candidates, slots):
                    out.append(Reading(r, b, list(b.tokens), ORDER))
                    filled.add(r.key)
            else:
                where = f"between '{prev.label if prev else 'table start'}' and '{nxt.label if nxt else 'table end'}'"
                self.ext.add(
                    WARNING, "unplaced_rows",
                    f"Table 三: {len(candidates)} unlabelled value row(s) {where} for {len(slots)} missing template row(s); not assigned",
                    _loc(candidates[0]),
                )
        return out

    # ------------------------------------------------------------------ values
    def _trim(self, tokens: list[Token], mode: str, width: int) -> list[Token]:
        tokens = list(tokens)
        if mode == PIPE:
            while tokens and not tokens[-1].text.strip():
                tokens.pop()
        elif mode == GRID:
            # extra empty cells belong to label columns (left) or padding (right)
            while len(tokens) > width and (not tokens[0].text.strip() or not tokens[-1].text.strip()):
                if not tokens[0].text.strip() and tokens[-1].text.strip():
                    tokens.pop(0)
                else:
                    tokens.pop()
        return tokens

    def _header_before(self, pos: tuple[int, int]) -> list[str]:
        headers = [e for e in self.events if e.kind == "header" and e.pos < pos]
        if self.t2_start is not None:
            headers = [e for e in headers if e.pos >= self.t2_start]
        return headers[-1].columns if headers else []

    def read(self, readings: list[Reading]) -> None:
        """Parse tokens into cells, splitting glued digits where needed."""
        direct: dict[str, CellRecord] = {}
        copies: list[tuple[Reading, dict[str, CellRecord]]] = []
        pending: list[tuple[Reading, list[str], glued.GluedRow]] = []
        for rd in readings:
            row = rd.row
            tokens = list(rd.tokens)
            unit_token = None
            if row.has_unit_column and tokens and is_unit(tokens[0].text):
                unit_token = tokens.pop(0)
            tokens = self._trim(tokens, rd.event.mode, row.width)
            codes = list(row.codes)
            if row.table_id == "t2":
                header = self._header_before(rd.event.pos)
                n = len(tokens) if rd.event.mode != FREE or len(tokens) == row.width else row.width
                if header and len(header) == n and set(header) <= set(row.column_keys):
                    codes = [row.codes[row.column_keys.index(k)] for k in header]
            if rd.event.mode != FREE and len(tokens) < row.width and all(t.text.strip() for t in tokens) and any(
                len(t.text.split()) > 1 for t in tokens
            ):
                tokens = [Token(p, t.cell) for t in tokens for p in t.text.split()]
            kinds = tuple(self.reg.by_code[c].value_type if c in self.reg.by_code else "count" for c in codes)
            if len(tokens) == len(codes) and all(self._single(t.text, k) for t, k in zip(tokens, kinds)):
                cells = {c: self._record(c, t, rd) for c, t in zip(codes, tokens)}
            elif rd.event.mode == FREE and not tokens and unit_token is not None and len(codes) == 1:
                cells = {codes[0]: self._record(codes[0], Token("", unit_token.cell), rd)}
            elif rd.event.mode == FREE and 0 < len(tokens) <= len(codes):
                pending.append((rd, codes, glued.GluedRow(row.key, tuple(codes), kinds, [t.text for t in tokens])))
                continue
            else:
                self.ext.add(
                    WARNING, "row_shape",
                    f"row '{rd.event.label or row.key}': {len(tokens)} value cell(s) for {len(codes)} column(s); not read",
                    _loc(rd.event),
                )
                continue
            if rd.order_note == "copy":
                copies.append((rd, cells))
            else:
                for code, rec in cells.items():
                    direct.setdefault(code, rec)
        if pending:
            self._solve(pending, direct)
        for rd, cells in copies:
            for code, rec in cells.items():
                main = direct.get(code)
                if main is None:
                    direct[code] = rec
                elif main.value != rec.value and (main.value is not None or rec.value is not None):
                    self.ext.add(
                        WARNING, "conflicting_copies",
                        f"{code}: the table is printed twice with different values ({main.raw!r} at {_cell_loc(main)}, {rec.raw!r} at {_cell_loc(rec)}); the fuller copy is used",
                        _cell_loc(rec),
                    )
        self._finish(direct)

    def _single(self, text: str, kind: str) -> bool:
        parsed = parse_cell(text)
        if parsed.status != "number":
            return True
        digits = re.sub(r"[^\d.\-]", "", text.split("(")[0].split("（")[0])
        if kind == "count" and re.fullmatch(r"0\d+", digits):
            return False
        return True

    def _record(self, code: str, tok: Token, rd: Reading, recovery: str = "none", raw: str | None = None) -> CellRecord:
        parsed = parse_cell(tok.text if raw is None else raw)
        cell = tok.cell
        label = rd.event.label or None
        return CellRecord(
            code=code,
            table_id=code.split(".", 1)[0],
            value=parsed.value,
            raw=parsed.raw,
            value_status=parsed.status,
            unit=parsed.unit,
            label=label if rd.how not in (ORDER, POSITION) else None,
            label_match=rd.how,
            recovery=recovery,
            source_kind=rd.event.source_kind,
            page=cell.page,
            line=cell.line,
            table_index=cell.table_index,
            row_index=cell.row_index,
            col_index=cell.col_index,
            bbox=",".join(f"{v:.1f}" for v in cell.bbox) if cell.bbox else None,
            context=rd.event.fragment or None,
        )

    def _solve(self, pending, direct: dict[str, CellRecord]) -> None:
        fixed = {c: r.value for c, r in direct.items() if r.value is not None}
        rows = [g for _, _, g in pending]
        result = glued.solve(rows, fixed, linear_constraints(self.era))
        if not result.consistent:
            self.ext.add(WARNING, "glued_inconsistent", f"glued digits: {result.note}; cells fixed by their own row only")
        twin_fixed: dict[str, tuple[str, str]] = {}
        if result.ambiguous and self.twin_lookup is not None:
            twin_fixed = self._resolve_with_twin(pending, result)
        for rd, codes, g in pending:
            anchor = rd.tokens[0] if rd.tokens else Token("", rd.event.label_cell or Cell(""))
            for code in codes:
                if code in result.values:
                    rec = self._record(code, anchor, rd, recovery="split", raw=result.values[code])
                elif code in twin_fixed:
                    value, source = twin_fixed[code]
                    rec = self._record(code, anchor, rd, recovery="twin", raw=value)
                    rec.candidates = "|".join(result.ambiguous[code])
                    rec.context = f"{rd.event.fragment} (split fixed by {source})"
                else:
                    rec = self._record(code, anchor, rd, recovery="ambiguous", raw="")
                    rec.value = None
                    rec.raw = None
                    rec.value_status = "ambiguous"
                    rec.candidates = "|".join(result.ambiguous.get(code, [])) or None
                    if g.too_many:
                        rec.candidates = None
                direct.setdefault(code, rec)
            undecided = [c for c in codes if c not in result.values and c not in twin_fixed]
            if undecided:
                opts = "; ".join(f"{c} ∈ {{{', '.join(result.ambiguous.get(c, [])[:8])}}}" for c in undecided)
                self.ext.add(
                    WARNING, "ambiguous_split",
                    f"row '{rd.event.label or rd.row.key}' prints glued digits '{rd.event.fragment}' that split in several ways; left missing: {opts}",
                    _loc(rd.event),
                )

    def _resolve_with_twin(self, pending, result) -> dict[str, tuple[str, str]]:
        """Fix ambiguous rows from another copy of the same report whose cells were printed apart."""
        out: dict[str, tuple[str, str]] = {}
        twin = self.twin_lookup(self.ext)
        if twin is None:
            return out
        twin_cells = {c.code: c for c in twin.cells if c.recovery == "none" and c.value_status == "number"}
        for rd, codes, g in pending:
            if not any(c in result.ambiguous for c in codes):
                continue
            if not all(c in twin_cells for c in codes):
                continue
            printed = [parse_cell(twin_cells[c].raw or "").raw for c in codes]
            digits = "".join(re.sub(r"\s", "", p) for p in printed)
            if digits != re.sub(r"\s", "", "".join(g.pieces)):
                continue
            for c, p in zip(codes, printed):
                if c in result.values:
                    continue
                if p in result.ambiguous.get(c, []) or re.sub(r"\s", "", p) in result.ambiguous.get(c, []):
                    out[c] = (p, twin.source_path)
        return out

    def _finish(self, direct: dict[str, CellRecord]) -> None:
        split_codes = [c for c in direct if c.startswith("t3.results.other.") and c.count(".") == 4]
        single = [c for c in direct if c.startswith("t3.results.other.") and c.count(".") == 3]
        if single and any(direct[c].value is not None for c in split_codes):
            for c in single:
                rec = direct.pop(c)
                rec.code = "printed_subtotal.other." + c.rsplit(".", 1)[1]
                self.ext.subtotals.append(rec)
        for code, rec in direct.items():
            if code.startswith("printed_subtotal."):
                self.ext.subtotals.append(rec)
            else:
                self.ext.cells.append(rec)
        order = {c: k for k, c in enumerate(self.reg.codes_for(self.era))}
        self.ext.cells.sort(key=lambda r: order.get(r.code, 10**6))

    # ------------------------------------------------------------------ entry point
    def run(self) -> None:
        """Scan, assign, locate Table 四 and read every cell into the extraction."""
        self.scan()
        self.segment()
        t4 = self.locate_t4()
        readings = self.assign()
        if t4 is not None:
            readings.append(t4)
        self.read(readings)
        found = {c.table_id for c in self.ext.cells}
        expected = {"old"} if self.era == "old2014" else {"t2", "t3", "t4"}
        for table in sorted(expected - found):
            self.ext.add(INFO, "table_missing", f"no {_TABLE_NAMES[table]} found")
        if not found:
            self.ext.add(ERROR, "no_tables", "no statistical table could be read")


_TABLE_NAMES = {"t2": "Table 二 (主动公开)", "t3": "Table 三 (依申请)", "t4": "Table 四 (复议/诉讼)", "old": "统计表"}


def _loc(event: Event) -> str:
    line, _ = event.pos
    cell = event.label_cell or (event.tokens[0].cell if event.tokens else None)
    return _cell_loc(cell) if cell else f"line index {line}"


def _cell_loc(obj) -> str:
    parts = []
    if getattr(obj, "page", None):
        parts.append(f"page {obj.page}")
    if getattr(obj, "table_index", None) is not None:
        parts.append(f"table {obj.table_index + 1} row {(obj.row_index or 0) + 1}")
    if getattr(obj, "line", None):
        parts.append(f"line {obj.line}")
    return ", ".join(parts) or "unknown place"
