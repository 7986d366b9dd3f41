"""Extraction compared with the hand-checked truth files, cell by cell.

Every truth document is extracted by the real extractor from the bundled raw/ copy; every
truth cell must come out with the printed value (blank and '/' as missing), and no code the
truth does not list may carry a value (nothing invented).
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest

from conftest import RAW, TRUTH, document_for, load_truth
from pipelines.extract import extract_document
from pipelines.extract.twins import ReferenceIndex

STEMS = sorted(p.stem for p in TRUTH.glob("*.csv"))


@pytest.mark.parametrize("stem", STEMS)
def test_every_truth_cell(stem):
    truth = load_truth(stem)
    doc = document_for(stem)
    ext = extract_document(doc, twin_lookup=ReferenceIndex(RAW), source_path=str(doc))
    got = {c.code: c.value for c in ext.cells}
    wrong = {code: (want, got.get(code)) for code, want in truth.items() if got.get(code) != want}
    invented = {code: v for code, v in got.items() if code not in truth and v is not None}
    assert not wrong, f"{stem}: cells differing from the truth (truth, extracted): {wrong}"
    assert not invented, f"{stem}: values for codes the truth does not list: {invented}"
    assert len(truth) > 50


def test_cli_csv_contract_matches_truth():
    """`xxgk extract FILE --format csv` prints code,value,raw (the score_truth.py contract)."""
    stem = "gansu_ganzhou_district_gov_2016"
    doc = document_for(stem)
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "extract", str(doc), "--format", "csv"],
        capture_output=True, text=True, check=True,
    )
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert {"code", "value", "raw"} <= set(rows[0])
    truth = load_truth(stem)
    got = {r["code"]: (float(r["value"]) if r["value"] else None) for r in rows}
    assert got == truth
    raw = {r["code"]: r["raw"] for r in rows}
    assert raw["old.proactive.total"] == "10931"
    assert raw["old.applications.received.fax"] == ""  # blank stays blank, not 0


def test_raw_text_and_units_kept():
    doc = document_for("shanghai_municipal_gov_general_office_2019")
    ext = extract_document(doc)
    amount = ext.cell("t2.procurement.amount")
    assert amount.value == 251000 and amount.raw == "251000元" and amount.unit == "元"
    blank = ext.cell("t3.results.granted.total")
    assert blank.value is None and blank.value_status == "blank"
    assert blank.table_index is not None and blank.row_index is not None and blank.line is not None


def test_glued_digits_recovered_with_provenance():
    doc = document_for("fujian_pingtan_zone_admin_committee_2024")
    ext = extract_document(doc, twin_lookup=ReferenceIndex(RAW), source_path=str(doc))
    t4 = [ext.cell(f"t4.litigation_after_review.{c}") for c in ("maintained", "corrected", "other", "pending", "total")]
    assert [c.value for c in t4] == [13, 2, 4, 0, 19]
    assert all(c.recovery == "split" for c in t4)
    assert "21317000001324019" in t4[0].context
    twin = ext.cell("t2.normative_docs.in_force")
    assert twin.value == 440 and twin.recovery == "twin"
    assert "pingtan_zone_admin_committee_2024.html" in twin.context


def test_glued_without_twin_is_missing_not_guessed():
    doc = document_for("fujian_pingtan_zone_admin_committee_2023")
    ext = extract_document(doc)  # no reference copies
    cell = ext.cell("t2.normative_docs.repealed")
    assert cell.value is None and cell.value_status == "ambiguous"
    assert "132" in cell.candidates.split("|")
    assert any(i.kind == "ambiguous_split" and "77132470" in i.message for i in ext.issues)
