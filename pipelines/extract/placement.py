"""Stage 3: giving printed rows their template rows, and recovering rows whose labels were lost.

* A labelled row takes the first candidate template row after the previous one; a label that
  reappears earlier in the template starts a new copy of the table (the copy with the most rows
  is the table; the others fill its gaps and are compared with it).
* Rows printed without a label (``BARE``) are placed only between labelled rows: a label printed
  alone immediately followed by a value row, for every such pair in a gap (pdftotext and
  one-cell-per-line layouts), or — when the labels are scattered — only if the number of value
  rows of the right width equals the number of template rows missing there.
* Table 四's single row is the first run of values after its printed header.

Nothing is placed by counting numbers alone: every value sits under a printed label, in a gap
bounded by printed labels, or after Table 四's printed header. What cannot be placed is reported.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from pipelines.extract import glued
from pipelines.extract.documents import FREE, GRID, PIPE, Document
from rapidfuzz import fuzz

from pipelines.extract.labels import FUZZY, ORDER, PAIRED, POSITION
from pipelines.extract.scan import VALUE_RUN, Scan
from pipelines.extract.table_model import BARE, LABEL, LABELLED, UNCODED, PrintedRow, Reading, Token, row_location
from pipelines.extract.text import bare, fold, match_form, squeeze
from pipelines.extract.values import is_value_like
from pipelines.registry import TemplateRow, load_registry

MISPRINT_CUTOFF = 60.0  # similarity a misprinted label needs to the one template row missing in its gap
TABLE_NAMES = {"t2": "Table 二 (主动公开)", "t3": "Table 三 (依申请)", "t4": "Table 四 (复议/诉讼)", "old": "统计表"}


@dataclass
class Placement:
    """Readings of every template row found, plus what could not be placed."""

    readings: list[Reading] = field(default_factory=list)
    problems: list[tuple[str, str, list[str], str, str | None, str]] = field(default_factory=list)
    uncoded: list[tuple[str, PrintedRow]] = field(default_factory=list)  # (table, row) of rows that map to no code

    def problem(self, kind: str, table: str, codes: list[str], message: str, where: str | None, printed: str = "") -> None:
        """Record template cells that could not be placed, and why."""
        self.problems.append((kind, table, codes, message, where, printed))


def trim(tokens: list[Token], mode: str, width: int) -> list[Token]:
    """Drop empty cells that belong to label columns (left) or padding (right)."""
    tokens = list(tokens)
    if mode == PIPE:
        while tokens and not tokens[-1].text.strip():
            tokens.pop()
    elif mode == GRID:
        while len(tokens) > width and (not tokens[0].text.strip() or not tokens[-1].text.strip()):
            if not tokens[0].text.strip() and tokens[-1].text.strip():
                tokens.pop(0)
            else:
                tokens.pop()
    return tokens


class Placer:
    """Assigns printed rows to template rows for one document."""

    def __init__(self, doc: Document, scan: Scan, widths: dict[str, int]):
        self.doc = doc
        self.scan = scan
        self.era = scan.era
        self.reg = load_registry()
        self.widths = widths  # value columns per table (Table 三 may print a subtotal column)
        self.out = Placement()
        self.instances: dict[str, list[list[PrintedRow]]] = {}

    def width(self, row: TemplateRow) -> int:
        """Printed value columns of a template row."""
        return self.widths.get(row.table_id, row.width)

    # ------------------------------------------------------------------ labelled rows
    def segment(self) -> None:
        """Choose a template row for every labelled row; a jump back in the template starts a new copy."""
        for table in ("t2", "t3", "old"):
            instances: list[list[PrintedRow]] = []
            last = last_any = -1
            for h in self.scan.rows:
                if h.match is None or not h.match.rows or h.match.rows[0].table_id != table:
                    continue
                cands = sorted(h.match.rows, key=lambda r: r.order)
                if h.kind == LABEL:  # a label printed alone: it does not start a copy of the table
                    after = [r for r in cands if r.order > last_any]
                    h.chosen = after[0] if after else cands[0]
                    last_any = h.chosen.order
                    continue
                later = [r for r in cands if r.order > last]
                if not instances or not later:
                    instances.append([])
                    h.chosen = cands[0]
                else:
                    h.chosen = later[0]
                h.instance = len(instances) - 1
                instances[-1].append(h)
                last = last_any = h.chosen.order
            if instances:
                self.instances[table] = instances

    def assign(self) -> None:
        """Readings for the main copy of each table (other copies fill gaps and are compared)."""
        for table, instances in self.instances.items():
            main = max(range(len(instances)), key=lambda k: (len(instances[k]), k))
            main_rows = {h.chosen.key for h in instances[main]}
            for k, inst in enumerate(instances):
                for h in inst:
                    if k == main or h.chosen.key not in main_rows:
                        self.out.readings.append(Reading(h.chosen, h, list(h.tokens), h.match.how))
                        main_rows.add(h.chosen.key)
                    else:
                        self.out.readings.append(Reading(h.chosen, h, list(h.tokens), h.match.how, copy=True))
        for table in ("t2", "t3", "old"):
            self._fill_gaps(table, self.instances.get(table, [[]]))

    # ------------------------------------------------------------------ unlabelled rows
    def _region(self, table: str) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        a = self.scan.anchors
        if table == "t2":
            return a.t2, a.t3 or a.t4_header
        if table == "t3":
            return a.t3, a.t4_header
        return None, None

    def _fill_gaps(self, table: str, instances: list[list[PrintedRow]]) -> None:
        main = max(instances, key=len) if instances else []
        start, end = self._region(table)
        if table == "old":
            labelled = [r.pos for r in self.scan.rows if r.match is not None and r.chosen is not None and r.chosen.table_id == "old"]
            start = min(labelled) if labelled else None
            if start is None:
                return
        if table != "old" and start is None and not main:
            return
        template = [r for r in self.reg.template(self.era) if r.table_id == table and not r.is_subtotal]
        rows = [r for r in template if self.era in r.eras]
        filled = {rd.row.key for rd in self.out.readings if rd.row.table_id == table}
        in_region = [
            r for r in self.scan.rows
            if (start is None or r.pos >= start) and (end is None or r.pos < end)
        ]
        # a row printed with values that cannot be read is there: no other row's values take its place
        filled |= {r.chosen.key for r in in_region if r.damaged and r.chosen is not None and r.chosen.table_id == table}
        anchors = sorted(main, key=lambda h: h.pos)
        bounds: list[PrintedRow | None] = [None, *anchors, None]
        positions = [r.pos for r in in_region]  # rows are scanned in reading order
        for prev, nxt in zip(bounds, bounds[1:]):
            lo = prev.chosen.order if prev else -1
            hi = nxt.chosen.order if nxt else 10**9
            first = bisect.bisect_right(positions, prev.pos) if prev else 0
            last = bisect.bisect_left(positions, nxt.pos) if nxt else len(positions)
            gap = in_region[first:last]
            # both layouts of （六） compete for a misprinted label: it takes the one it is clearly closest to
            union = [r for r in template if lo < r.order < hi and r.key not in filled]
            for row, slot in self._misprinted(gap, union, bounded=prev is not None and nxt is not None):
                self.out.readings.append(Reading(slot, row, list(row.tokens), FUZZY))
                row.chosen = slot
                filled.add(slot.key)
            slots = [r for r in rows if lo < r.order < hi and r.key not in filled
                     and not ("t3.results.other" in filled and r.key.startswith("t3.results.other."))]
            bares = [r for r in gap if r.kind == BARE]
            if not bares:
                continue
            # a section line such as （五）不予处理 is a subtotal row only when printed with its values
            alone = [r for r in gap if r.kind == LABEL and not r.damaged and r.chosen is not None and r.chosen.table_id == table
                     and not r.chosen.is_subtotal and r.chosen.key not in filled and lo < r.chosen.order < hi]
            placed = self._pair(gap, alone, bares)
            if placed is not None:
                for label, bare in placed:
                    self.out.readings.append(Reading(label.chosen, bare, list(bare.tokens), PAIRED))
                    bare.chosen = label.chosen
                    bare.label, bare.label_cell = label.label, label.label_cell
                    filled.add(label.chosen.key)
                continue
            if (prev is None or nxt is None) and (table == "old" or start is None):
                continue  # order placement needs a printed start (anchor) and end
            # rows the order cannot account for (a labelled row of another copy of the table, a row with values
            # whose label matches nothing) mean the value rows may not be the missing rows, in order
            intruders = [r for r in gap if (r.kind == LABELLED and r.chosen is not None) or (r.kind == UNCODED and r.tokens and r.chosen is None)]
            # a value row wider than the table (two rows joined: a deleted line break or span) means the value
            # rows are not the printed rows: their count is no evidence
            widest = max((self.width(s) for s in union), default=0)
            intruders += [b for b in bares if len(trim(b.tokens, b.mode, widest)) > widest]
            candidates = [] if intruders else [b for b in bares if len(trim(b.tokens, b.mode, self.widths.get(table, 7))) in {self.width(s) for s in slots}]
            for layout in self._layouts(slots, union, filled):
                if candidates and len(candidates) == len(layout) and all(
                    len(trim(b.tokens, b.mode, self.width(s))) == self.width(s) for b, s in zip(candidates, layout)
                ):
                    for b, r in zip(candidates, layout):
                        self.out.readings.append(Reading(r, b, list(b.tokens), ORDER))
                        b.chosen = r
                        filled.add(r.key)
                    break
            else:
                layout = None
            if layout is not None:
                continue
            if slots:
                where = f"between '{prev.label if prev else 'table start'}' and '{nxt.label if nxt else 'table end'}'"
                self.out.problem(
                    "unplaced_rows", table, [c for slot in slots for c in slot.codes],
                    f"{TABLE_NAMES[table]}: {len(bares)} unlabelled value row(s) {where} for {len(slots)} missing "
                    f"template row(s) ({', '.join(s.key for s in slots[:6])}{'…' if len(slots) > 6 else ''}); not assigned",
                    row_location(bares[0]), " / ".join(b.fragment or " | ".join(t.text for t in b.tokens) for b in bares)[:300],
                )

    def _layouts(self, slots: list[TemplateRow], union: list[TemplateRow], filled: set[str]) -> list[list[TemplateRow]]:
        """The gap's missing rows, and — when they include （六）'s three 2021 rows and none of them is printed
        with its label elsewhere — the same with the single 2019 （六） row instead (2021+ reports that still
        print it, 洪泽 2023)."""
        split = [r for r in slots if r.key.startswith("t3.results.other.")]
        single = [r for r in union if r.key == "t3.results.other"]
        if not split or not single or any(k.startswith("t3.results.other.") for k in filled):
            return [slots]
        at = slots.index(split[0])
        return [slots, [r for r in slots[:at] if r not in split] + single + [r for r in slots[at:] if r not in split]]

    def _misprinted(self, gap: list[PrintedRow], slots: list[TemplateRow], bounded: bool) -> list[tuple[PrintedRow, TemplateRow]]:
        """Rows whose label is too misprinted to match on its own (1.属于国家秘蜜, 2.重复申清), placed in the one
        missing template row of their gap that their label is clearly closest to."""
        out = []
        if not bounded or not slots:
            return out
        for row in gap:
            if row.kind != UNCODED or row.chosen is not None or "\ufffd" in row.label:
                continue  # (a label touching an unreadable region may be two labels spliced: no likeness is evidence)
            full = match_form(row.label)
            target = bare(full)
            scores = sorted(((max(max(fuzz.ratio(full, match_form(v)), fuzz.ratio(target, bare(match_form(v)))) for v in slot.labels), k)
                             for k, slot in enumerate(slots) if slot.labels and len(trim(row.tokens, row.mode, self.width(slot))) == self.width(slot)),
                            reverse=True)
            if scores and scores[0][0] >= MISPRINT_CUTOFF and (len(scores) == 1 or scores[1][0] < scores[0][0] - 10):
                slot = slots[scores[0][1]]
                out.append((row, slot))
                slots = [s for s in slots if s is not slot]
        return out

    @staticmethod
    def _pair(gap: list[PrintedRow], alone: list[PrintedRow], bares: list[PrintedRow]) -> list[tuple[PrintedRow, PrintedRow]] | None:
        """Labels printed alone, each on the line right before a value row (pdftotext, one cell per line).

        Accepted only when every value row of the gap directly follows such a label: a value row
        anywhere else means the layout is not label-then-values, and nothing is paired.
        """
        if not alone:
            return None
        by_line = {r.pos[0]: r for r in alone}
        pairs = []
        for bare in bares:
            label = by_line.get(bare.pos[0] - 1)
            if label is None or bare.pos[1] != 0:
                return None
            pairs.append((label, bare))
        if len({id(label) for label, _ in pairs}) != len(pairs) or len({label.chosen.key for label, _ in pairs}) != len(pairs):
            return None
        return pairs

    # ------------------------------------------------------------------ Table 四
    def locate_t4(self) -> Reading | None:
        """Table 四's single row: the value run right after its printed header."""
        if self.era == "old2014":
            return None
        a = self.scan.anchors
        row = self.reg.template_row(self.era, "t4")
        if a.t4 is not None:
            li, off = a.t4
            line = self.doc.lines[li]
            if line.mode != FREE:
                tokens = []
                for c in line.cells[off:]:
                    if not is_value_like(c.text):
                        break
                    tokens.append(Token(c.text, c))
                fragment = " | ".join(t.text for t in tokens)
                nxt = li + 1
                while len(tokens) < row.width and nxt < len(self.doc.lines) and self.doc.lines[nxt].mode != FREE:
                    more = self.doc.lines[nxt].cells
                    if not all(is_value_like(c.text) for c in more):
                        break
                    tokens += [Token(c.text, c) for c in more]
                    nxt += 1
            else:
                cell = line.cells[0]
                folded = fold(cell.text)
                frag = VALUE_RUN.match(folded, off).group(0)
                tokens = [Token(p, cell) for p in glued.tokenize(frag)]
                fragment = frag.strip()
                nxt = li + 1
                while len(tokens) < row.width and nxt < len(self.doc.lines) and self.doc.lines[nxt].mode == FREE:
                    more = self.doc.lines[nxt].cells[0]
                    text = fold(more.text).strip()
                    run = VALUE_RUN.match(text)
                    if not (run and run.end() == len(text)):
                        break
                    tokens += [Token(p, more) for p in glued.tokenize(text)]
                    fragment += " " + text
                    nxt += 1
            src = PrintedRow(LABELLED, a.t4, line.mode, line.source_kind, tokens=tokens, fragment=fragment, chosen=row)
            return Reading(row, src, tokens, POSITION)
        return self._t4_blank_grid(row)

    def _t4_blank_grid(self, row: TemplateRow) -> Reading | None:
        """Table 四 printed as a grid whose data row is entirely blank (a form not yet filled in)."""
        lines = self.doc.lines
        start = self.scan.anchors.t3 or (0, 0)
        for li in range(start[0], len(lines)):
            line = lines[li]
            if line.mode == FREE:
                continue
            forms = [squeeze(c.text) for c in line.cells]
            if "行政复议" not in forms or "行政诉讼" not in forms:
                continue
            for nxt in range(li + 1, min(li + 6, len(lines))):
                cand = lines[nxt]
                if cand.mode == FREE:
                    break
                if all(is_value_like(c.text) for c in cand.cells):
                    tokens = [Token(c.text, c) for c in cand.cells]
                    src = PrintedRow(LABELLED, (nxt, 0), cand.mode, cand.source_kind, tokens=tokens,
                                     fragment=" | ".join(t.text for t in tokens), chosen=row)
                    return Reading(row, src, tokens, POSITION)
        return None

    def uncoded(self) -> list[tuple[str, PrintedRow]]:
        """Rows that look like table rows but map to no code, with the table they sit in."""
        out = []
        for r in self.scan.rows:
            if r.kind != UNCODED or r.chosen is not None:
                continue
            table = self._table_at(r)
            if table is not None:
                out.append((table, r))
        return out

    def _table_at(self, row: PrintedRow) -> str | None:
        if self.era == "old2014":
            main = max(self.instances.get("old", [[]]), key=len)
            if main and min(h.pos for h in main) < row.pos < max(h.pos for h in main):
                return "old"
            return None
        for table in ("t2", "t3"):
            start, end = self._region(table)
            if start is not None and row.pos >= start and (end is None or row.pos < end):
                return table
        return None

    def run(self) -> Placement:
        """Segment, assign, place unlabelled rows, locate Table 四."""
        self.segment()
        self.assign()
        t4 = self.locate_t4()
        if t4 is not None:
            self.out.readings.append(t4)
        self.out.uncoded = self.uncoded()
        return self.out


def t3_header_texts(doc: Document, scan: Scan, first_row: tuple[int, int] | None) -> list[str]:
    """Printed texts between Table 三's anchor and its first row (the column headers)."""
    start = scan.anchors.t3
    if start is None or first_row is None or first_row <= start:
        return []
    out = []
    for li in range(start[0], first_row[0] + 1):
        line = doc.lines[li]
        if line.mode == FREE:
            squeezed, _, _ = scan.line_forms(doc, li)
            lo = start[1] if li == start[0] else 0
            hi = first_row[1] if li == first_row[0] else len(squeezed)
            if hi > lo:
                out.append(squeezed[lo:hi])
        else:
            for ci, cell in enumerate(line.cells):
                if (li, ci) < start or (li, ci) >= first_row:
                    continue
                if cell.text.strip() and not is_value_like(cell.text):
                    out.append(cell.text)
    return out
