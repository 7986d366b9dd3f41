"""The hostile-input catalogue: odd and hostile files for raw/, each with the outcome it must have.

``build(root)`` writes the bundled samples plus every input of ``CATALOGUE`` into ``root/raw``
(and link targets into ``root/outside``); ``tests/test_hostile_catalogue.py`` runs them all in
ONE ``xxgk run`` and checks every path. Nothing big is stored in the repository: the huge
inputs (a 5,000-page PDF, a PDF hiding a 60 MB drawing stream, a 100 MB text, a 2 GB sparse
file, a zip bomb) are generated on the fly, bounded by ``SIZES``.

Every input says what it must become (issue 12's intended behaviour): a ``reports`` row with an
allowed status and a reason, or an ``inventory_skipped`` row with a reason kind. Inputs whose
intended outcome needs another helper's work that is not on this branch yet are listed in the
ONE table ``AWAITING_MERGE`` with the outcome they have today (or ``NOT_RUN`` when running them
without that work would cost the run minutes and gigabytes); the test accepts the intended or
today's outcome for those, and warns when an input already meets its intended outcome (delete
its row then). Nothing else is gated.

Generate the catalogue into a folder to look at it: ``python -m hostile.catalogue OUT`` (from
``tests/``).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "raw"

PUBLISHED = ("published",)
READ = ("published", "published_partial")  # read, possibly with a loss that is said
NOT_PUBLISHED = ("published_partial", "quarantined", "rejected")
REJECTED = ("rejected",)

# bounds of the inputs generated on the fly (the issue's figures)
SIZES = {"pdf_pages": 5000, "drawing_stream_mb": 60, "huge_text_mb": 100, "sparse_gb": 1, "zip_bomb_mb": 200,
         "nesting": 10_000, "long_line_mb": 4}


@dataclass(frozen=True)
class Outcome:
    """What one path under raw/ must become.

    ``table="reports"``: ``kinds`` are the allowed statuses; ``reason`` a regex (case-insensitive)
    that the report's reason or one of its extraction issues (kind or message) must match.
    ``table="skipped"``: ``kinds`` are the allowed ``inventory_skipped.reason_kind`` values.
    ``payload_cells``: the cells are those of the clean report the input wraps. ``not_confident``:
    codes that must not carry a confident value.
    """

    table: str
    kinds: tuple[str, ...]
    reason: str = ""
    payload_cells: bool = False
    not_confident: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for messages."""
        extra = (f" reason~/{self.reason}/" if self.reason else "") + (" cells=payload" if self.payload_cells else "") + (
            f" not confident {list(self.not_confident)}" if self.not_confident else "")
        return f"{self.table}:{'|'.join(self.kinds)}{extra}"


def report(kinds: tuple[str, ...], reason: str = "", **kw) -> Outcome:
    """A reports row with one of ``kinds`` as status."""
    return Outcome("reports", kinds, reason, **kw)


def skipped(kind: str) -> Outcome:
    """An inventory_skipped row with this reason kind."""
    return Outcome("skipped", (kind,))


Expect = Outcome | tuple[Outcome, ...]  # a tuple: any one of them
NOT_RUN = "not run"  # AWAITING_MERGE: the input is not generated until the named work is on main


def alternatives(expect: Expect) -> tuple[Outcome, ...]:
    """The outcomes an expectation allows."""
    return expect if isinstance(expect, tuple) else (expect,)


