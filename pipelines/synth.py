"""Synthetic annual reports with known values, for roll-up tests and benchmarks (``xxgk synth``).

A real prefecture from the division registry (the one with exactly N county-level divisions,
else the smallest with more) with its own-level office and departments and N of its real
counties/districts, each with its own office, departments and 街道. No agencies.csv is written:
every body is placed by the resolver from its printed name, as real reports are. Every
body publishes a report per year in the format of that year (2014-2018 统计表 as tab text,
2019-2020 HTML, 2021+ HTML / tab text / markdown in turn), with tables that satisfy every
in-table rule and a narrative that restates them. Aggregate reports (the city and each
district) print the sums of their children and say so in the preamble (综合…编制而成).

``inject`` districts print a table that is internally consistent but differs from the sum of
their own bodies (and so from what the city summed): the cross-level rule must name them.
Output: documents in ``<out>/<year>/``, ``MANIFEST.csv``, ``truth/<stem>.csv``
(values as printed), ``expected_rollups.csv`` and ``injected.csv``.
"""

from __future__ import annotations

import csv
import html
import random
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.registry import APPLICANT_COLUMNS, load_registry

DEPARTMENTS = [
    "教育局", "财政局", "民政局", "卫生健康委员会", "自然资源局", "住房和城乡建设局", "交通运输局", "农业农村局",
    "商务局", "文化和旅游局", "应急管理局", "市场监督管理局", "生态环境局", "人力资源和社会保障局", "司法局",
    "审计局", "统计局", "医疗保障局", "退役军人事务局", "水利局", "科学技术局", "工业和信息化局", "发展和改革委员会",
    "城市管理局", "体育局", "林业局", "信访局", "数据资源管理局", "行政审批局", "公安分局",
]
DIGITS = "零一二三四五六七八九"
RESULT_WEIGHTS = {
    "t3.results.granted": 40, "t3.results.partially_granted": 10, "t3.results.denied.state_secret": 1,
    "t3.results.denied.third_party_rights": 2, "t3.results.denied.process_info": 2, "t3.results.denied.admin_query": 2,
    "t3.results.unable.not_held": 20, "t3.results.unable.needs_creation": 3, "t3.results.not_processed.petition_complaint": 3,
    "t3.results.not_processed.repeated": 2, "t3.results.other": 4, "t3.results.other.no_correction": 3,
    "t3.results.other.misc": 2,
}


