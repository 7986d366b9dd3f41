"""The landing zone: which files are in ``raw/``, their hash, and the report year they belong to.

Every path under raw/ is accounted for: a file that may be a report becomes a row of
``document_inventory`` (and later of ``reports``, whatever its content); everything else is a
row of ``inventory_skipped`` with the reason. Nothing under raw/ is silently absent:

* the landing zone's own files at the top (MANIFEST.csv, agencies.csv, README.md,
  PROVENANCE.md) — a README.md in a sub-folder is a document like any other;
* hidden files and folders (``.git``, ``.DS_Store``, editor swap files) — a folder is one row,
  its content is not listed;
* table data (``.csv``/``.tsv``) below the top;
* symbolic links: never followed. A link leaving raw/ would read a file that is not in the
  landing zone (``/etc/passwd``); a link inside raw/ would count its target twice (the target is
  listed under its own path); broken links and loops are recorded as such;
* FIFOs, sockets and devices (reading one would block the run), and files or folders that
  cannot be read.

**Report ids** are paths relative to raw/ (posix). A path whose bytes are not UTF-8, or that
contains a backslash or a control character, is written with escapes so that every id is a
valid string and no two paths share one: ``\\xNN`` for such a byte, ``\\\\`` for a backslash
(``bad\\xff.txt``). An id without a backslash is the path itself; ``document_path`` turns any id
back into the file.

**The report year** is read cheaply, without table finding or OCR, by the same metadata code
extraction uses (``extract.metadata.fill_metadata``), so the inventory never puts a document in
a different year than extraction reads: text formats are decoded by the extraction reader (files
above ``SNIFF_BYTES``: their first ``SNIFF_BYTES``, cut at a line end); PDFs by the text layer of
their first ``PDF_SNIFF_PAGES`` pages (``extract.pdf.quick_text``: no table finding, the PDF
guards first); scans and page images by their cached OCR text (``extract.ocr.cached_text``) when
they were read before; DOCX by the document reader when its parts are small. raw/MANIFEST.csv supplies
the year only when the document does not say; otherwise the document is ``undated``. Files are
re-hashed and re-read only when their size or modification time changed.
"""

from __future__ import annotations

import csv
import os
import re
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines.extract.documents import FILE_TYPES, file_type_of
from pipelines.extract.twins import MANIFEST, sha256_of
from pipelines.warehouse.store import UNDATED

ROOT_METADATA = {MANIFEST, "agencies.csv", "README.md", "PROVENANCE.md"}
DATA_SUFFIXES = {b".csv", b".tsv"}
DOCUMENT_TYPES = set(FILE_TYPES.values())
OCR_TYPES = {"pdf", "image"}  # may be scans, dated from their OCR text once extraction has read them
SNIFF_BYTES = 8 << 20  # text read by the inventory: the whole file up to this size, else its head
PDF_SNIFF_PAGES = 3  # pages of a PDF's text layer read for the title and 统计期限
DOCX_SNIFF_BYTES = 64 << 20  # DOCX whose parts expand to more than this are not opened by the inventory

INVENTORY_COLUMNS = [
    "source_path", "source_file", "file_type", "sha256", "size_bytes", "mtime_ns", "report_year", "year_source",
    "partition_key", "agency_printed", "manifest_agency", "manifest_year", "manifest_sha256", "manifest_source",
]
SKIPPED_COLUMNS = ["source_path", "entry_type", "reason_kind", "reason", "link_target", "size_bytes"]


# --------------------------------------------------------------------------------------------
# report ids of arbitrary path bytes

_NEEDS_ESCAPE = re.compile(r"[\\\x00-\x1f\x7f\udc80-\udcff]")
_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2})")


def path_id(rel: bytes | str) -> str:
    """The report id of a path relative to raw/ (bytes as on disk): valid text, one id per path."""
    text = os.fsdecode(rel) if isinstance(rel, bytes) else rel
    if not _NEEDS_ESCAPE.search(text):
        return text

    def escape(m: re.Match) -> str:
        ch = m.group(0)
        if ch == "\\":
            return "\\\\"
        code = ord(ch)
        return f"\\x{code - 0xDC00 if code >= 0xDC00 else code:02x}"

    return _NEEDS_ESCAPE.sub(escape, text)


