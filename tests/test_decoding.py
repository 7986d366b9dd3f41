"""Text decoding: every encoding a report comes in, and damaged bytes that cost only what they touch."""

from __future__ import annotations


import opencc
import pytest

from conftest import document_for, load_truth
from pipelines.extract import extract_document
from pipelines.extract.decode import decode

STEM = "gansu_ganzhou_district_gov_2016"


def values(ext):
    return {c.code: c.value for c in ext.cells}


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "gb18030"])
def test_every_encoding_reads_the_same_cells(encoding, tmp_path):
    text = document_for(STEM).read_text(encoding="utf-8")
    path = tmp_path / f"{STEM}.txt"
    path.write_bytes(text.encode(encoding))
    ext = extract_document(path)
    assert values(ext) == load_truth(STEM), encoding
    assert not [i for i in ext.issues if i.severity != "info"]


def test_big5_mirror_copy_is_decoded_and_converted(tmp_path):
    """A traditional-character copy saved as Big5: GB18030 would decode it too (as mojibake); the report's
    vocabulary decides, then OpenCC converts it back."""
    text = opencc.OpenCC("s2t").convert(document_for(STEM).read_text(encoding="utf-8"))
    path = tmp_path / "mirror.txt"
    path.write_bytes(text.encode("big5", errors="replace"))
    assert decode(path.read_bytes()).encoding == "big5"
    ext = extract_document(path)
    assert ext.origin == "third_party_mirror"
    assert values(ext) == load_truth(STEM)


def test_a_few_bad_bytes_are_replaced_not_fatal(tmp_path):
    raw = document_for(STEM).read_bytes()
    k = raw.index("分析说明".encode()) if "分析说明".encode() in raw else len(raw) // 3
    path = tmp_path / "damaged.txt"
    path.write_bytes(raw[:k] + b"\xff\xfe\x80" + raw[k + 3 :])
    ext = extract_document(path)
    assert ext.fatal is None
    assert any(i.kind == "decoding_replaced" for i in ext.issues)
    got = values(ext)
    assert all(got.get(c) == v for c, v in load_truth(STEM).items() if c in got and got[c] is not None)


def test_nul_run_inside_a_table_loses_only_what_it_touches(tmp_path):
    """NUL bytes over a table row: those cells are missing with the reason, the rest is read, nothing is invented."""
    text = document_for("fujian_pingtan_zone_admin_committee_2024").read_bytes()
    k = text.index("2629".encode()) if b"2629" in text else text.index("4529".encode())
    path = tmp_path / "nul.txt"
    path.write_bytes(text[: k + 2] + b"\x00" * 40 + text[k + 2 :])
    ext = extract_document(path)
    assert ext.fatal is None
    assert any(i.kind == "unreadable_region" for i in ext.issues)
    truth = load_truth("fujian_pingtan_zone_admin_committee_2024")
    got = values(ext)
    assert got.get("t2.licensing.decisions") is None  # '45' + NULs + '29': never read as 45 or 29
    assert next(i for i in ext.issues if i.code == "t2.licensing.decisions").kind == "unreadable_region"
    assert all(got[c] == truth[c] for c in got if got[c] is not None)


def test_utf16_without_bom_and_binary_junk(tmp_path):
    text = document_for(STEM).read_text(encoding="utf-8")
    assert decode(text.encode("utf-16-le")).text == text
    assert decode(text.encode("utf-16-be")).text == text
    junk = tmp_path / "junk.txt"
    junk.write_bytes(bytes(range(1, 32)) * 300)
    assert extract_document(junk).fatal.kind == "unreadable"
