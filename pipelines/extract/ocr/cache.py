"""OCR results cached per (file sha256, page, OCR version): a page is recognised once, ever.

Layout: ``<root>/<version key>/<sha256[:2]>/<sha256>/p<page>.json`` where the root is
``$XXGK_OCR_CACHE`` (``off`` disables the cache; the pipeline sets it to ``<warehouse>/cache/ocr``
unless it is set, the tests to a temporary directory), else ``<XXGK_WAREHOUSE or the project's
warehouse/>/cache/ocr``. An environment variable, so worker processes inherit it.
Writes are atomic (temporary file + rename), so concurrent workers and a kill at any point
leave either the old state or a complete page. The version key changes with the engine
(package, models) and with the OCR code, so a new version never reads an old result; old
version directories can be deleted at any time.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

def cache_dir() -> Path | None:
    """The cache root in use, or None when caching is off."""
    env = os.environ.get("XXGK_OCR_CACHE")
    if env:
        return None if env.lower() == "off" else Path(env)
    from pipelines.settings import default_warehouse_dir

    return default_warehouse_dir() / "cache" / "ocr"


@lru_cache(maxsize=1)
def ocr_version() -> str:
    """The engine version plus a hash of the code that turns pixels into pieces and rules."""
    from pipelines.extract.ocr.engine import engine_version

    here = Path(__file__).resolve().parent
    sources = sorted(here.glob("*.py")) + [here.parent / "page_layout.py"]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:8]
    return f"{engine_version()} code {digest}"


def _version_key() -> str:
    return hashlib.sha256(ocr_version().encode()).hexdigest()[:12]


def _page_path(root: Path, sha256: str, page: int, key: str | None = None) -> Path:
    return root / (key or _version_key()) / sha256[:2] / sha256 / f"p{page:04d}.json"


def load(sha256: str, page: int) -> dict | None:
    """The cached result of one page, or None."""
    root = cache_dir()
    if root is None:
        return None
    path = _page_path(root, sha256, page)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def save(sha256: str, page: int, result: dict) -> None:
    """Store one page's result atomically (a failure to write only costs a re-OCR later)."""
    root = cache_dir()
    if root is None:
        return
    path = _page_path(root, sha256, page)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(result, f, ensure_ascii=False)
        os.replace(tmp, path)
    except OSError:
        pass


@contextmanager
def document_lock(sha256: str):
    """Held while a process OCRs a file: another process reading the same file (a copy in raw/) waits, then reuses the result."""
    root = cache_dir()
    if root is None:
        yield
        return
    folder = root / _version_key() / sha256[:2] / sha256
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / ".lock", "a+")
    except OSError:
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def cached_text(sha256: str) -> str | None:
    """All cached OCR text of a file (pages in order, any OCR version, the current one first), or None.

    For the inventory: the year and agency of a scanned document, without running OCR.
    """
    root = cache_dir()
    if root is None or not root.is_dir():
        return None
    current = root / _version_key() / sha256[:2] / sha256
    candidates = [current] + sorted(p for p in root.glob(f"*/{sha256[:2]}/{sha256}") if p != current)
    for folder in candidates:
        pages = sorted(folder.glob("p*.json"))
        if not pages:
            continue
        texts = []
        for p in pages:
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            texts.append(_page_text(data))
        if texts:
            return "\n".join(texts)
    return None


def _page_text(data: dict) -> str:
    """A cached page's pieces as text lines, top to bottom."""
    pieces = sorted(data.get("pieces", []), key=lambda p: ((p["top"] + p["bottom"]) / 2, p["x0"]))
    lines: list[list[dict]] = []
    for p in pieces:
        mid = (p["top"] + p["bottom"]) / 2
        if lines and abs(mid - (lines[-1][0]["top"] + lines[-1][0]["bottom"]) / 2) <= 3:
            lines[-1].append(p)
        else:
            lines.append([p])
    return "\n".join(" ".join(q["text"] for q in sorted(line, key=lambda q: q["x0"])) for line in lines)
