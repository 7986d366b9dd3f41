"""Re-render every truth document into the shapes real reports come in, with the same values.

Each renderer takes a document's printed model (``sources/<stem>.json``: its own row labels and
running text, the truth's values) and returns a file in one shape. The shapes are the families
of issue 8 and the real corpus:

=====================  ===========================================================================
shape                  what it imitates
=====================  ===========================================================================
flat_fullwidth         page text flattened to one line (the 平潭 .txt), digits glued, full-width ０-９
furniture_txt          tab-separated text with page headers/footers inside the tables (第 3 页 共 8 页,
                       - 3 -, the running title)
furniture_md           markdown tables broken by page furniture
ocr_text               OCR'd text: misprinted labels (予以公幵), a misprinted body name, applicant
                       columns headed 数据1..数据6, a wrong header row repeated over the last rows
pdf_markdown           PDF→markdown: value rows that lost their labels (labels printed elsewhere),
                       an annotated value (22（其中修订16件）) detached onto its own line
pdftotext              each label on one line and its values on the next
cells_per_line         scraped HTML flattened to one cell per line with lone | / |||| separators
pipe_rows              one row per line, cells separated by |, an extra empty column (孝感 2019)
t3_reordered_html      Table 三 with its applicant columns in another order (总计 first; 商业企业 and
t3_reordered_md        科研机构 swapped), as HTML, markdown and spaced text
t3_reordered_text
grid_ocr_labels        an HTML grid whose row labels carry OCR-like errors
traditional            a mirror site's traditional-character copy (OpenCC s2twp, Taiwan phrases)
local_variants         rows with long definitions appended, extra non-standard rows (行政检查/行政确认);
                       2019-format reports also printed as a 2021+ report with cut header cells (本年新)
t4_vertical_header     Table 四's header printed one character per token (flip-book text, 审计局 2020)
=====================  ===========================================================================

``write_all(folder)`` writes every rendering of every truth document and returns the paths.
"""

from __future__ import annotations

import html
import json
import random
from pathlib import Path

