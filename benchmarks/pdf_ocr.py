"""PDF and OCR benchmark: text-PDF throughput, the PDF guards, OCR speed and accuracy, OCR engines compared.

Usage: ``.venv/bin/python benchmarks/pdf_ocr.py [--repeat 5] [--only text|guards|ocr|engines] [--out benchmarks/results.json]``
(``make benchmark`` runs it). Writes its figures under the key ``pdf_ocr`` of the results file
(read-merge-write: the other benchmarks' keys are kept). Not a test: nothing passes or fails.

* **text PDFs** (the two 洪泽 reports and the Chromium-printed 上海 fixture): CPU time per document
  of ``read_pdf`` and of the whole ``extract_document``, the median of ``--repeat`` passes, as
  documents/second on one core; and PDFium's own page parsing (load page + text page, nothing
  else), which bounds the reader from below.
* **guards**: time to refuse a PDF hiding a 60 MB drawing stream in a small file and a
  5,000-page PDF (both generated here).
* **ocr**: the scans of ``tests/scans.py`` (image-only 150/300 dpi, degraded with a seal, an HTML
  screenshot) read with a fresh OCR cache on one core (``XXGK_OCR_THREADS=1``): CPU s/page,
  accuracy against the truth files, and the rerun that reads the cache.
* **engines**: each page image of the 150 dpi and degraded scans, straightened and with its rules
  erased as in production, recognised page-level by RapidOCR (its own detection + recognition)
  and by Tesseract 5 (``tesseract-ocr-chi-sim``, ``--psm 6``, when installed); the text boxes of
  both are laid out by the same code (rules from the image, the same table model) and scored
  against truth. The production pipeline (cell-wise RapidOCR) is the ``ocr`` part.

The machine is shared: compare ratios measured in one run, quote medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("XXGK_OCR_THREADS", "1")

from pipelines.extract import extract_document  # noqa: E402

TEXT_PDFS = [
    ROOT / "raw" / "incoming" / "jiangsu_huaian_hongze_district_gov_2023.pdf",
    ROOT / "raw" / "incoming" / "jiangsu_huaian_hongze_district_gov_2024.pdf",
    ROOT / "tests" / "data" / "fixtures" / "shanghai_municipal_gov_general_office_2019.chromium.pdf",
]
HONGZE = "jiangsu_huaian_hongze_district_gov_{}"


def cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def median_pass(paths, fn, repeat: int) -> float:
    for p in paths:
        fn(p)  # warm imports
    return statistics.median(sum(cpu(lambda p=p: fn(p)) for p in paths) for _ in range(repeat))


def text_pdfs(repeat: int) -> dict:
    import pypdfium2 as pdfium

    from pipelines.extract.pdf import read_pdf

    pages = 0
    for p in TEXT_PDFS:
        pdf = pdfium.PdfDocument(str(p))
        pages += len(pdf)
        pdf.close()

    def parse_only(p):  # PDFium parsing every page and its text page: the floor under any reader built on it
        pdf = pdfium.PdfDocument(str(p))
        for k in range(len(pdf)):
            pdf[k].get_textpage()
        pdf.close()

    out = {"documents": len(TEXT_PDFS), "pages": pages}
    for name, fn in (("read_pdf", read_pdf), ("extract_document", extract_document), ("pdfium_page_parsing", parse_only)):
        seconds = median_pass(TEXT_PDFS, fn, repeat)
        out[name] = {"cpu_seconds_per_pass": round(seconds, 4), "ms_per_document": round(1000 * seconds / len(TEXT_PDFS), 1),
                     "ms_per_page": round(1000 * seconds / pages, 2),
                     "documents_per_second_per_core": round(len(TEXT_PDFS) / seconds, 1)}
        print(f"text PDFs  {name:20s} {out[name]}")
    return out


def guards(folder: Path) -> dict:
    from scans import hostile_pdfs

    out = {}
    for name, path in hostile_pdfs(folder).items():
        start = time.perf_counter()
        ext = extract_document(path)
        seconds = time.perf_counter() - start
        out[name] = {"file_bytes": path.stat().st_size, "seconds": round(seconds, 3),
                     "outcome": f"{ext.fatal.kind}: {ext.fatal.message}" if ext.fatal else "read"}
        print(f"guards     {name:20s} {out[name]}")
    return out


def score(ext, stem: str) -> dict:
    from conftest import load_truth

    truth = load_truth(stem)
    got = {c.code: c.value for c in ext.cells}
    c = {"correct": 0, "wrong": 0, "missing": 0, "invented": 0}
    for code, want in truth.items():
        have = got.get(code)
        key = ("correct" if have is None else "invented") if want is None else \
              ("missing" if have is None else ("correct" if have == want else "wrong"))
        c[key] += 1
    c["invented"] += sum(1 for code, v in got.items() if code not in truth and v is not None)
    c["accuracy"] = round(c["correct"] / len(truth), 4)
    return c


def scans(folder: Path) -> dict[str, tuple[Path, str]]:
    import scans as make

    src = {y: ROOT / "raw" / "incoming" / f"{HONGZE.format(y)}.pdf" for y in (2023, 2024)}
    out = {
        "hongze_2023_150dpi": (make.image_only_pdf(src[2023], folder / "h2023_150.pdf", 150), HONGZE.format(2023)),
        "hongze_2024_150dpi": (make.image_only_pdf(src[2024], folder / "h2024_150.pdf", 150), HONGZE.format(2024)),
        "hongze_2023_300dpi": (make.image_only_pdf(src[2023], folder / "h2023_300.pdf", 300), HONGZE.format(2023)),
        "hongze_2023_degraded": (make.image_only_pdf(src[2023], folder / "h2023_degraded.pdf", 200, degraded=True), HONGZE.format(2023)),
    }
    if shutil.which("chromium"):
        shot = make.html_screenshot(ROOT / "raw" / "incoming" / "shanghai_municipal_gov_general_office_2019.html", folder / "shanghai.png")
        out["shanghai_2019_screenshot"] = (shot, "shanghai_municipal_gov_general_office_2019")
    return out


def ocr(folder: Path) -> dict:
    os.environ["XXGK_OCR_CACHE"] = str(folder / "ocr-cache")
    from pipelines.extract.ocr.engine import engine

    engine()  # models loaded once, not counted
    out = {}
    for name, (path, stem) in scans(folder).items():
        first = cpu(lambda: out.__setitem__("_ext", extract_document(path)))
        ext = out.pop("_ext")
        pages = int(ext.meta.get("ocr_pages", "1").split("-")[-1])
        again = cpu(lambda: extract_document(path))
        out[name] = {"pages": pages, "cpu_seconds": round(first, 1), "cpu_seconds_per_page": round(first / pages, 2),
                     "rerun_cpu_seconds": round(again, 3), **score(ext, stem)}
        print(f"ocr        {name:26s} {out[name]}")
    return out


# ------------------------------------------------------------------------------------ engines
def _page_images(path: Path, dpi: int):
    import numpy as np
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    for k in range(len(pdf)):
        yield np.asarray(pdf[k].render(scale=dpi / 72).to_pil().convert("RGB"))[:, :, ::-1].copy()
    pdf.close()


def _rapid_boxes(image, px):
    from rapidocr_onnxruntime import RapidOCR

    global _RAPID
    if "_RAPID" not in globals():
        _RAPID = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
    result, _ = _RAPID(image)
    boxes = []
    for quad, text, conf in result or []:
        xs, ys = [q[0] for q in quad], [q[1] for q in quad]
        boxes.append((text, min(xs) / px, min(ys) / px, max(xs) / px, max(ys) / px, float(conf)))
    return boxes


def _tesseract_boxes(image, px, dpi):
    import cv2

    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        cv2.imwrite(f.name, image)
        tsv = subprocess.run(["tesseract", f.name, "stdout", "-l", "chi_sim", "--psm", "6", "--dpi", str(dpi), "tsv"],
                             capture_output=True, text=True, check=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"}).stdout
    boxes = []
    for row in tsv.splitlines()[1:]:
        parts = row.split("\t")
        if len(parts) == 12 and parts[0] == "5" and parts[11].strip():
            left, top, w, h = (int(v) for v in parts[6:10])
            boxes.append((parts[11].strip(), left / px, top / px, (left + w) / px, (top + h) / px, float(parts[10]) / 100))
    return boxes


def _laid_out(boxes_per_page, rules_per_page, path):
    """The production extraction (table model and verification) of the lines that any engine's boxes give."""
    import pipelines.extract as extract
    from pipelines.extract.documents import Document
    from pipelines.extract.page_layout import Piece, edge, find_tables, page_lines

    lines, first = [], 0
    for pno, (boxes, rules) in enumerate(zip(boxes_per_page, rules_per_page), start=1):
        pieces = [Piece(t, x0, top, x1, bottom, confidence=c) for t, x0, top, x1, bottom, c in boxes]
        tables = find_tables([e for e in (edge(*r) for r in rules) if e])
        lines += page_lines(pieces, tables, pno, first, "ocr", "ocr")
        first += len(tables)
    doc = Document(path=path, file_type="pdf", lines=lines, text="\n".join(ln.text for ln in lines))
    reader = extract.read_document
    extract.read_document = lambda _path: doc  # the same stages as any document, from these lines
    try:
        return extract.extract_document(path)
    finally:
        extract.read_document = reader


