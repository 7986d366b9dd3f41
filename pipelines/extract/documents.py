"""Reading a file into a ``Document``: a list of lines, each a list of cells with provenance.

Every reader turns its format into the same shape so that one table matcher serves all:

* ``grid`` lines come from real cell boundaries (HTML ``<tr>``, markdown table rows,
  tab-separated text, PDF/DOCX table rows); a blank cell is kept as an empty string.
* ``pipe`` lines come from web text where cell boundaries survived as ``|`` but row
  boundaries did not; consecutive pipe lines are joined and trailing empties are unreliable.
* ``free`` lines are running text (paragraphs, PDF text lines, tables flattened to a stream).

Readers never interpret the statistics; they only keep the printed text and where it was.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.extract.decode import BinaryContent, Decoded, decode

DAMAGE = "\ufffd"  # an undecodable byte or a NUL run: a number touching it is not read

GRID = "grid"
PIPE = "pipe"
FREE = "free"

TEXT_TYPES = {".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}
IMAGE_TYPES = {".png": "image", ".jpg": "image", ".jpeg": "image", ".tif": "image", ".tiff": "image"}  # page images: OCR
FILE_TYPES = {**TEXT_TYPES, ".pdf": "pdf", ".docx": "docx", **IMAGE_TYPES}


class DocumentError(Exception):
    """The file cannot be read as a document; ``reason`` says why in plain words."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass
class Cell:
    """Printed text of one cell and where it sits."""

    text: str
    line: int | None = None
    page: int | None = None
    table_index: int | None = None
    row_index: int | None = None
    col_index: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    # readers that can misread (OCR) say how sure they are and what else the text could be;
    # the verification stage chooses among the alternatives with the tables' own equalities
    confidence: float | None = None
    alternatives: tuple[str, ...] = ()


@dataclass
class Line:
    """One row of cells (grid/pipe) or one run of text (free)."""

    cells: list[Cell]
    mode: str
    source_kind: str

    @property
    def text(self) -> str:
        """The line's text with cells joined by tabs."""
        return "\t".join(c.text for c in self.cells)


@dataclass
class Document:
    """A read document: lines in reading order, full text, and header metadata."""

    path: Path
    file_type: str
    lines: list[Line]
    text: str
    meta: dict = field(default_factory=dict)
    pages: int | None = None
    # parts the reader could not read (kind, message, location), e.g. a page over the OCR time budget
    issues: list[tuple[str, str, str | None]] = field(default_factory=list)
    # text readers: the encoding used, characters that could not be decoded (replaced by U+FFFD),
    # and lines where NUL runs were found (each run is one U+FFFD)
    encoding: str | None = None
    replaced: int = 0
    damaged_lines: list[int] = field(default_factory=list)
    text_first_line: int = 1  # source line number of ``text``'s first line (text readers skip what precedes the body)


def file_type_of(path: Path) -> str:
    """txt / md / html / pdf / docx / image / other, by extension."""
    return FILE_TYPES.get(path.suffix.lower(), "other")


def read_document(path: Path) -> Document:
    """Read any supported file; raises ``DocumentError`` with a plain reason otherwise."""
    path = Path(path)
    kind = file_type_of(path)
    if not path.exists():
        raise DocumentError("missing", f"file not found: {path}")
    if path.stat().st_size == 0:
        raise DocumentError("empty", "empty file (0 bytes)")
    if kind in ("txt", "md", "html"):
        decoded = _decode(path.read_bytes())
        if kind == "html":
            from pipelines.extract.html import read_html

            doc = read_html(path, decoded.text)
        else:
            doc = read_text(path, decoded.text, kind)
        doc.encoding = decoded.encoding
        doc.replaced = decoded.replaced
        doc.damaged_lines = sorted(set(decoded.nul_lines) | set(doc.damaged_lines))
        return doc
    if kind == "pdf":
        from pipelines.extract.pdf import read_pdf

        return read_pdf(path)
    if kind == "docx":
        from pipelines.extract.docx import read_docx

        return read_docx(path)
    if kind == "image":
        from pipelines.extract.ocr import read_image

        return read_image(path)
    raise DocumentError("unsupported", f"unsupported file type {path.suffix or '(none)'}")


def _decode(raw: bytes) -> Decoded:
    if raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise DocumentError("unsupported", "binary OLE file (old Word .doc); convert it to .docx or PDF")
    try:
        decoded = decode(raw)
    except BinaryContent as exc:
        raise DocumentError("unreadable", str(exc)) from exc
    if not decoded.text.strip("\ufffd \n\r\t"):
        raise DocumentError("empty", "the file contains no text")
    return decoded


