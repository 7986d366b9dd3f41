"""PDF reports (text layer): ruled tables via pdfplumber, the rest as text lines, in page order.

Ruled tables become grid lines (cells keep their page, bounding box, table/row/column); text
outside those tables becomes free lines, so tables drawn without rules are still read by the
text matcher. Tables that continue on the next page need nothing special: rows are matched
in reading order across pages. Merged cells (pdfplumber ``None``) are dropped, like HTML
spans. Encrypted, image-only and broken files raise ``DocumentError`` with the reason.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipelines.extract.documents import FREE, GRID, Cell, Document, DocumentError, Line
from pipelines.extract.text import clean_line, fix_glyphs

logging.getLogger("pdfminer").setLevel(logging.ERROR)

TABLE_SETTINGS = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}
MIN_CHARS_PER_DOC = 20


def _columns(table) -> int:
    """Most cells in one row of a pdfplumber table (merged cells count once)."""
    return max((sum(1 for c in row.cells if c is not None) for row in table.rows), default=0)


def read_pdf(path: Path, ruled_tables: bool = True) -> Document:
    """Read a PDF's tables and text lines, page by page (``ruled_tables=False``: text lines only)."""
    import pdfplumber
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfplumber.utils.exceptions import PdfminerException

    head = Path(path).read_bytes()[:1024]
    if b"%PDF" not in head:
        raise DocumentError("unreadable", "not a PDF file (no %PDF header)")
    try:
        pdf = pdfplumber.open(path)
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise DocumentError("encrypted", f"encrypted PDF: a password is needed to read it ({type(exc).__name__})") from exc
    except (PDFSyntaxError, PdfminerException) as exc:
        cause = exc.args[0] if exc.args else exc
        if isinstance(cause, (PDFPasswordIncorrect, PDFEncryptionError)):
            raise DocumentError("encrypted", "encrypted PDF: a password is needed to read it") from exc
        raise DocumentError("unreadable", f"broken or truncated PDF: {cause}") from exc
    except Exception as exc:
        raise DocumentError("unreadable", f"broken or truncated PDF: {type(exc).__name__}: {exc}") from exc
    lines: list[Line] = []
    texts: list[str] = []
    n_chars = 0
    table_index = 0
    try:
        with pdf:
            meta = {k: str(v) for k, v in (pdf.metadata or {}).items() if isinstance(v, (str, int, float))}
            pages = len(pdf.pages)
            for pno, page in enumerate(pdf.pages, start=1):
                try:
                    n_chars += len(page.chars)
                    items = []
                    found = page.find_tables(TABLE_SETTINGS) if ruled_tables else []
                    # a framed block of running text is detected as a one-column table: read it as text
                    tables = [t for t in found if _columns(t) > 1]
                    boxes = [t.bbox for t in tables]
                    for t in tables:
                        rows = t.extract()
                        for r, (row, row_obj) in enumerate(zip(rows, t.rows)):
                            cells = []
                            for c, (text, box) in enumerate(zip(row, row_obj.cells)):
                                if text is None or box is None:
                                    continue
                                cells.append(Cell(fix_glyphs(text).strip(), page=pno, table_index=table_index, row_index=r, col_index=c, bbox=box))
                            if cells:
                                items.append((row_obj.bbox[1], 0, Line(cells, GRID, "pdf_table")))
                        table_index += 1

                    def outside(obj, boxes=boxes):
                        x = (obj["x0"] + obj["x1"]) / 2
                        y = (obj["top"] + obj["bottom"]) / 2
                        return not any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes)

                    rest = page.filter(outside) if boxes else page
                    for k, tl in enumerate(rest.extract_text_lines(return_chars=False)):
                        text = clean_line(fix_glyphs(tl["text"]))
                        if not text:
                            continue
                        bbox = (tl["x0"], tl["top"], tl["x1"], tl["bottom"])
                        items.append((tl["top"], 1, Line([Cell(text, page=pno, line=k + 1, bbox=bbox)], FREE, "pdf_text")))
                    items.sort(key=lambda it: (it[0], it[1]))
                    for _, _, line in items:
                        lines.append(line)
                        texts.append(line.text)
                except Exception as exc:  # one bad page must not lose the others
                    lines.append(Line([Cell(f"[page {pno} unreadable: {exc}]", page=pno)], FREE, "pdf_text"))
    except Exception as exc:
        raise DocumentError("unreadable", f"broken or truncated PDF: {type(exc).__name__}: {exc}") from exc
    if n_chars < MIN_CHARS_PER_DOC:
        raise DocumentError("no_text_layer", f"no text layer ({pages} page(s) of images, e.g. a scan): OCR is needed")
    return Document(path=Path(path), file_type="pdf", lines=lines, text="\n".join(texts), meta=meta, pages=pages)
