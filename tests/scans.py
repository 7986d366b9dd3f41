"""Scan-shaped fixtures made from the bundled real reports (used by tests/test_ocr*.py and the OCR benchmark).

* ``image_only_pdf``: a text PDF rendered page by page (pypdfium2) and saved as a PDF of JPEG
  page images, no text layer: what a scanner produces;
* ``degrade``: a page image made worse the way real scans are: a slight rotation, blur, JPEG
  noise and a red official stamp over part of the table (drawn with multiply blending, like ink);
* ``html_screenshot``: an HTML report rendered by headless Chromium to one long PNG;
* ``hostile_pdfs``: a small PDF hiding a 60 MB drawing stream, and a 5,000-page PDF.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import zlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

STAMP_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


def render_pages(pdf_path: Path, dpi: int, pages: list[int] | None = None) -> list[Image.Image]:
    """The (1-based) pages of a PDF as RGB images at ``dpi``."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(pdf_path))
    try:
        numbers = pages or list(range(1, len(pdf) + 1))
        return [pdf[n - 1].render(scale=dpi / 72).to_pil().convert("RGB") for n in numbers]
    finally:
        pdf.close()


def save_pdf(images: list[Image.Image], out: Path, dpi: int, quality: int = 85) -> Path:
    """Images as an image-only PDF (JPEG pages placed at ``dpi``)."""
    pages = []
    for img in images:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality)
        pages.append(Image.open(io.BytesIO(buf.getvalue())))
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=dpi)
    return out


def image_only_pdf(pdf_path: Path, out: Path, dpi: int, pages: list[int] | None = None, degraded: bool = False,
                   stamp_page: int = 3) -> Path:
    """An image-only copy of a text PDF (``degraded``: each page through ``degrade``, the seal on ``stamp_page``)."""
    images = render_pages(pdf_path, dpi, pages)
    if degraded:
        numbers = pages or list(range(1, len(images) + 1))
        images = [degrade(img, dpi, seed=n, stamp=n == stamp_page) for n, img in zip(numbers, images)]
    return save_pdf(images, out, dpi, quality=40 if degraded else 85)


def degrade(img: Image.Image, dpi: int, seed: int = 0, angle: float = 0.8, stamp: bool = True) -> Image.Image:
    """Rotation by ``angle`` degrees, a red stamp (multiply) over the page's lower middle, blur and noise."""
    import numpy as np

    img = img.convert("RGB")
    if stamp:
        img = _stamp(img, dpi)
    img = img.rotate(angle, resample=Image.BICUBIC, expand=False, fillcolor=(255, 255, 255))
    img = img.filter(ImageFilter.GaussianBlur(radius=0.6 * dpi / 150))
    rng = np.random.default_rng(seed)
    arr = np.asarray(img).astype(np.int16)
    arr = arr + rng.normal(0, 10, arr.shape[:2])[:, :, None].astype(np.int16)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=35)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _stamp(img: Image.Image, dpi: int) -> Image.Image:
    """A round red seal (ring, star, agency name around the rim) multiplied onto the page."""
    w, h = img.size
    r = int(0.8 * dpi)  # a 4 cm seal
    cx, cy = int(w * 0.62), int(h * 0.62)
    layer = Image.new("RGB", img.size, (255, 255, 255))
    d = ImageDraw.Draw(layer)
    red = (215, 35, 35)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=red, width=max(3, dpi // 30))
    star = [(cx + 0.32 * r * math.cos(math.radians(90 + k * 36)) * (1 if k % 2 == 0 else 0.4),
             cy - 0.32 * r * math.sin(math.radians(90 + k * 36)) * (1 if k % 2 == 0 else 0.4)) for k in range(10)]
    d.polygon(star, fill=red)
    try:
        font = ImageFont.truetype(STAMP_FONT, int(r * 0.22))
    except OSError:
        font = ImageFont.load_default()
    name = "淮安市洪泽区人民政府办公室"
    for k, ch in enumerate(name):
        a = math.radians(210 - k * (240 / (len(name) - 1)))
        x, y = cx + 0.72 * r * math.cos(a), cy - 0.72 * r * math.sin(a)
        glyph = Image.new("L", (int(r * 0.3), int(r * 0.3)), 0)
        ImageDraw.Draw(glyph).text((0, 0), ch, fill=255, font=font)
        glyph = glyph.rotate(math.degrees(a) - 90, expand=True)
        layer.paste(Image.new("RGB", glyph.size, red), (int(x - glyph.width / 2), int(y - glyph.height / 2)), glyph)
    import numpy as np

    out = np.asarray(img).astype(np.uint16) * np.asarray(layer).astype(np.uint16) // 255
    return Image.fromarray(out.astype(np.uint8))


def html_screenshot(html: Path, out: Path, width: int = 1000, height: int = 9000, tables_only: bool = False) -> Path:
    """A headless-Chromium screenshot of an HTML file, trailing white rows cut off.

    ``tables_only``: keep the heading (the first ``width // 4`` rows) and the band from just above
    the first ruled table to just below the last one (less narrative to OCR in the tests).
    """
    import numpy as np

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("chromium is needed (make system-deps)")
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--hide-scrollbars", f"--screenshot={out}", f"--window-size={width},{height}", html.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    img = Image.open(out).convert("RGB")
    dark = np.asarray(img.convert("L")) < 200
    rows = np.flatnonzero(dark.any(axis=1))
    if len(rows):
        img = img.crop((0, 0, img.width, min(img.height, int(rows[-1]) + 40)))
    if tables_only:
        import cv2

        dark = np.asarray(img.convert("L")) < 200
        long_runs = cv2.morphologyEx(dark.astype(np.uint8), cv2.MORPH_OPEN, np.ones((1, int(img.width * 0.3)), np.uint8))
        rules = np.flatnonzero(long_runs.any(axis=1))  # rows crossed by a long rule
        blank = np.flatnonzero(~dark.any(axis=1))
        if len(rules) and len(blank):
            head_end = int(blank[blank <= width // 4].max(initial=0))  # cut at blank rows, never through text
            body_start = int(blank[blank <= int(rules[0]) - 40].max(initial=head_end))
            head = img.crop((0, 0, img.width, head_end))
            body = img.crop((0, max(head_end, body_start), img.width, min(img.height, int(rules[-1]) + 20)))
            both = Image.new("RGB", (img.width, head.height + body.height), "white")
            both.paste(head, (0, 0))
            both.paste(body, (0, head.height))
            img = both
    img.save(out)
    return out


def _pdf(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def hostile_pdfs(folder: Path) -> dict[str, Path]:
    """A 60 MB drawing stream compressed into a small file, and a 5,000-page PDF."""
    drawing = zlib.compress(b"0 0 m 100 100 l S\n" * (60 * 2**20 // 18), 9)
    big = folder / "drawing_bomb.pdf"
    big.write_bytes(_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                          b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
                          b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(drawing) + drawing + b"\nendstream"]))
    n = 5000
    kids = b" ".join(b"%d 0 R" % (3 + k) for k in range(n))
    many = folder / "pages_5000.pdf"
    many.write_bytes(_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % n]
                          + [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * n))
    return {"drawing_bomb": big, "pages_5000": many}
