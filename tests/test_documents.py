"""Bad and odd inputs: each is recorded with a clear reason and nothing crashes."""

from __future__ import annotations

from conftest import RAW
from pipelines.extract import extract_document


def kinds(ext):
    return {i.kind for i in ext.issues if i.severity == "error"}


def test_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    ext = extract_document(path)
    assert kinds(ext) == {"empty"} and not ext.cells
    assert "empty" in ext.fatal.message


def test_binary_junk_named_txt(tmp_path):
    path = tmp_path / "junk.txt"
    path.write_bytes(b"\x00\x01\x02" * 100)
    ext = extract_document(path)
    assert kinds(ext) == {"unreadable"}


def test_old_word_doc_is_named(tmp_path):
    path = tmp_path / "report.txt"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    ext = extract_document(path)
    assert "OLE" in ext.fatal.message


def test_not_a_report(tmp_path):
    path = tmp_path / "menu.html"
    path.write_text("<html><body><p>今日菜单：米饭 2 元，面条 3 元。</p></body></html>", encoding="utf-8")
    ext = extract_document(path)
    assert not ext.is_report and kinds(ext) == {"not_a_report"} and not ext.cells


def test_blank_statistics_form_is_not_a_report():
    ext = extract_document(RAW / "incoming" / "template_gansu_dingxi_old_era_stats_form.excerpt.txt")
    assert not ext.cells and ext.fatal is not None


def test_traditional_character_mirror_is_converted_and_marked():
    """A mirror site's traditional-character copy is converted (OpenCC) and read, and marked as a third-party
    mirror (never preferred to an original copy); this excerpt stops before the tables, so it has no cells."""
    ext = extract_document(RAW / "incoming" / "shanghai_municipal_gov_general_office_2020.excerpt_mirror_trad.txt")
    assert ext.origin == "third_party_mirror" and any(i.kind == "third_party_mirror" for i in ext.issues)
    assert (ext.report_year, ext.agency_printed) == (2020, "上海市人民政府办公厅")
    assert "行政规范性文件43件" in ext.text.replace(" ", "") or "行政规范性文件43件" in "".join(f.sentence for f in ext.narrative)
    assert kinds(ext) == {"no_tables"} and not ext.cells


def test_local_form_outside_vocabulary():
    ext = extract_document(RAW / "incoming" / "fujian_pingtan_zone_admin_committee_2016.txt")
    assert kinds(ext) == {"local_form"} and "历年累计" in ext.fatal.message


def test_metadata_from_title_not_publication_date():
    ext = extract_document(RAW / "pingtan" / "pingtan_zone_admin_committee_2023.html")
    assert ext.report_year == 2023  # published 2024-03-08
    assert ext.era == "v2021" and ext.scope == "region_aggregate"
    assert ext.agency_printed == "平潭综合实验区"


def test_excerpt_with_cut_table_keeps_what_is_printed():
    ext = extract_document(RAW / "incoming" / "tianjin_hongqiao_district_gov_service_office_2022.excerpt.txt")
    assert ext.cell("t2.licensing.decisions").value == 1517
    assert ext.cell("t3.new_received.other_org").value == 3
    assert ext.cell("t3.total_processed.total") is None  # cut off: absent, not zero
