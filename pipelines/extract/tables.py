"""Reading the statistical tables of one document: the stages, in order, on one table model.

1. ``scan`` — segment the document into table regions; read each printed row's label;
2. ``headers`` / ``columns`` — read the column headers; decide every table's column order with
   the table's equalities;
3. ``placement`` — give rows their template rows; place rows whose labels were lost;
4. ``cells`` — parse value tokens into cells or candidate readings; re-attach detached values;
5. ``verify`` — choose among candidate readings (glued digits, OCR) with the equalities;
6. copies of a table printed twice are compared;
7. ``completeness`` — every expected table and cell not read is reported with its reason, and
   rows that map to no code are kept as uncoded rows.

Each stage is small and testable on its own; this module only wires them together.
"""

from __future__ import annotations

from pipelines.extract.cells import CellReader, ReadCells, record
from pipelines.extract.columns import decide_t3, decide_t4, numbers
from pipelines.extract.completeness import report_losses
from pipelines.extract.documents import FREE, Document
from pipelines.extract.headers import t3_columns, t4_columns
from pipelines.extract.model import ERROR, INFO, WARNING, CellRecord, Extraction, UncodedRow
from pipelines.extract.placement import Placer, t3_header_texts, trim
from pipelines.extract.repeats import cut_rows
from pipelines.extract.scan import Scan, scan_document
from pipelines.extract.table_model import LABEL, LABELLED, ColumnMap, Token, location, row_location
from pipelines.extract.verify import Outcome, statuses, verify
from pipelines.registry import load_registry


def read_tables(doc: Document, era: str, ext: Extraction, figures: dict[str, tuple[float, str]] | None = None) -> None:
    """Read every statistical table of ``doc`` (format ``era``) into ``ext``.

    ``figures`` (narrative figure -> (value, sentence)) are evidence for glued digits that the
    equalities leave ambiguous.
    """
    scan = scan_document(doc, era)
    header = _t3_header(doc, scan)
    widths = {"t3": 7 + (1 if header.subtotal is not None else 0)} if era != "old2014" else {}
    cut = cut_rows(doc, scan.rows)
    for row, _ in cut:  # a row a copied chunk runs into: its values are not the row's
        row.tokens, row.damaged = [], True
    placement = Placer(doc, scan, widths).run()
    columns = _decide_columns(scan, placement.readings, header, widths)
    reader = CellReader(era, scan.rows, columns, scan.anchors.t2)
    got = reader.read(placement.readings)
    reasons: dict[str, tuple[str, str, str | None, str]] = {}
    outcome = _verify(era, got, figures, ext, reasons)
    _compare_copies(got, ext)
    _finish(era, got, outcome, ext)
    for row, message in cut:
        for code in row.chosen.codes if row.chosen is not None else ():
            reasons.setdefault(code, ("repeated_lines", message, row_location(row), row.label))
    for kind, _, codes, message, where, printed in placement.problems:
        for code in codes:
            reasons.setdefault(code, (kind, message, where, printed))
    for row in scan.rows:
        if row.damaged and row.chosen is not None:
            message = (f"row '{row.label}': its values run into an unreadable region (undecodable bytes or NULs) or are "
                       "not a run of numbers; not read")
            for code in row.chosen.codes:
                reasons.setdefault(code, ("unreadable_region", message, row_location(row), row.label))
    for m in got.missing:
        for code in m.codes:
            reasons.setdefault(code, (m.kind, m.message, m.location, m.printed))
    for message, where in got.detached:
        ext.add(WARNING, "detached_value", message, where)
    for table, row in placement.uncoded:
        ext.uncoded.append(_uncoded_row(table, row))
    for u in ext.uncoded:
        ext.add(INFO, "uncoded_row", f"{u.table_id}: row '{u.label}' ({u.raw}) matches no template row; kept as an uncoded row",
                location(u), table_id=u.table_id, printed=f"{u.label} {u.raw}")
    if not ext.cells and not reasons:
        ext.add(ERROR, "no_tables", "no statistical table could be read")
        return
    report_losses(ext, era, reasons)


