"""Reading the printed text of one cell: number, blank, '/'-style mark, or unreadable text.

A blank cell and a '/' are *missing*, never zero. Units and annotations printed inside a cell
(``251000元``, ``22（其中修订16件）``) are kept apart from the number; the number is the value
as printed (no unit conversion happens here).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from pipelines.registry import load_registry

NUMBER = "number"
BLANK = "blank"
NA = "na"
UNPARSED = "unparsed"


@dataclass(frozen=True)
class CellValue:
    """A parsed cell: ``value`` is None unless ``status`` is ``number``."""

    raw: str
    value: float | None
    status: str
    unit: str | None = None


@lru_cache(maxsize=1)
def _grammar() -> tuple[re.Pattern, frozenset[str], frozenset[str]]:
    reg = load_registry()
    units = sorted(reg.variants("unit"), key=len, reverse=True)
    na = frozenset(unicodedata.normalize("NFKC", v).strip() for v in reg.variants("na_mark"))
    number = re.compile(
        r"^(?P<num>[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)"
        r"(?P<unit>" + "|".join(map(re.escape, units)) + r")?"
        r"(?P<note>\(.*\))?$"
    )
    return number, na, frozenset(units)


_WHITE = re.compile(r"[\s\u3000\xa0]+")


def _squash(text: str) -> str:
    return _WHITE.sub("", unicodedata.normalize("NFKC", text or ""))


@lru_cache(maxsize=65536)
def parse_cell(raw: str) -> CellValue:
    """Parse the printed text of a cell."""
    raw = (raw or "").strip().replace("\xa0", " ").strip()
    text = _squash(raw)
    number, na, _ = _grammar()
    if not text:
        return CellValue(raw, None, BLANK)
    if text in na:
        return CellValue(raw, None, NA)
    m = number.match(text)
    if m:
        return CellValue(raw, float(m.group("num").replace(",", "")), NUMBER, m.group("unit"))
    return CellValue(raw, None, UNPARSED)


@lru_cache(maxsize=65536)
def is_unit(text: str) -> bool:
    """True when the cell holds only a unit (the 单位 column of the old 统计表)."""
    _, _, units = _grammar()
    return _squash(text) in units


@lru_cache(maxsize=65536)
def is_value_like(text: str) -> bool:
    """True for cells that can sit in a value position: numbers, blanks, NA marks and bare units."""
    status = parse_cell(text).status
    return status != UNPARSED or is_unit(text)


def format_number(value: float | None) -> str:
    """Render a value without a trailing .0 for integers."""
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))
