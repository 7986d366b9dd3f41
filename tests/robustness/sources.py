"""Build the printed model of each truth document: its own labels and narrative, the truth's values.

``python tests/robustness/sources.py`` writes ``tests/robustness/sources/<stem>.json`` once; the
renderers (``render.py``) read only those files, so the suite does not depend on the extractor
it tests. What comes from where:

* values: the truth file (``raw`` as printed when it parses to the value, else the value; blank
  and '/' kept as printed);
* row labels: as the document prints them (read once with the extractor's ``label``; rows the
  document prints without a label — the PDF→markdown rows placed by order — fall back to the
  template's label);
* narrative: the document's own running text before its first table and after Table 四 (so the
  title, year, body and the figures the text states come with every rendering).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent.parent))

from conftest import TRUTH, document_for  # noqa: E402
from pipelines.extract import extract_document  # noqa: E402
from pipelines.extract.documents import FREE, read_document  # noqa: E402
from pipelines.extract.scan import VALUE_RUN, scan_document  # noqa: E402
from pipelines.extract.text import fold, squeeze_with_map  # noqa: E402
from pipelines.extract.values import format_number, parse_cell  # noqa: E402
from pipelines.registry import load_registry  # noqa: E402

SOURCES = HERE / "sources"


def truth_rows(stem: str) -> dict[str, dict]:
    import csv

    with (TRUTH / f"{stem}.csv").open(encoding="utf-8", newline="") as f:
        return {r["code"]: r for r in csv.DictReader(f)}


def printed_value(row: dict) -> str:
    """The cell as printed: the truth's raw when it is this cell alone, else the value."""
    raw, value = row["raw"].strip(), row["value"].strip()
    if not value:
        return raw if raw and parse_cell(raw).status == "na" else ""
    parsed = parse_cell(raw)
    digits = re.match(r"[\d,.]*", raw).group(0)
    glued = len(digits) > 1 and digits[0] == "0" and digits[1] != "."
    if parsed.status == "number" and parsed.value == float(value) and not glued:
        return raw
    return format_number(float(value))


def _cut(doc, pos) -> tuple[list[str], str]:
    """Free text before a (line, offset) position: whole lines before it and the line's head."""
    li, off = pos
    before = [ln.cells[0].text for ln in doc.lines[:li] if ln.mode == FREE]
    line = doc.lines[li]
    head = ""
    if line.mode == FREE:
        folded = fold(line.cells[0].text)
        _, index = squeeze_with_map(folded)
        head = folded[: index[off]] if off < len(index) else folded
    return before, head


def narrative(doc, scan, era: str) -> tuple[list[str], list[str]]:
    """(preamble, epilogue) lines of the document's running text around its tables."""
    if era == "old2014":
        first = min((r.pos for r in scan.rows if r.match is not None), default=(len(doc.lines), 0))
        return [ln.cells[0].text for ln in doc.lines[: first[0]] if ln.mode == FREE], []
    a = scan.anchors
    start = min(p for p in (a.t2, a.t3) if p is not None)
    before, head = _cut(doc, start)
    pre = before + ([head] if head.strip() else [])
    post: list[str] = []
    if a.t4 is not None:
        li, off = a.t4
        line = doc.lines[li]
        if line.mode == FREE:
            folded = fold(line.cells[0].text)
            tail = folded[VALUE_RUN.match(folded, off).end():]
            if tail.strip():
                post.append(tail)
        post += [ln.cells[0].text for ln in doc.lines[li + 1 :] if ln.mode == FREE]
    return pre, post


def build(stem: str) -> dict:
    """The printed model of one truth document."""
    reg = load_registry()
    path = document_for(stem)
    ext = extract_document(path)
    doc = read_document(path)
    scan = scan_document(doc, ext.era)
    truth = truth_rows(stem)
    labels = {}
    for c in ext.cells:
        key = c.code if c.table_id == "old" else c.code.rsplit(".", 1)[0]
        if c.label and key not in labels:
            labels[key] = re.sub(r"\s*\n\s*", "", c.label)  # a label wrapped inside its cell, on one line
    pre, post = narrative(doc, scan, ext.era)
    out = {"stem": stem, "era": ext.era, "year": ext.report_year, "file_type": ext.file_type,
           "title": ext.title, "preamble": pre, "epilogue": post, "t2": [], "t3": [], "t4": [], "old": []}
    for row in reg.template(ext.era):
        codes = [c for c in row.codes if c in truth]
        if row.is_subtotal or not codes:
            continue
        label = labels.get(row.key) or (row.labels[0] if row.labels else "")
        values = [printed_value(truth[c]) for c in row.codes if c in truth]
        if row.table_id == "t2":
            block = row.section
            if not out["t2"] or out["t2"][-1]["block"] != block:
                out["t2"].append({"block": block, "columns": list(row.column_labels), "rows": []})
            out["t2"][-1]["rows"].append({"key": row.key, "label": label, "values": values})
        elif row.table_id == "t3":
            out["t3"].append({"key": row.key, "label": label, "values": values})
        elif row.table_id == "t4":
            out["t4"] = values
        else:
            out["old"].append({"key": row.key, "label": label, "unit": reg.by_code[row.codes[0]].unit, "value": values[0]})
    return out


def main() -> None:
    SOURCES.mkdir(exist_ok=True)
    for path in sorted(TRUTH.glob("*.csv")):
        src = build(path.stem)
        (SOURCES / f"{path.stem}.json").write_text(json.dumps(src, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(path.stem, len(src["t2"]), len(src["t3"]), len(src["t4"]), len(src["old"]))


if __name__ == "__main__":
    main()