def _t3_header(doc: Document, scan: Scan) -> ColumnMap:
    first = [r.pos for r in scan.rows if r.kind in (LABELLED, LABEL) and r.match and r.match.rows[0].table_id == "t3"
             and (scan.anchors.t3 is None or r.pos > scan.anchors.t3)]
    texts = t3_header_texts(doc, scan, min(first) if first else None)
    return t3_columns(texts) if texts else ColumnMap((), "unknown", note="no column header printed")


def _decide_columns(scan: Scan, readings, header: ColumnMap, widths: dict[str, int]) -> dict[str, ColumnMap]:
    """Column order of Table 三 and Table 四 from their headers, confirmed by their equalities."""
    if scan.era == "old2014":
        return {}
    t3_rows = []
    for rd in readings:
        if rd.row.table_id == "t3" and not rd.copy:
            tokens = trim(rd.tokens, rd.source.mode, widths.get("t3", 7))
            # a blank cell counts as 0 here: rows printed with blanks (most of them, in some reports) check the order too
            vals = numbers([t.text for t in tokens], blank_as_zero=True)
            if vals is not None and len(vals) == widths.get("t3", 7) and any(vals):
                if header.subtotal is not None:
                    vals = vals[: header.subtotal] + vals[header.subtotal + 1 :]
                t3_rows.append(vals)
    out = {"t3": decide_t3(header, t3_rows)}
    if header.subtotal is not None and out["t3"].how != "unknown":
        out["t3"] = ColumnMap(out["t3"].keys, out["t3"].how, out["t3"].note, header.subtotal)
    t4 = next((rd for rd in readings if rd.row.table_id == "t4"), None)
    t4_header = t4_columns(scan.anchors.t4_header_text) if scan.anchors.t4_header_text else ColumnMap(
        (), "unknown", note="no header printed")
    vals = numbers([t.text for t in trim(t4.tokens, t4.source.mode, 15)]) if t4 else None
    out["t4"] = decide_t4(t4_header, vals if vals is not None and len(vals) == 15 else None)
    return out


def _verify(era: str, got: ReadCells, figures, ext: Extraction, reasons) -> Outcome:
    """Run the verification stage on the candidate readings and turn its decisions into cells."""
    fixed = {c: r.value for c, r in got.direct.items() if r.value is not None}
    units = [u for u, _, _ in got.units]
    outcome = verify(era, fixed, units, figures) if units else Outcome()
    if any(u.source == "glued" for u in units) and not outcome.consistent:
        ext.add(WARNING, "glued_inconsistent",
                "glued digits: no combination of the candidate readings satisfies all of the table's equalities; "
                "cells fixed by their own row only")
    for unit, rd, template in got.units:
        undecided = []
        for code in unit.codes:
            rec = CellRecord(**{**template.to_dict(), "code": code, "table_id": code.split(".", 1)[0]})
            if code in outcome.values:
                anchor = Token("", rd.tokens[0].cell if rd.tokens else rd.source.label_cell)
                decided = record(code, anchor, rd, template.column_match, raw=outcome.values[code])
                rec.value, rec.raw, rec.value_status, rec.unit = decided.value, decided.raw, decided.value_status, decided.unit
                how = outcome.how[code]
                rec.recovery = {"split": "split", "narrative": "narrative", "alternative": "alternative"}.get(how, "none")
                if how == "narrative":
                    rec.context = f"{rec.context or ''} (split decided by the narrative: {outcome.evidence[code][:120]})"
                if unit.source == "ocr" and how in ("confirmed", "unchecked"):
                    rec.raw = template.raw
            else:
                rec.value, rec.raw, rec.unit = None, None, None
                rec.value_status = "ambiguous" if unit.source == "glued" else "ocr_unverified"
                rec.recovery = "ambiguous" if unit.source == "glued" else "none"
                options = outcome.undecided.get(code, [])
                rec.candidates = "|".join(options) if options and unit.complete else None
                undecided.append(code)
            got.direct.setdefault(code, rec)
        if not undecided:
            continue
        label = rd.source.label or rd.row.key
        if unit.source == "glued" and (not unit.complete or outcome.bounded & set(undecided)):
            message = (f"row '{label}' prints glued digits '{rd.source.fragment}' with more possible splits than the search "
                       "checks (its bound: glued.MAX_SPLITS_PER_ROW / MAX_STEPS, verify.MAX_SOLUTIONS / MAX_TRIES); left missing")
            kind = "ambiguous_split"
        elif unit.source == "glued":
            opts = "; ".join(f"{c} ∈ {{{', '.join(outcome.undecided.get(c, [])[:8])}}}" for c in undecided)
            message = f"row '{label}' prints glued digits '{rd.source.fragment}' that split in several ways; left missing: {opts}"
            kind = "ambiguous_split"
        else:
            message = (f"row '{label}': OCR reading not confirmed by the table's equalities and below the confidence "
                       f"threshold, or contradicted with several possible corrections; left missing")
            kind = "ocr_unverified"
        for code in undecided:
            reasons.setdefault(code, (kind, message, row_location(rd.source), rd.source.fragment))
    return outcome