# ---------------------------------------------------------------------------------------------
# plain text and markdown

_ARCHIVE_SPLIT = re.compile(r"^=+\s*正文\s*=+\s*$")
_HEADER_KV = re.compile(r"^(#\s*)?(?P<key>[\w\u4e00-\u9fff ]{1,12})\s*[:：]\s*(?P<value>.*)$")
MAX_PIPE_CELL = 80  # a line whose '|' separate longer stretches is running text that happens to contain '|'
_MD_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def _split_header(lines: list[str]) -> tuple[dict, int]:
    """Metadata written above the body: an archive header ending in '==== 正文 ====' or '# key: value' notes."""
    meta: dict = {}
    for n, line in enumerate(lines[:40]):
        if _ARCHIVE_SPLIT.match(line.strip()):
            for head in lines[:n]:
                m = _HEADER_KV.match(head.strip())
                if m:
                    meta[m.group("key").strip()] = m.group("value").strip()
            return meta, n + 1
    start = 0
    for n, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("# ") and ":" in stripped and not stripped.startswith("# 表"):
            m = _HEADER_KV.match(stripped)
            if m:
                meta[m.group("key").strip()] = m.group("value").strip()
                start = n + 1
                continue
        break
    return meta, start


def read_text(path: Path, text: str, kind: str) -> Document:
    """Plain text (tabs and pipes are cell boundaries) or markdown (``|`` tables)."""
    raw_lines = text.splitlines()
    meta, start = _split_header(raw_lines)
    lines: list[Line] = []
    source_kind = "md" if kind == "md" else "text"
    pending: list[tuple[int, str]] = []  # consecutive pipe-flattened lines

    def flush_pipes() -> None:
        if not pending:
            return
        cells = []
        joined = "".join(t for _, t in pending)
        # cell k sits on the line where its printed text starts (the last line starting at or before its first
        # non-space character; a blank cell: where it starts)
        starts = list(itertools.accumulate((len(t) for _, t in pending[:-1]), initial=0))
        pos = 0
        parts = joined.split("|")
        if len(parts) > 1 and not parts[-1].strip():
            parts.pop()  # the end of the text after its last '|' is not a cell
        # a line ending in a digit joined to one starting with a digit would make one number of two lines' figures
        # ('0 |8' + '0 |' -> '80'): the break is marked as damage, so no value is read across it
        glued = [starts[i + 1] for i in range(len(pending) - 1)
                 if pending[i][1].rstrip()[-1:].isdigit() and pending[i + 1][1].lstrip()[:1].isdigit()]
        for k, part in enumerate(parts):
            at = pos + (len(part) - len(part.lstrip()) if part.strip() else 0)
            ln = pending[bisect.bisect_right(starts, at) - 1][0]
            cuts = [b - pos for b in glued if pos < b < pos + len(part)]
            text = part if not cuts else "".join(part[i:j] + (DAMAGE if j < len(part) else "")
                                                 for i, j in zip([0] + cuts, cuts + [len(part)]))
            cells.append(Cell(text.strip(), line=ln, col_index=k))
            pos += len(part) + 1
        lines.append(Line(cells, PIPE, source_kind))
        pending.clear()

    for idx in range(start, len(raw_lines)):
        lineno = idx + 1
        line = raw_lines[idx]
        stripped = line.strip()
        if kind == "md" and stripped.startswith("|"):
            flush_pipes()
            if _MD_SEPARATOR.match(stripped):
                continue
            body = stripped[1:-1] if stripped.endswith("|") and len(stripped) > 1 else stripped[1:]
            cells = [Cell(p.strip(), line=lineno, col_index=k) for k, p in enumerate(body.split("|"))]
            lines.append(Line(cells, GRID, source_kind))
            continue
        if kind == "txt" and "|" in line and len(line) <= MAX_PIPE_CELL * (line.count("|") + 1):
            pending.append((lineno, line))
            continue
        flush_pipes()
        if not stripped:
            continue
        if "\t" in line:
            cells = [Cell(p.strip(), line=lineno, col_index=k) for k, p in enumerate(line.rstrip("\r\n").split("\t"))]
            lines.append(Line(cells, GRID, source_kind))
        else:
            lines.append(Line([Cell(stripped, line=lineno, col_index=0)], FREE, source_kind))
    flush_pipes()
    body_text = "\n".join(raw_lines[start:])
    return Document(path=path, file_type=kind, lines=lines, text=body_text, meta=meta, text_first_line=start + 1)
