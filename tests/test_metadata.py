"""Title, body and year: the report's own title, never a cited notice or a markdown heading marker."""

from __future__ import annotations

import pytest

from conftest import RAW
from pipelines.extract import extract_document


@pytest.mark.parametrize(("text", "agency", "year"), [
    ("# 沐阳县人民政府2023年政府信息公开工作年度报告\n\n一、总体情况\n", "沐阳县人民政府", 2023),
    ("## 沐阳县人民政府\n## 2023年政府信息公开工作年度报告\n", "沐阳县人民政府", 2023),
    ("本报告根据《关于做好2022年度我市行政机关政府信息公开年度报告编制和公布工作的通知》编制。\n"
     "天津市红桥区政务服务办2022年政府信息公开工作年度报告\n", "天津市红桥区政务服务办", 2022),
    ("根据《福建省人民政府办公厅关于做好2012年政府信息公开工作年度报告有关事项的通知》要求，现公布南平市人民政府"
     "2012年政府信息公开工作年度报告。\n", "南平市人民政府", 2012),
])
def test_agency_from_the_reports_own_title(text, agency, year, tmp_path):
    path = tmp_path / "report.md"
    path.write_text(text, encoding="utf-8")
    ext = extract_document(path)
    assert (ext.agency_printed, ext.report_year) == (agency, year)


@pytest.mark.parametrize("name", ["tianjin_hongqiao_district_gov_service_office_2022.excerpt.txt",
                                  "fujian_nanping_city_gov_2012.excerpt.txt"])
def test_a_cited_notice_is_never_the_body(name):
    """These excerpts print no title of their own, only 《…关于做好…年度报告…的通知》: no body is read from it."""
    ext = extract_document(RAW / "incoming" / name)
    assert ext.agency_printed is None or "做好" not in ext.agency_printed
