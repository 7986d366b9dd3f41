"""Document metadata: title, reporting body, report year, table format (era) and scope.

The report year is the year the statistics cover: it is read from the title (``2023年度``) or
the 统计期限, never from the publication date (reports for year t appear in early t+1).
"""

from __future__ import annotations

import re

from pipelines.extract.documents import FREE, Document
from pipelines.extract.model import INFO, WARNING, Extraction
from pipelines.extract.labels import variants
from pipelines.extract.text import norm

_SUFFIX = r"(?:政府)?(?:信息|政务)公开(?:工作)?(?:年度)?(?:报告|年报)"
_TITLE = re.compile(r"(?P<pre>[^。，,；;:：!！?？《》“”\"]{0,40}?)(?P<year>(?:19|20)\d{2})年度?(?P<post>[^。，,；;:：《》]{0,40}?)" + _SUFFIX)
_PERIOD = re.compile(r"(?:统计(?:期限|周期|时间|区间)|数据统计)[^0-9]{0,15}?((?:19|20)\d{2})年(?:1|01)月(?:1|01)日")
_PERIOD2 = re.compile(r"((?:19|20)\d{2})年(?:1|01)月(?:1|01)日(?:起)?(?:至|到|—|-|－)(?:\1年)?12月31日")
_YEAR_NOTE = re.compile(r"\(((?:19|20)\d{2})年度?\)")
_YEAR_HINT = re.compile(r"((?:19|20)\d{2})年(?:度政府信息公开(?:工作)?情况|报)")
_AGENCY_PREFIX = re.compile(r"^(?:正文|现公布|现将|现予公布|公布|关于|发布|附件\d*)")
_AGENCY_SUFFIX = re.compile(r"(政府|办公室|办公厅|局|委员会|委|区|县|市|省|管委会|街道办事处|街道|镇|乡|厅|中心|院|署|办|所|队|处)$")


_NOTICE_WORDS = re.compile(r"关于|做好|印发|转发|通知|部署|要求")
_HEADING_MARK = re.compile(r"^#+\s*")


def _title_match(text: str, whole: bool = False) -> re.Match | None:
    """The first report title in (normalized) text that is the report's own: not the name of a document
    quoted in 《》, not a notice about reports (关于做好…年度报告…的通知); ``whole``: ending the text."""
    if "报告" not in text and "年报" not in text:
        return None
    for m in _TITLE.finditer(text):
        if whole and m.end() != len(text):
            continue
        before = text[: m.start()]
        if before.rfind("《") > before.rfind("》"):
            continue  # inside 《…》: a cited document
        if _NOTICE_WORDS.search(m.group("pre")) or text[m.end() : m.end() + 6].startswith(("编制", "的通知", "有关事项", "工作的")):
            continue
        return m
    return None


def _title_from(m: re.Match) -> tuple[int, str]:
    pre = _AGENCY_PREFIX.sub("", _HEADING_MARK.sub("", m.group("pre")))
    agency = pre or m.group("post")
    return int(m.group("year")), agency.strip("的 #")


def detect_title(doc: Document) -> tuple[str | None, int | None, str | None]:
    """(title, year, agency) from header metadata or the first lines of the body."""
    for key in ("ArticleTitle", "标题", "html_title", "title"):
        value = doc.meta.get(key)
        if value:
            value = value.split("_")[0].strip()
            m = _title_match(norm(value))
            if m:
                year, agency = _title_from(m)
                return value, year, agency or None
    texts = [_HEADING_MARK.sub("", ln.text.strip()) for ln in doc.lines[:80]]
    for i in range(len(texts)):
        for back in range(0, 3):
            if i - back < 0:
                break
            joined = norm("".join(texts[i - back : i + 1]))
            if len(joined) > 120:
                break
            m = _title_match(joined, whole=True)
            if not m:
                continue
            year, agency = _title_from(m)
            if not agency and i - back - 1 >= 0:
                prev = norm(texts[i - back - 1])
                if len(prev) <= 30 and _AGENCY_SUFFIX.search(prev) and not re.search(r"[。，,；;:：]", prev):
                    agency = prev
            return joined, year, agency or None
    # a title quoted in the preamble: 现公布广东省人民政府办公厅2023年政府信息公开工作年度报告
    head = norm("".join(texts[:20]))[:1500]
    m = _title_match(head)
    if m:
        year, agency = _title_from(m)
        return _AGENCY_PREFIX.sub("", m.group(0)), year, agency or None
    return None, None, None