SOURCES = Path(__file__).resolve().parent / "sources"
ANCHOR_NOTE = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
T3_TITLE = "三、收到和处理政府信息公开申请情况"
T4_TITLE = "四、政府信息公开行政复议、行政诉讼情况"
T4_OUTCOMES = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]
ORG = ["商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]
T3_LEAVES = ["自然人", *ORG, "总计"]
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
# OCR-like misreadings of characters in labels: look-alikes first, then plain substitutions
OCR_CONFUSIONS = {"开": "幵", "未": "末", "已": "己", "人": "入", "公": "么", "申": "甲", "复": "夏", "密": "蜜",
                  "务": "各", "请": "清", "理": "埋", "1": "l"}
SECTION_OF = {  # Table 三 sub-rows are printed under these section cells
    "t3.results.denied": "（三）不予公开", "t3.results.unable": "（四）无法提供",
    "t3.results.not_processed": "（五）不予处理", "t3.results.other.": "（六）其他处理",
}
DEFINITIONS = {
    "t2.licensing": "（指行政机关根据公民、法人或者其他组织的申请，经依法审查，准予其从事特定活动的行为）",
    "t2.penalty": "：指行政机关依法对违反行政管理秩序的公民、法人或者其他组织，以减损权益或者增加义务的方式予以惩戒的行为",
}
EXTRA_ROWS = [("行政检查", "12"), ("行政确认", "7")]


def load(stem: str) -> dict:
    """The printed model of one truth document."""
    return json.loads((SOURCES / f"{stem}.json").read_text(encoding="utf-8"))


def stems() -> list[str]:
    """Every truth document with a printed model."""
    return sorted(p.stem for p in SOURCES.glob("*.json"))


# ----------------------------------------------------------------------------------------------
# the tables as rows of printed cells (shared by every shape)


def t3_order(reordered: bool) -> list[int]:
    """Positions of the applicant columns to print: template order, or 总计 first with 商业企业/科研机构 swapped."""
    return [6, 0, 2, 1, 3, 4, 5] if reordered else list(range(7))


def t3_header_leaves(reordered: bool) -> list[str]:
    return [T3_LEAVES[k] for k in t3_order(reordered)]


def table_rows(src: dict, *, reordered: bool = False, labels=None, definitions: bool = False, extra: bool = False,
               cut_headers: bool = False) -> list[tuple[str, list[str]]]:
    """(kind, cells) rows of every table in printed order; kinds: text, header, row, t4."""
    labels = labels or (lambda key, label: label)
    out: list[tuple[str, list[str]]] = []
    if src["era"] == "old2014":
        out.append(("header", ["统计指标", "单位", "统计数"]))
        for r in src["old"]:
            out.append(("row", [labels(r["key"], r["label"]), r["unit"], r["value"]]))
        return out
    for block in src["t2"]:
        out.append(("text", [block["block"]]))
        cols = list(block["columns"])
        if cut_headers:
            cols = [c[:3] if c.startswith("本年新") else c for c in cols]
        out.append(("header", ["信息内容", *cols]))
        for r in block["rows"]:
            label = labels(r["key"], r["label"])
            if definitions and r["key"] in DEFINITIONS:
                label += DEFINITIONS[r["key"]]
            out.append(("row", [label, *r["values"]]))
        if extra and block["block"].endswith("（六）项"):
            for name, value in EXTRA_ROWS:
                out.append(("row", [name, *([value] * len(block["columns"]))]))
    out.append(("text", [T3_TITLE]))
    out.append(("header", [ANCHOR_NOTE, "申请人情况"]))
    leaves = t3_header_leaves(reordered)
    out.append(("header", ["总计", "自然人", "法人或其他组织"] if reordered else ["自然人", "法人或其他组织", "总计"]))
    out.append(("header", [x for x in leaves if x in ORG]))
    order = t3_order(reordered)
    sections_done = set()
    for r in src["t3"]:
        key = r["key"]
        if key.startswith("t3.results.") and "results" not in sections_done:
            out.append(("text", ["三、本年度办理结果"]))
            sections_done.add("results")
        for prefix, section in SECTION_OF.items():
            if key.startswith(prefix) and prefix not in sections_done and key.count(".") >= 3:
                out.append(("text", [section]))
                sections_done.add(prefix)
        values = r["values"]
        out.append(("row", [labels(key, r["label"]), *[values[k] for k in order]] if len(values) == 7 else
                    [labels(key, r["label"]), *values]))
    out.append(("text", [T4_TITLE]))
    out.append(("header", ["行政复议", "行政诉讼"]))
    out.append(("header", [*T4_OUTCOMES, "未经复议直接起诉", "复议后起诉"]))
    out.append(("header", [*T4_OUTCOMES, *T4_OUTCOMES]))
    out.append(("t4", list(src["t4"])))
    return out


def _title_first(src: dict) -> list[str]:
    pre = [p for p in src["preamble"] if p.strip()]
    return pre if pre else [src.get("title") or ""]


# ----------------------------------------------------------------------------------------------
# shapes


def flat_fullwidth(src: dict) -> tuple[str, str]:
    """One line: narrative, then every table with labels and digits glued; digits full-width."""
    parts = ["".join(p.strip() for p in _title_first(src))]
    for kind, cells in table_rows(src):
        parts.append("".join(cells))
    parts.append("".join(p.strip() for p in src["epilogue"]))
    return ".txt", (src.get("title") or "") + "\n" + "".join(parts).translate(FULLWIDTH) + "\n"


def _tabbed(src: dict, rows) -> list[str]:
    return ["\t".join(cells) if kind in ("row", "header", "t4") and len(cells) > 1 else cells[0] if kind == "text" else "\t".join(cells)
            for kind, cells in rows]


def furniture_txt(src: dict) -> tuple[str, str]:
    """Tab-separated tables with page headers, footers and numbers every few lines."""
    lines = _title_first(src) + _interleave_furniture(_tabbed(src, table_rows(src)), src) + src["epilogue"]
    return ".txt", "\n".join(lines) + "\n"


def _interleave_furniture(lines: list[str], src: dict, every: int = 9) -> list[str]:
    out = []
    title = src.get("title") or "政府信息公开工作年度报告"
    pages = len(lines) // every + 3
    for k, line in enumerate(lines):
        if k and k % every == 0:
            page = k // every + 1
            out += [f"- {page} -", f"第 {page} 页 共 {pages} 页", title]
        out.append(line)
    return out


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _md_tables(rows, width_sep: bool = True) -> list[str]:
    out = []
    in_table = False
    for kind, cells in rows:
        if kind == "text":
            out.append(cells[0])
            in_table = False
            continue
        out.append(_md_row(cells))
        if not in_table and width_sep:
            out.append(_md_row(["---"] * len(cells)))
        in_table = True
    return out


def furniture_md(src: dict) -> tuple[str, str]:
    """Markdown tables broken by page furniture lines."""
    lines = _interleave_furniture(_md_tables(table_rows(src)), src, every=7)
    return ".md", "\n".join(_title_first(src) + [""] + lines + [""] + src["epilogue"]) + "\n"


def _ocr_label(text: str, rng: random.Random) -> str:
    chars = [c for c in text if c in OCR_CONFUSIONS]
    if not chars:
        return text
    target = rng.choice(chars)
    return text.replace(target, OCR_CONFUSIONS[target], 1)


def ocr_text(src: dict) -> tuple[str, str]:
    """Space-separated OCR'd lines: misprinted labels and body, unreadable applicant headers, a wrong repeated header."""
    rng = random.Random(src["stem"])
    pre = list(_title_first(src))
    pre[0] = pre[0].replace("人民", "入民", 1) if "人民" in pre[0] else pre[0].replace("区", "匹", 1)
    rows = table_rows(src, labels=lambda key, label: _ocr_label(label, rng) if rng.random() < 0.5 else label)
    lines = []
    t3_rows = [k for k, (kind, cells) in enumerate(rows) if kind == "row" and len(cells) == 8]
    wrong_at = t3_rows[-4] if len(t3_rows) > 4 else None
    for k, (kind, cells) in enumerate(rows):
        if k == wrong_at:
            lines.append("信息内容 本年制发件数 本年废止件数 现行有效件数")  # a header row of another table, repeated
        if kind == "header" and "商业企业" in cells:
            lines.append("数据1 数据2 数据3 数据4 数据5 数据6")
        elif kind == "header" and ("自然人" in cells or "申请人情况" in cells):
            lines.append(" ".join(c for c in cells if c not in ("自然人", "总计", "法人或其他组织")))
        else:
            lines.append(" ".join(c if c else "" for c in cells))
    return ".txt", "\n".join(pre + lines + src["epilogue"]) + "\n"


def pdf_markdown(src: dict) -> tuple[str, str]:
    """PDF→markdown: some value rows lose their labels (printed after the row), an annotated value detached."""
    rows = table_rows(src)
    out = []
    detached_done = False
    data_rows = 0
    for kind, cells in rows:
        if kind == "text":
            out.append(cells[0])
            continue
        if kind != "row":
            out.append(_md_row(cells))
            continue
        data_rows += 1
        label, values = cells[0], cells[1:]
        if not detached_done and len(values) == 3 and values[0] not in ("", "0") and all(values[1:]):
            note = f"{values[0]}（其中修订{max(1, int(float(values[0])) // 2)}件）" if values[0].isdigit() else values[0]
            out.append(_md_row([label, "", *values[1:]]))
            out.append(note)
            detached_done = True
            continue
        if len(values) == 7 and data_rows % 4 == 0:
            out.append(_md_row(values))
            out.append(label[:9])  # the label's first line, printed away from its row
            continue
        out.append(_md_row(cells))
    return ".md", "\n".join(_title_first(src) + [""] + out + [""] + src["epilogue"]) + "\n"


def pdftotext(src: dict) -> tuple[str, str]:
    """Each label on its own line, its values on the next line."""
    out = []
    for kind, cells in table_rows(src):
        if kind == "row":
            out.append(cells[0])
            out.append(" ".join(v for v in cells[1:] if v))
        else:
            out.append(" ".join(cells))
    return ".txt", "\n".join(_title_first(src) + out + src["epilogue"]) + "\n"


def cells_per_line(src: dict) -> tuple[str, str]:
    """One cell per line ending in ' |', rows separated by lone '|' lines, header rows by '||||'."""
    out = []
    for kind, cells in table_rows(src):
        if kind == "text":
            out.append(cells[0])
            continue
        out.append("|")
        out.extend(f"{c} |" if c else "|" for c in cells)
        if kind == "header":
            out.append("||||")
    return ".txt", "\n".join(_title_first(src) + out + src["epilogue"]) + "\n"


def pipe_rows(src: dict) -> tuple[str, str]:
    """One row per line, cells separated by ' | ', with an extra empty column at the end."""
    out = []
    for kind, cells in table_rows(src):
        out.append(cells[0] if kind == "text" else " | ".join(cells) + " | |")
    return ".txt", "\n".join(_title_first(src) + out + src["epilogue"]) + "\n"


def _html(src: dict, rows, label_fn=None) -> str:
    body = [f"<p>{html.escape(p)}</p>" for p in _title_first(src)]
    table: list[str] = []

    def close():
        if table:
            body.append("<table border='1'>" + "".join(table) + "</table>")
            table.clear()

    for kind, cells in rows:
        if kind == "text":
            close()
            body.append(f"<p>{html.escape(cells[0])}</p>")
        else:
            table.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    close()
    body += [f"<p>{html.escape(p)}</p>" for p in src["epilogue"]]
    title = html.escape(src.get("title") or "")
    return f"<html><head><meta charset='utf-8'><title>{title}</title></head><body>{''.join(body)}</body></html>"


def t3_reordered_html(src: dict) -> tuple[str, str]:
    """Table 三 printed with 总计 first and 商业企业/科研机构 swapped (HTML)."""
    return ".html", _html(src, table_rows(src, reordered=True))


def t3_reordered_md(src: dict) -> tuple[str, str]:
    """Table 三 printed with 总计 first and 商业企业/科研机构 swapped (markdown)."""
    return ".md", "\n".join(_title_first(src) + [""] + _md_tables(table_rows(src, reordered=True)) + [""] + src["epilogue"]) + "\n"


def t3_reordered_text(src: dict) -> tuple[str, str]:
    """Table 三 printed with 总计 first and 商业企业/科研机构 swapped (space-separated text)."""
    out = [" ".join(c or "-" for c in cells) if kind != "text" else cells[0] for kind, cells in table_rows(src, reordered=True)]
    return ".txt", "\n".join(_title_first(src) + out + src["epilogue"]) + "\n"


def grid_ocr_labels(src: dict) -> tuple[str, str]:
    """An HTML grid whose row labels carry OCR-like errors (one character each, on most rows)."""
    rng = random.Random("grid" + src["stem"])
    return ".html", _html(src, table_rows(src, labels=lambda key, label: _ocr_label(label, rng) if rng.random() < 0.7 else label))


def traditional(src: dict) -> tuple[str, str]:
    """A mirror site's copy: the tab-separated text converted to traditional characters with Taiwan phrases."""
    import opencc

    _, text = furniture_txt(src)
    return ".txt", opencc.OpenCC("s2twp").convert(text)


def local_variants(src: dict) -> tuple[str, str]:
    """Definitions appended to labels, extra local rows; a 2019-format report printed as a 2021+ report with cut headers."""
    rows = table_rows(src, definitions=True, extra=True, cut_headers=src["era"] == "v2019")
    text = _html(src, rows)
    if src["era"] == "v2019" and src.get("year"):
        text = text.replace(f"{src['year']}年", "2021年")
    return ".html", text


def t4_vertical_header(src: dict) -> tuple[str, str]:
    """Table 四's header printed one character per token (vertical header text of a flip-book page)."""
    out = []
    for kind, cells in table_rows(src):
        if kind == "header" and cells[:1] == ["结果维持"]:
            words = [w for w in cells if w in T4_OUTCOMES]
            for k in range(4):
                out.append(" ".join(w[k] if k < len(w) else "" for w in words))
        elif kind == "text":
            out.append(cells[0])
        else:
            out.append("\t".join(cells))
    return ".txt", "\n".join(_title_first(src) + out + src["epilogue"]) + "\n"


SHAPES = {
    "flat_fullwidth": flat_fullwidth,
    "furniture_txt": furniture_txt,
    "furniture_md": furniture_md,
    "ocr_text": ocr_text,
    "pdf_markdown": pdf_markdown,
    "pdftotext": pdftotext,
    "cells_per_line": cells_per_line,
    "pipe_rows": pipe_rows,
    "t3_reordered_html": t3_reordered_html,
    "t3_reordered_md": t3_reordered_md,
    "t3_reordered_text": t3_reordered_text,
    "grid_ocr_labels": grid_ocr_labels,
    "traditional": traditional,
    "local_variants": local_variants,
    "t4_vertical_header": t4_vertical_header,
}
NEW_ERA_ONLY = {"t3_reordered_html", "t3_reordered_md", "t3_reordered_text", "t4_vertical_header", "local_variants"}


def renderings() -> list[tuple[str, str]]:
    """Every (stem, shape) pair of the suite."""
    out = []
    for stem in stems():
        era = load(stem)["era"]
        out += [(stem, shape) for shape in SHAPES if not (era == "old2014" and shape in NEW_ERA_ONLY)]
    return out


def render(stem: str, shape: str, folder: Path) -> Path:
    """Write one rendering and return its path."""
    suffix, text = SHAPES[shape](load(stem))
    path = folder / f"{stem}.{shape}{suffix}"
    path.write_text(text, encoding="utf-8")
    return path


def write_all(folder: Path) -> list[Path]:
    """Write every rendering of every truth document into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return [render(stem, shape, folder) for stem, shape in renderings()]