@dataclass
class Kit:
    """What builders need: clean payload reports, renamed bundled samples, a place outside raw/."""

    root: Path
    payloads: dict[bytes, tuple[bytes, str]] = field(default_factory=dict)  # rel -> (clean bytes, suffix)

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def outside(self) -> Path:
        return self.root / "outside"

    def path(self, rel: bytes) -> Path:
        """The file of a raw/-relative path given as bytes (any name)."""
        full = os.path.join(os.fsencode(self.raw), rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        return Path(os.fsdecode(full))

    def write(self, rel: bytes, data: bytes, clean: tuple[bytes, str] | None = None) -> Path:
        """Write a file under raw/; ``clean`` = the payload it wraps (bytes, suffix) for the cell comparison."""
        p = self.path(rel)
        p.write_bytes(data)
        if clean is not None:
            self.payloads[rel] = clean
        return p

    @staticmethod
    def synth(fmt: str, tag: str) -> bytes:
        """A consistent synthetic 2022 report (txt/md/html) of a made-up body ``{tag}市…`` (UTF-8), one per tag."""
        text, body = _synth_report(fmt)
        return text.replace(body, f"{tag}市{SYNTH_BODIES[fmt]}").encode("utf-8")

    def sample(self, rel: str, rename: tuple[str, str] | None = None) -> bytes:
        """A bundled sample's bytes, its reporting body renamed so that it is no copy of the sample."""
        data = (SAMPLES / rel).read_bytes()
        if rename:
            data = data.decode("utf-8").replace(rename[0], rename[1]).encode("utf-8")
        return data


SYNTH_BODIES = {"txt": "人民政府办公室", "md": "教育局", "html": "财政局"}


@functools.lru_cache(maxsize=None)
def _synth_report(fmt: str) -> tuple[str, str]:
    """(text, printed body name) of the first synthetic 2022 report of a format that speaks for one body."""
    import csv

    from pipelines.synth import generate

    with tempfile.TemporaryDirectory(prefix="xxgk-hostile-synth-") as tmp:
        generate(Path(tmp), districts=0, years=(2022,), seed=7)
        with (Path(tmp) / "MANIFEST.csv").open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                text = (Path(tmp) / row["file"]).read_text(encoding="utf-8")
                if row["file"].endswith("." + fmt) and "编制而成" not in text:  # not a region's aggregate
                    return text, row["agency"]
    raise AssertionError(f"xxgk synth wrote no single-body .{fmt} report")


@dataclass(frozen=True)
class Hostile:
    """One hostile input: the paths it puts under raw/ and what each must become."""

    name: str
    covers: str
    files: dict[bytes, Expect]
    build: Callable[[Kit], None]


# --------------------------------------------------------------------------------------------
# builders


def _payload(fmt: str, tag: str, rel: bytes, encode: Callable[[str], bytes] | None = None, wrap=None):
    """A builder writing the synthetic payload, optionally re-encoded or wrapped."""

    def build(kit: Kit) -> None:
        clean = kit.synth(fmt, tag)
        data = clean
        if wrap:
            data = wrap(clean.decode("utf-8")).encode("utf-8")
        if encode:
            data = encode(clean.decode("utf-8"))
        kit.write(rel, data, clean=(clean, "." + fmt))

    return build


def _traditional_big5(text: str) -> bytes:
    import opencc

    return opencc.OpenCC("s2t").convert(text).encode("big5", errors="replace")


def _nested(depth: int):
    def wrap(html: str) -> str:
        head, body = html.split("<body>", 1)
        return head + "<body>" + "<div>" * depth + body.replace("</body>", "</div>" * depth + "</body>")

    return wrap


GANSU = "incoming/gansu_ganzhou_district_gov_2016.txt"


def _gansu(kit: Kit, tag: str) -> bytes:
    return kit.sample(GANSU, ("甘州", tag))


def _cells_of(data: bytes, suffix: str):
    """Cells of a document given as bytes (extracted in-process)."""
    from pipelines.extract import extract_document

    with tempfile.TemporaryDirectory(prefix="xxgk-hostile-") as tmp:
        p = Path(tmp) / f"doc{suffix}"
        p.write_bytes(data)
        return extract_document(p).cells


def _table_span(data: bytes, suffix: str) -> tuple[int, int]:
    """Byte offsets of the first and last line holding a confident cell."""
    cells = [c for c in _cells_of(data, suffix) if c.value is not None and c.line]
    lines = data.split(b"\n")
    starts = [0]
    for ln in lines:
        starts.append(starts[-1] + len(ln) + 1)
    first, last = min(c.line for c in cells), max(c.line for c in cells)
    return starts[first - 1], starts[last]


def _gansu_truncated(kit: Kit) -> None:
    data = _gansu(kit, "测截")
    cut = data[:14_000].decode("utf-8", errors="ignore").encode("utf-8")  # at a character boundary: a clean cut
    kit.write(b"complete/truncated_14k.txt", cut)


def _gansu_nul(kit: Kit) -> None:
    data = _gansu(kit, "测零")
    lo, hi = _table_span(data, ".txt")
    at = data.rfind(b"\n", 0, (lo + hi) // 2) + 1
    kit.write(b"complete/nul_run_mid_table.txt", data[:at] + b"\x00" * 64 + data[at:], clean=(data, ".txt"))


def _gansu_flip_narrative(kit: Kit) -> None:
    data = _gansu(kit, "测翻")
    lo, _ = _table_span(data, ".txt")
    at = data.find("不断增强".encode()) + 1  # a continuation byte inside the narrative, before the tables
    assert 0 < at < lo
    kit.write(b"enc/flipped_byte_narrative.txt", data[:at] + bytes([data[at] ^ 0x40]) + data[at + 1:], clean=(data, ".txt"))


def _flip_in_cell(kit: Kit) -> None:
    """The first digit of 行政许可's number (printed once, in its table row) made an undecodable byte."""
    data = kit.synth("txt", "测格")
    at = data.index("行政许可\t".encode()) + len("行政许可\t".encode())
    assert data[at : at + 1].isdigit()
    kit.write(b"enc/flipped_byte_in_cell.txt", data[:at] + bytes([data[at] | 0x80]) + data[at + 1:])  # '4' -> 0xb4


HANYANG = "incoming/hubei_wuhan_hanyang_district_gov_office_2022.excerpt.txt"


def _flattened_dup_zero(kit: Kit) -> None:
    """The audit's case: 规章's row prints two of its three values (one cell per line); its `0 |` line repeated."""
    lines = kit.sample(HANYANG).split(b"\n")
    k = lines.index("规章 |".encode()) + 1
    assert lines[k] == b"0 |" and lines[k + 2] == b"|", "the sample changed: 规章 | 0 | 0 | (blank)"
    kit.write(b"complete/flattened_dup_zero.txt", b"\n".join(lines[: k + 1] + [lines[k]] + lines[k + 1:]))


def _tables_twice(kit: Kit) -> None:
    html = kit.synth("html", "测双").decode("utf-8")
    i, j = html.index("<p>三、"), html.index("<p>四、")
    block = html[i:j]
    changed = re.sub(r"<td>(\d+)</td>", lambda m: f"<td>{int(m.group(1)) + 1}</td>", block, count=1)
    kit.write(b"complete/table_printed_twice_disagreeing.html", (html[:j] + changed + html[j:]).encode("utf-8"))


def _huge_text(kit: Kit) -> None:
    clean = kit.synth("txt", "测巨")
    filler = ("本机关持续推进政府信息公开工作，进一步完善公开制度，规范公开形式。" * 40 + "\n").encode("utf-8")
    rel = b"size/huge_100mb.txt"
    p = kit.write(rel, clean, clean=(clean, ".txt"))
    with p.open("ab") as f:
        for _ in range(SIZES["huge_text_mb"] * (1 << 20) // len(filler)):
            f.write(filler)


def _long_line(kit: Kit) -> None:
    clean = kit.synth("txt", "测长")
    kit.write(b"size/one_4mb_line.txt", clean + b"x" * (SIZES["long_line_mb"] << 20), clean=(clean, ".txt"))


def _sparse(kit: Kit) -> None:
    p = kit.path(b"size/sparse_1gb.txt")
    with p.open("wb") as f:
        f.truncate(SIZES["sparse_gb"] << 30)


def _pdf_writer():
    from pypdf import PdfWriter

    return PdfWriter()


def _sample_pdf() -> bytes:
    return (SAMPLES / "incoming/jiangsu_huaian_hongze_district_gov_2024.pdf").read_bytes()


def _pdf_encrypted(kit: Kit) -> None:
    import io

    from pypdf import PdfReader

    w = _pdf_writer()
    for page in PdfReader(io.BytesIO(_sample_pdf())).pages:
        w.add_page(page)
    w.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    buf = io.BytesIO()
    w.write(buf)
    kit.write(b"pdf/encrypted.pdf", buf.getvalue())


def _pdf_many_pages(kit: Kit) -> None:
    import io

    from pypdf import PdfReader

    w = _pdf_writer()
    first = PdfReader(io.BytesIO(_sample_pdf())).pages[1]
    page = w.add_page(first)
    for _ in range(SIZES["pdf_pages"] - 1):
        w.add_page(page)  # the same content objects, referenced again: a small file
    buf = io.BytesIO()
    w.write(buf)
    kit.write(b"pdf/5000_pages.pdf", buf.getvalue())


def _pdf_drawing_stream(kit: Kit) -> None:
    import io

    from pypdf.generic import DecodedStreamObject, NameObject

    w = _pdf_writer()
    page = w.add_blank_page(595, 842)
    unit = b"0 0 m 595 842 l S 10 10 m 20 20 l S\n"
    body = unit * (SIZES["drawing_stream_mb"] * (1 << 20) // len(unit))
    stream = DecodedStreamObject()
    stream.set_data(body)
    page[NameObject("/Contents")] = w._add_object(stream.flate_encode(level=9))
    buf = io.BytesIO()
    w.write(buf)
    kit.write(b"pdf/hidden_60mb_drawing.pdf", buf.getvalue())


def _pdf_blank(kit: Kit) -> None:
    import io

    w = _pdf_writer()
    w.add_blank_page(595, 842)
    buf = io.BytesIO()
    w.write(buf)
    kit.write(b"pdf/no_text_layer.pdf", buf.getvalue())


def _docx(parts: dict[str, bytes], compress=zipfile.ZIP_DEFLATED) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return buf.getvalue()


_CT = (b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
       b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
       b'<Default Extension="xml" ContentType="application/xml"/>'
       b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
       b"</Types>")
_RELS = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
         b"</Relationships>")
_W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _docx_with_body(body: bytes, prolog: bytes = b"") -> bytes:
    doc = b'<?xml version="1.0" encoding="UTF-8"?>' + prolog + b"<w:document " + _W + b"><w:body>" + body + b"</w:body></w:document>"
    return _docx({"[Content_Types].xml": _CT, "_rels/.rels": _RELS, "word/document.xml": doc})


def _para(text: str) -> bytes:
    return b"<w:p><w:r><w:t>" + text.encode("utf-8") + b"</w:t></w:r></w:p>"


def _docx_zip_bomb(kit: Kit) -> None:
    import io

    buf = io.BytesIO()
    title = _para("测炸市人民政府办公室2022年政府信息公开工作年度报告")
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            f.write(b'<?xml version="1.0" encoding="UTF-8"?><w:document ' + _W + b"><w:body>" + title + b"<w:p><w:r><w:t>")
            chunk = b" " * (1 << 20)
            for _ in range(SIZES["zip_bomb_mb"]):
                f.write(chunk)
            f.write(b"</w:t></w:r></w:p></w:body></w:document>")
    kit.write(b"docx/zip_bomb.docx", buf.getvalue())


def _docx_xxe(kit: Kit) -> None:
    prolog = b'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    body = _para("测体市人民政府办公室2022年政府信息公开工作年度报告") + b"<w:p><w:r><w:t>&xxe;</w:t></w:r></w:p>"
    kit.write(b"docx/xxe_etc_passwd.docx", _docx_with_body(body, prolog))


def _docx_laughs(kit: Kit) -> None:
    ents = b'<!ENTITY a0 "ha">' + b"".join(b'<!ENTITY a%d "&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;">' % ((i,) + (i - 1,) * 10) for i in range(1, 10))
    body = _para("测笑市人民政府办公室2022年政府信息公开工作年度报告") + b"<w:p><w:r><w:t>&a9;</w:t></w:r></w:p>"
    kit.write(b"docx/billion_laughs.docx", _docx_with_body(body, b"<!DOCTYPE w:document [" + ents + b"]>"))


def _link(rel: bytes, target: bytes | str) -> Callable[[Kit], None]:
    def build(kit: Kit) -> None:
        p = kit.path(rel)
        t = target(kit) if callable(target) else target
        os.symlink(t, p)

    return build


def _outside_report(kit: Kit) -> Path:
    kit.outside.mkdir(parents=True, exist_ok=True)
    p = kit.outside / "outside_report.txt"
    p.write_bytes(kit.synth("txt", "测外"))
    (kit.outside / "folder").mkdir(exist_ok=True)
    (kit.outside / "folder" / "report.md").write_bytes(kit.synth("md", "测夹"))
    return p


def _all(*builders: Callable[[Kit], None]) -> Callable[[Kit], None]:
    def build(kit: Kit) -> None:
        for b in builders:
            b(kit)

    return build


def _write(rel: bytes, data: bytes) -> Callable[[Kit], None]:
    return lambda kit: kit.write(rel, data)


def _special(rel: bytes, mode: int) -> Callable[[Kit], None]:
    return lambda kit: os.mknod(kit.path(rel), mode | 0o644)


def _no_permission(kit: Kit) -> None:
    clean = kit.synth("txt", "测权")
    p = kit.write(b"special/no_permission.txt", clean, clean=(clean, ".txt"))
    os.chmod(p, 0)


def _hidden_git(kit: Kit) -> None:
    kit.write(b".git/HEAD", b"ref: refs/heads/main\n")
    kit.write(b".git/objects/ab/cdef", zlib.compress(b"blob 3\x00abc"))


AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# --------------------------------------------------------------------------------------------
# the catalogue


def _h(name: str, covers: str, files: dict[bytes, Expect], build: Callable[[Kit], None]) -> Hostile:
    return Hostile(name, covers, files, build)


PAYLOAD_OK = report(PUBLISHED, payload_cells=True)
RULES_ROW = ("t2.rules.issued", "t2.rules.repealed", "t2.rules.in_force")
LIMIT = r"limit|too large|too_large"  # the reason names the limit that stopped the document

CATALOGUE: list[Hostile] = [
    # --- names ---------------------------------------------------------------------------
    _h("name_invalid_utf8", "a file name with invalid UTF-8 bytes (crashed the whole run)",
       {b"names/bad_\xff\xfe_name.txt": PAYLOAD_OK}, _payload("txt", "测名", b"names/bad_\xff\xfe_name.txt")),
    _h("name_latin1", "a file name in Latin-1 (café)",
       {b"names/caf\xe9.html": PAYLOAD_OK}, _payload("html", "测拉", b"names/caf\xe9.html")),
    _h("name_control_chars", "a newline and a tab in a file name",
       {b"names/new\nline\ttab.md": PAYLOAD_OK}, _payload("md", "测行", b"names/new\nline\ttab.md")),
    _h("name_backslash", "a backslash in a file name (the escape character of report ids)",
       {b"names/back\\xff\\slash.txt": PAYLOAD_OK}, _payload("txt", "测斜", b"names/back\\xff\\slash.txt")),
    _h("name_sql_quote", "quotes and SQL in a file name",
       {b"names/x'; DROP TABLE reports; --\".txt": PAYLOAD_OK}, _payload("txt", "测引", b"names/x'; DROP TABLE reports; --\".txt")),
    _h("name_long", "a 244-byte file name",
       {("names/" + "长" * 80 + ".txt").encode(): PAYLOAD_OK}, _payload("txt", "测长名", ("names/" + "长" * 80 + ".txt").encode())),
    _h("deep_folders", "a report 60 folders deep",
       {b"deep/" + b"d/" * 60 + b"report.html": PAYLOAD_OK}, _payload("html", "测深", b"deep/" + b"d/" * 60 + b"report.html")),
    _h("sub_readme", "a report saved as sub/README.md (was skipped by name anywhere)",
       {b"sub/README.md": PAYLOAD_OK}, _payload("md", "测读", b"sub/README.md")),
    _h("sub_manifest_name", "a report saved as sub/MANIFEST.txt",
       {b"sub/MANIFEST.txt": PAYLOAD_OK}, _payload("txt", "测清", b"sub/MANIFEST.txt")),
    # --- odd extensions and types ----------------------------------------------------------
    _h("upper_extension", "an upper-case extension (.TXT)", {b"odd/REPORT.TXT": PAYLOAD_OK}, _payload("txt", "测大", b"odd/REPORT.TXT")),
    _h("htm_extension", ".htm", {b"odd/report.htm": PAYLOAD_OK}, _payload("html", "测短", b"odd/report.htm")),
    _h("no_extension", "a report without extension",
       {b"odd/report": report(REJECTED, "unsupported")}, _payload("txt", "测无", b"odd/report")),
    _h("ole_doc", "an old Word .doc (OLE)",
       {b"odd/report.doc": report(REJECTED, "unsupported")}, _write(b"odd/report.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)),
    _h("zip_file", "a .zip archive", {b"odd/reports.zip": report(REJECTED, "unsupported")},
       lambda kit: kit.write(b"odd/reports.zip", _docx({"a.txt": kit.synth("txt", "测压")}))),
    _h("csv_below_top", "table data in a sub-folder", {b"odd/figures.csv": skipped("data_file")}, _write(b"odd/figures.csv", b"a,b\n1,2\n")),
    _h("hidden_file", "a hidden file", {b".hidden_report.txt": skipped("hidden")}, _payload("txt", "测隐", b".hidden_report.txt")),
    _h("hidden_folder", "a .git folder (listed once, not descended)", {b".git": skipped("hidden")}, _hidden_git),
    _h("editor_lock", "an office lock file", {b"sub/.~lock.report.docx#": skipped("hidden")}, _write(b"sub/.~lock.report.docx#", b"x")),
    # --- links -----------------------------------------------------------------------------
    _h("link_etc_passwd", "a symlink to /etc/passwd (was read)", {b"links/passwd.txt": skipped("link_outside")},
       _link(b"links/passwd.txt", "/etc/passwd")),
    _h("link_outside_report", "a symlink to a report outside raw/ (was published)", {b"links/outside_report.txt": skipped("link_outside")},
       _link(b"links/outside_report.txt", lambda kit: str(_outside_report(kit)))),
    _h("link_outside_folder", "a directory symlink leaving raw/", {b"links/outside_folder": skipped("link_outside")},
       _link(b"links/outside_folder", lambda kit: str(_outside_report(kit).parent / "folder"))),
    _h("link_etc", "a relative directory symlink up and out of raw/", {b"links/up_and_out": skipped("link_outside")},
       _link(b"links/up_and_out", "../../outside")),
    _h("link_loop", "two symlinks pointing at each other",
       {b"links/loop_a": skipped("link_loop"), b"links/loop_b": skipped("link_loop")},
       _all(_link(b"links/loop_a", "loop_b"), _link(b"links/loop_b", "loop_a"))),
    _h("link_self", "a symlink to itself", {b"links/self.txt": skipped("link_loop")}, _link(b"links/self.txt", "self.txt")),
    _h("link_broken", "a broken symlink", {b"links/broken.txt": skipped("broken_link")}, _link(b"links/broken.txt", "no/such/file.txt")),
    _h("link_folder_inside", "a directory symlink to a folder inside raw/ (files counted once)",
       {b"links/names_again": skipped("link_inside")}, _link(b"links/names_again", "../names")),
    _h("link_folder_root", "a directory symlink to raw/ itself (a loop through folders)",
       {b"links/raw_again": skipped("link_inside")}, _link(b"links/raw_again", "..")),
    _h("link_file_inside", "a symlink to a report inside raw/", {b"links/same_report.txt": skipped("link_inside")},
       _link(b"links/same_report.txt", "../odd/REPORT.TXT")),
    # --- special files -----------------------------------------------------------------------
    _h("fifo", "a FIFO named like a report (reading it blocks)", {b"special/pipe.txt": skipped("special_file")},
       _special(b"special/pipe.txt", stat.S_IFIFO)),
    _h("socket", "a Unix socket file", {b"special/socket.html": skipped("special_file")}, _special(b"special/socket.html", stat.S_IFSOCK)),
    _h("no_permission", "a report without read permission",
       {b"special/no_permission.txt": PAYLOAD_OK if AS_ROOT else skipped("unreadable")}, _no_permission),
    # --- encodings ---------------------------------------------------------------------------
    _h("gb18030", "GB18030 text", {b"enc/gb18030.txt": PAYLOAD_OK},
       _payload("txt", "测国", b"enc/gb18030.txt", encode=lambda t: t.encode("gb18030"))),
    _h("utf8_bom", "UTF-8 with BOM", {b"enc/utf8_bom.md": PAYLOAD_OK},
       _payload("md", "测签", b"enc/utf8_bom.md", encode=lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"))),
    _h("utf16le_bom", "UTF-16 LE with BOM (rejected as binary content)", {b"enc/utf16le_bom.txt": PAYLOAD_OK},
       _payload("txt", "测十", b"enc/utf16le_bom.txt", encode=lambda t: t.encode("utf-16"))),
    _h("utf16be_bom", "UTF-16 BE with BOM, HTML", {b"enc/utf16be_bom.html": PAYLOAD_OK},
       _payload("html", "测六", b"enc/utf16be_bom.html", encode=lambda t: b"\xfe\xff" + t.encode("utf-16-be"))),
    _h("big5_traditional", "Big5 (a traditional-character mirror: converted back, marked, never preferred)",
       {b"enc/big5.txt": report(("published", "published_partial", "quarantined"), r"mirror|traditional")},
       _payload("txt", "测五", b"enc/big5.txt", encode=_traditional_big5)),
    _h("charset_lies", "HTML declaring charset=gbk whose bytes are UTF-8", {b"enc/declares_gbk.html": PAYLOAD_OK},
       _payload("html", "测谎", b"enc/declares_gbk.html", wrap=lambda h: h.replace('charset="utf-8"', 'charset="gbk"'))),
    _h("flipped_byte_narrative", "one flipped byte in the narrative (the whole report became unusable)",
       {b"enc/flipped_byte_narrative.txt": report(READ, r"decod|byte|replac|encoding", payload_cells=True)}, _gansu_flip_narrative),
    _h("flipped_byte_in_cell", "one flipped byte inside a printed number (行政许可's, printed once)",
       {b"enc/flipped_byte_in_cell.txt": report(("published_partial", "quarantined"), r"decod|byte|replac|encoding",
                                                not_confident=("t2.licensing.decisions",))}, _flip_in_cell),
    _h("binary_as_text", "random bytes named .txt", {b"enc/random.txt": report(REJECTED)},
       _write(b"enc/random.txt", bytes((i * 7919 + 13) % 256 for i in range(20000)))),
    # --- completeness --------------------------------------------------------------------------
    _h("truncated", "a report cut to its first 14 KB (published with 19/58 cells, no reason)",
       {b"complete/truncated_14k.txt": report(NOT_PUBLISHED, r"trunc|missing|incomplete|cut|absent|not read")}, _gansu_truncated),
    _h("nul_run", "64 NUL bytes in the middle of the table (published with 34/58 cells, no reason)",
       {b"complete/nul_run_mid_table.txt": report(NOT_PUBLISHED)}, _gansu_nul),
    _h("dup_zero_line", "a `0 |` line repeated in a flattened table (the unreadable row 规章 became confident zeros)",
       {b"complete/flattened_dup_zero.txt": report(NOT_PUBLISHED, not_confident=RULES_ROW)}, _flattened_dup_zero),
    _h("table_twice", "Table 三 printed twice with different values", {b"complete/table_printed_twice_disagreeing.html": report(("quarantined",), "cop|twice|conflict|disagree")},
       _tables_twice),
    _h("title_only", "a title and nothing else", {b"complete/title_only.txt": report(NOT_PUBLISHED)},
       _write(b"complete/title_only.txt", "测题市人民政府2022年政府信息公开工作年度报告\n".encode())),
    _h("script_only_html", "an HTML page that is only a script", {b"complete/script.html": report(REJECTED)},
       _write(b"complete/script.html", b"<html><head><script>var a='" + b"x" * 5000 + b"';</script></head><body></body></html>")),
    # --- structure and size ----------------------------------------------------------------------
    _h("html_nested_deep", "HTML nested 10,000 deep (rejected as 'no text')",
       {b"struct/nested_10000.html": (PAYLOAD_OK, report(REJECTED, r"nest|deep|depth"))},
       _payload("html", "测嵌", b"struct/nested_10000.html", wrap=_nested(SIZES["nesting"]))),
    _h("long_line", "a report followed by one 4 MB line", {b"size/one_4mb_line.txt": (PAYLOAD_OK, report(REJECTED, LIMIT))}, _long_line),
    _h("huge_text", "a 100 MB text (128 s and 6.5 GB)", {b"size/huge_100mb.txt": (PAYLOAD_OK, report(REJECTED, LIMIT))}, _huge_text),
    _h("sparse_1gb", "a 1 GB sparse file named .txt", {b"size/sparse_1gb.txt": report(REJECTED, LIMIT + r"|empty|no text|binary")}, _sparse),
    # --- containers --------------------------------------------------------------------------------
    _h("empty", "an empty file", {b"empty/zero.txt": report(REJECTED, "empty")}, _write(b"empty/zero.txt", b"")),
    _h("whitespace", "a file of blanks", {b"empty/blanks.md": report(REJECTED, "empty|no text")}, _write(b"empty/blanks.md", b" \n\t\r\n" * 100)),
    _h("empty_pdf", "an empty .pdf", {b"empty/zero.pdf": report(REJECTED, "empty")}, _write(b"empty/zero.pdf", b"")),
    _h("pdf_encrypted", "an encrypted PDF", {b"pdf/encrypted.pdf": report(REJECTED, "encrypt|password")}, _pdf_encrypted),
    _h("pdf_corrupt", "a %PDF header and garbage", {b"pdf/corrupt.pdf": report(REJECTED, "broken|truncated|unreadable|corrupt")},
       _write(b"pdf/corrupt.pdf", b"%PDF-1.7\n" + bytes((i * 31 + 7) % 256 for i in range(30000)))),
    _h("pdf_truncated", "a PDF cut in half", {b"pdf/truncated.pdf": report(NOT_PUBLISHED)},
       lambda kit: kit.write(b"pdf/truncated.pdf", _sample_pdf()[: len(_sample_pdf()) // 2])),
    _h("pdf_not_pdf", "HTML saved as .pdf", {b"pdf/not_a_pdf.pdf": report(REJECTED, "not a pdf|header")},
       lambda kit: kit.write(b"pdf/not_a_pdf.pdf", kit.synth("html", "测伪"))),
    _h("pdf_no_text", "a PDF page without text (a blank scan)", {b"pdf/no_text_layer.pdf": report(REJECTED, "text|scan|ocr|empty")}, _pdf_blank),
    _h("pdf_5000_pages", "a 5,000-page PDF (550 s and 8.4 GB)", {b"pdf/5000_pages.pdf": report(REJECTED, LIMIT)}, _pdf_many_pages),
    _h("pdf_hidden_stream", "a PDF hiding a 60 MB drawing stream in a small file (378 s and 9.1 GB, still running)",
       {b"pdf/hidden_60mb_drawing.pdf": report(REJECTED, LIMIT)}, _pdf_drawing_stream),
    _h("docx_not_zip", "a .docx that is not a zip", {b"docx/not_zip.docx": report(REJECTED, "docx|zip|unreadable")},
       _write(b"docx/not_zip.docx", b"PK\x03\x04 this is not a zip")),
    _h("docx_empty_zip", "a .docx zip without document.xml", {b"docx/empty_zip.docx": report(REJECTED, "docx|unreadable|empty")},
       _write(b"docx/empty_zip.docx", _docx({"[Content_Types].xml": _CT}))),
    _h("docx_zip_bomb", "a .docx whose document.xml inflates to 200 MB", {b"docx/zip_bomb.docx": report(REJECTED, LIMIT + "|docx|unreadable|huge")},
       _docx_zip_bomb),
    _h("docx_xxe", "a .docx with an external entity to /etc/passwd (XXE)", {b"docx/xxe_etc_passwd.docx": report(REJECTED)}, _docx_xxe),
    _h("docx_billion_laughs", "a .docx with exponential entity expansion", {b"docx/billion_laughs.docx": report(REJECTED)}, _docx_laughs),
]


@dataclass(frozen=True)
class Pending:
    """An expectation that needs another helper's work: who, and what happens on this branch today."""

    owner: str
    today: Expect | str | int  # an outcome; NOT_RUN; for "fuzz:<kind>" the findings of that kind the CI fuzz may have
    why: str


# THE gate. One row per catalogue input whose intended outcome (in CATALOGUE) is not reached on
# this branch because the work is another helper's: the test accepts the intended outcome or
# ``today``; NOT_RUN inputs are not generated. Rows "fuzz:<kind>": the CI fuzz (tests/test_fuzz.py)
# may have at most ``today`` findings of that kind (intended: 0). Delete a row when its owner's
# work is merged; the tests warn when an input or a fuzz kind already meets the intended outcome.
AWAITING_MERGE: dict[str, Pending] = {
    "fuzz:lost_published": Pending("h1", 3, "12 §3: a report that lost cells is never plain published"),
    "fuzz:caught_exception": Pending("h1", 12, "12 §1: one control byte in an HTML page makes lxml refuse it "
                                                         "(ValueError: All strings must be XML compatible): rejected, not read"),
    "fuzz:unsupported": Pending("h1", 3, "12 §3: a row of a labels-then-values table (PDF→markdown) that lost "
                                                         "its values takes the next row's values"),
    "sparse_1gb": Pending("h1+h8", report(REJECTED, "MemoryError"), "12 §2: extract_document's catch-all turns the worker's "
                          "MemoryError into the reason 'MemoryError:' instead of letting the pool name the memory limit"),
    "html_nested_deep": Pending("h1", report(REJECTED, "no text"), "12 §1: deep HTML read, or rejected naming the depth"),
}


def effective(h: Hostile) -> dict[bytes, tuple[Outcome, ...]] | None:
    """Outcomes the test accepts for each path of an input (intended, or today's while awaiting a merge); None = not run."""
    pending = AWAITING_MERGE.get(h.name)
    if pending is not None and pending.today == NOT_RUN:
        return None
    out = {}
    for rel, expect in h.files.items():
        allowed = alternatives(expect)
        if pending is not None:
            allowed = allowed + alternatives(pending.today)
        out[rel] = allowed
    return out


def build(root: Path, with_samples: bool = True, names: set[str] | None = None) -> Kit:
    """Write the samples (``with_samples``) and every catalogue input that runs into ``root/raw``."""
    kit = Kit(Path(root))
    if with_samples:
        shutil.copytree(SAMPLES, kit.raw, symlinks=True)
    kit.raw.mkdir(parents=True, exist_ok=True)
    for h in CATALOGUE:
        if (names is None or h.name in names) and effective(h) is not None:
            h.build(kit)
            for rel in h.files:
                assert os.path.lexists(os.path.join(os.fsencode(kit.raw), rel)), f"{h.name}: {rel!r} was not written"
    return kit


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1])
    kit = build(out)
    print(f"{sum(len(h.files) for h in CATALOGUE)} hostile paths and the samples in {kit.raw} (link targets in {kit.outside})")
