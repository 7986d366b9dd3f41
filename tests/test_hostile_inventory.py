"""The inventory accounts for every path under raw/ and reads the year cheaply, as extraction reads it (issues 12 §1, 13 §2)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from conftest import RAW
from pipelines import inventory
from pipelines.extract import extract_document
from pipelines.inventory import document_path, path_bytes, path_id, sniff, take_stock, walk

TRICKY_NAMES = [
    b"plain.txt", "中文/报告.txt".encode(), b"bad_\xff\xfe.txt", b"caf\xe9.html", b"new\nline.md", b"tab\there.txt",
    b"back\\slash.txt", b"back\\xff.txt", b"bad_\\xff.txt", b"\\\\.txt", b"100%.txt", b"x'; DROP TABLE reports; --.txt",
    b"\xed\xa0\x80surrogate.txt", b"del\x7f.txt", b"nbsp\xc2\xa0.txt",
]


def test_report_ids_are_text_unique_and_reversible():
    ids = [path_id(n) for n in TRICKY_NAMES]
    for name, rid in zip(TRICKY_NAMES, ids):
        rid.encode("utf-8")  # valid text: no surrogates
        assert not any(ord(ch) < 0x20 for ch in rid)
        assert path_bytes(rid) == name
    assert len(set(ids)) == len(ids)
    assert path_id("中文/报告.txt".encode()) == "中文/报告.txt"  # ordinary names are the id as they are
    assert path_id(b"bad_\xff\xfe.txt") == "bad_\\xff\\xfe.txt"
    assert path_id(b"back\\slash.txt") == "back\\\\slash.txt"


def _tree(raw: Path, outside: Path) -> None:
    (raw / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("CONTENT-OF-AN-OUTSIDE-FILE")
    (raw / "sub" / "README.md").write_text("a report saved as README")
    (raw / "README.md").write_text("about this landing zone")
    (raw / "MANIFEST.csv").write_text("file,agency,report_year,source,sha256,notes\n")
    (raw / "sub" / "figures.csv").write_text("a,b\n")
    (raw / ".DS_Store").write_bytes(b"\0")
    (raw / ".git" / "objects").mkdir(parents=True)
    (raw / ".git" / "objects" / "x").write_bytes(b"blob")
    (raw / os.fsdecode(b"bad_\xff.txt")).write_text("x")
    os.symlink(outside / "secret.txt", raw / "outside.txt")
    os.symlink(outside, raw / "outside_dir")
    os.symlink("sub", raw / "sub_again")
    os.symlink("sub/README.md", raw / "readme_again.md")
    os.symlink("loop_b", raw / "loop_a")
    os.symlink("loop_a", raw / "loop_b")
    os.symlink("missing.txt", raw / "broken.txt")
    os.mkfifo(raw / "sub" / "pipe.txt")


def test_walk_accounts_for_every_path_and_follows_no_link(tmp_path):
    raw = tmp_path / "raw"
    _tree(raw, tmp_path / "outside")
    found = {path_id(f.rel): f for f in walk(raw)}
    documents = {rid for rid, f in found.items() if f.reason_kind is None}
    assert documents == {"sub/README.md", "bad_\\xff.txt"}
    kinds = {rid: f.reason_kind for rid, f in found.items() if f.reason_kind}
    assert kinds == {
        "README.md": "metadata", "MANIFEST.csv": "metadata", "sub/figures.csv": "data_file", ".DS_Store": "hidden",
        ".git": "hidden", "outside.txt": "link_outside", "outside_dir": "link_outside", "sub_again": "link_inside",
        "readme_again.md": "link_inside", "loop_a": "link_loop", "loop_b": "link_loop", "broken.txt": "broken_link",
        "sub/pipe.txt": "special_file",
    }
    assert "CONTENT-OF" not in " ".join(f.reason for f in found.values() if f.reason)


def test_take_stock_reads_escaped_names_and_never_blocks(tmp_path):
    raw = tmp_path / "raw"
    _tree(raw, tmp_path / "outside")
    stock = take_stock(raw)
    assert set(stock.documents.source_path) == {"sub/README.md", "bad_\\xff.txt"}
    assert stock.documents.set_index("source_path").loc["bad_\\xff.txt", "source_file"] == "bad_\\xff.txt"
    assert document_path(raw, "bad_\\xff.txt").read_text() == "x"
    assert len(stock.skipped) == 13 and stock.skipped.reason.notna().all()


def test_unreadable_file_is_skipped_with_reason(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "locked.txt").write_text("x")

    def denied(path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(inventory, "sha256_of", denied)  # as a file without read permission (root reads those)
    stock = take_stock(raw)
    assert stock.documents.empty
    assert stock.skipped[["source_path", "reason_kind"]].values.tolist() == [["locked.txt", "unreadable"]]
    assert "Permission denied" in stock.skipped.reason[0]


def _documents() -> list[Path]:
    fixtures = Path(__file__).parent / "data" / "fixtures"
    docs = [f.rel for f in walk(RAW) if f.reason_kind is None]
    return [document_path(RAW, path_id(rel)) for rel in docs] + sorted(fixtures.glob("*.pdf"))


@pytest.mark.parametrize("path", _documents(), ids=lambda p: p.name)
def test_inventory_reads_the_year_extraction_reads(path):
    """The cheap reading (no tables, no OCR; PDFs: the text layer of the first pages) agrees with extraction."""
    ext = extract_document(path)
    assert sniff(path) == (ext.report_year, ext.agency_printed)


def test_large_text_is_read_by_its_head(tmp_path, monkeypatch):
    """Above SNIFF_BYTES only the head is read (cut at a line end), with the same reader."""
    source = RAW / "incoming" / "fujian_pingtan_zone_admin_committee_2023.txt"
    big = tmp_path / "big.txt"
    big.write_bytes(source.read_bytes() + "本机关持续推进政府信息公开工作。\n".encode() * 2000)
    monkeypatch.setattr(inventory, "SNIFF_BYTES", 4096)
    assert sniff(big) == (2023, extract_document(source).agency_printed)


def test_sniff_of_unreadable_documents_is_none(tmp_path):
    for name, data in (("x.pdf", b"%PDF-1.7 broken"), ("x.docx", b"PK not a zip"), ("x.txt", b""), ("x.html", b"\x00\x01" * 50)):
        p = tmp_path / name
        p.write_bytes(data)
        assert sniff(p) == (None, None)
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [f.reason_kind for f in walk(tmp_path) if f.rel == b"pipe.txt"] == ["special_file"]


def test_a_scan_is_dated_by_its_ocr_text_once_cached(tmp_path, monkeypatch):
    """No text layer: the manifest's year first; once extraction has OCR'd it, the cached OCR text dates it."""
    import io

    from pypdf import PdfWriter

    import pipelines.extract.ocr as ocr

    raw = tmp_path / "raw"
    raw.mkdir()
    w = PdfWriter()
    w.add_blank_page(595, 842)
    buf = io.BytesIO()
    w.write(buf)
    (raw / "scan.pdf").write_bytes(buf.getvalue())
    (raw / "MANIFEST.csv").write_text("file,agency,report_year,source,sha256,notes\nscan.pdf,测扫市人民政府,2020,,,\n")
    # read in this process, so that the OCR cache can be faked (take_stock reads in the worker pool)
    monkeypatch.setattr(inventory, "sniff_all", lambda items, workers=0, limits=None: [sniff(*item) for item in items])
    monkeypatch.setattr(ocr, "cached_text", lambda sha256: None)
    first = take_stock(raw).documents
    assert first[["report_year", "year_source"]].values.tolist() == [[2020, "manifest"]]
    monkeypatch.setattr(ocr, "cached_text", lambda sha256: "测扫市人民政府2021年政府信息公开工作年度报告\n一、总体情况")
    second = take_stock(raw, first).documents
    assert second[["report_year", "year_source", "agency_printed"]].values.tolist() == [[2021, "document", "测扫市人民政府"]]
    monkeypatch.setattr(ocr, "cached_text", lambda sha256: 1 / 0)  # dated by its own text: never read again
    assert take_stock(raw, second).documents.equals(second)
