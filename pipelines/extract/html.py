"""HTML reports: table rows become grid lines (with grid column positions), other text free lines."""

from __future__ import annotations

from pathlib import Path

import lxml.html
from lxml import etree

from pipelines.extract.documents import FREE, GRID, Cell, Document, DocumentError, Line
from pipelines.extract.text import clean_line

_BLOCK = {
    "p", "div", "br", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "section", "article",
    "header", "footer", "blockquote", "pre", "dd", "dt", "tr", "title", "center", "hr",
}
_SKIP = {"script", "style", "noscript", "head", "iframe", "select", "option", "button", "svg"}


def read_html(path: Path, text: str) -> Document:
    """Parse an HTML page into lines; metadata comes from <title> and <meta> tags."""
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (etree.ParserError, ValueError) as exc:
        raise DocumentError("unreadable", f"HTML cannot be parsed: {exc}") from exc
    meta: dict = {}
    title = root.findtext(".//title")
    if title:
        meta["html_title"] = clean_line(title)
    for m in root.iter("meta"):
        name = (m.get("name") or "").strip()
        if name and m.get("content"):
            meta[name] = m.get("content").strip()
    body = root.find("body")
    if body is None:
        body = root
    lines: list[Line] = []
    buf: list[str] = []
    buf_line = [None]
    table_counter = [0]

    def flush() -> None:
        joined = clean_line("".join(buf))
        if joined:
            lines.append(Line([Cell(joined, line=buf_line[0], col_index=0)], FREE, "html"))
        buf.clear()
        buf_line[0] = None

    def add_text(s: str | None, el) -> None:
        if s:
            if buf_line[0] is None and s.strip():
                buf_line[0] = el.sourceline
            buf.append(s)

    def walk(el) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in _SKIP:
            return
        if tag == "table":
            flush()
            _read_table(el, table_counter, lines)
            return
        if tag in _BLOCK:
            flush()
        add_text(el.text, el)
        for child in el:
            walk(child)
            if tag == "br" or (isinstance(child.tag, str) and child.tag in _BLOCK):
                flush()
            add_text(child.tail, child)
        if tag in _BLOCK:
            flush()

    walk(body)
    flush()
    full_text = "\n".join(ln.text for ln in lines)
    if not lines:
        raise DocumentError("empty", "the HTML page has no text")
    return Document(path=path, file_type="html", lines=lines, text=full_text, meta=meta)


def _cell_text(td) -> str:
    return clean_line(td.text_content())


def _read_table(table, counter: list[int], lines: list[Line]) -> None:
    """One grid line per <tr>; col_index is the cell's first column in the expanded grid.

    Tables nested inside a cell are read afterwards as tables of their own.
    """
    t_index = counter[0]
    counter[0] += 1
    occupied: dict[tuple[int, int], bool] = {}
    rows = [tr for tr in table.iter("tr") if _nearest_table(tr) is table]
    for r, tr in enumerate(rows):
        c = 0
        cells = []
        for td in tr:
            if not isinstance(td.tag, str) or td.tag not in ("td", "th"):
                continue
            while occupied.get((r, c)):
                c += 1
            colspan = _span(td.get("colspan"))
            rowspan = _span(td.get("rowspan"))
            for dr in range(rowspan):
                for dc in range(colspan):
                    occupied[(r + dr, c + dc)] = True
            cells.append(Cell(_cell_text(td), line=td.sourceline, table_index=t_index, row_index=r, col_index=c))
            c += colspan
        if cells:
            lines.append(Line(cells, GRID, "html"))
    for nested in table.iter("table"):
        if nested is not table and _nearest_table(nested.getparent()) is table:
            _read_table(nested, counter, lines)


def _nearest_table(el):
    while el is not None and el.tag != "table":
        el = el.getparent()
    return el


def _span(value: str | None) -> int:
    try:
        return max(1, min(int(str(value).strip() or 1), 1000))
    except ValueError:
        return 1
