"""The fuzzer: seeded mutations of real and synthetic reports, and the oracle that judges each extraction.

A **case** is (seed document, case number): ``random.Random(f"{seed}:{number}")`` picks one to
three mutations (flipped, replaced, inserted or deleted bytes; NUL runs; truncation; duplicated,
deleted or swapped lines; a digit changed; a pipe or tab inserted; a chunk of the document
repeated elsewhere), so every case is reproducible from its id (``tools/fuzz.py --replay ID``).

The **oracle** compares the extraction of the mutated document (M) with that of the original (O):

* ``exception`` / ``hang`` — extraction raised, or used more than ``TIME_LIMIT`` seconds of CPU;
* ``caught_exception`` — extraction recorded a Python built-in exception (IndexError, KeyError …)
  as the reason a document is unreadable: a bug in our code, hidden as a rejection;
* ``unsupported`` — M has a confident value (a number, not ambiguous) that differs from O's for
  the same code (or O had none), and the mutation does not account for it: the cell's line in M
  must print the cell's digits, and either be a line the mutation changed in place, a new line,
  or a line it moved (a line diff of O and M, by position), or lie in a table whose layout the
  mutation changed: a changed line without figures above it (a header, a label) or in its row
  (a blank cell of a row printed one cell per line) — the document now places the value elsewhere.
  A value read from an untouched line (a shift after a lost line, a wrong template) or from a
  repeated copy of a line (a duplicated ``0 |``) is not supported. Lines are compared without their
  whitespace, so a tab or space inserted into a line leaves it unchanged: it moves no digit
  (``行政许可 9<TAB>7`` still prints the 97 of ``行政许可 97``), and a value read differently from it
  (7) is a guess at where a cell ends, not supported. A value the mutation left unchanged always
  is; a value the table's own equalities contradict (``verification = contradicted``) is not a
  confident value: the error-level rules quarantine its report;
* ``lost_published`` — a code confident in O is not confident in M (missing, unreadable,
  ambiguous, absent), and M's report would still be plain ``published`` (status from the
  pipeline's own rules and status decision on the batch). A cell M reads as blank (or as a
  not-applicable mark such as ``/``) on a line the mutation changed is what the mutation printed
  (a ``0`` turned into a space is a blank cell as printed), the same line-granular test as for
  values: it is not lost;
* ``year_mismatch`` — the inventory's cheap reading of the year (``inventory.sniff``) differs
  from the year extraction reads;
* ``bad_text`` — a string of the extraction is not valid Unicode text (it would fail the Parquet
  write and cost the batch).

The oracle is line-granular: a table printed on one line (glued or flattened text) counts as
changed wherever the mutation touches that line; in HTML, where line breaks carry nothing, the
line after changed or deleted lines counts as changed too (an unclosed quote or a deletion
splices the markup around it); a line moved and edited (a swap, then a changed digit) is a moved
line, not a copy of another line that happens to read the same.
"""

from __future__ import annotations

import functools
import random
import re
import signal
import tempfile
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "raw"

# seeds: real bundled reports of every shape (tab text, web text flattened with pipes, one cell per
# line, markdown, HTML, old and new formats) and synthetic reports; the slow glued texts only in "all"
CI_SEEDS = [
    "incoming/gansu_ganzhou_district_gov_2016.txt",
    "incoming/tianjin_hongqiao_district_gov_service_office_2022.excerpt.txt",
    "incoming/hunan_yueyang_nanhu_unnamed_bureau_2019.excerpt.txt",
    "incoming/hubei_wuhan_hanyang_district_gov_office_2022.excerpt.txt",
    "incoming/shanghai_municipal_sci_tech_commission_2024.md",
    "incoming/shanghai_municipal_gov_general_office_2019.html",
    "synth:txt", "synth:md", "synth:html", "synth:flat",
]
ALL_SEEDS = CI_SEEDS + [
    "incoming/fujian_pingtan_zone_admin_committee_2023.txt",
    "incoming/chongqing_jiulongpo_erlang_subdistrict_2022.excerpt.txt",
    "pingtan/pingtan_zone_admin_committee_2023.html",
]
TIME_LIMIT = 20  # CPU seconds per extraction (and inventory reading) before a case counts as a hang
TABLE_HEAD = 20  # lines above a table's first value that may hold its header
ROW_LINES = 10  # lines after a value that may still belong to its row (a flattened row prints one cell per line)
_FIGURE = re.compile(r"\d")
_FIGURES = re.compile(r"\d+")
_TAG = re.compile(r"<[^>]*>")
NEAR = 3  # lines between where a line was removed and where a changed copy of it is inserted (a swap, then an edit)
# a Python built-in exception caught by extract_document and recorded as the reason: a bug in our code
_OWN_BUG = re.compile(r"(IndexError|KeyError|ValueError|TypeError|AttributeError|ZeroDivisionError|RecursionError|"
                      r"AssertionError|UnboundLocalError|NameError|OverflowError|StopIteration)\b")


