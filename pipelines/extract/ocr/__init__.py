"""OCR as a reader: scanned PDF pages and page images -> the same lines as every other reader.

Pages are rendered with pypdfium2 (at the scan's own resolution, 150-300 dpi), recognised by
``page.ocr_page`` (RapidOCR models inside the wheel; ruling lines, cells and text pieces in PDF
points) and laid out by ``page_layout`` exactly like a text PDF: ruled tables become GRID lines,
the rest FREE lines, all with ``source_kind = "ocr"``; every cell carries the engine's
confidence and alternative readings for the verification stage.

* **Cached**: each page's result is stored under (file sha256, page, OCR version) by ``cache``;
  a rerun reads it back and runs no OCR at all.
* **Bounded**: a document gets ``XXGK_OCR_DOC_SECONDS`` of CPU time (default: three quarters of
  the worker's per-document limit ``XXGK_DOC_TIMEOUT``, 60 s, so what was read is kept) and a page
  ``XXGK_OCR_PAGE_SECONDS`` (default 30, at most the document's); CPU, not wall time, so the same
  document gets the same result on a busy machine. A page over its budget, or left when the
  document's budget is spent, is not read and is listed with that reason (pages already done are
  cached, so a rerun continues where it stopped). Documents of more than ``XXGK_OCR_MAX_PAGES``
  (default 60) scanned pages are read up to that page, the rest listed.
* **Inventory**: ``cached_text(sha256)`` gives the OCR text of a file already read, without OCR.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.extract.documents import Document, DocumentError, Line
from pipelines.extract.ocr import cache
from pipelines.extract.ocr.cache import cache_dir, cached_text, ocr_version
from pipelines.extract.page_layout import find_tables, page_lines

__all__ = ["cache_dir", "cached_text", "ocr_version", "ocr_pdf_pages", "read_image"]

SOURCE_KIND = "ocr"
MIN_DPI, MAX_DPI, DEFAULT_DPI = 150, 300, 200
A4_WIDTH_INCHES = 8.27


def _budget(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass
class OCRResult:
    """Lines per page, what could not be read, and how many pages gave text."""

    lines: list[tuple[int, list[Line]]] = field(default_factory=list)
    issues: list[tuple[str, str, str | None]] = field(default_factory=list)
    pages_with_text: int = 0


def _run(sha256: str, pages: list[int], image_of, first_table: int) -> OCRResult:
    """OCR (or read from the cache) the given pages; ``image_of(page) -> (BGR array, dpi)``."""
    with cache.document_lock(sha256):
        return _run_locked(sha256, pages, image_of, first_table)


def _run_locked(sha256: str, pages: list[int], image_of, first_table: int) -> OCRResult:
    from pipelines.extract.ocr.page import BudgetExceeded, PageOCR, ocr_page

    # by default the document's OCR stops well inside the worker's time limit, so that what was read is kept
    doc_budget = _budget("XXGK_OCR_DOC_SECONDS", 0.75 * _budget("XXGK_DOC_TIMEOUT", 60))
    page_budget = _budget("XXGK_OCR_PAGE_SECONDS", min(30, doc_budget))
    max_pages = int(_budget("XXGK_OCR_MAX_PAGES", 60))
    out = OCRResult()
    started = time.process_time()
    over_budget: list[int] = []
    beyond_max: list[int] = []
    for n, pno in enumerate(pages):
        data = cache.load(sha256, pno)
        if data is None:
            spent = time.process_time() - started
            if n >= max_pages:
                beyond_max.append(pno)
                continue
            if spent >= doc_budget:
                over_budget.append(pno)
                continue
            from pipelines.extract.ocr.engine import engine

            limit, which = (page_budget, "per page, XXGK_OCR_PAGE_SECONDS") if page_budget <= doc_budget - spent \
                else (doc_budget - spent, f"left of the document's {doc_budget:.0f} s, XXGK_OCR_DOC_SECONDS")
            try:
                image, dpi = image_of(pno)
                result = ocr_page(image, dpi, engine(), budget=limit)
            except BudgetExceeded as exc:
                out.issues.append(("ocr_timeout", f"page {pno}: OCR stopped at {exc.stage} after {exc.seconds:.1f} CPU s "
                                   f"(budget {limit:.0f} s {which}); page not read", f"page {pno}"))
                continue
            except Exception as exc:  # a page the renderer or engine cannot handle must not lose the others
                out.issues.append(("ocr_failed", f"page {pno}: OCR failed ({type(exc).__name__}: {exc}); page not read", f"page {pno}"))
                continue
            data = result.to_json()
            cache.save(sha256, pno, data)
        page = PageOCR.from_json(data)
        pieces = page.layout_pieces()
        tables = find_tables(page.layout_edges())
        out.lines.append((pno, page_lines(pieces, tables, pno, first_table, SOURCE_KIND, SOURCE_KIND)))
        first_table += len(tables)
        out.pages_with_text += bool(pieces)
    from pipelines.extract.pdf import page_ranges

    if over_budget:
        out.issues.append(("ocr_budget", f"page(s) {page_ranges(over_budget)} not OCR'd: the document's OCR budget of "
                           f"{doc_budget:.0f} CPU s was spent (XXGK_OCR_DOC_SECONDS; pages done are cached, a rerun continues)", None))
    if beyond_max:
        out.issues.append(("ocr_budget", f"page(s) {page_ranges(beyond_max)} not OCR'd: more than {max_pages} scanned pages "
                           "(XXGK_OCR_MAX_PAGES)", None))
    return out


def ocr_pdf_pages(pdf, data: bytes, pages: list[int], first_table: int = 0) -> OCRResult:
    """OCR the listed (1-based) pages of an open pypdfium2 document whose file bytes are ``data``."""
    import numpy as np

    sha256 = hashlib.sha256(data).hexdigest()

    def image_of(pno: int):
        page = pdf[pno - 1]
        dpi = _native_dpi(page)
        bitmap = page.render(scale=dpi / 72)
        rgb = np.asarray(bitmap.to_pil().convert("RGB"))
        return rgb[:, :, ::-1].copy(), dpi

    return _run(sha256, pages, image_of, first_table)


def _native_dpi(page) -> float:
    """The resolution of the page's largest image as placed on the page, clamped to 150-300 dpi."""
    import pypdfium2.raw as pdfium_c

    best = None
    width_pt, _ = page.get_size()
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        try:
            w_px, _ = obj.get_px_size()
            left, _, right, _ = obj.get_pos()
        except Exception:
            continue
        if right - left > 0.5 * width_pt:
            dpi = w_px / ((right - left) / 72)
            best = max(best or 0, dpi)
    return float(min(MAX_DPI, max(MIN_DPI, round(best)))) if best else float(DEFAULT_DPI)