def path_bytes(report_id: str) -> bytes:
    """The path bytes (relative to raw/) of a report id: the inverse of ``path_id``."""
    if "\\" not in report_id:
        return os.fsencode(report_id)
    out = bytearray()
    pos = 0
    for m in _ESCAPE.finditer(report_id):
        out += report_id[pos : m.start()].encode("utf-8")
        token = m.group(1)
        out += b"\\" if token == "\\" else bytes([int(token[1:], 16)])
        pos = m.end()
    out += report_id[pos:].encode("utf-8")
    return bytes(out)


def document_path(raw_dir: Path, report_id: str) -> Path:
    """The file of a report id (works for ids of undecodable names too)."""
    return Path(os.fsdecode(os.path.join(os.fsencode(Path(raw_dir)), path_bytes(report_id))))


# --------------------------------------------------------------------------------------------
# walking raw/


@dataclass
class Found:
    """One entry met while walking raw/: a candidate document, or a skipped path with its reason."""

    rel: bytes
    entry_type: str  # file | directory | symlink | special
    reason_kind: str | None = None  # None: a candidate document
    reason: str | None = None
    link_target: str | None = None
    size_bytes: int | None = None
    mtime_ns: int | None = None  # of a candidate document, from the walk's own stat


def _inside(path: bytes, root: bytes) -> bool:
    return path == root or path.startswith(root.rstrip(b"/") + b"/")


def _link(full: bytes, rel: bytes, real_root: bytes) -> Found:
    target = os.readlink(full)
    shown = path_id(target)
    try:
        resolved = os.path.realpath(full, strict=True)
    except FileNotFoundError:
        return Found(rel, "symlink", "broken_link", f"broken symbolic link (to {shown}): nothing to read", shown)
    except OSError as exc:  # ELOOP (a link loop) and the like
        return Found(rel, "symlink", "link_loop", f"symbolic link loop (to {shown}): {exc.strerror or exc}", shown)
    if not _inside(resolved, real_root):
        return Found(rel, "symlink", "link_outside",
                     f"symbolic link to {path_id(resolved)}, outside raw/: not followed (only files inside raw/ are read)", shown)
    inner = path_id(os.path.relpath(resolved, real_root))
    if os.path.isdir(resolved):
        return Found(rel, "symlink", "link_inside",
                     f"symbolic link to the folder {inner} inside raw/: not followed (its files are listed under their own paths)", shown)
    return Found(rel, "symlink", "link_inside",
                 f"symbolic link to {inner} inside raw/: not followed (that file is listed under its own path)", shown)


def walk(raw_dir: Path) -> list[Found]:
    """Every entry under raw/ (never following links), sorted by path: candidates and skipped paths."""
    root = os.fsencode(Path(raw_dir))
    real_root = os.path.realpath(root)
    found: list[Found] = []
    stack = [b""]
    while stack:
        rel_dir = stack.pop()
        try:
            with os.scandir(os.path.join(root, rel_dir) if rel_dir else root) as entries:
                entries = list(entries)
        except OSError as exc:
            if rel_dir:  # raw/ itself unreadable is the caller's error
                found.append(Found(rel_dir, "directory", "unreadable", f"folder cannot be read: {exc.strerror or exc}"))
                continue
            raise
        for entry in entries:
            rel = os.path.join(rel_dir, entry.name) if rel_dir else entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                found.append(Found(rel, "file", "vanished", "removed while raw/ was being listed"))
                continue
            if stat.S_ISLNK(st.st_mode):
                found.append(_link(entry.path, rel, real_root))
            elif entry.name.startswith(b"."):
                kind = "directory" if stat.S_ISDIR(st.st_mode) else "file"
                found.append(Found(rel, kind, "hidden", f"hidden {'folder (its content is not listed)' if kind == 'directory' else 'file'}",
                                   size_bytes=None if kind == "directory" else st.st_size))
            elif stat.S_ISDIR(st.st_mode):
                stack.append(rel)
            elif not stat.S_ISREG(st.st_mode):
                what = "FIFO" if stat.S_ISFIFO(st.st_mode) else "socket" if stat.S_ISSOCK(st.st_mode) else "device"
                found.append(Found(rel, "special", "special_file", f"a {what}, not a regular file: not read"))
            elif not rel_dir and os.fsdecode(entry.name) in ROOT_METADATA:
                found.append(Found(rel, "file", "metadata", "landing-zone metadata (not a report)", size_bytes=st.st_size))
            elif os.path.splitext(entry.name)[1].lower() in DATA_SUFFIXES:
                found.append(Found(rel, "file", "data_file", "table data (.csv/.tsv), not a report format", size_bytes=st.st_size))
            else:
                found.append(Found(rel, "file", size_bytes=st.st_size, mtime_ns=st.st_mtime_ns))
    found.sort(key=lambda f: f.rel)
    return found