def cn_number(n: int) -> str:
    """A positive integer as Chinese numerals (一, 十二, 一百零五, 一千零一十二, 四万零三百)."""
    if n < 10:
        return DIGITS[n]
    if n < 20:
        return "十" + (DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return DIGITS[n // 10] + "十" + (DIGITS[n % 10] if n % 10 else "")
    size, unit = next((s, u) for s, u in ((10**8, "亿"), (10**4, "万"), (1000, "千"), (100, "百")) if n >= s)
    head, rest = divmod(n, size)
    if rest == 0:
        return cn_number(head) + unit
    gap = "零" if rest < size // 10 else ""
    return cn_number(head) + unit + gap + ("一" if 10 <= rest < 20 else "") + cn_number(rest)


@dataclass
class Body:
    """A synthetic reporting body (``agency_id`` is the id the resolver derives from its name)."""

    slug: str  # file-name stem
    agency_id: str
    name: str
    level: str
    children: list = field(default_factory=list)

    @property
    def aggregate(self) -> bool:
        return bool(self.children)


def era_of(year: int) -> str:
    """Table format of a report year."""
    return "v2021" if year >= 2021 else ("v2019" if year >= 2019 else "old2014")


def pick_region(districts: int):
    """A real prefecture-level division with exactly ``districts`` county-level divisions (else the smallest with more).

    Its counties come from the division registry; when it has more than ``districts``, the others
    publish nothing and the city's roll-up lists them as missing.
    """
    from pipelines.identity.divisions import division_registry

    reg = division_registry()
    regions = []
    for d in reg.by_code.values():
        if d.status == "current" and d.level in ("city", "province") and d.code[:2] not in ("71", "81", "82"):
            counties = sorted((k for k in reg.children.get(d.code, []) if k.status == "current" and k.level == "county"),
                              key=lambda k: k.code)
            regions.append((len(counties) != districts, len(counties), d.code, d, counties))
    options = [r for r in regions if r[1] >= districts]
    if not options:
        raise ValueError(f"no prefecture has {districts} county-level divisions (at most {max(r[1] for r in regions)}); "
                         "use fewer districts and more bodies per district")
    _, _, _, city, counties = min(options, key=lambda o: o[:3])
    return city, counties[:districts]


def build_region(districts: int, bodies_per_district: int, city_departments: int = 3) -> Body:
    """A real prefecture, its own-level office and departments, and ``districts`` of its real counties with their bodies."""
    from pipelines.identity.resolver import default_resolver

    resolver = default_resolver()
    division, counties = pick_region(districts)

    def body(slug: str, name: str) -> Body:
        res = resolver.resolve(name)
        assert res.resolved, (name, res.reason)  # synthetic names are regular by construction
        return Body(slug, res.agency_id, res.name, res.level)

    city = body("city", resolver.government(division).name)
    prefix = city.name.removesuffix("人民政府")
    city.children.append(body("city-office", f"{prefix}人民政府办公室"))
    for k in range(city_departments):
        city.children.append(body(f"city-dept{k + 1}", f"{prefix}{DEPARTMENTS[k % len(DEPARTMENTS)]}"))
    for d, county in enumerate(counties, start=1):
        dist = body(f"d{d}", resolver.government(county).name)
        name = dist.name.removesuffix("人民政府")
        dist.children.append(body(f"d{d}-office", f"{name}人民政府办公室"))
        for m in range(1, max(0, bodies_per_district - 1) + 1):
            unit = DEPARTMENTS[m - 1] if m <= len(DEPARTMENTS) else f"第{cn_number(m - len(DEPARTMENTS))}街道办事处"
            dist.children.append(body(f"d{d}-b{m}", f"{name}{unit}"))
        city.children.append(dist)
    return city


def walk(body: Body):
    """Every body, parents before children."""
    yield body
    for child in body.children:
        yield from walk(child)


# --------------------------------------------------------------------------------------------
# values


def _leaf_values(era: str, rng: random.Random, prev: dict[str, float] | None = None) -> dict[str, float]:
    """One body's consistent tables; ``prev`` (last year's values) keeps carry-over, stocks and volumes continuous."""
    reg = load_registry()
    v: dict[str, float] = {}
    prev = prev or {}
    if era == "old2014":
        return _old_values(rng)
    rows = [r for r in reg.template(era) if r.table_id == "t3" and era in r.eras and not r.is_subtotal]
    outcome_rows = [r for r in rows if r.key.startswith("t3.results")]
    for col in APPLICANT_COLUMNS[:-1]:
        scale = 12 if col == "natural_person" else (2 if col == "commercial_enterprise" else 0)
        new = rng.randint(0, scale) if scale else (1 if rng.random() < 0.03 else 0)
        if f"t3.carried_forward.{col}" in prev:
            carried = int(prev[f"t3.carried_forward.{col}"])
        else:
            carried = rng.randint(0, 2) if rng.random() < 0.3 else 0
        forward = rng.randint(0, min(2, new + carried)) if rng.random() < 0.3 else 0
        processed = new + carried - forward
        v[f"t3.new_received.{col}"] = new
        v[f"t3.carried_over.{col}"] = carried
        v[f"t3.carried_forward.{col}"] = forward
        v[f"t3.total_processed.{col}"] = processed
        weights = [RESULT_WEIGHTS.get(r.key, 0.5) for r in outcome_rows]
        counts = dict.fromkeys((r.key for r in outcome_rows), 0)
        for _ in range(processed):
            counts[rng.choices([r.key for r in outcome_rows], weights)[0]] += 1
        for key, n in counts.items():
            v[f"{key}.{col}"] = n
    for r in rows:
        v[f"{r.key}.total"] = sum(v[f"{r.key}.{c}"] for c in APPLICANT_COLUMNS[:-1])
    budget = int(v["t3.total_processed.total"] + v["t3.carried_forward.total"]) // 3  # T4-XT: cases <= requests
    for blk in ("review", "litigation_direct", "litigation_after_review"):
        parts = [rng.randint(0, min(2, budget // 4)) if rng.random() < 0.3 else 0 for _ in range(4)]
        for name, x in zip(("maintained", "corrected", "other", "pending"), parts):
            v[f"t4.{blk}.{name}"] = x
        v[f"t4.{blk}.total"] = sum(parts)
    if era == "v2021":
        for doc in ("rules", "normative_docs"):
            issued = rng.randint(0, 5) if doc == "normative_docs" else 0
            repealed = rng.randint(0, 2) if doc == "normative_docs" else 0
            stock = prev.get(f"t2.{doc}.in_force")
            repealed = min(repealed, int(stock)) if stock is not None else repealed
            v[f"t2.{doc}.issued"], v[f"t2.{doc}.repealed"] = issued, repealed
            if stock is not None:
                v[f"t2.{doc}.in_force"] = stock + issued - repealed  # Y-T2-ROLL holds
            else:
                v[f"t2.{doc}.in_force"] = issued + rng.randint(0, 40) if doc == "normative_docs" else 0
        for item, top in (("licensing", 400), ("penalty", 200), ("coercion", 20)):
            last = prev.get(f"t2.{item}.decisions")
            v[f"t2.{item}.decisions"] = round(last * rng.uniform(0.8, 1.25)) if last else rng.randint(0, top)
        last_fee = prev.get("t2.admin_fees.amount")
        v["t2.admin_fees.amount"] = round(last_fee * rng.uniform(0.8, 1.25) if last_fee else rng.uniform(0, 500), 2)
    else:
        for doc in ("rules", "normative_docs"):
            made = rng.randint(0, 5) if doc == "normative_docs" else 0
            v[f"t2.{doc}.new_made"] = made
            v[f"t2.{doc}.new_published"] = made
            v[f"t2.{doc}.published_total"] = made + rng.randint(0, 60)
        for item in ("licensing", "other_mgmt_services", "penalty", "coercion"):
            v[f"t2.{item}.prev_year_items"] = rng.randint(0, 50)
            v[f"t2.{item}.change"] = rng.randint(-3, 3)
            v[f"t2.{item}.decisions"] = rng.randint(0, 300)
        v["t2.admin_fees.prev_year_items"] = rng.randint(0, 10)
        v["t2.admin_fees.change"] = rng.randint(-1, 1)
        v["t2.procurement.items"] = rng.randint(0, 20)
        v["t2.procurement.amount"] = round(rng.uniform(0, 900), 2)
    return v


def _old_values(rng: random.Random) -> dict[str, float]:
    v: dict[str, float] = {}
    channels = {c: rng.randint(0, 300) for c in ("gazette", "website", "weibo", "wechat", "other")}
    for c, x in channels.items():
        v[f"old.proactive.channel.{c}"] = x
    v["old.proactive.total"] = rng.randint(max(channels.values()), sum(channels.values()))
    v["old.proactive.normative_docs_issued"] = rng.randint(0, 10)
    v["old.proactive.normative_docs"] = rng.randint(0, int(min(v["old.proactive.normative_docs_issued"], v["old.proactive.total"])))
    for k in ("hot_topics", "policy_interpretations", "weibo_wechat_events", "other_events"):
        v[f"old.response.{k}"] = rng.randint(0, 10)
    for k in ("press_conferences", "online_interviews"):
        v[f"old.response.{k}"] = rng.randint(0, 4)
        v[f"old.response.{k}_principal"] = rng.randint(0, int(v[f"old.response.{k}"]))
    recv = {c: rng.randint(0, 5) for c in ("in_person", "fax", "online", "letter")}
    for c, x in recv.items():
        v[f"old.applications.received.{c}"] = x
    total = sum(recv.values())
    v["old.applications.received.total"] = total
    on_time = total - (1 if total and rng.random() < 0.2 else 0)
    v["old.applications.completed.on_time"] = on_time
    v["old.applications.completed.extended"] = total - on_time
    v["old.applications.completed.total"] = total
    cats = ["already_public", "granted", "partially_granted", "not_this_agency", "info_nonexistent", "asked_to_amend", "referred_elsewhere"]
    shares = dict.fromkeys(cats, 0)
    denied = 0
    for _ in range(total):
        pick = rng.choice(cats + ["denied"])
        if pick == "denied":
            denied += 1
        else:
            shares[pick] += 1
    for c, x in shares.items():
        v[f"old.applications.answered.{c}"] = x
    reasons = ["state_secret", "commercial_secret", "personal_privacy", "security_stability", "not_gov_info", "other_legal"]
    split = dict.fromkeys(reasons, 0)
    for _ in range(denied):
        split[rng.choice(reasons)] += 1
    for r, x in split.items():
        v[f"old.applications.answered.denied.{r}"] = x
    v["old.applications.answered.denied.total"] = denied
    v["old.applications.answered.total"] = total
    for blk in ("admin_review", "litigation"):
        parts = [rng.randint(0, 1) for _ in range(3)]
        for name, x in zip(("upheld", "corrected", "other"), parts):
            v[f"old.{blk}.{name}"] = x
        v[f"old.{blk}.total"] = sum(parts)
    v["old.complaints.total"] = rng.randint(0, 2)
    v["old.fees.application_fees"] = 0
    v["old.capacity.dedicated_units"] = rng.randint(0, 2)
    v["old.capacity.reading_points"] = rng.randint(0, 3)
    v["old.capacity.staff.full_time"] = rng.randint(0, 3)
    v["old.capacity.staff.part_time"] = rng.randint(0, 3)
    v["old.capacity.staff.total"] = v["old.capacity.staff.full_time"] + v["old.capacity.staff.part_time"]
    v["old.capacity.dedicated_funding"] = round(rng.uniform(0, 10), 2)
    for k in ("meetings", "courses"):
        v[f"old.training.{k}"] = rng.randint(0, 3)
    v["old.training.trainees"] = rng.randint(0, 200)
    return v


def _sum(values: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for v in values:
        for k, x in v.items():
            out[k] = out.get(k, 0) + x
    return {k: (round(x, 2) if isinstance(x, float) and not float(x).is_integer() else x) for k, x in out.items()}


# --------------------------------------------------------------------------------------------
# rendering


def _fmt(x) -> str:
    if isinstance(x, float) and not x.is_integer():
        return f"{x:.2f}"
    return str(int(x))


def _t2_blocks(era: str):
    reg = load_registry()
    blocks: dict[str, list] = {}
    for r in reg.template(era):
        if r.table_id == "t2" and era in r.eras:
            blocks.setdefault(r.section, []).append(r)
    return blocks


def _t3_rows(era: str):
    return [r for r in load_registry().template(era) if r.table_id == "t3" and era in r.eras and not r.is_subtotal]


def render_html(title: str, paragraphs: list[str], era: str, v: dict) -> str:
    out = [f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head><body>',
           f"<h1>{html.escape(title)}</h1>"]
    out += [f"<p>{html.escape(p)}</p>" for p in paragraphs]
    out.append("<p>二、主动公开政府信息情况</p><table border=\"1\">")
    for section, rows in _t2_blocks(era).items():
        out.append(f'<tr><td colspan="4">{section}</td></tr>')
        labels = rows[0].column_labels
        span = 4 - len(labels)
        cells = "".join(
            f'<td colspan="{1 + span}">{html.escape(lb)}</td>' if k == len(labels) - 1 and span else f"<td>{html.escape(lb)}</td>"
            for k, lb in enumerate(labels)
        )
        out.append(f"<tr><td>信息内容</td>{cells}</tr>")
        for r in rows:
            vals = "".join(
                f'<td colspan="{1 + span}">{_fmt(v[c])}</td>' if k == len(r.codes) - 1 and span else f"<td>{_fmt(v[c])}</td>"
                for k, c in enumerate(r.codes)
            )
            out.append(f"<tr><td>{html.escape(r.labels[0] if era == 'v2019' or r.key != 't2.normative_docs' else '行政规范性文件')}</td>{vals}</tr>")
    out.append("</table><p>三、收到和处理政府信息公开申请情况</p><table border=\"1\">")
    out.append('<tr><td colspan="3" rowspan="3">（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）</td><td colspan="7">申请人情况</td></tr>')
    out.append('<tr><td rowspan="2">自然人</td><td colspan="5">法人或其他组织</td><td rowspan="2">总计</td></tr>')
    out.append("<tr><td>商业企业</td><td>科研机构</td><td>社会公益组织</td><td>法律服务机构</td><td>其他</td></tr>")
    rows = _t3_rows(era)
    result_rows = [r for r in rows if r.section.startswith("三、本年度办理结果")]
    group_size: dict[str, int] = {}
    for r in result_rows:
        group_size[r.section] = group_size.get(r.section, 0) + 1
    seen_groups: set[str] = set()
    for r in rows:
        vals = "".join(f"<td>{_fmt(v[c])}</td>" for c in r.codes)
        if not r.section:
            out.append(f'<tr><td colspan="3">{html.escape(r.labels[0])}</td>{vals}</tr>')
            continue
        head = ""
        if r is result_rows[0]:
            head += f'<td rowspan="{len(result_rows)}">三、本年度办理结果</td>'
        if " > " in r.section:
            group = r.section.split(" > ")[1]
            if r.section not in seen_groups:
                seen_groups.add(r.section)
                head += f'<td rowspan="{group_size[r.section]}">{html.escape(group)}</td>'
            out.append(f"<tr>{head}<td>{html.escape(r.labels[0])}</td>{vals}</tr>")
        else:
            out.append(f'<tr>{head}<td colspan="2">{html.escape(r.labels[0])}</td>{vals}</tr>')
    out.append("</table><p>四、政府信息公开行政复议、行政诉讼情况</p><table border=\"1\">")
    out.append('<tr><td colspan="5">行政复议</td><td colspan="10">行政诉讼</td></tr>')
    out.append('<tr><td rowspan="2">结果维持</td><td rowspan="2">结果纠正</td><td rowspan="2">其他结果</td><td rowspan="2">尚未审结</td>'
               '<td rowspan="2">总计</td><td colspan="5">未经复议直接起诉</td><td colspan="5">复议后起诉</td></tr>')
    out.append("<tr>" + "<td>结果维持</td><td>结果纠正</td><td>其他结果</td><td>尚未审结</td><td>总计</td>" * 2 + "</tr>")
    t4 = load_registry().template_row(era, "t4")
    out.append("<tr>" + "".join(f"<td>{_fmt(v[c])}</td>" for c in t4.codes) + "</tr></table>")
    out.append("<p>五、存在的主要问题及改进情况</p><p>无。</p><p>六、其他需要报告的事项</p><p>无。</p></body></html>")
    return "\n".join(out)


def render_text(title: str, paragraphs: list[str], era: str, v: dict, markdown: bool = False) -> str:
    sep = " | " if markdown else "\t"

    def row(cells: list[str]) -> str:
        return ("| " + sep.join(cells) + " |") if markdown else sep.join(cells)

    out = [title, ""] + paragraphs + [""]
    if era == "old2014":
        out += ["政府信息公开情况统计表", row(["统计指标", "单位", "统计数"])]
        for r in load_registry().template(era):
            out.append(row([r.labels[0], load_registry().by_code[r.codes[0]].unit, _fmt(v[r.codes[0]])]))
        return "\n".join(out) + "\n"
    out.append("二、主动公开政府信息情况")
    for section, rows in _t2_blocks(era).items():
        out.append(section)
        out.append(row(["信息内容", *rows[0].column_labels]))
        if markdown:
            out.append("|" + "---|" * (1 + len(rows[0].column_labels)))
        for r in rows:
            label = r.labels[0] if era == "v2019" or r.key != "t2.normative_docs" else "行政规范性文件"
            out.append(row([label, *(_fmt(v[c]) for c in r.codes)]))
        out.append("")
    out += ["三、收到和处理政府信息公开申请情况", "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）",
            "申请人情况", row(["", "自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"])]
    if markdown:
        out.append("|" + "---|" * 8)
    last_group = None
    for r in _t3_rows(era):
        if " > " in r.section and r.section != last_group:
            out.append(r.section.split(" > ")[1])
        last_group = r.section
        out.append(row([r.labels[0], *(_fmt(v[c]) for c in r.codes)]))
    out += ["", "四、政府信息公开行政复议、行政诉讼情况", "行政复议 行政诉讼", "未经复议直接起诉 复议后起诉",
            "结果维持 结果纠正 其他结果 尚未审结 总计 结果维持 结果纠正 其他结果 尚未审结 总计 结果维持 结果纠正 其他结果 尚未审结 总计"]
    t4 = load_registry().template_row(era, "t4")
    out.append("\t".join(_fmt(v[c]) for c in t4.codes))
    out += ["五、存在的主要问题及改进情况", "无。", "六、其他需要报告的事项", "无。"]
    return "\n".join(out) + "\n"


def _paragraphs(body: Body, year: int, era: str, v: dict, city: Body) -> list[str]:
    if body.aggregate:
        scope = "市" if body.level == "city" else "区"
        pre = (f"本报告由{body.name.replace('人民政府', '')}人民政府办公室综合全{scope}各有关单位政府信息公开工作年度报告编制而成。"
               f"本报告中所列数据的统计期限自{year}年1月1日起至{year}年12月31日止。")
    else:
        pre = f"本报告由本机关编制。本报告中所列数据的统计期限自{year}年1月1日起至{year}年12月31日止。"
    if era == "old2014":
        text = (f"全年主动公开政府信息{_fmt(v['old.proactive.total'])}条。"
                f"共受理依申请公开{_fmt(v['old.applications.received.total'])}件。")
    else:
        text = (f"{year}年共收到政府信息公开申请{_fmt(v['t3.new_received.total'])}件，"
                f"上年结转政府信息公开申请{_fmt(v['t3.carried_over.total'])}件。")
    return [pre, "一、总体情况", text]


@dataclass
class SynthSummary:
    """What was generated."""

    documents: int
    bodies: int
    years: list[int]
    injected: list[tuple[str, int]]
    out_dir: Path
    region: Body  # the prefecture (children: its office, departments and counties)


def generate(out_dir: Path, districts: int = 3, bodies_per_district: int = 3, years: tuple[int, ...] = (2023,),
             seed: int = 7, inject: int = 0, pdf: bool = False) -> SynthSummary:
    """Write a synthetic landing zone (see the module docstring)."""
    out_dir = Path(out_dir)
    (out_dir / "truth").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    city = build_region(districts, bodies_per_district)
    bodies = list(walk(city))
    injected_ids = [d.agency_id for d in city.children if d.aggregate][:inject]
    manifest, rollups, injected = [], [], []
    formats = ["html", "txt", "md"]
    last_year: dict[str, dict] = {}
    for year in sorted(years):
        era = era_of(year)
        true: dict[str, dict] = {}
        printed: dict[str, dict] = {}

        def compute(body: Body) -> dict:
            if body.aggregate:
                value = _sum([compute(c) for c in body.children])
            else:
                prev = last_year.get(body.agency_id) if era_of(year - 1) == era or era != "old2014" else None
                value = _leaf_values(era, rng, prev if prev and era_of(year - 1) != "old2014" else None)
            true[body.agency_id] = value
            return value

        compute(city)
        for body in bodies:
            printed[body.agency_id] = dict(true[body.agency_id])
        for did in injected_ids:
            p = printed[did]
            delta = 5
            if era == "old2014":
                keys = ["old.applications.received.in_person", "old.applications.received.total",
                        "old.applications.completed.on_time", "old.applications.completed.total",
                        "old.applications.answered.granted", "old.applications.answered.total"]
            else:
                keys = [f"t3.{row}.{col}" for row in ("new_received", "results.granted", "total_processed")
                        for col in ("natural_person", "total")]
            for k in keys:
                p[k] += delta
            injected.append((did, year, " ".join(keys), delta))
        for n, body in enumerate(bodies):
            v = printed[body.agency_id]
            title = f"{body.name}{year}年政府信息公开工作年度报告"
            paras = _paragraphs(body, year, era, v, city)
            fmt = "txt" if era == "old2014" else ("html" if era == "v2019" else formats[n % 3])
            stem = f"{body.slug}_{year}"
            path = out_dir / str(year) / f"{stem}.{fmt}"
            path.parent.mkdir(parents=True, exist_ok=True)
            if fmt == "html":
                path.write_text(render_html(title, paras, era, v), encoding="utf-8")
            else:
                path.write_text(render_text(title, paras, era, v, markdown=fmt == "md"), encoding="utf-8")
            manifest.append({"file": f"{year}/{path.name}", "agency": body.name, "report_year": year,
                             "source": "synthetic (xxgk synth)", "sha256": "", "notes": ""})
            with (out_dir / "truth" / f"{stem}.csv").open("w", encoding="utf-8", newline="") as f:
                w = csv.writer(f)
                w.writerow(["code", "value"])
                for code in load_registry().codes_for(era):
                    w.writerow([code, _fmt(v[code])])
            if body.aggregate:
                children_sum = _sum([printed[c.agency_id] for c in body.children])
                for code in load_registry().codes_for(era):
                    rollups.append({"region": body.agency_id, "report_year": year, "code": code,
                                    "children_sum": _fmt(children_sum[code]), "printed": _fmt(v[code])})
        if pdf:
            _print_pdfs(out_dir / str(year))
        last_year = true if (year + 1) in years else {}
    _write_csv(out_dir / "MANIFEST.csv", manifest, ["file", "agency", "report_year", "source", "sha256", "notes"])
    _write_csv(out_dir / "expected_rollups.csv", rollups, ["region", "report_year", "code", "children_sum", "printed"])
    _write_csv(out_dir / "injected.csv", [{"agency_id": a, "report_year": y, "cells": c, "delta": d} for a, y, c, d in injected],
               ["agency_id", "report_year", "cells", "delta"])
    return SynthSummary(len(manifest), len(bodies), list(years), [(a, y) for a, y, _, _ in injected], out_dir, city)


def _write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def _print_pdfs(folder: Path) -> None:
    """Print every HTML report of a folder to PDF with headless Chromium (when installed)."""
    import shutil
    import subprocess
    import tempfile

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise RuntimeError("--pdf needs headless Chromium (Debian package 'chromium')")
    with tempfile.TemporaryDirectory() as profile:
        for page in sorted(folder.glob("*.html")):
            subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 f"--user-data-dir={profile}", "--no-pdf-header-footer", f"--print-to-pdf={page.with_suffix('.pdf')}", page.as_uri()],
                capture_output=True, check=True, timeout=120,
            )
            page.unlink()