@dataclass(frozen=True)
class Seed:
    """A document to mutate."""

    name: str
    data: bytes
    suffix: str


@functools.lru_cache(maxsize=None)
def load_seed(name: str) -> Seed:
    """A seed by name: a path under raw/, or ``synth:txt|md|html|flat`` (a synthetic 2022 report; flat = one cell per line)."""
    if name.startswith("synth:"):
        from hostile.catalogue import Kit

        fmt = name.split(":", 1)[1]
        if fmt == "flat":
            out = []
            for line in Kit.synth("txt", "测平").decode("utf-8").splitlines():
                out.extend([f"{c} |" for c in line.split("\t")] + ["|"] if "\t" in line else [line])
            return Seed(name, ("\n".join(out) + "\n").encode("utf-8"), ".txt")
        return Seed(name, Kit.synth(fmt, "测种"), "." + fmt)
    path = SAMPLES / name
    return Seed(name, path.read_bytes(), path.suffix)


# --------------------------------------------------------------------------------------------
# mutations: (rng, bytes) -> (bytes, description)


def _pos(rng: random.Random, data: bytes) -> int:
    return rng.randrange(len(data) + 1)


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def flip_bit(rng, data):
    i = rng.randrange(len(data))
    bit = 1 << rng.randrange(8)
    return data[:i] + bytes([data[i] ^ bit]) + data[i + 1:], f"flip bit {bit:#x} at {i}"


def replace_byte(rng, data):
    i = rng.randrange(len(data))
    b = rng.randrange(256)
    return data[:i] + bytes([b]) + data[i + 1:], f"byte {b:#04x} at {i}"


def insert_bytes(rng, data):
    i = _pos(rng, data)
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return data[:i] + junk + data[i:], f"insert {junk!r} at {i}"


def delete_span(rng, data):
    i = rng.randrange(len(data))
    n = rng.randint(1, 64)
    return data[:i] + data[i + n:], f"delete {n} bytes at {i}"


def nul_run(rng, data):
    i = _pos(rng, data)
    n = rng.choice([1, 8, 64, 512])
    return data[:i] + b"\x00" * n + data[i:], f"{n} NUL at {i}"