def detect_year(doc: Document, ext: Extraction, title_year: int | None) -> int | None:
    """Report year from the title, checked against the 统计期限; falls back to the period or '(2016年度)'."""
    head = norm(doc.text[:6000])
    period = None
    for rx in (_PERIOD, _PERIOD2):
        m = rx.search(head)
        if m:
            period = int(m.group(1))
            break
    if title_year and period and title_year != period:
        ext.add(WARNING, "year_mismatch", f"title says {title_year} but the 统计期限 says {period}; using the title")
    if title_year:
        return title_year
    if period:
        return period
    for rx in (_YEAR_NOTE, _YEAR_HINT):
        m = rx.search(norm(doc.text[:3000]))
        if m:
            return int(m.group(1))
    return None


def detect_era(doc: Document, year: int | None) -> str | None:
    """Table format from printed signatures (Table 二 columns, （六） split rows), else from the year."""
    text = norm(doc.text)
    counts = {era: sum(1 for v in variants("era_marker", era) if norm(v) in text) for era in ("v2021", "v2019", "old2014")}
    new_anchor = any(norm(v) in text for v in variants("anchor", "t3") + variants("anchor", "t2"))
    if counts["v2021"] or counts["v2019"]:
        if counts["v2021"] != counts["v2019"]:
            return "v2021" if counts["v2021"] > counts["v2019"] else "v2019"
    if new_anchor or counts["v2021"] or counts["v2019"]:
        if "逾期未按收费通知" in text:
            return "v2021"
        if year is not None:
            return "v2021" if year >= 2021 else "v2019"
        return "v2021"
    if year is not None and year < 2014:
        return "pre2014"
    if counts["old2014"]:
        return "old2014"
    if year is None:
        return None
    if year >= 2021:
        return "v2021"
    if year >= 2019:
        return "v2019"
    return "old2014"


def detect_scope(doc: Document) -> str:
    """region_aggregate when the preamble says the report compiles other bodies' reports, agency when it speaks for one body.

    Only the preamble is read (the first sentences that mention the report or its 编制), so
    table labels such as 本机关不掌握 never decide the scope.
    """
    running = norm("".join(ln.cells[0].text for ln in doc.lines if ln.mode == FREE)[:6000])
    sentences = [s for s in running.split("。")[:12] if "报告" in s or "编制" in s][:4]
    preamble = "。".join(sentences)
    for pattern in variants("scope_marker", "region_aggregate"):
        if re.search(pattern, preamble):
            return "region_aggregate"
    if re.search(r"本机关|本单位|本部门|我局|我办|我委|我单位|本局|本办", preamble):
        return "agency"
    return "unknown"


def is_local_form(doc: Document) -> str | None:
    """The marker word when an old-era table is a local form (cumulative/periodic columns)."""
    text = norm(doc.text)
    for v in variants("local_form_marker", "old2014"):
        if norm(v) in text:
            return v
    return None


def fill_metadata(doc: Document, ext: Extraction, hints: dict | None = None) -> None:
    """Set title, agency, year, era and scope on the extraction (``hints`` fill what the document omits)."""
    hints = hints or {}
    title, title_year, agency = detect_title(doc)
    ext.title = title
    ext.agency_printed = agency or doc.meta.get("发布机构") or doc.meta.get("ContentSource") or None
    ext.report_year = detect_year(doc, ext, title_year)
    if ext.report_year is None and hints.get("report_year"):
        ext.report_year = int(hints["report_year"])
        ext.add(INFO, "year_from_manifest", f"the document states no report year; {ext.report_year} taken from raw/MANIFEST.csv")
    elif hints.get("report_year") and int(hints["report_year"]) != ext.report_year:
        ext.add(WARNING, "year_mismatch", f"the document says {ext.report_year} but raw/MANIFEST.csv says {hints['report_year']}")
    if ext.agency_printed is None and hints.get("agency"):
        ext.agency_printed = hints["agency"]
        ext.add(INFO, "agency_from_manifest", f"the document names no reporting body; '{ext.agency_printed}' taken from raw/MANIFEST.csv")
    ext.era = detect_era(doc, ext.report_year)
    ext.scope = detect_scope(doc)
