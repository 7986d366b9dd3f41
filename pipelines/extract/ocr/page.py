"""One page image -> recognised text pieces and ruling lines, in PDF points.

Steps (all sizes scale with the image resolution):

1. **Straighten**: the skew angle that makes ink rows sharpest (projection profile over
   -3..+3 degrees on a reduced copy); the page is rotated back about its centre.
2. **Red ink out** (``without_red``): a seal printed over a table is divided out of the red
   channel, black text under it stays black.
3. **Ruling lines**: long horizontal/vertical runs of ink (morphology on the binarised page
   without red ink; dropouts and gaps up to 10 pt bridged). A table cut by a page break has open
   ends: vertical rules ending at one height get a closing rule there.
4. **Tables**: ``page_layout.find_tables`` on those rules (the same lattice method as text PDFs).
5. **Text**: text lines are detected once on the page with the rules erased (inside tables on
   the page without red ink); a detected line crossing cell borders is cut at them; ink in a cell
   that no detected line covers (a lone digit the detector missed) is recognised on its own.
   Every piece is recognised from the page clipped to its cell and keeps the engine's lowest
   character probability and the other readings it gave weight to; unsure numbers in table
   cells are also re-read from a binarised, rescaled crop (a different reading is an alternative).

The result holds only plain data (JSON-able), so it can be cached.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from pipelines.extract.ocr.engine import Engine, Reading, is_number
from pipelines.extract.page_layout import Piece, edge, find_tables

DETECT_DPI = 150  # detection runs at this resolution at most (cost grows with pixels; text stays >= 20 px tall)
MAX_SKEW = 3.0
REREAD_BELOW = 0.98  # a numeric table cell read with a lower character probability is read a second time


class BudgetExceeded(Exception):
    """The page's OCR time budget ran out; ``stage`` says where."""

    def __init__(self, stage: str, seconds: float):
        super().__init__(stage)
        self.stage = stage
        self.seconds = seconds


@dataclass
class PageOCR:
    """What OCR found on one page (PDF points from the top-left of the straightened page)."""

    width: float
    height: float
    skew: float
    pieces: list[dict] = field(default_factory=list)  # text, x0, top, x1, bottom, confidence, alternatives
    edges: list[tuple[float, float, float, float]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict:
        """Plain data for the cache."""
        return {"width": self.width, "height": self.height, "skew": self.skew, "pieces": self.pieces,
                "edges": [list(e) for e in self.edges], "seconds": self.seconds}

    @classmethod
    def from_json(cls, data: dict) -> "PageOCR":
        """Inverse of ``to_json``."""
        return cls(data["width"], data["height"], data["skew"], data["pieces"], [tuple(e) for e in data["edges"]], data["seconds"])

    def layout_pieces(self) -> list[Piece]:
        """The pieces for ``page_layout``."""
        return [Piece(p["text"], p["x0"], p["top"], p["x1"], p["bottom"], confidence=p["confidence"],
                      alternatives=tuple(p["alternatives"])) for p in self.pieces]

    def layout_edges(self) -> list[dict]:
        """The rules for ``page_layout``."""
        return [e for e in (edge(*r) for r in self.edges) if e]


# ------------------------------------------------------------------------------------------ steps
def skew_angle(gray: np.ndarray) -> float:
    """Degrees to rotate the page by (counter-clockwise positive) to make its ink rows horizontal."""
    h, w = gray.shape
    scale = min(1.0, 800 / max(h, w))
    small = cv2.resize(gray, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
    ink = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)[1].astype(np.float32)
    if ink.sum() < 50:
        return 0.0
    centre = (ink.shape[1] / 2, ink.shape[0] / 2)

    def sharpness(angle: float) -> float:
        m = cv2.getRotationMatrix2D(centre, angle, 1.0)
        rows = cv2.warpAffine(ink, m, (ink.shape[1], ink.shape[0]), flags=cv2.INTER_NEAREST).sum(axis=1)
        return float(np.square(np.diff(rows)).sum())

    coarse = max(np.arange(-MAX_SKEW, MAX_SKEW + 0.01, 0.5), key=sharpness)
    fine = max(np.arange(coarse - 0.5, coarse + 0.51, 0.1), key=sharpness)
    # below 0.2 degrees a rule drifts by less than 4 px over a page width: rotating would only blur thin rules
    return float(round(fine, 2)) if abs(fine) >= 0.2 else 0.0


def without_red(image: np.ndarray, strict: bool = False) -> np.ndarray:
    """The page as grey without red ink (seals): the red channel, red strokes turned back into paper.

    A seal is printed over the text (multiply): under red ink black text stays black in the red
    channel, while the seal's strokes keep the ink's own red level, which is measured on the
    strongly red pixels and divided out in proportion to how red each pixel is. ``strict``: fully
    also next to red strokes (JPEG smears colour, leaving a ghost of the seal); faint grey rules
    there fade, so rules are looked for in the non-strict image.
    """
    b, g, r = (image[:, :, k].astype(np.float32) for k in range(3))
    redness = r - np.maximum(g, b)
    strong = redness > 80
    if strong.sum() < 50:
        return image[:, :, 2].copy()
    level = max(float(np.median(r[strong])), 1.0)
    weight = np.clip((redness - 8) / 30, 0, 1)
    if strict:
        weight = np.maximum(weight, cv2.dilate((redness > 30).astype(np.uint8), np.ones((5, 5), np.uint8)))
    return np.clip(r * (1 + weight * (255 / level - 1)), 0, 255).astype(np.uint8)


def binarize(gray: np.ndarray, block: int) -> np.ndarray:
    """Ink (255) where a pixel is darker than its neighbourhood and than the page's paper/ink split (Otsu):
    the second condition drops faint marks (a seal's ghost, show-through, JPEG haze)."""
    local = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 20)
    split, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return cv2.bitwise_and(local, (gray < max(split, 96)).astype(np.uint8) * 255)