def truncate(rng, data):
    i = rng.randrange(len(data) // 4, len(data))
    return data[:i], f"truncate at {i} of {len(data)}"


def duplicate_line(rng, data):
    lines = _lines(data)
    k = rng.randrange(len(lines))
    return b"\n".join(lines[: k + 1] + [lines[k]] + lines[k + 1:]), f"duplicate line {k + 1}"


def delete_line(rng, data):
    lines = _lines(data)
    k = rng.randrange(len(lines))
    return b"\n".join(lines[:k] + lines[k + 1:]), f"delete line {k + 1}"


def swap_lines(rng, data):
    lines = _lines(data)
    if len(lines) < 2:
        return data, "swap (too short)"
    k = rng.randrange(len(lines) - 1)
    lines[k], lines[k + 1] = lines[k + 1], lines[k]
    return b"\n".join(lines), f"swap lines {k + 1} and {k + 2}"


_DIGIT = re.compile(rb"\d")


def change_digit(rng, data):
    spots = [m.start() for m in _DIGIT.finditer(data)]
    if not spots:
        return flip_bit(rng, data)
    i = rng.choice(spots)
    d = rng.choice([c for c in b"0123456789" if c != data[i]])
    return data[:i] + bytes([d]) + data[i + 1:], f"digit {chr(data[i])}->{chr(d)} at {i}"


def insert_separator(rng, data):
    i = _pos(rng, data)
    sep = rng.choice([b"|", b"\t", b" | ", b"\n", b"||", b"<td>", b"</tr>"])
    return data[:i] + sep + data[i:], f"insert {sep!r} at {i}"


def repeat_chunk(rng, data):
    i = rng.randrange(len(data))
    chunk = data[i : i + rng.randint(8, 400)]
    j = _pos(rng, data)
    return data[:j] + chunk + data[j:], f"repeat {len(chunk)} bytes from {i} at {j}"


MUTATORS = [flip_bit, replace_byte, insert_bytes, delete_span, nul_run, truncate, duplicate_line, delete_line,
            swap_lines, change_digit, change_digit, insert_separator, repeat_chunk]


@dataclass(frozen=True)
class Case:
    """One mutated document."""

    seed: str
    number: int
    data: bytes
    suffix: str
    steps: tuple[str, ...]

    @property
    def id(self) -> str:
        """Reproducible id: seed:number."""
        return f"{self.seed}:{self.number}"


def make_case(seed: Seed, number: int) -> Case:
    """The mutated document of case ``number`` of a seed (deterministic)."""
    rng = random.Random(f"{seed.name}:{number}")
    data, steps = seed.data, []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        if not data:
            break
        fn = rng.choice(MUTATORS)
        data, what = fn(rng, data)
        steps.append(f"{fn.__name__}: {what}")
    return Case(seed.name, number, data, seed.suffix, tuple(steps))


# --------------------------------------------------------------------------------------------
# the oracle


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def text_lines(data: bytes, suffix: str) -> list[str]:
    """The document's lines as extraction numbers them (text: str.splitlines; HTML: source lines)."""
    text = _decode(data)
    return text.split("\n") if suffix in (".html", ".htm") else text.splitlines()


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def confident(ext) -> dict:
    """code -> cell of the cells read with certainty (a number; not ambiguous, not missing)."""
    return {c.code: c for c in ext.cells if c.value is not None and c.value_status == "number"}


@dataclass
class Finding:
    """One violation of the oracle."""

    case: str
    kind: str
    detail: str
    steps: tuple[str, ...] = ()


@dataclass
class Baseline:
    """The original document's extraction and lines, computed once per seed."""

    seed: Seed
    cells: dict
    lines: list[str]

    @classmethod
    def of(cls, seed: Seed) -> Baseline:
        ext = extract_bytes(seed.data, seed.suffix)
        return cls(seed, confident(ext), [_squash(t) for t in text_lines(seed.data, seed.suffix)])

    def accounted_lines(self, lines: list[str]) -> set[int]:
        """1-based numbers of the mutated document's lines the mutation accounts for: changed in place, new, or moved."""
        import difflib

        new = [_squash(t) for t in lines]
        before = Counter(self.lines)
        # mutations are local: diff only what lies between the common head and tail
        head = 0
        while head < min(len(self.lines), len(new)) and self.lines[head] == new[head]:
            head += 1
        tail = 0
        while tail < min(len(self.lines), len(new)) - head and self.lines[-1 - tail] == new[-1 - tail]:
            tail += 1
        middle = difflib.SequenceMatcher(None, self.lines[head : len(self.lines) - tail], new[head : len(new) - tail],
                                         autojunk=False).get_opcodes()
        ops = [(tag, i1 + head, i2 + head, j1 + head, j2 + head) for tag, i1, i2, j1, j2 in middle]
        removed: dict[str, list[int]] = {}  # text of a removed line -> where it was, in the mutated document's numbering
        for tag, i1, i2, j1, _ in ops:
            if tag in ("delete", "replace"):
                for i in range(i1, i2):
                    removed.setdefault(self.lines[i], []).append(j1)
        out: set[int] = set()
        for tag, _, _, j1, j2 in ops:
            for j in range(j1, j2):
                if tag == "replace":
                    out.add(j + 1)  # changed in place
                    # ... or the copy of a line removed just beside (a swap the diff aligned as a delete and a
                    # replace): the lines it moved past changed places too
                    near = [k for k in removed.get(new[j], []) if not j1 <= k <= j2 and abs(k - j) <= NEAR]
                    if near:
                        out.update(range(min(j, near[0]) + 1, max(j, near[0]) + 2))
                elif tag == "insert":
                    places = removed.get(new[j]) or _moved_and_changed(removed, new[j], j)
                    if places:
                        # a line moved (removed where it was), maybe changed too: the lines it moved past changed places
                        k = places.pop(0)
                        out.update(range(min(j, k) + 1, max(j, k) + 2))
                    elif before[new[j]] == 0:
                        out.add(j + 1)  # new text
                    # any other inserted line is one more copy of a line: it accounts for nothing
        if self.seed.suffix in (".html", ".htm"):
            # line breaks carry nothing in HTML: the line after changed or deleted lines may continue their markup
            out.update(j2 + 1 for tag, _, _, _, j2 in ops if tag != "equal")
        return out


def _moved_and_changed(removed: dict[str, list[int]], text: str, j: int) -> list[int] | None:
    """Where a removed line of the same shape (equal but for its figures) was, near ``j``: a line moved and changed."""
    shape = _FIGURES.sub("0", text)
    for old, places in removed.items():
        if places and _FIGURES.sub("0", old) == shape and any(abs(k - j) <= NEAR for k in places):
            return places
    return None


@functools.lru_cache(maxsize=None)
def baseline(name: str) -> Baseline:
    """The baseline of a seed, once per process."""
    return Baseline.of(load_seed(name))


def extract_bytes(data: bytes, suffix: str):
    """Extraction of a document given as bytes (written to a temporary file of that type)."""
    from pipelines.extract import extract_document

    with tempfile.NamedTemporaryFile(suffix=suffix) as f:
        f.write(data)
        f.flush()
        return extract_document(Path(f.name), source_path=f"fuzz{suffix}")


class Hang(Exception):
    """Extraction ran past the time limit."""


def _alarm(signum, frame):
    raise Hang()


def _bad_text(ext) -> str | None:
    for c in ext.cells:
        for v in (c.raw, c.label, c.context, c.candidates):
            if v is not None and not _valid(v):
                return f"cell {c.code}: {v!r}"
    for i in ext.issues:
        if not (_valid(i.message) and _valid(i.location or "")):
            return f"issue {i.kind}: {i.message!r}"
    for v in (ext.title, ext.agency_printed):
        if v is not None and not _valid(v):
            return f"metadata {v!r}"
    for f in ext.narrative:
        if not _valid(getattr(f, "sentence", "") or ""):
            return f"narrative {f.sentence!r}"
    return None


def _valid(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


@dataclass
class CaseResult:
    """What one case gave: its extraction (None after an exception/hang) and the findings so far."""

    case: Case
    ext: object | None
    lost: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0


def judge(case: Case, base: Baseline, time_limit: float = TIME_LIMIT) -> CaseResult:
    """Extract one case and apply the per-document checks (the status check needs the batch: ``judge_statuses``)."""
    from pipelines.inventory import sniff

    out = CaseResult(case, None)
    # CPU time, not wall time: a busy machine must not turn a slow case into a hang
    old = signal.signal(signal.SIGPROF, _alarm)
    signal.setitimer(signal.ITIMER_PROF, time_limit)
    start = time.perf_counter()
    try:
        with tempfile.NamedTemporaryFile(suffix=case.suffix) as f:
            f.write(case.data)
            f.flush()
            from pipelines.extract import extract_document

            ext = extract_document(Path(f.name), source_path=case.id)
            year, _ = sniff(Path(f.name))
    except Hang:
        out.findings.append(Finding(case.id, "hang", f"extraction used more than {time_limit} s of CPU", case.steps))
        return out
    except Exception as exc:  # noqa: BLE001 - the finding is the point
        out.findings.append(Finding(case.id, "exception", f"{type(exc).__name__}: {exc}", case.steps))
        return out
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)
        out.seconds = time.perf_counter() - start
    out.ext = ext
    out.findings.extend(check(case, base, ext, year))
    kept = confident(ext)
    lines = changed = None
    lost = []
    for code in base.cells:
        if code in kept:
            continue
        cell = ext.cell(code)
        if cell is not None and cell.value_status in ("blank", "na") and cell.line:
            if changed is None:
                lines = text_lines(case.data, case.suffix)
                changed = base.accounted_lines(lines)
            if cell.line in changed and _squash(cell.raw) in _squash(lines[cell.line - 1]):
                continue  # a blank or mark on a line the mutation changed: printed by the mutation
        lost.append(code)
    out.lost = sorted(lost)
    return out


def check(case: Case, base: Baseline, ext, year: int | None) -> list[Finding]:
    """The per-document oracle on an extraction of a case (``year``: what the inventory read)."""
    findings = []
    for issue in ext.issues:
        if _OWN_BUG.match(issue.message or ""):
            findings.append(Finding(case.id, "caught_exception", f"{issue.kind}: {issue.message}", case.steps))
    bad = _bad_text(ext)
    if bad:
        findings.append(Finding(case.id, "bad_text", bad, case.steps))
    if year != ext.report_year:
        findings.append(Finding(case.id, "year_mismatch", f"inventory reads {year}, extraction {ext.report_year}", case.steps))
    mutated = confident(ext)
    lines = text_lines(case.data, case.suffix)
    html = case.suffix in (".html", ".htm")  # a cell's text runs across inline tags ('3<b></b>242' prints 3242)
    accounted = None
    for code, cell in mutated.items():
        before = base.cells.get(code)
        if (before is not None and before.value == cell.value) or cell.verification == "contradicted":
            continue
        if accounted is None:
            accounted = base.accounted_lines(lines)
            top = min((c.line for c in mutated.values() if c.line), default=1) - TABLE_HEAD
            layout = [j for j in accounted if top <= j <= len(lines) and not _FIGURE.search(lines[j - 1])]
        line = lines[cell.line - 1] if cell.line and cell.line <= len(lines) else None
        changed = cell.line in accounted or any(j < (cell.line or 0) + ROW_LINES for j in layout)
        printed = line is not None and _squash(cell.raw) in _squash(_TAG.sub("", line) if html else line)
        if not (changed and printed):
            why = "its line was not changed by the mutation, whitespace aside (a shift, a repeated copy, another " \
                  "template, a separator inserted between digits)" if not changed \
                else "its digits are not printed on its line"
            findings.append(Finding(
                case.id, "unsupported",
                f"{code} = {cell.raw!r} (was {before.raw if before else None!r}) at line {cell.line}: {why}", case.steps))
    return findings


def judge_statuses(outcomes: list[CaseResult], raw_dir: Path = SAMPLES) -> None:
    """Add ``lost_published`` findings: the batch's statuses by the pipeline's own rules and status decision."""
    # only an extraction that could be published needs the rules evaluated on the batch
    statuses = pipeline_statuses([o.ext for o in outcomes if o.ext is not None and o.lost and could_publish(o.ext)], raw_dir)
    for o in outcomes:
        if o.ext is not None and o.lost and statuses.get(o.case.id) == "published":
            o.findings.append(Finding(o.case.id, "lost_published",
                                      f"{len(o.lost)} confident cell(s) lost ({', '.join(o.lost[:4])}…) but status published",
                                      o.case.steps))


def could_publish(ext) -> bool:
    """False when ``process.decide_status`` can never make the report plain ``published``, whatever the rules say:
    an error-level issue (rejected), no report year (quarantined), an issue of a partial kind or an ambiguous cell
    (published_partial at best)."""
    from pipelines.process import PARTIAL_EXTRACTION_ISSUES

    return not (ext.fatal or ext.report_year is None or any(i.kind in PARTIAL_EXTRACTION_ISSUES for i in ext.issues)
                or any(c.value_status == "ambiguous" for c in ext.cells))


def pipeline_statuses(exts: list, raw_dir: Path = SAMPLES) -> dict[str, str]:
    """source_path -> status as ``process`` decides it (rules evaluated on the batch)."""
    from pipelines.process import statuses_of

    return statuses_of(exts, raw_dir) if exts else {}


def run(seed_names: list[str], numbers: range, batch: int = 200, time_limit: float = TIME_LIMIT) -> tuple[Counter, list[Finding], float]:
    """Run cases ``numbers`` of every seed: (counts by kind incl. 'cases', findings, extraction seconds)."""
    counts: Counter = Counter()
    findings: list[Finding] = []
    seconds = 0.0
    bases = {name: baseline(name) for name in seed_names}
    pending: list[CaseResult] = []
    for n in numbers:
        for name, base in bases.items():
            o = judge(make_case(base.seed, n), base, time_limit)
            seconds += o.seconds
            pending.append(o)
            if len(pending) >= batch:
                _flush(pending, counts, findings)
    _flush(pending, counts, findings)
    return counts, findings, seconds


def _flush(pending: list[CaseResult], counts: Counter, findings: list[Finding]) -> None:
    judge_statuses(pending)
    for o in pending:
        counts["cases"] += 1
        for f in o.findings:
            counts[f.kind] += 1
            findings.append(f)
    pending.clear()
