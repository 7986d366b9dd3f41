"""DOCX reports: paragraphs and tables in body order.

python-docx's ``row.cells`` repeats a merged cell in every grid column it spans (and vertically
merged cells in every row), so cells are read from the table XML instead: each ``w:tc`` once,
horizontal spans (``gridSpan``) kept as one cell, vertical-merge continuations (``vMerge``
without ``restart``) skipped — the same shape HTML gives with colspan/rowspan.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.extract.documents import FREE, GRID, Cell, Document, DocumentError, Line
from pipelines.extract.text import clean_line

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _text(el) -> str:
    paras = []
    for p in el.iter(f"{W}p"):
        paras.append("".join(t.text or "" for t in p.iter(f"{W}t")))
    return "\n".join(paras).strip()


def _span(tc) -> int:
    pr = tc.find(f"{W}tcPr")
    span = pr.find(f"{W}gridSpan") if pr is not None else None
    try:
        return int(span.get(f"{W}val")) if span is not None else 1
    except (TypeError, ValueError):
        return 1


def _continues_vertical_merge(tc) -> bool:
    pr = tc.find(f"{W}tcPr")
    vm = pr.find(f"{W}vMerge") if pr is not None else None
    return vm is not None and vm.get(f"{W}val") != "restart"


def read_docx(path: Path) -> Document:
    """Read a .docx file into lines (paragraphs as free lines, table rows as grid lines)."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise DocumentError("unreadable", f"not a readable .docx file: {exc}") from exc
    except MemoryError:
        raise  # over the worker's memory limit: the pool names the limit
    except Exception as exc:
        raise DocumentError("unreadable", f"not a readable .docx file: {type(exc).__name__}: {exc}") from exc
    lines: list[Line] = []
    table_index = 0
    para_no = 0
    for child in document.element.body.iterchildren():
        if child.tag == f"{W}p":
            para_no += 1
            text = clean_line(_text(child))
            if text:
                lines.append(Line([Cell(text, line=para_no)], FREE, "docx"))
        elif child.tag == f"{W}tbl":
            for r, tr in enumerate(child.iterchildren(f"{W}tr")):
                cells = []
                col = 0
                for tc in tr.iterchildren(f"{W}tc"):
                    span = _span(tc)
                    if not _continues_vertical_merge(tc):
                        cells.append(Cell(_text(tc), table_index=table_index, row_index=r, col_index=col))
                    col += span
                if cells:
                    lines.append(Line(cells, GRID, "docx"))
            table_index += 1
    if not lines:
        raise DocumentError("empty", "the .docx file has no text")
    props = document.core_properties
    meta = {"title": props.title} if props.title else {}
    return Document(path=Path(path), file_type="docx", lines=lines, text="\n".join(ln.text for ln in lines), meta=meta)