def rotate(image: np.ndarray, angle: float) -> np.ndarray:
    """The image rotated by ``angle`` degrees about its centre, white where nothing was."""
    if not angle:
        return image
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    border = (255, 255, 255) if image.ndim == 3 else 255
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=border)


def ruling_lines(ink: np.ndarray, px: float) -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
    """(mask of rule pixels, rules as (x0, top, x1, bottom) in pixels) of a binary ink image.

    ``px`` is pixels per point. A rule is at least 20 pt long and at most 4 pt thick; gaps up to 10 pt are bridged.
    """
    length = max(10, int(20 * px))
    bridge = max(1, int(5 * px))  # gaps up to 10 pt in a rule (a seal's stroke, scan dropout) are closed
    speck = max(3, int(1 * px)) | 1  # pixel dropouts in a rule (noise, JPEG) are closed before measuring runs
    horizontal = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (speck, 1)))
    vertical = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, speck)))
    horizontal = cv2.morphologyEx(horizontal, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))
    vertical = cv2.morphologyEx(vertical, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, length)))
    horizontal = cv2.morphologyEx(horizontal, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (bridge * 2 + 1, 1)))
    vertical = cv2.morphologyEx(vertical, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, bridge * 2 + 1)))
    rules: list[tuple[float, float, float, float]] = []
    thick = 4 * px
    for mask, horiz in ((horizontal, True), (vertical, False)):
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        for x, y, w, h, _area in stats[1:]:
            if horiz and w >= length and h <= thick:
                rules.append((float(x), y + h / 2, float(x + w), y + h / 2))
            elif not horiz and h >= length and w <= thick:
                rules.append((x + w / 2, float(y), x + w / 2, float(y + h)))
    return cv2.bitwise_or(horizontal, vertical), _close_open_tables(rules, 3 * px)


def _close_open_tables(rules, tol: float):
    """Add a rule where three or more vertical rules end together with no horizontal rule there (a page break cut the table)."""
    hs = [r for r in rules if r[1] == r[3]]
    vs = [r for r in rules if r[0] == r[2]]
    extra = []
    for end in (1, 3):  # tops, bottoms
        ys = sorted(v[end] for v in vs)
        groups: list[list[float]] = []
        for y in ys:
            if groups and y - groups[-1][-1] <= tol:
                groups[-1].append(y)
            else:
                groups.append([y])
        for g in groups:
            if len(g) < 3:
                continue
            y = sum(g) / len(g)
            members = [v for v in vs if abs(v[end] - y) <= tol]
            x0, x1 = min(v[0] for v in members), max(v[0] for v in members)
            if not any(abs(h[1] - y) <= tol and h[0] <= x0 + tol and h[2] >= x1 - tol for h in hs):
                extra.append((x0, y, x1, y))
    return rules + extra


