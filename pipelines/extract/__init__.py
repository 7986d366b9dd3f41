"""Extraction: one document in, every statistical cell out, with provenance and issues.

``extract_document`` never raises for a bad document: what could not be read is recorded as
an ``Issue`` (error = nothing usable, warning = part of a table lost) naming the place.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.extract.documents import DocumentError, file_type_of, read_document
from pipelines.extract.metadata import fill_metadata, is_local_form, traditional_share
from pipelines.extract.model import ERROR, PARSER_VERSION, WARNING, CellRecord, Extraction, Issue
from pipelines.extract.tables import TableReader
from pipelines.extract.narrative import extract_narrative

__all__ = ["CellRecord", "Extraction", "Issue", "PARSER_VERSION", "extract_document"]

TRADITIONAL_LIMIT = 0.02


def extract_document(
    path: str | Path, twin_lookup=None, source_path: str | None = None, hints: dict | None = None
) -> Extraction:
    """Read one document and extract its metadata and cells (never raises for bad input).

    ``twin_lookup(extraction)`` may return another extraction of the same report (same body and
    year, cells printed apart); it is consulted only to decide glued digits with several splits.
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
    ext.text = doc.text
    ext.meta = dict(doc.meta)
    for kind, message, location in doc.issues:
        ext.add(WARNING, kind, message, location)
    fill_metadata(doc, ext, hints or {})
    share = traditional_share(doc.text)
    if share > TRADITIONAL_LIMIT:
        ext.add(
            ERROR, "untrusted_source",
            f"text is in traditional characters ({share:.0%} traditional-only characters): a third-party mirror copy, "
            "not used for numbers",
        )
        return ext
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
    TableReader(doc, ext.era, ext, twin_lookup=twin_lookup).run()
    ext.narrative = extract_narrative(doc, ext.era)
    if ext.cells and ext.report_year is None and all(c.value_status == "blank" for c in ext.cells):
        ext.is_report = False
        ext.add(ERROR, "blank_form", f"all {len(ext.cells)} statistical cells are blank and no report year is printed: a blank form, not a report")
    if not ext.cells and ext.title is None:
        ext.is_report = False
        for issue in ext.issues:
            if issue.kind == "no_tables":
                issue.kind = "not_a_report"
                issue.message = "not an annual report: no report title and no statistical table"
    return ext
