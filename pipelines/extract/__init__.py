"""Extraction: one document in, every statistical cell out, with provenance and issues.

``extract_document`` never raises for a bad document: what could not be read is recorded as
an ``Issue`` (error = nothing usable, warning = part of a table lost, info = noted) naming the
place, the table and the cell. It reads the file on its own: nothing from other files in raw/
is used (filling cells from another copy of the same report is the separate step in ``twins``).
"""

from __future__ import annotations

from pathlib import Path

from pipelines.extract.documents import DocumentError, file_type_of, read_document
from pipelines.extract.furniture import strip_furniture
from pipelines.extract.metadata import fill_metadata, is_local_form
from pipelines.extract.mirror import unmirror
from pipelines.extract.model import ERROR, INFO, THIRD_PARTY_MIRROR, WARNING, CellRecord, Extraction, Issue
from pipelines.extract.narrative import evidence, extract_narrative
from pipelines.extract.tables import read_tables
from pipelines.extract.version import PARSER_VERSION

__all__ = ["CellRecord", "Extraction", "Issue", "PARSER_VERSION", "extract_document", "prepare"]


def prepare(doc, ext: Extraction) -> None:
    """What is done to a read document before its metadata and tables are read (the inventory does it too).

    Decoding losses noted, a third-party mirror converted back, page furniture removed.
    """
    if doc.replaced:
        ext.add(WARNING, "decoding_replaced",
                f"{doc.replaced} character(s) could not be decoded as {doc.encoding} and were replaced; "
                "numbers touching them are not read")
    if doc.damaged_lines:
        lines = ", ".join(map(str, doc.damaged_lines[:10])) + (" …" if len(doc.damaged_lines) > 10 else "")
        ext.add(WARNING, "unreadable_region", f"NUL bytes (an unreadable region) at line(s) {lines}; numbers touching them are not read",
                f"line {doc.damaged_lines[0]}")
    converted = unmirror(doc)
    if converted:
        ext.origin = THIRD_PARTY_MIRROR
        ext.add(WARNING, "third_party_mirror",
                f"a third-party mirror copy ({converted}); extracted, but never preferred to an original copy of the report")
    removed = strip_furniture(doc)
    if removed:
        ext.add(INFO, "page_furniture", f"{removed} page header/footer/number piece(s) removed before reading the tables")


def extract_document(path: str | Path, source_path: str | None = None, hints: dict | None = None) -> Extraction:
    """Read one document and extract its metadata, narrative figures and cells (never raises for bad input).

    ``hints`` (``report_year``, ``agency``) come from raw/MANIFEST.csv and are used only when
    the document itself does not state them.
    """
    path = Path(path)
    ext = Extraction(source_path=source_path or path.name, file_type=file_type_of(path))
    try:
        doc = read_document(path)
    except DocumentError as exc:
        ext.is_report = False
        ext.add(ERROR, exc.kind, exc.reason)
        return ext
    except Exception as exc:  # a library failing on a malformed file must not stop the run
        ext.is_report = False
        ext.add(ERROR, "unreadable", f"{type(exc).__name__}: {exc}")
        return ext
    prepare(doc, ext)
    ext.text = doc.text
    ext.meta = dict(doc.meta)
    for kind, message, location in doc.issues:
        ext.add(WARNING, kind, message, location)
    fill_metadata(doc, ext, hints or {})
    if ext.era is None:
        ext.is_report = ext.title is not None
        ext.add(ERROR, "not_a_report" if not ext.is_report else "no_year",
                "no report title, year or statistical table found" if not ext.is_report
                else "the report year cannot be read (title and 统计期限 missing)")
        return ext
    if ext.era == "pre2014":
        ext.add(
            ERROR, "no_vocabulary",
            f"report year {ext.report_year} predates the national 统计表 (2014): local statistical forms are not in the vocabulary",
        )
        return ext
    if ext.era == "old2014":
        marker = is_local_form(doc)
        if marker:
            ext.add(
                ERROR, "local_form",
                f"the 统计表 is a local form (column '{marker}'), not the national 2014 统计表 in the vocabulary",
            )
            return ext
    ext.narrative = extract_narrative(doc, ext.era)
    read_tables(doc, ext.era, ext, evidence(ext.narrative))
    if ext.cells and ext.report_year is None and all(c.value_status == "blank" for c in ext.cells):
        ext.is_report = False
        ext.issues = [i for i in ext.issues if i.severity == ERROR]
        ext.add(ERROR, "blank_form", f"all {len(ext.cells)} statistical cells are blank and no report year is printed: a blank form, not a report")
    if not ext.cells and ext.title is None:
        ext.is_report = False
        for issue in ext.issues:
            if issue.kind == "no_tables":
                issue.kind = "not_a_report"
                issue.message = "not an annual report: no report title and no statistical table"
    return ext