def _boxes(quads: list[np.ndarray], scale: float) -> list[tuple[int, int, int, int]]:
    out = []
    for q in quads:
        xs, ys = q[:, 0] / scale, q[:, 1] / scale
        out.append((int(xs.min()), int(ys.min()), int(np.ceil(xs.max())), int(np.ceil(ys.max()))))
    return out


def _ink_box(ink: np.ndarray, box: tuple[int, int, int, int], min_area: int) -> tuple[int, int, int, int] | None:
    """The box tightened to the ink components inside it (None when there is no real ink)."""
    x0, y0, x1, y1 = box
    part = ink[y0:y1, x0:x1]
    if part.size == 0 or not part.any():
        return None
    n, _, stats, _ = cv2.connectedComponentsWithStats(part)
    keep = [s for s in stats[1:] if s[4] >= min_area]
    if not keep:
        return None
    return (x0 + min(s[0] for s in keep), y0 + min(s[1] for s in keep),
            x0 + max(s[0] + s[2] for s in keep), y0 + max(s[1] + s[3] for s in keep))


def _cell_regions(ink: np.ndarray, interior, detected, min_area: int) -> list[tuple[int, int, int, int]]:
    """Text regions of one table cell: its ink components grouped by the detected lines that cross
    them (a line crossing cell borders is thereby cut at them), components no detected line touches
    grouped into lines of their own (a lone digit the detector missed)."""
    x0, y0, x1, y1 = interior
    if x1 - x0 < 2 or y1 - y0 < 2:
        return []
    part = ink[y0:y1, x0:x1]
    if not part.any():
        return []
    n, _, stats, _ = cv2.connectedComponentsWithStats(part)
    comps = [(x0 + s[0], y0 + s[1], x0 + s[0] + s[2], y0 + s[1] + s[3]) for s in stats[1:] if s[4] >= min_area]
    if not comps:
        return []
    lines = [d for d in detected if d[0] < x1 and d[2] > x0 and d[1] < y1 and d[3] > y0]
    groups: dict[int, list] = {}
    loose = []
    for c in comps:
        best, overlap = None, 0
        for k, d in enumerate(lines):
            h = min(c[3], d[3]) - max(c[1], d[1])
            w = min(c[2], d[2]) - max(c[0], d[0])
            if h > 0 and w > 0 and h * w > overlap:
                best, overlap = k, h * w
        if best is None:
            loose.append(c)
        else:
            groups.setdefault(best, []).append(c)
    out = [_union(g) for g in groups.values()]
    for c in sorted(loose, key=lambda c: c[1]):  # undetected ink: components overlapping in height form a line
        for k, box in enumerate(out):
            if min(c[3], box[3]) - max(c[1], box[1]) > 0.3 * min(c[3] - c[1], box[3] - box[1]):
                out[k] = _union([box, c])
                break
        else:
            out.append(c)
    return out


def _union(boxes) -> tuple[int, int, int, int]:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _crop(image: np.ndarray, box: tuple[int, int, int, int], pad: int, limit=None) -> np.ndarray:
    """The box with a margin, never beyond ``limit`` (a cell's interior: its rules stay out of the crop)."""
    x0, y0, x1, y1 = box
    h, w = image.shape[:2]
    lx0, ly0, lx1, ly1 = limit or (0, 0, w, h)
    crop = image[max(0, ly0, y0 - pad) : min(h, ly1, y1 + pad), max(0, lx0, x0 - pad) : min(w, lx1, x1 + pad)]
    if crop.ndim == 2:
        crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
    return crop


