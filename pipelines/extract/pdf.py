"""PDF reports: text layer via pypdfium2, ruled tables from the drawn lines, OCR for scanned pages.

Every page is read with PDFium (a C library: no Python content-stream parsing). A page with a
text layer gives characters with boxes and its drawn horizontal/vertical segments; a page
without one (a scan, or a scanned page inside a text PDF) goes to OCR
(``pipelines.extract.ocr``), which gives recognised text runs and the ruling lines found in the
image. Both go through ``page_layout``: ruled tables become grid lines (cells keep page, bbox,
table/row/column), everything else text lines, so unruled tables are read by the text matcher.
Tables continuing on the next page need nothing special (rows are matched in reading order).

Guards before heavy work: the file must start like a PDF, the page count and every drawing
stream's decompressed size are checked from the raw bytes first (a hostile file hiding a huge
drawing in a small one is refused with the reason, in milliseconds), and a page with an absurd
number of drawn objects has its table search skipped with a note. Encrypted, broken and empty
files raise ``DocumentError`` with the reason.
"""

from __future__ import annotations

import ctypes
import os
import re
import zlib
from pathlib import Path

from pipelines.extract.documents import Document, DocumentError
from pipelines.extract.page_layout import Piece, edge, find_tables, page_lines

MAX_PAGES = int(os.environ.get("XXGK_PDF_MAX_PAGES", 500))
MAX_STREAM_BYTES = int(os.environ.get("XXGK_PDF_MAX_STREAM_MB", 16)) * 2**20
MAX_PAGE_OBJECTS = 50_000  # drawn objects on one page beyond which tables are not searched
MIN_PAGE_CHARS = 10  # printed characters below which a page that draws something (an image, outlined text) is OCR'd
MIN_DRAWN_OBJECTS = 50  # ... "something": an image, or this many paths (text converted to outlines)
QUICK_PAGES = 2


def _open(path: Path):
    """The PDFium document and the file's bytes, after the cheap guards; DocumentError with the reason otherwise."""
    import pypdfium2 as pdfium

    data = Path(path).read_bytes()
    if b"%PDF" not in data[:1024]:
        raise DocumentError("unreadable", "not a PDF file (no %PDF header)")
    big = oversized_stream(data, MAX_STREAM_BYTES)
    if big:
        raise DocumentError(
            "too_large",
            f"a drawing stream decompresses to more than {MAX_STREAM_BYTES // 2**20} MB ({big}); not read "
            "(a hostile or broken file; XXGK_PDF_MAX_STREAM_MB)",
        )
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower() or "security" in str(exc).lower():
            raise DocumentError("encrypted", "encrypted PDF: a password is needed to read it") from exc
        raise DocumentError("unreadable", f"broken or truncated PDF: {exc}") from exc
    pages = len(pdf)
    if not 0 < pages <= MAX_PAGES:
        pdf.close()
        if not pages:
            raise DocumentError("unreadable", "broken or truncated PDF: no pages")
        raise DocumentError(
            "too_large", f"{pages:,} pages: more than the {MAX_PAGES:,}-page limit for one report (XXGK_PDF_MAX_PAGES); not read"
        )
    return pdf, data


_STREAM = re.compile(rb"stream\r?\n")
_LENGTH = re.compile(rb"/Length\s+(\d+)\b(?!\s+\d+\s+R)")  # a direct length, not "12 0 R"
DEFLATE_MAX_RATIO = 1032  # zlib cannot inflate more than this many bytes per compressed byte
_NOT_DRAWING = re.compile(rb"/Subtype\s*/(?:Image|Type1C|CIDFontType0C|OpenType|XML)|/Length[123]\b|/Type\s*/(?:ObjStm|XRef|Metadata|EmbeddedFile)")
_FLATE = re.compile(rb"/FlateDecode|/Fl\b")