def read_image(path: Path) -> Document:
    """A page image (png/jpg/tif; a multi-page TIFF is several pages; a long screenshot is cut into pages at blank rows)."""
    import numpy as np
    from PIL import Image, ImageSequence, UnidentifiedImageError

    path = Path(path)
    data = path.read_bytes()
    max_frames = int(_budget("XXGK_OCR_MAX_PAGES", 60))
    pages: list[tuple[np.ndarray, float]] = []
    try:
        img = Image.open(path)
        frames, read = getattr(img, "n_frames", 1), 0
        for frame in ImageSequence.Iterator(img):  # PIL refuses decompression bombs (over 179 megapixels)
            if len(pages) >= max_frames:
                break
            read += 1
            bgr = np.asarray(frame.convert("RGB"))[:, :, ::-1]
            dpi = _image_dpi(frame.info.get("dpi"), bgr.shape[1])
            pages.extend((part, dpi) for part in _cut_long(bgr))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise DocumentError("unreadable", f"not a readable image: {exc}") from exc
    result = _run(hashlib.sha256(data).hexdigest(), list(range(1, len(pages) + 1)),
                  lambda pno: (np.ascontiguousarray(pages[pno - 1][0]), pages[pno - 1][1]), 0)
    if not result.pages_with_text:
        reason = "; ".join(m for _, m, _ in result.issues[:3])
        raise DocumentError("no_text", f"no text: OCR found none on {len(pages)} page image(s)" + (f" ({reason})" if reason else ""))
    if frames > read:
        result.issues.append(("ocr_budget", f"{frames - read} more image frame(s) not read: more than {max_frames} "
                              "pages (XXGK_OCR_MAX_PAGES)", None))
    ordered = [line for _, lines in sorted(result.lines, key=lambda it: it[0]) for line in lines]
    meta = {"ocr_pages": f"1-{len(pages)}" if len(pages) > 1 else "1"}
    return Document(path=path, file_type="image", lines=ordered, text="\n".join(line.text for line in ordered),
                    meta=meta, pages=len(pages), issues=result.issues)


def _image_dpi(info, width_px: int) -> float:
    """The image's stated resolution when plausible, else the one that makes it A4 wide."""
    try:
        dpi = float(info[0]) if info else 0.0
    except (TypeError, ValueError, IndexError):
        dpi = 0.0
    if not 72 <= dpi <= 1200 or abs(dpi - 72) < 1:  # 72 is the "unknown" default of many writers
        dpi = width_px / A4_WIDTH_INCHES
    return float(min(600, max(72, dpi)))


def _cut_long(image):
    """An image much taller than a page, cut into page-sized parts at blank rows (a long screenshot)."""
    import numpy as np

    h, w = image.shape[:2]
    page = int(w * 1.414)
    if h <= page * 1.5:
        return [image]
    gray = image.min(axis=2)
    blank = (gray < 200).sum(axis=1) == 0
    parts = []
    start = 0
    while h - start > page * 1.5:
        target = start + page
        window = np.flatnonzero(blank[start + page // 2 : target + page // 4]) + start + page // 2
        cut = int(window[np.argmin(np.abs(window - target))]) if len(window) else target
        parts.append(image[start:cut])
        start = cut
    parts.append(image[start:])
    return parts
