"""Turning the bytes of a text file into text, whatever the encoding, losing as little as possible.

Order: a byte-order mark decides (UTF-8, UTF-16, UTF-32); valid UTF-8 is UTF-8; text that is
UTF-8 but for a few bad bytes stays UTF-8 with those bytes replaced; otherwise the Chinese
double-byte encodings are compared (GB18030 and Big5 both decode each other's bytes into
mojibake, so the one that yields the report's own vocabulary wins); BOM-less UTF-16 is
recognised by its NUL pattern; charset-normalizer decides what is left. Whatever cannot be
decoded is replaced (U+FFFD) and reported — a report is never rejected for a few bad bytes.
NUL runs (a damaged or padded region) become one U+FFFD each and are reported with their line
numbers: the table stages never read a number that touches an unreadable region.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# characters of the reports' own vocabulary, simplified and traditional (GB18030 vs Big5 decision)
_VOCABULARY = frozenset("政府信息公开工作年度报告申请情况的和本年行政复议诉讼处理数量件資訊公開報告申請處理數複議訴訟")
_NUL_RUN = re.compile(r"\x00+")
_CONTROL = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_BAD_SHARE = 0.01
MIN_VOCABULARY = 8  # characters of the reports' vocabulary a double-byte reading must yield to be believed  # UTF-8 with at most this share of undecodable characters is UTF-8 with damage


class BinaryContent(ValueError):
    """The bytes are not text in any encoding."""


@dataclass
class Decoded:
    """Text, the encoding used, and what had to be replaced."""

    text: str
    encoding: str
    replaced: int = 0
    nul_lines: list[int] = field(default_factory=list)


def decode(raw: bytes) -> Decoded:
    """Decode a text file's bytes (see the module docstring); raises ``BinaryContent`` for non-text."""
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            return _finish(raw.decode(enc, errors="replace"), enc)
    try:
        return _finish(raw.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    utf16 = _utf16_without_bom(raw)
    if utf16:
        return _finish(raw.decode(utf16, errors="replace"), utf16)
    loose = raw.decode("utf-8", errors="replace")
    bad = loose.count("\ufffd")
    if bad <= max(8, MAX_BAD_SHARE * len(loose)):
        return _finish(loose, "utf-8", bad)
    best = _double_byte(raw)
    if best is not None:
        return _finish(best[1], best[0])
    from charset_normalizer import from_bytes

    guess = from_bytes(raw).best()
    enc = guess.encoding if guess is not None else "utf-8"
    text = raw.decode(enc, errors="replace")
    return _finish(text, enc, text.count("\ufffd"))


def _utf16_without_bom(raw: bytes) -> str | None:
    sample = raw[:4096]
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    # UTF-16 text puts the NUL of every ASCII character (digits, spaces, newlines) on one side
    if len(sample) < 8 or even + odd < len(sample) // 20 or max(even, odd) < 4 * min(even, odd) + 4:
        return None
    enc = "utf-16-le" if odd > even else "utf-16-be"
    try:
        text = raw.decode(enc)
    except UnicodeDecodeError:
        text = raw.decode(enc, errors="replace")
    return enc if text.count("\ufffd") <= max(8, MAX_BAD_SHARE * len(text)) and not _CONTROL.search(text[:2000]) else None


def _double_byte(raw: bytes) -> tuple[str, str] | None:
    """GB18030 or Big5, whichever decodes strictly into more of the reports' vocabulary."""
    best = None
    for enc in ("gb18030", "big5"):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        score = sum(1 for ch in text if ch in _VOCABULARY)
        if score >= MIN_VOCABULARY and (best is None or score > best[0]):
            best = (score, enc, text)
    return (best[1], best[2]) if best else None


def _finish(text: str, encoding: str, replaced: int = 0) -> Decoded:
    nul_lines = []
    if "\x00" in text:
        for m in _NUL_RUN.finditer(text):
            nul_lines.append(text.count("\n", 0, m.start()) + 1)
        text = _NUL_RUN.sub("\ufffd", text)
    if text.strip("\ufffd \n\r\t") and len(_CONTROL.findall(text[:20000])) > 0.1 * min(len(text), 20000):
        raise BinaryContent("binary content in a text file")
    return Decoded(text, encoding, replaced, nul_lines)