def oversized_stream(data: bytes, limit: int) -> str | None:
    """A description of the first Flate drawing stream (page or form content) inflating beyond ``limit``, else None.

    Read from the raw bytes without parsing the document: each stream's dictionary is the text
    between the preceding ``obj`` and ``stream``; images, fonts, object/xref streams are skipped,
    and so is a stream whose stated length cannot inflate beyond the limit (zlib's maximum ratio);
    inflation stops at the limit, so the check costs at most ``limit`` bytes of work per stream.
    """
    for m in _STREAM.finditer(data):
        if data[m.start() - 3 : m.start()] == b"end":
            continue
        window = data[max(0, m.start() - 600) : m.start()]
        k = window.rfind(b"obj")
        if k < 0 or not (m.start() >= 1 and data[m.start() - 1 : m.start()] in (b">", b"\n", b"\r", b" ")):
            continue
        head = window[k:]
        if _NOT_DRAWING.search(head) or not _FLATE.search(head):
            continue
        length = _LENGTH.search(head)
        if length and int(length.group(1)) * DEFLATE_MAX_RATIO <= limit:
            continue
        inflater = zlib.decompressobj()
        size = 0
        pos = m.end()
        try:
            while pos < len(data) and not inflater.eof:
                chunk = data[pos : pos + 65536]
                pos += len(chunk)
                size += len(inflater.decompress(chunk, limit + 1 - size))
                while inflater.unconsumed_tail and size <= limit:
                    size += len(inflater.decompress(inflater.unconsumed_tail, limit + 1 - size))
                if size > limit:
                    obj = re.search(rb"(\d+)\s+\d+\s+$", window[:k])
                    name = f"object {obj.group(1).decode()}" if obj else f"at byte {m.start():,}"
                    return f"{name}, {pos - m.end():,} compressed bytes read"
        except zlib.error:
            continue
    return None


