"""Third-party mirror copies: traditional-character conversions and pinyin-annotated spam pages.

Mirror sites republish government reports converted to traditional characters (with Taiwan
terms: 文件→檔案, 门户→入口) or with pinyin inserted after characters (政(zheng)府(fu)). Such a
copy is converted back (OpenCC ``tw2sp``: traditional to simplified with mainland phrases) or
cleaned, then extracted like any report, and marked ``third_party_mirror`` so that the
warehouse never prefers it to an original copy of the same report.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pipelines.extract.documents import Cell, Document, Line
from pipelines.registry import load_registry

TRADITIONAL_LIMIT = 0.02
_PINYIN = re.compile(r"(?<=[\u4e00-\u9fff])\(([a-zü]{1,6}[1-5]?)\)")
MIN_PINYIN = 5


_CJK = re.compile(r"[\u4e00-\u9fff]")


@lru_cache(maxsize=1)
def _markers() -> re.Pattern:
    return re.compile("[" + re.escape("".join(load_registry().variants("traditional_marker"))) + "]")


def traditional_share(text: str) -> float:
    """Share of CJK characters that only exist in traditional script."""
    head = text[:20000]
    if not _markers().search(head):
        return 0.0
    cjk = len(_CJK.findall(head))
    return len(_markers().findall(head)) / cjk if cjk else 0.0


@lru_cache(maxsize=1)
def _converter():
    import opencc

    return opencc.OpenCC("tw2sp")


def _convert_cells(doc: Document, fn) -> None:
    doc.lines = [
        Line([Cell(fn(c.text), c.line, c.page, c.table_index, c.row_index, c.col_index, c.bbox, c.confidence, c.alternatives)
              for c in line.cells], line.mode, line.source_kind)
        for line in doc.lines
    ]
    doc.text = fn(doc.text)
    doc.meta = {k: fn(v) if isinstance(v, str) else v for k, v in doc.meta.items()}


def unmirror(doc: Document) -> str | None:
    """Convert a mirror copy in place; returns what was done (None for an ordinary document)."""
    share = traditional_share(doc.text)
    notes = []
    if share > TRADITIONAL_LIMIT:
        _convert_cells(doc, _converter().convert)
        notes.append(f"traditional characters ({share:.0%} traditional-only) converted to simplified with OpenCC")
    n = len(_PINYIN.findall(doc.text[:20000]))
    if n >= MIN_PINYIN:
        _convert_cells(doc, lambda t: _PINYIN.sub("", t))
        notes.append(f"{n} inserted pinyin annotations removed")
    return "; ".join(notes) or None