# --------------------------------------------------------------------------------------------
# year and agency without reading tables


def read_manifest(raw_dir: Path) -> dict[str, dict]:
    """raw/MANIFEST.csv rows keyed by file path (relative to raw/)."""
    path = Path(raw_dir) / MANIFEST
    if not path.exists():
        return {}
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f) if row.get("file")}


def _text_head(path: Path):
    """The extraction reader's document of a text file (its first ``SNIFF_BYTES``, cut at a line end, when larger)."""
    from pipelines.extract.documents import read_document

    if path.stat().st_size <= SNIFF_BYTES:
        return read_document(path)
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    cut = head.rfind(b"\n")
    head = head[: cut + 1] if cut > 0 else head
    # the same reader (decoding included) on the head, through a file of the same type
    with tempfile.NamedTemporaryFile(suffix=path.suffix, prefix="xxgk-sniff-") as tmp:
        tmp.write(head)
        tmp.flush()
        return read_document(Path(tmp.name))


def _text_document(path: Path, kind: str, text: str | None):
    """A document of free lines (cleaned as the PDF reader cleans them) from a quick text read; None without text."""
    from pipelines.extract.documents import FREE, Cell, Document, Line
    from pipelines.extract.text import clean_line, fix_glyphs

    lines = [t for t in (clean_line(fix_glyphs(ln)) for ln in (text or "").splitlines()) if t]
    if not lines:
        return None
    doc_lines = [Line([Cell(t, line=k + 1)], FREE, "pdf_text") for k, t in enumerate(lines)]
    return Document(path=path, file_type=kind, lines=doc_lines, text="\n".join(lines))