def engines(folder: Path) -> dict:
    import cv2
    import numpy as np

    from pipelines.extract.ocr.page import binarize, ruling_lines, rotate, skew_angle, without_red

    available = {"rapidocr_page_level": True, "tesseract_chi_sim_page_level": bool(shutil.which("tesseract"))}
    out = {}
    fixtures = scans(folder)
    for name in ("hongze_2023_150dpi", "hongze_2023_degraded"):
        path, stem = fixtures[name]
        dpi = 150 if "150" in name else 200
        px = dpi / 72
        images, rules = [], []
        for image in _page_images(path, dpi):  # the production preprocessing: straightened, rules found and erased
            image = rotate(image, skew_angle(without_red(image)))
            mask, found = ruling_lines(binarize(without_red(image), int(15 * px) | 1), px)
            gray = without_red(image, strict=True)
            gray[cv2.dilate(mask, np.ones((3, 3), np.uint8)) > 0] = 255
            images.append(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
            rules.append([(x0 / px, t / px, x1 / px, b / px) for x0, t, x1, b in found])
        for engine_name, ok in available.items():
            if not ok:
                out.setdefault(engine_name, "not installed")
                continue
            start = time.process_time()
            t_children = os.times().children_user + os.times().children_system
            boxes = [(_rapid_boxes(im, px) if engine_name.startswith("rapid") else _tesseract_boxes(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY), px, dpi))
                     for im in images]
            seconds = time.process_time() - start + (os.times().children_user + os.times().children_system - t_children)
            ext = _laid_out(boxes, rules, path)
            out.setdefault(engine_name, {})[name] = {"cpu_seconds_per_page": round(seconds / len(images), 2), **score(ext, stem)}
            print(f"engines    {engine_name:30s} {name:22s} {out[engine_name][name]}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", choices=["text", "guards", "ocr", "engines"], action="append")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    ap.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "xxgk-pdf-ocr-benchmark")
    args = ap.parse_args()
    parts = args.only or ["text", "guards", "ocr", "engines"]
    shutil.rmtree(args.scratch, ignore_errors=True)
    args.scratch.mkdir(parents=True)
    results = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpu_count": os.cpu_count(),
               "load_average_at_start": [round(v, 1) for v in os.getloadavg()]}
    if "text" in parts:
        results["text_pdfs"] = text_pdfs(args.repeat)
    if "guards" in parts:
        results["guards"] = guards(args.scratch)
    if "ocr" in parts:
        results["ocr"] = ocr(args.scratch)
    if "engines" in parts:
        results["engines"] = engines(args.scratch)
    results["load_average_at_end"] = [round(v, 1) for v in os.getloadavg()]
    merged = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    merged["pdf_ocr"] = {**merged.get("pdf_ocr", {}), **results}
    args.out.write_text(json.dumps(merged, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out} (key pdf_ocr)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