def _compare_copies(got: ReadCells, ext: Extraction) -> None:
    for _, cells in got.copies:
        for code, rec in cells.items():
            main = got.direct.get(code)
            if main is None:
                got.direct[code] = rec
            elif main.value != rec.value and (main.value is not None or rec.value is not None):
                ext.add(
                    WARNING, "conflicting_copies",
                    f"{code}: the table is printed twice with different values ({main.raw!r} at {location(main)}, "
                    f"{rec.raw!r} at {location(rec)}); the fuller copy is used",
                    location(rec), table_id=code.split(".", 1)[0], code=code,
                )


def _finish(era: str, got: ReadCells, outcome: Outcome, ext: Extraction) -> None:
    """Move printed subtotals aside, order the cells as in the template, label their verification."""
    direct = got.direct
    split_codes = [c for c in direct if c.startswith("t3.results.other.") and c.count(".") == 4]
    single = [c for c in direct if c.startswith("t3.results.other.") and c.count(".") == 3]
    if single and any(direct[c].value is not None for c in split_codes):
        for c in single:
            rec = direct.pop(c)
            rec.code = "printed_subtotal.other." + c.rsplit(".", 1)[1]
            ext.subtotals.append(rec)
    for code, rec in direct.items():
        if code.startswith("printed_subtotal."):
            ext.subtotals.append(rec)
        else:
            ext.cells.append(rec)
    ext.subtotals.extend(got.subtotals)
    order = {c: k for k, c in enumerate(load_registry().codes_for(era))}
    ext.cells.sort(key=lambda r: order.get(r.code, 10**6))
    values = {c.code: c.value for c in ext.cells if c.value is not None}
    status = statuses(values, era)
    for c in ext.cells:
        if c.value is not None:
            c.verification = status[c.code]
        if c.code in outcome.how and outcome.how[c.code] == "unchecked":
            c.verification = "unchecked"


def _uncoded_row(table: str, row) -> UncodedRow:
    cell = row.label_cell
    values = [t.text for t in row.tokens]
    return UncodedRow(
        table_id=table, label=row.label, raw=" | ".join(values) if row.mode != FREE else row.fragment,
        n_values=sum(1 for v in values if v.strip()),
        reason="label matches no template row of the table (an extra local row, or a label too far from any template row)",
        source_kind=row.source_kind, page=getattr(cell, "page", None), line=getattr(cell, "line", None),
        table_index=getattr(cell, "table_index", None), row_index=getattr(cell, "row_index", None),
    )
