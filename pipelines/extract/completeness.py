"""Stage 7: every loss visible — which expected tables and cells were not read, and why.

The expected cells are the era's template (the single 2019 （六） row and the three 2021 rows that
replace it are alternatives: either complete set is enough). A table with no cell at all is one
``table_missing`` issue; otherwise every expected cell without a reading gets one issue naming
the code, the reason recorded by the stage that lost it (row of the wrong shape, column order
unknown, unlabelled rows that could not be placed, glued digits with several readings, OCR not
verified) or, when no stage saw it, that its row is not printed (``cell_missing``).
"""

from __future__ import annotations

from functools import lru_cache

from pipelines.extract.model import WARNING, CellRecord, Extraction
from pipelines.extract.placement import TABLE_NAMES
from pipelines.registry import load_registry

# issue kinds that mean cells were lost, or that the copy is untrusted: a report with one of
# them is never plain 'published' (pipelines/process.py decide_status)
LOSS_KINDS = frozenset({
    "ambiguous_split", "row_shape", "unplaced_rows", "glued_inconsistent", "table_missing", "cell_missing",
    "columns_unknown", "ocr_unverified", "detached_value", "decoding_replaced", "unreadable_region", "repeated_lines",
})
PARTIAL_ISSUE_KINDS = LOSS_KINDS | {"third_party_mirror"}
OTHER_SPLIT = ("t3.results.other.no_correction", "t3.results.other.unpaid_fee", "t3.results.other.misc")


def expected_codes(era: str, read: set[str]) -> dict[str, list[str]]:
    """Codes a report of the era should print, by table (see ``_expected``)."""
    single = any(c.startswith("t3.results.other.") and c.count(".") == 3 for c in read)
    split = any(c.startswith(OTHER_SPLIT) for c in read)
    return _expected(era, single, split)


@lru_cache(maxsize=32)
def _expected(era: str, single: bool, split: bool) -> dict[str, list[str]]:
    """Codes a report of the era should print, by table (（六） as one row or its three sub-rows).

    The template order of Table 三 has the single （六） row before its three sub-rows; when neither
    layout was read, the cells of both are expected (one of them is what the report printed).
    """
    # v2021 reports print the three rows, or (洪泽 2023) the 2019 single row; when neither was read, both are reported
    use_single = era == "v2019" or single or not split
    use_split = era != "v2019" and not single
    out: dict[str, list[str]] = {}
    for row in load_registry().template(era):
        if row.is_subtotal:
            continue
        if row.key == "t3.results.other":
            wanted = use_single
        elif row.key in OTHER_SPLIT:
            wanted = use_split
        else:
            wanted = era in row.eras
        if wanted:
            out.setdefault(row.table_id, []).extend(row.codes)
    return out


def report_losses(ext: Extraction, era: str, reasons: dict[str, tuple[str, str, str | None, str]]) -> None:
    """Add one issue per expected table or cell that was not read (``reasons``: code -> (kind, message, location, printed))."""
    by_code: dict[str, CellRecord] = {c.code: c for c in ext.cells}
    read = {c.code for c in ext.cells}
    for table, codes in expected_codes(era, read).items():
        present = [c for c in codes if c in by_code]
        if not present and not any(reasons.get(c) for c in codes):
            ext.add(WARNING, "table_missing", f"no {TABLE_NAMES[table]} found ({len(codes)} cells)", table_id=table)
            continue
        for code in codes:
            rec = by_code.get(code)
            if rec is not None and rec.value_status not in ("ambiguous", "ocr_unverified"):
                continue
            kind, message, where, printed = reasons.get(code) or (
                "cell_missing", f"{code}: its row is not printed (or not recognised) in {TABLE_NAMES[table]}", None, "")
            ext.add(WARNING, kind, message, where, table_id=table, code=code, printed=printed or None)
