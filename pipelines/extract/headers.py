"""Stage 2: reading printed column headers, for every table.

Headers come as grid cells (HTML, markdown, PDF tables) or as running text (flattened pages).
Both are turned into a sequence of header words from the registry (labels.csv kinds ``column``,
``column_group``, ``column_subtotal``, ``t4_outcome``, ``t4_block``), and the sequence into the
order of the value columns:

* Table 二: the columns after each 信息内容 header (本年制发件数 …). A header cut short by
  conversion (``本年新``) is kept as the set of columns it can be the start of.
* Table 三: leaf columns in reading order, the 法人或其他组织 group replaced by its sub-columns
  (so 总计 printed first, or 商业企业/科研机构 swapped, are read as printed); a 小计 column of the
  organisations is recognised as a printed subtotal.
* Table 四: three blocks (行政复议, 未经复议直接起诉, 复议后起诉) of five outcome columns each.

A header is used only when it is complete (every column named exactly once); anything else is
*unreadable*, and the table's equalities then decide whether the template order may be used
(see ``columns``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz, process

from pipelines.extract.table_model import ColumnMap
from pipelines.extract.text import bare, match_form
from pipelines.registry import APPLICANT_COLUMNS, load_registry

T4_BLOCKS = ("review", "litigation_direct", "litigation_after_review")
T4_OUTCOMES = ("maintained", "corrected", "other", "pending", "total")
ORG_COLUMNS = APPLICANT_COLUMNS[1:6]
_ANCHOR_NOTE = re.compile(r"\(?本列数据的勾稽关系[^)]*\)?")
UNREADABLE = "?"


@lru_cache(maxsize=1)
def t2_column_keys() -> dict[str, str]:
    """Printed Table 二 column header (match form) -> column key."""
    reg = load_registry()
    t2_keys = {i.column_key for i in reg.indicators if i.table_id == "t2"}
    forms: dict[str, str] = {}
    for lb in reg.labels_of("column"):
        if lb.key in t2_keys:
            forms.setdefault(bare(match_form(lb.variant)), lb.key)
    for ind in reg.indicators:
        if ind.table_id == "t2":
            forms.setdefault(bare(match_form(ind.column_label)), ind.column_key)
    return dict(sorted(forms.items(), key=lambda kv: -len(kv[0])))


def t2_header_key(text: str, keys: dict[str, str] | None = None) -> str:
    """Column key of one Table 二 header cell: '' for an empty cell, ``~a|b`` for a cut header
    that can be the start of columns a or b, ``?`` when unreadable."""
    keys = keys or t2_column_keys()
    form = bare(match_form(text))
    if not form:
        return ""
    if form in keys:
        return keys[form]
    starts = sorted({k for f, k in keys.items() if f.startswith(form)}) if len(form) >= 2 else []
    if starts:
        return "~" + "|".join(starts)
    hit = process.extractOne(form, list(keys), scorer=fuzz.ratio, score_cutoff=85)
    return keys[hit[0]] if hit else UNREADABLE


def t2_header_columns_in_text(squeezed: str) -> list[str]:
    """Table 二 column keys named in a stretch of running text, in printed order."""
    text = match_form(squeezed)
    found = []
    taken = bytearray(len(text))
    for variant, key in t2_column_keys().items():
        start = 0
        while (k := text.find(variant, start)) >= 0:
            start = k + 1
            if not any(taken[k : k + len(variant)]):
                taken[k : k + len(variant)] = b"\x01" * len(variant)
                found.append((k, key))
    return [key for _, key in sorted(found)]


def t2_columns(header: list[str], row_keys: tuple[str, ...], n_values: int) -> ColumnMap | None:
    """Order of a Table 二 row's columns from the header before it, or None when the header does not fit.

    Exact headers that name the row's columns give their order; a header whose cut or
    unreadable cells are compatible with the template order confirms the template order.
    """
    cols = [h for h in header if h != ""]
    if not cols or len(cols) != n_values:
        return None
    if all(c in row_keys for c in cols) and len(set(cols)) == len(cols):
        return ColumnMap(tuple(cols), "header")
    if len(cols) == len(row_keys) and all(
        c == k or (c.startswith("~") and k in c[1:].split("|")) for c, k in zip(cols, row_keys)
    ):
        return ColumnMap(tuple(row_keys), "order", note="header cells cut short; consistent with the template order")
    return ColumnMap((), "unknown", note=f"printed headers {cols} do not name the columns {list(row_keys)}")


@lru_cache(maxsize=1)
def _t3_vocabulary() -> tuple[tuple[str, str, str], ...]:
    """(match form, kind, key) of Table 三 header words, longest first."""
    reg = load_registry()
    out = []
    for lb in reg.labels_of("column"):
        if lb.key in APPLICANT_COLUMNS:
            out.append((match_form(lb.variant), "leaf", lb.key))
    for lb in reg.labels_of("column_group"):
        out.append((match_form(lb.variant), "group", lb.key))
    for lb in reg.labels_of("column_subtotal"):
        out.append((match_form(lb.variant), "subtotal", lb.key))
    return tuple(sorted(set(out), key=lambda t: (-len(t[0]), t)))


@lru_cache(maxsize=1)
def _t4_vocabulary() -> tuple[tuple[str, str, str], ...]:
    reg = load_registry()
    out = [(match_form(lb.variant), "outcome", lb.key) for lb in reg.labels_of("t4_outcome")]
    out += [(match_form(lb.variant), "block", lb.key) for lb in reg.labels_of("t4_block")]
    return tuple(sorted(set(out), key=lambda t: (-len(t[0]), t)))


@lru_cache(maxsize=4)
def _vocabulary_regex(vocabulary: tuple) -> tuple[re.Pattern, dict[str, tuple[str, str]]]:
    lookup = {form: (kind, key) for form, kind, key in vocabulary}
    return re.compile("|".join(re.escape(f) for f, _, _ in vocabulary)), lookup


def tokenize_header(text: str, vocabulary) -> list[tuple[str, str]]:
    """Greedy longest-match of header words; text between them becomes ('junk', text)."""
    rx, lookup = _vocabulary_regex(tuple(vocabulary))
    out: list[tuple[str, str]] = []
    k = 0
    for m in rx.finditer(text):
        if m.start() > k:
            out.append(("junk", text[k : m.start()]))
        out.append(lookup[m.group(0)])
        k = m.end()
    if k < len(text):
        out.append(("junk", text[k:]))
    return out


def header_words(cells: list[str], vocabulary) -> list[tuple[str, str]]:
    """Header words of a list of printed header texts (cells or running text), in order."""
    out: list[tuple[str, str]] = []
    for text in cells:
        form = match_form(_ANCHOR_NOTE.sub("", text))
        form = _ANCHOR_NOTE.sub("", form)
        if form:
            out.extend(tokenize_header(form, vocabulary))
    return out


def t3_columns(texts: list[str]) -> ColumnMap:
    """Table 三 column order from its printed header texts (``how='unknown'`` when unreadable)."""
    words = header_words(texts, _t3_vocabulary())
    junk = [v for k, v in words if k == "junk" and re.search(r"[\u4e00-\u9fff\w]", v)]
    leaves = [v for k, v in words if k in ("leaf", "subtotal")]
    if not words:
        return ColumnMap((), "unknown", note="no column header printed")
    if junk or sorted(v for v in leaves if v in APPLICANT_COLUMNS) != sorted(APPLICANT_COLUMNS) or leaves.count("legal_persons") > 1:
        shown = "".join(texts)[:80]
        return ColumnMap((), "unknown", note=f"column header not readable: '{shown}'")
    top: list[tuple[str, str]] = []
    org: list[str] = []
    rest: list[str] = []
    for kind, key in words:
        if kind == "junk" or (kind == "group" and key == "applicants"):
            continue
        is_org = kind == "subtotal" or key in ORG_COLUMNS
        if is_org and not rest:
            org.append(key if kind == "leaf" else "subtotal")
        elif org:
            rest.append(key if kind == "leaf" else kind)
        else:
            top.append((kind, key))
    order: list[str] = []
    placed = False
    for kind, key in top:
        if kind == "group":
            order.extend(org)
            placed = True
        else:
            order.append(key)
    if not placed:
        order.extend(org)
    order.extend(k for k in rest if k != "group")
    if len(order) != len(set(order)) or set(order) - {"subtotal"} != set(APPLICANT_COLUMNS):
        return ColumnMap((), "unknown", note=f"column header not readable: '{''.join(texts)[:80]}'")
    sub = order.index("subtotal") if "subtotal" in order else None
    keys = tuple(k for k in order if k != "subtotal")
    return ColumnMap(keys, "header", subtotal=sub)


def t4_columns(text: str) -> ColumnMap:
    """Table 四 column order from its printed header text (``how='unknown'`` when unreadable)."""
    words = header_words([text], _t4_vocabulary())
    junk = [v for k, v in words if k == "junk" and re.search(r"[\u4e00-\u9fff]", v) and v not in ("单位", "件", "单位:件")]
    blocks = [v for k, v in words if k == "block" and v in T4_BLOCKS]
    outcomes = [v for k, v in words if k == "outcome"]
    if junk or sorted(blocks) != sorted(T4_BLOCKS) or len(outcomes) != 15:
        return ColumnMap((), "unknown", note=f"header not readable: '{text[:80]}'")
    groups = [outcomes[i : i + 5] for i in (0, 5, 10)]
    if any(sorted(g) != sorted(T4_OUTCOMES) for g in groups):
        return ColumnMap((), "unknown", note=f"header not readable: '{text[:80]}'")
    keys = tuple(f"{b}.{o}" for b, g in zip(blocks, groups) for o in g)
    return ColumnMap(keys, "header")
