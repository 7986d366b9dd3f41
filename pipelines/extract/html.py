"""HTML reports: table rows become grid lines (with grid column positions), other text free lines.

The page is parsed once with lxml; script/style and similar elements are dropped; every table
is read into grid lines and replaced by a marker; block elements (p, div, br, li, …) get line
breaks and their source line; the rest of the page becomes text in one C-level serialisation and
is split into free lines. Provenance: a free line keeps the HTML source line of the block it
starts in, a cell the source line of its ``td``.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from pipelines.extract.decode import line_numbers
from pipelines.extract.documents import FREE, GRID, Cell, Document, DocumentError, Line
from pipelines.extract.text import clean_line

_BLOCK = (
    "p", "div", "br", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "section", "article",
    "header", "footer", "blockquote", "pre", "dd", "dt", "tr", "title", "center", "hr",
)
MAX_DEPTH = 2048  # libxml2's nesting limit with huge_tree (256 without)
_SKIP = ("script", "style", "noscript", "head", "iframe", "select", "option", "button", "svg")
# private-use characters mark block starts (with their source line) and tables in the serialised text
_MARK = re.compile("\ue001(\\d+)\ue002")
_TABLE = re.compile("\ue000(\\d+)\ue000")
# characters XML (and so lxml) refuses: a control byte in a page is damage, not a reason to reject it
_NOT_XML = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def read_html(path: Path, text: str) -> Document:
    """Parse an HTML page into lines; metadata comes from <title> and <meta> tags.

    Control characters are replaced by U+FFFD (an unreadable region: numbers touching them are
    not read) and their lines listed in ``damaged_lines``; a page nested deeper than the
    parser's limit is rejected naming the depth (what lies deeper would be lost silently).
    """
    if "\x0b" in text or "\x0c" in text:  # vertical tab, form feed: white space to a browser
        text = text.replace("\x0b", " ").replace("\x0c", " ")
    damaged = line_numbers(text, _NOT_XML)
    if damaged:
        text = _NOT_XML.sub("\ufffd", text)
    # lxml's plain HTML parser: lxml.html's would call a Python class lookup for every element touched
    parser = etree.HTMLParser(encoding="utf-8", huge_tree=True)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser=parser)
        if root is None:
            raise etree.ParserError("Document is empty")
    except (etree.ParserError, ValueError) as exc:
        raise DocumentError("unreadable", f"HTML cannot be parsed: {exc}") from exc
    deep = next((e for e in parser.error_log if "Excessive depth" in e.message), None)
    if deep is not None:
        raise DocumentError("too_deep", f"HTML elements nested more than {MAX_DEPTH:,} deep (the parser's limit, "
                            f"reached at source line {deep.line}): what lies deeper cannot be read")
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
    etree.strip_elements(body, *_SKIP, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    tables: list[list[Line]] = []
    counter = [0]
    for table in [t for t in body.iter("table") if _nearest_table(t.getparent()) is None]:
        grid: list[Line] = []
        _read_table(table, counter, grid)
        tail = table.tail
        table.clear()
        table.text = f"\n\ue000{len(tables)}\ue000\n"
        table.tail = tail
        tables.append(grid)
    for el in body.iter(*_BLOCK):
        text = el.text
        # every block marks its source line, even an empty one (a <tr> swallowed by an unclosed tag: its cells'
        # text follows on that line)
        el.text = f"\n\ue001{el.sourceline or 0}\ue002{text if text and not text.isspace() else ''}"
        el.tail = "\n" + (el.tail or "")
    lines: list[Line] = []
    source = body.sourceline or 0
    for piece in etree.tostring(body, method="text", encoding="unicode").split("\n"):
        if not piece or piece.isspace():
            continue
        first = None
        if "\ue001" in piece:
            marks = _MARK.findall(piece)
            first, source = int(marks[0]), int(marks[-1])
            piece = _MARK.sub("", piece)
        if "\ue000" in piece:
            lines.extend(tables[int(_TABLE.search(piece).group(1))])
            continue
        joined = clean_line(piece)
        if joined:
            lines.append(Line([Cell(joined, line=first or source, col_index=0)], FREE, "html"))
    if not lines:
        raise DocumentError("empty", "the HTML page has no text")
    full_text = "\n".join(ln.text for ln in lines)
    return Document(path=path, file_type="html", lines=lines, text=full_text, meta=meta, damaged_lines=damaged)


def _cell_text(td) -> str:
    # the text of the cell and everything inside it (= "".join(td.itertext())), serialised by lxml in C
    return clean_line(etree.tostring(td, method="text", encoding="unicode", with_tail=False))


def _read_table(table, counter: list[int], lines: list[Line]) -> None:
    """One grid line per <tr>; col_index is the cell's first column in the expanded grid.

    Tables nested inside a cell are read afterwards as tables of their own.
    """
    t_index = counter[0]
    counter[0] += 1
    occupied: set[tuple[int, int]] = set()
    rows = table.xpath("./tr|./thead/tr|./tbody/tr|./tfoot/tr")
    for r, tr in enumerate(rows):
        c = 0
        cells = []
        for td in tr:
            if not isinstance(td.tag, str) or td.tag not in ("td", "th"):
                continue
            while (r, c) in occupied:
                c += 1
            colspan = _span(td.get("colspan"))
            rowspan = _span(td.get("rowspan"))
            if colspan > 1 or rowspan > 1:
                for dr in range(rowspan):
                    for dc in range(colspan):
                        occupied.add((r + dr, c + dc))
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
    if value is None:
        return 1
    try:
        return max(1, min(int(str(value).strip() or 1), 1000))
    except ValueError:
        return 1