# ------------------------------------------------------------------------------------ text layer
def _chars(textpage, height: float) -> tuple[list[Piece], str]:
    """The page's printed characters as pieces (loose boxes: advance width x font height) and the page text.

    A character's line is found by its box bottom (baseline + descent). Where a font has no
    metrics, PDFium gives the glyph's ink box instead (a thin 一 floats mid-line); such boxes, and
    boxes blown far beyond their glyph (seen on stacked vertical text), are placed by the
    character's origin on the baseline instead.
    """
    import pypdfium2.raw as pdfium_c

    n = pdfium_c.FPDFText_CountChars(textpage)
    if n <= 0:
        return [], ""
    buf = (ctypes.c_ushort * (n + 1))()
    got = pdfium_c.FPDFText_GetText(textpage, 0, n, buf)
    text = bytes(buf)[: max(0, got - 1) * 2].decode("utf-16-le", errors="replace")
    if len(text) != n:  # surrogate pairs shift the indexes: ask per character
        text = "".join(chr(pdfium_c.FPDFText_GetUnicode(textpage, k) or 0xFFFD) for k in range(n))
    rect = pdfium_c.FS_RECTF()
    pref = ctypes.byref(rect)
    loose = pdfium_c.FPDFText_GetLooseCharBox
    out: list[Piece] = []
    index: list[int] = []
    space = False
    for k, ch in enumerate(text):
        if ch.isspace() or ch in "\x00\ufffe\uffff" or ch < " ":
            # a printed space separates words; PDFium's own guesses (generated) are left to the gap rule
            space = space or (ch == " " or ch == "\u3000") and pdfium_c.FPDFText_IsGenerated(textpage, k) == 0
            continue
        if not loose(textpage, k, pref):
            continue
        bottom = height - rect.bottom
        out.append(Piece(ch, rect.left, height - rect.top, rect.right, bottom, space, base=bottom))
        index.append(k)
        space = False
    if not out:
        return out, text
    sizes = sorted(p.bottom - p.top for p in out)
    typical = max(sizes[len(sizes) // 2], 1.0)
    odd = [(p, k) for p, k in zip(out, index)
           if not 0.75 * typical <= p.bottom - p.top <= 4 * typical or p.x1 - p.x0 > 4 * typical]
    if odd:
        ox, oy = ctypes.c_double(), ctypes.c_double()
        left, right, bottom, top = (ctypes.c_double() for _ in range(4))
        # the distance from the baseline to a normal box bottom (the font's descent), measured on a few characters
        descents = []
        for p, k in zip(out, index):
            if 0.75 * typical <= p.bottom - p.top <= 4 * typical:
                pdfium_c.FPDFText_GetCharOrigin(textpage, k, ox, oy)
                descents.append(p.bottom - (height - oy.value))
                if len(descents) == 9:
                    break
        descent = sorted(descents)[len(descents) // 2] if descents else 0.0
        for p, k in odd:
            pdfium_c.FPDFText_GetCharOrigin(textpage, k, ox, oy)
            p.base = height - oy.value + descent
            if p.bottom - p.top > 4 * typical or p.x1 - p.x0 > 4 * typical:
                pdfium_c.FPDFText_GetCharBox(textpage, k, left, right, bottom, top)
                p.x0, p.top, p.x1, p.bottom = left.value, height - top.value, right.value, height - bottom.value
    return out, text


# a page is searched for ruled tables when it prints three numbers side by side (a table row); running text
# interleaves numbers with words (2023 年 1 月), and a table missed this way is still read from its text lines
_NUMBER_ROW = re.compile(r"(?<!\S)[0-9][0-9,.]*(?:[ \t\u3000]+[0-9][0-9,.]*){2,}(?!\S)")


def _edges(page, height: float) -> tuple[list[dict], int, bool]:
    """(edges of the visibly drawn segments and rectangles, number of objects, page has an image).

    Paths neither filled nor stroked, and paths only filled in white, draw nothing a reader sees
    and give no rule (pdfplumber counts them: cell backgrounds of office exports repeat the rules).
    """
    import pypdfium2.raw as pdfium_c

    get_type, path, image, form = (pdfium_c.FPDFPageObj_GetType, pdfium_c.FPDF_PAGEOBJ_PATH,
                                   pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_FORM)
    edges: list[dict] = []
    m = pdfium_c.FS_MATRIX()
    fill, stroke = ctypes.c_int(), ctypes.c_int()
    red, green, blue, alpha = (ctypes.c_uint() for _ in range(4))
    count = 0
    has_image = False
    # (object getter, its container, number of objects, matrix of the container)
    stack = [(pdfium_c.FPDFPage_GetObject, page, pdfium_c.FPDFPage_CountObjects(page), (1, 0, 0, 1, 0, 0))]
    while stack:
        get, owner, n, matrix = stack.pop()
        count += n
        if count > MAX_PAGE_OBJECTS:
            break
        for k in range(n):
            obj = get(owner, k)
            kind = get_type(obj)
            if kind == path:
                pdfium_c.FPDFPath_GetDrawMode(obj, fill, stroke)
                if fill.value and not stroke.value:  # a white (or transparent) fill draws nothing on the paper
                    pdfium_c.FPDFPageObj_GetFillColor(obj, red, green, blue, alpha)
                    if alpha.value == 0 or min(red.value, green.value, blue.value) >= 250:
                        continue
                if fill.value or stroke.value:
                    pdfium_c.FPDFPageObj_GetMatrix(obj, m)
                    edges.extend(_path_edges(obj, _compose((m.a, m.b, m.c, m.d, m.e, m.f), matrix), height))
            elif kind == image:
                has_image = True
            elif kind == form:
                pdfium_c.FPDFPageObj_GetMatrix(obj, m)
                stack.append((pdfium_c.FPDFFormObj_GetObject, obj, pdfium_c.FPDFFormObj_CountObjects(obj),
                              _compose((m.a, m.b, m.c, m.d, m.e, m.f), matrix)))
    return edges, count, has_image


def _path_edges(obj, matrix, height: float) -> list[dict]:
    """The horizontal and vertical segments of one drawn path (a thin one, line or filled bar, is one rule)."""
    import pypdfium2.raw as pdfium_c

    x, y = ctypes.c_float(), ctypes.c_float()
    pts = []
    for s in range(pdfium_c.FPDFPath_CountSegments(obj)):
        seg = pdfium_c.FPDFPath_GetPathSegment(obj, s)
        pdfium_c.FPDFPathSegment_GetPoint(seg, x, y)
        px, py = _apply(matrix, x.value, y.value)
        pts.append((px, height - py, seg))
    if not pts:
        return []
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    if x1 - x0 < 2 and y1 - y0 >= x1 - x0:
        return [edge((x0 + x1) / 2, y0, (x0 + x1) / 2, y1)]
    if y1 - y0 < 2:
        return [edge(x0, (y0 + y1) / 2, x1, (y0 + y1) / 2)]
    out = []
    start = None
    for i, (px, py, seg) in enumerate(pts):
        stype = pdfium_c.FPDFPathSegment_GetType(seg)
        if stype == pdfium_c.FPDF_SEGMENT_MOVETO:
            start = (px, py)
        elif stype == pdfium_c.FPDF_SEGMENT_LINETO and i and start is not None:
            out.append(edge(pts[i - 1][0], pts[i - 1][1], px, py))
        if start is not None and pdfium_c.FPDFPathSegment_GetClose(seg):
            out.append(edge(px, py, start[0], start[1]))
    return [e for e in out if e]


def _compose(inner, outer):
    """The matrix applying ``inner`` then ``outer`` (PDF row-vector convention)."""
    a, b, c, d, e, f = inner
    A, B, C, D, E, F = outer
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


def _apply(m, x, y):
    return (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])


# ------------------------------------------------------------------------------------ entry points
def read_pdf(path: Path, ruled_tables: bool = True, ocr: bool = True) -> Document:
    """Read a PDF's tables and text lines page by page; pages without a text layer are OCR'd.

    ``ruled_tables=False`` reads text lines only; ``ocr=False`` leaves scanned pages unread.
    """
    path = Path(path)
    pdf, data = _open(path)
    issues: list[tuple[str, str, str | None]] = []
    lines: list[tuple[int, list]] = []
    scanned: list[int] = []
    tables_so_far = 0
    try:
        meta = {k: str(v) for k, v in (pdf.get_metadata_dict(skip_empty=True) or {}).items()}
        pages = len(pdf)
        for pno in range(1, pages + 1):
            try:
                page_items, n_tables, scan = _read_page(pdf[pno - 1], pno, tables_so_far, ruled_tables, issues)
            except Exception as exc:  # one bad page must not lose the others
                issues.append(("page_unreadable", f"page {pno} could not be read: {type(exc).__name__}: {exc}", f"page {pno}"))
                continue
            if scan:
                scanned.append(pno)
            elif page_items:
                lines.append((pno, page_items))
                tables_so_far += n_tables
        if scanned and ocr:
            from pipelines.extract.ocr import ocr_pdf_pages

            result = ocr_pdf_pages(pdf, data, scanned, first_table=tables_so_far)
            lines.extend((pno, items) for pno, items in result.lines if items)
            issues.extend(result.issues)
        elif scanned:
            issues.append(("not_ocrd", f"page(s) {page_ranges(scanned)} have no text layer and OCR was not run", None))
    finally:
        pdf.close()
    if not lines:
        if scanned and not ocr:
            raise DocumentError("no_text_layer", f"no text layer ({pages} page(s) of images, e.g. a scan) and OCR was not run")
        why = f"; OCR found none ({'; '.join(m for _, m, _ in issues[:3]) or 'no text in the images'})" if scanned else ""
        raise DocumentError("no_text", f"no text: {pages} page(s) without a text layer{why}")
    ordered = [line for _, page_items in sorted(lines, key=lambda it: it[0]) for line in page_items]
    doc = Document(path=path, file_type="pdf", lines=ordered, text="\n".join(line.text for line in ordered), meta=meta,
                   pages=pages, issues=issues)
    if scanned:
        doc.meta["ocr_pages"] = page_ranges(scanned)
    return doc


def _read_page(page, pno: int, first_table: int, ruled_tables: bool, issues: list) -> tuple[list, int, bool]:
    """(lines, tables found, is a scan) of one page's text layer."""
    _, height = page.get_size()
    pieces, text = _chars(page.get_textpage(), height)
    # drawn objects are walked only where they matter: a page without text (a scan?) or one that prints
    # numbers side by side (a table); a page of running text is read as lines without a table search
    searched = len(pieces) < MIN_PAGE_CHARS or (ruled_tables and _NUMBER_ROW.search(text) is not None)
    edges, objects, has_image = _edges(page, height) if searched else ([], 0, False)
    if len(pieces) < MIN_PAGE_CHARS and (has_image or objects >= MIN_DRAWN_OBJECTS):
        return [], 0, True
    tables = []
    if ruled_tables and searched and pieces:
        if objects > MAX_PAGE_OBJECTS:
            issues.append(("page_too_complex", f"page {pno}: more than {MAX_PAGE_OBJECTS:,} drawn objects; "
                           "ruled tables not searched, its text read as lines", f"page {pno}"))
        else:
            tables = find_tables(edges)
    return page_lines(pieces, tables, pno, first_table, "pdf_table", "pdf_text"), len(tables), False


def quick_text(path: Path, max_pages: int = QUICK_PAGES) -> str | None:
    """The text layer of the first pages (no tables, no OCR), or None when there is none or the file is unreadable.

    For the inventory: enough to read the title, year and agency of a text PDF in milliseconds.
    """
    try:
        pdf, _ = _open(Path(path))
    except DocumentError:
        return None
    try:
        parts = []
        for k in range(min(max_pages, len(pdf))):
            parts.append(pdf[k].get_textpage().get_text_range())
        text = "\n".join(parts).replace("\r\n", "\n")
        return text if sum(1 for ch in text if not ch.isspace()) >= MIN_PAGE_CHARS else None
    except Exception:
        return None
    finally:
        pdf.close()


def page_ranges(numbers: list[int]) -> str:
    """1,2,3,5 -> '1-3, 5'."""
    out = []
    for n in numbers:
        if out and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in out)
