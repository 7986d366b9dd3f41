"""Printed body names: cleaning (width, markup, spacing) and what the part after the place names says.

A printed name is ``<division names><body>``: 淮安市 洪泽区 | 人民政府, 上海市 | 科委,
重庆市 九龙坡区 | 二郎街道办事处. ``classify_body`` reads the body part: the people's government,
its office (本级), a town or street, a development zone's committee, or a department, and gives
its normalised form (政府 → 人民政府, 管委会 → 管理委员会, 科委 → 科学技术委员会).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache

from pipelines.extract.text import norm
from pipelines.identity.divisions import DATA_DIR

GOVERNMENT = "government_aggregate"
OFFICE = "government_office"
DEPARTMENT = "department"
TOWNSHIP = "township"
ZONE = "zone"
KINDS = (GOVERNMENT, OFFICE, DEPARTMENT, TOWNSHIP, ZONE)

_MARKUP = re.compile(r"<[^>]*>|&[a-z]+;|&#\d+;|[#*_>`~|\[\]【】〔〕〖〗「」『』《》\"'“”‘’]")
_LEADING = re.compile(
    r"^(?:[-=+·•.、,，:：;；]|[一二三四五六七八九十\d]+[、.．]|[(（][一二三四五六七八九十\d]+[)）])*(?:正文|标题|发布机构|来源|信息来源)?[:：]?"
)
_TRAILING = re.compile(r"[的、，,。.:：;；!！?？\-—\s]+$")
_PHRASE = re.compile(r"关于|做好|通知|报告|年度|印发|转发|^\d|\d{4}年")
_PLACEHOLDER = re.compile(r"某|XX|xx|××|\*\*")
_GOV = {"人民政府", "政府", "区政府", "县政府", "市政府"}
_COMMITTEE = {"管理委员会", "管委会", "党工委管委会", "党工委管理委员会", "党工委、管委会"}
_OFFICE = {"人民政府办公室", "人民政府办公厅", "政府办公室", "政府办公厅", "政府办", "人民政府办", "政府办公室(外事办公室)"}
_TOWN = re.compile(r"^(?P<name>.{1,12}?(?:民族乡|民族苏木|街道|镇|乡|苏木))(?:党委|党工委)?(?:人民政府|政府|办事处|街道办事处|街道办|办)?$")
_ZONE = re.compile(
    r"^(?P<name>.{0,24}?(?:开发区|新区|园区|实验区|试验区|示范区|高新区|保税区|合作区|管理区|新城|港区|开放区|度假区|风景区|景区|综试区|自贸区|片区))"
    r"(?:党工委)?(?:管理委员会|管委会)?(?:办公室)?$"
)
_DEPT_END = re.compile(
    r"(局|委员会|委|办公室|办公厅|办|中心|厅|院|署|所|队|处|站|馆|会|社|室|部|台|团|公司|分局|支队|大队|集团|研究室|监狱|法院|检察院|学校|大学|医院)$"
)


@dataclass(frozen=True)
class Body:
    """What the part of a printed name after its place names denotes."""

    kind: str
    name: str  # normalised (人民政府, 人民政府办公室, 二郎街道办事处, 科学技术委员会 …)
    key: str  # stable part of the agency id ('' for the government and its office)


def clean(printed: str | None) -> str:
    """The printed name without width differences, whitespace, markup and stray punctuation."""
    text = norm(printed or "")
    text = _MARKUP.sub("", text)
    text = _LEADING.sub("", text)
    text = _TRAILING.sub("", text)
    return text


def not_a_name(name: str) -> str | None:
    """Why a cleaned name is not a body's name (a title fragment, a sentence, a placeholder), or None."""
    if _PLACEHOLDER.search(name):
        return f"'{name}' is a placeholder (某…), not a body's name"
    if _PHRASE.search(name) or len(name) > 40:
        return f"'{name}' is a phrase, not a body's name"
    return None


@lru_cache(maxsize=1)
def department_aliases() -> dict[str, str]:
    """Abbreviated department names → full names (data/department_aliases.csv)."""
    with (DATA_DIR / "department_aliases.csv").open(encoding="utf-8", newline="") as f:
        return {r["alias"]: r["name"] for r in csv.DictReader(f)}


def _department(rest: str) -> str:
    """Full form of a department name (科委 → 科学技术委员会, 管委会 → 管理委员会)."""
    rest = rest.replace("管委会", "管理委员会")
    aliases = department_aliases()
    if rest in aliases:
        return aliases[rest]
    for alias in sorted(aliases, key=len, reverse=True):  # 市科委办公室 → 科学技术委员会办公室
        if rest.startswith(alias) and len(alias) >= 3:
            return aliases[alias] + rest[len(alias):]
    return rest


_OWN_LEVEL = re.compile(r"^[省市县区](?=人民政府|政府|委(?!员)|党委)")  # 市政府研究室: 'this city's' before the government


def classify_body(rest: str) -> Body | None:
    """The body a name's remainder denotes, or None when it is not a body name."""
    rest = _OWN_LEVEL.sub("", rest)
    if rest == "" or rest in _GOV:
        return Body(GOVERNMENT, "人民政府", "")
    if rest in _COMMITTEE:  # the governing body of a zone that has its own code
        return Body(GOVERNMENT, "管理委员会", "")
    if rest in _OFFICE:
        return Body(OFFICE, "人民政府办公厅" if rest.endswith("厅") else "人民政府办公室", "")
    m = _TOWN.match(rest.removeprefix("人民政府"))  # 浦东新区人民政府陆家嘴街道办事处
    if m:
        town = m.group("name")
        suffix = "办事处" if town.endswith("街道") else "人民政府"
        return Body(TOWNSHIP, town + suffix, town)
    m = _ZONE.match(rest)
    if m:
        zone = m.group("name")
        return Body(ZONE, zone + "管理委员会", zone)
    if _DEPT_END.search(rest) and len(rest) >= 2:
        dept = _department(rest)
        if dept.startswith("人民政府") and dept not in _OFFICE:  # 人民政府研究室, 人民政府外事办公室
            return Body(DEPARTMENT, dept, dept)
        if dept.startswith("政府") and dept not in _OFFICE:
            dept = "人民" + dept
        return Body(DEPARTMENT, dept, dept)
    return None