def _docx_small(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return sum(i.file_size for i in z.infolist()) <= DOCX_SNIFF_BYTES
    except (zipfile.BadZipFile, OSError, ValueError):
        return True  # the reader gives the reason


def head_document(path: Path, sha256: str | None = None):
    """The part of a document that states its title and year, read without tables or OCR (None: nothing to read)."""
    from pipelines.extract.documents import read_document
    from pipelines.extract.ocr import cached_text
    from pipelines.extract.pdf import quick_text

    kind = file_type_of(path)
    if kind in ("txt", "md", "html"):
        return _text_head(path)
    if kind == "pdf":  # the text layer of the first pages (guarded against page-count and stream bombs), else OCR done before
        return _text_document(path, kind, quick_text(path, PDF_SNIFF_PAGES) or (cached_text(sha256) if sha256 else None))
    if kind == "image":
        return _text_document(path, kind, cached_text(sha256) if sha256 else None)
    if kind == "docx" and _docx_small(path):
        return read_document(path)
    return None


def sniff(path: Path, sha256: str | None = None) -> tuple[int | None, str | None]:
    """(report year, printed agency) as extraction will read them, from the document's head (no tables, no OCR)."""
    from pipelines.extract import prepare
    from pipelines.extract.metadata import fill_metadata
    from pipelines.extract.model import Extraction

    try:
        doc = head_document(Path(path), sha256)
    except Exception:  # unreadable here is unreadable for extraction too: it records the reason
        return None, None
    if doc is None:
        return None, None
    ext = Extraction(source_path=str(path), file_type=file_type_of(Path(path)))
    prepare(doc, ext)  # as extraction does: a mirror converted back, page furniture removed
    fill_metadata(doc, ext)
    return ext.report_year, ext.agency_printed


def _int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# the inventory


@dataclass
class Inventory:
    """The landing zone: documents (``document_inventory``) and every other path with its reason (``inventory_skipped``)."""

    documents: pd.DataFrame
    skipped: pd.DataFrame


def take_stock(raw_dir: Path, previous: pd.DataFrame | None = None, workers: int = 0, limits=None) -> Inventory:
    """Walk raw/: hash and date every document, record every other path with the reason it is not one.

    New or changed documents are read in the worker pool, under the per-document limits
    (``workers``: 0 = one per core; ``limits``: ``workers.Limits``, default from the environment).
    """
    raw_dir = Path(raw_dir)
    manifest = read_manifest(raw_dir)
    known = {}
    if previous is not None and not previous.empty:
        known = {r.source_path: r for r in previous.itertuples(index=False)}
    rows, skipped, to_read = [], [], []
    for item in walk(raw_dir):
        rel = path_id(item.rel)
        if item.reason_kind is not None:
            skipped.append({"source_path": rel, "entry_type": item.entry_type, "reason_kind": item.reason_kind,
                            "reason": item.reason, "link_target": item.link_target, "size_bytes": item.size_bytes})
            continue
        path = document_path(raw_dir, rel)
        size, mtime = item.size_bytes, item.mtime_ns  # the walk's stat (not stat twice)
        try:
            prev = known.get(rel)
            if prev is not None and prev.size_bytes == size and prev.mtime_ns == mtime:
                sha, year, agency = prev.sha256, None if pd.isna(prev.report_year) else int(prev.report_year), prev.agency_printed
                source = prev.year_source if year is not None else None
                if file_type_of(path) in OCR_TYPES and source != "document":
                    year, agency, source = None, None, None  # a scan not dated by its own text: its OCR may be cached by now
                    to_read.append((len(rows), path, sha))
            else:
                sha, year, agency, source = sha256_of(path), None, None, None
                if file_type_of(path) in DOCUMENT_TYPES:
                    to_read.append((len(rows), path, sha))
        except OSError as exc:
            kind = "vanished" if isinstance(exc, FileNotFoundError) else "unreadable"
            skipped.append({"source_path": rel, "entry_type": "file", "reason_kind": kind,
                            "reason": f"file cannot be read: {exc.strerror or exc}", "link_target": None,
                            "size_bytes": item.size_bytes})
            continue
        m = manifest.get(rel, {})
        rows.append({
            "source_path": rel, "source_file": rel.rsplit("/", 1)[-1], "file_type": file_type_of(path), "sha256": sha,
            "size_bytes": size, "mtime_ns": mtime, "report_year": year, "year_source": source,
            "agency_printed": agency,
            "manifest_agency": m.get("agency") or None, "manifest_year": _int(m.get("report_year")),
            "manifest_sha256": m.get("sha256") or None, "manifest_source": m.get("source") or None,
        })
    for (k, _, _), (year, agency) in zip(to_read, sniff_all([(path, sha) for _, path, sha in to_read], workers, limits)):
        rows[k].update(report_year=year, agency_printed=agency)
    for row in rows:
        if row["year_source"] is None:  # not reused: read now
            row["year_source"] = "document" if row["report_year"] is not None else None
        if row["report_year"] is None and row["manifest_year"] is not None:
            row["report_year"], row["year_source"] = row["manifest_year"], "manifest"  # only when the document does not say
        row["partition_key"] = str(row["report_year"]) if row["report_year"] is not None else UNDATED
    return Inventory(pd.DataFrame(rows, columns=INVENTORY_COLUMNS), pd.DataFrame(skipped, columns=SKIPPED_COLUMNS))


def sniff_all(items: list[tuple[Path, str]], workers: int = 0, limits=None) -> list[tuple[int | None, str | None]]:
    """``sniff`` of every (path, sha256), in order, in the warm worker pool under the per-document limits.

    A document over a limit, or one that crashes a C library, is simply not dated here
    (extraction, in the same pool, records why); the inventory itself never fails on it.
    """
    from pipelines.workers import run_all

    return run_all(_sniff_item, items, lambda item, failure: (None, None), workers, limits)


def _sniff_item(item: tuple[Path, str]) -> tuple[int | None, str | None]:
    return sniff(*item)


def scan(raw_dir: Path, previous: pd.DataFrame | None = None, workers: int = 0, limits=None) -> pd.DataFrame:
    """The inventory frame (``document_inventory`` table) of a landing zone."""
    return take_stock(raw_dir, previous, workers, limits).documents


def changed_partitions(previous: pd.DataFrame, current: pd.DataFrame) -> set[str]:
    """Partitions whose documents were added, removed or changed (by sha256); both old and new keys of a moved document."""
    before = dict(zip(previous.source_path, zip(previous.sha256, previous.partition_key))) if len(previous) else {}
    after = dict(zip(current.source_path, zip(current.sha256, current.partition_key)))
    out: set[str] = set()
    for path in set(before) | set(after):
        if before.get(path) != after.get(path):
            out.update(entry[1] for entry in (before.get(path), after.get(path)) if entry)
    return out
