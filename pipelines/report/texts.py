"""Chinese names for people, all read from the registry.

Cells are named by their printed labels (indicators.csv: table, row, column as printed), rules
by rule_texts.csv, coded values (statuses, severities, table ids …) by display_zh.csv. Codes
stay available as secondary detail; nothing here invents a label.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from pipelines.registry import RuleText, display_texts, load_registry, rule_texts

SUBTOTAL_PREFIX = "printed_subtotal."


def name(domain: str, key) -> str:
    """The Chinese name of a coded value (e.g. ``name('reports.status', 'quarantined')``); the key itself when unknown."""
    if key is None or (isinstance(key, float) and math.isnan(key)):
        return ""
    return display_texts().get((domain, str(key)), str(key))


def rule_text(rule_id: str) -> RuleText:
    """Chinese texts of a rule; a rule without them (not yet translated) shows its id and English description."""
    text = rule_texts().get(rule_id)
    if text is not None:
        return text
    rule = load_registry().rule_by_id.get(rule_id)
    return RuleText(rule_id, rule_id, rule.description if rule else "", "", "", "")


def number(x) -> str:
    """A number as printed (no trailing .0); '空白' for a missing value."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "空白"
    x = float(x)
    return str(int(x)) if x.is_integer() else f"{x:g}"


def _table_name(table_id: str) -> str:
    return name("cells.table_id", table_id)


def _column(label: str) -> str:
    label = (label or "").replace(" > ", "·")
    return "" if label in ("", "统计数") else label


def _last_section(section: str) -> str:
    return (section or "").split(" > ")[-1]


@lru_cache(maxsize=None)
def cell_label(code: str) -> str:
    """Where a code sits in the printed tables, as printed: 表三「（七）总计」·自然人, 表四「行政复议」·总计 …

    Codes that group several cells (``t3.results.unable``, as narrative rules list them) are
    named by their common printed row or section; an unknown code is returned as is.
    """
    reg = load_registry()
    if code.startswith(SUBTOTAL_PREFIX):
        _, group, column = code.split(".", 2)
        col = _column(next((i.column_label for i in reg.indicators if i.code == f"t3.total_processed.{column}"), column))
        sub = next((lb.variant for lb in reg.labels_of("subtotal", group)), group)
        return f"表三 自行增加的小计行「{sub}」" + (f"·{col}" if col else "")
    ind = reg.by_code.get(code)
    if ind is not None:
        if ind.table_id == "t4":
            row = ind.section_label.replace(" > ", "·")
        elif not ind.row_label:
            row = _last_section(ind.section_label)
        elif " > " in ind.section_label:  # a numbered sub-row: name its heading too (（三）不予公开·1.属于国家秘密)
            row = f"{_last_section(ind.section_label)}·{ind.row_label}"
        else:
            row = ind.row_label
        col = _column(ind.column_label)
        return f"{_table_name(ind.table_id)}「{row}」" + (f"·{col}" if col else "")
    members = [i for i in reg.by_code.values() if i.code.startswith(code + ".")]
    if not members:
        return code
    if len({i.row_key for i in members}) == 1 and members[0].row_label:
        label = members[0].row_label
    else:
        sections = [i.section_label.split(" > ") for i in members]
        common = []
        for parts in zip(*sections):
            if len(set(parts)) != 1:
                break
            common.append(parts[0])
        label = common[-1] if common else code
    return f"{_table_name(members[0].table_id)}「{label}」"


def is_cell_code(code: str) -> bool:
    """True for a vocabulary cell or a printed subtotal cell (not a group of cells)."""
    return code in load_registry().by_code or code.startswith(SUBTOTAL_PREFIX)


def where(cell: dict) -> str:
    """Where a cell was read, in Chinese: 第3页 · 第2个表格第5行第3列, 第120行 …"""
    def val(key):
        v = cell.get(key)
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

    parts = []
    if val("page") is not None:
        parts.append(f"第{int(val('page'))}页")
    if val("table_index") is not None and val("row_index") is not None:
        parts.append(f"第{int(val('table_index')) + 1}个表格第{int(val('row_index')) + 1}行第{int(val('col_index') or 0) + 1}列")
    if val("line") is not None:
        source = "源码" if cell.get("source_kind") in ("html",) else ""
        parts.append(f"{source}第{int(val('line'))}行")
    if cell.get("recovery") not in (None, "none"):
        parts.append(name("cells.recovery", cell["recovery"]))
    return " · ".join(parts) or name("cells.source_kind", cell.get("source_kind"))


# places as the extractor writes them (pipelines/extract/table_model.location): page N, table N row N, line N
_PLACES = (
    (re.compile(r"\bpage (\d+)"), r"第\1页"),
    (re.compile(r"\btable (\d+) row (\d+)"), r"第\1个表格第\2行"),
    (re.compile(r"\bline index (\d+)"), r"第\1个文本行"),
    (re.compile(r"\bline (\d+)"), r"第\1行"),
    (re.compile(r"\bunknown place\b"), "位置不明"),
    (re.compile(r", "), " · "),
)


@lru_cache(maxsize=65536)
def place(location: str | None) -> str:
    """An extraction issue's place in Chinese ('page 3, table 2 row 5' → '第3页 · 第2个表格第5行'); other text unchanged."""
    text = location or ""
    for pattern, repl in _PLACES:
        text = pattern.sub(repl, text)
    return text
