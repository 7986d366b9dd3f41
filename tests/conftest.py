"""Shared fixtures: the project's bundled raw/ samples, the truth files, temporary warehouses."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "raw"


def query(wh, sql, *params):
    """Rows of a read-only query on the published DuckDB file of warehouse ``wh``."""
    con = duckdb.connect(str(wh / "xxgk.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


TRUTH = Path(__file__).resolve().parent / "data" / "truth"


def truth_manifest() -> list[dict]:
    """Rows of tests/data/truth/MANIFEST.tsv."""
    with (TRUTH / "MANIFEST.tsv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def document_for(stem: str) -> Path:
    """The bundled document (in raw/) whose file stem is ``stem``."""
    matches = [p for p in RAW.rglob("*") if p.is_file() and p.stem == stem]
    assert len(matches) == 1, f"expected one raw/ document named {stem}.*, found {matches}"
    return matches[0]


def extract_with_copies(doc: Path):
    """The file's extraction followed by the explicit twin-fill step from the other copies in raw/ (as the pipeline does)."""
    from pipelines.extract import extract_document
    from pipelines.extract.twins import ReferenceIndex, fill_from_copy

    ext = extract_document(doc, source_path=str(doc))
    fill_from_copy(ext, ReferenceIndex(RAW)(ext))
    return ext


def load_truth(stem: str) -> dict[str, float | None]:
    """code -> value (None for blank or '/' cells) of a truth file."""
    with (TRUTH / f"{stem}.csv").open(encoding="utf-8", newline="") as f:
        return {r["code"]: (float(r["value"]) if r["value"].strip() else None) for r in csv.DictReader(f)}


@pytest.fixture(autouse=True, scope="session")
def _ocr_cache(tmp_path_factory):
    """OCR results of the test session go to one temporary cache, shared by the xdist workers (never warehouse/)."""
    base = tmp_path_factory.getbasetemp()
    path = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "ocr-cache"
    os.environ["XXGK_OCR_CACHE"] = str(path)
    yield path


@pytest.fixture
def raw_copy(tmp_path):
    """A function copying chosen raw/ documents (plus MANIFEST.csv and agencies.csv) into a temporary landing zone."""

    def make(relpaths: list[str]) -> Path:
        target = tmp_path / "raw"
        for rel in relpaths:
            dst = target / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(RAW / rel, dst)
        for name in ("MANIFEST.csv", "agencies.csv"):
            shutil.copy2(RAW / name, target / name)
        return target

    return make


COMPARED_TABLES = ["reports", "cells", "document_rule_results", "cross_rule_results", "rule_results", "extraction_issues",
                   "printed_subtotals", "narrative_figures", "out_region_rollups", "agencies", "indicators", "rules"]


def warehouse_differences(a: Path, b: Path) -> dict[str, tuple[int, int, int]]:
    """Per table of two DuckDB files: (rows in a, rows only in a, rows only in b), every column but the extraction time."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
    out = {}
    for t in COMPARED_TABLES:
        cols = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_catalog = 'a' "
                                          "AND table_name = ? ORDER BY ordinal_position", [t]).fetchall()]
        sel = ", ".join(f'"{c}"' for c in cols if c != "extracted_at")
        only = [con.execute(f"SELECT count(*) FROM (SELECT {sel} FROM {x}.{t} EXCEPT ALL SELECT {sel} FROM {y}.{t})").fetchone()[0]
                for x, y in (("a", "b"), ("b", "a"))]
        out[t] = (con.execute(f"SELECT count(*) FROM a.{t}").fetchone()[0], *only)
    con.close()
    return out
SUBSET = ["incoming/gansu_ganzhou_district_gov_2016.txt", "incoming/fujian_pingtan_zone_admin_committee_2022.txt",
          "pingtan/pingtan_zone_admin_committee_2023.html"]


@pytest.fixture(scope="session")
def clean_subset(tmp_path_factory):
    """Three bundled reports (three report years) and a warehouse built from them by one clean run: (raw, warehouse).

    Built once per test process; copy the warehouse before changing it.
    """
    import dagster as dg

    from pipelines.runner import run_pipeline

    base = tmp_path_factory.mktemp("subset")
    raw = base / "raw"
    for rel in SUBSET + ["MANIFEST.csv", "agencies.csv"]:
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(RAW / rel, raw / rel)
    run_pipeline(raw, base / "warehouse", workers=2, progress=False, instance=dg.DagsterInstance.ephemeral())
    return raw, base / "warehouse"