# ------------------------------------------------------------------------------------------ page
def ocr_page(image: np.ndarray, dpi: float, engine: Engine, budget: float | None = None) -> PageOCR:
    """OCR one page image (BGR, ``dpi`` pixels per inch); raises ``BudgetExceeded`` after ``budget`` seconds."""
    started = time.process_time()

    def check(stage: str) -> None:
        if budget is not None and time.process_time() - started > budget:
            raise BudgetExceeded(stage, time.process_time() - started)

    px = dpi / 72.0
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    angle = skew_angle(without_red(image))
    if angle:
        image = rotate(image, angle)
        gray = rotate(gray, angle)
    block = int(15 * px) | 1
    rule_mask, rules = ruling_lines(binarize(without_red(image), block), px)
    page = PageOCR(width=image.shape[1] / px, height=image.shape[0] / px, skew=angle)
    page.edges = [(x0 / px, t / px, x1 / px, b / px) for x0, t, x1, b in rules]
    tables = find_tables(page.layout_edges())
    check("ruling lines")

    # erase rules; inside tables read the page without red ink (a seal over the table disappears), elsewhere the grey
    grown = cv2.dilate(rule_mask, np.ones((3, 3), np.uint8))
    text_ink = binarize(gray, block)
    red = without_red(image, strict=True) if tables else None
    ink = binarize(red, block) if tables else None
    table_px = []
    for t in tables:
        x0, y0, x1, y1 = (int(round(v * px)) for v in t.bbox)
        gray[y0:y1, x0:x1] = red[y0:y1, x0:x1]
        text_ink[y0:y1, x0:x1] = ink[y0:y1, x0:x1]
        table_px.append((x0, y0, x1, y1))
    clean = gray.copy()  # for detection: rules and their fringe erased, so that no text line runs along a rule
    clean[grown > 0] = 255
    text_ink[grown > 0] = 0
    gray[rule_mask > 0] = 255  # for recognition: only the rules themselves (a stroke touching a rule stays whole)
    min_area = max(4, int((1.2 * px) ** 2))  # smaller ink is noise (a full stop is kept inside its line's box)

    scale = min(1.0, DETECT_DPI / dpi)
    small = cv2.resize(clean, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else clean
    boxes = _boxes(engine.detect(cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)), scale)
    check("text detection")

    cells = [tuple(int(round(v * px)) for v in box) for t in tables for row in t.rows for box in row if box]
    regions: list[tuple[tuple[int, int, int, int], tuple | None]] = []  # (pixel box, the cell interior holding it)
    in_tables: list[tuple[int, int, int, int]] = []
    for box in boxes:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        if any(x0 <= cx <= x1 and y0 <= cy <= y1 for x0, y0, x1, y1 in table_px):
            in_tables.append(box)
            continue
        tight = _ink_box(text_ink, box, min_area)
        if tight:
            regions.append((tight, None))
    inset = max(1, int(1 * px))
    for x0, y0, x1, y1 in cells:
        interior = (x0 + inset, y0 + inset, x1 - inset, y1 - inset)
        regions.extend((box, interior) for box in _cell_regions(text_ink, interior, in_tables, min_area))
    check("text regions")

    pad = max(2, int(2 * px))
    crops = [_crop(gray, box, pad, cell) for box, cell in regions]
    readings: list[Reading] = []
    for start in range(0, len(crops), 64):  # in chunks, so that the budget is checked while recognising
        readings += engine.recognize(crops[start : start + 64])
        check("recognition")
    rereads = _reread_digits(engine, gray, regions, readings, pad)
    for (box, _), reading, extra in zip(regions, readings, rereads):
        text = reading.text.strip()
        if not text:
            continue
        alternatives = list(reading.alternatives())
        if extra and extra != text and extra not in alternatives and (is_number(extra) or not is_number(text)):
            alternatives.insert(0, extra)
        x0, y0, x1, y1 = box
        page.pieces.append({
            "text": text, "x0": x0 / px, "top": y0 / px, "x1": x1 / px, "bottom": y1 / px,
            "confidence": round(reading.lowest, 4), "alternatives": alternatives[:8],
        })
    page.seconds = round(time.process_time() - started, 3)
    return page


def _reread_digits(engine: Engine, gray: np.ndarray, regions, readings: list[Reading], pad: int) -> list[str | None]:
    """A second reading of unsure numeric table cells from a binarised crop at another scale (None where not re-read)."""
    picks = [i for i, ((_, cell), r) in enumerate(zip(regions, readings))
             if cell and r.text and any(ch.isdigit() for ch in r.text) and r.lowest < REREAD_BELOW]
    out: list[str | None] = [None] * len(regions)
    if not picks:
        return out
    crops = []
    for i in picks:
        crop = _crop(gray, regions[i][0], pad * 2, regions[i][1])
        g = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        g = cv2.resize(g, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
        g = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
        crops.append(cv2.cvtColor(g, cv2.COLOR_GRAY2BGR))
    for i, r in zip(picks, engine.recognize(crops)):
        out[i] = r.text.strip() or None
    return out
