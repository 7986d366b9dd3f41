"""Text normalisation used to compare printed labels with the registry's variants.

Printed labels differ in width (（一） vs (一)), quotes, whitespace inserted by line wrapping
("商业\\n企业"), numbering style (1. / 1、 / （1）), explanatory notes in brackets and, in OCR'd
text, look-alike characters (公幵 for 公开, l. for 1.). ``fold`` removes the presentational
differences but keeps whitespace (whitespace separates printed numbers); ``norm`` also drops
whitespace; ``core`` also drops numbering; ``bare`` also drops bracketed notes. ``match_form``
is ``norm`` with OCR look-alikes folded, used only to *compare* (never stored).

Every function here works on whole strings with C-level operations (``str.translate``, NFKC
of the string, compiled regexes); nothing walks a document character by character in Python.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SPACE = re.compile(r"[\s\u3000\u200b\u200c\u200d\ufeff\xa0]+")
_NON_SPACE_RUN = re.compile(r"[^\s\u3000\u200b\u200c\u200d\ufeff\xa0]+")
_QUOTES = {"“": '"', "”": '"', "‘": "'", "’": "'", "「": '"', "」": '"', "〈": "<", "〉": ">"}
# PDF fonts sometimes map a glyph to a CJK *radical* code point (U+2E80-U+2EFF, U+2F00-U+2FDF)
# instead of the ideograph; NFKC fixes the Kangxi block but not the supplement.
_RADICALS = {
    "⺠": "民", "⻓": "长", "⻔": "门", "⻢": "马", "⻅": "见", "⻛": "风", "⻜": "飞", "⻋": "车",
    "⻝": "食", "⺟": "母", "⻄": "西", "⻆": "角", "⻬": "齐", "⻩": "黄", "⻚": "页", "⻙": "韦",
    "⻉": "贝", "⻈": "讠", "⾦": "金", "⻘": "青", "⻣": "骨", "⻤": "鬼", "⻨": "麦",
}
# full-width ASCII (！-～) to ASCII by table: most of what NFKC changes in these reports, without its cost
_FULLWIDTH = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}
_FOLD = str.maketrans({**_FULLWIDTH, **_QUOTES, **_RADICALS, "\u3000": " ", "\xa0": " ", "〇": "0"})
# characters OCR engines confuse with the ones printed in table labels (compared, never stored);
# each maps to the character the registry's labels use
_LOOKALIKES = str.maketrans({
    "幵": "开", "丌": "开", "閞": "开", "未": "未", "末": "未", "己": "已", "巳": "已", "曰": "日",
    "入": "人", "仝": "全", "茌": "在", "戍": "成", "戌": "成", "壹": "一", "l": "1", "I": "1", "|": "1",
    "O": "0", "o": "0", "〇": "0", "】": ")", "【": "(", "〔": "(", "〕": ")", "[": "(", "]": ")",
})
_ENUM = re.compile(
    r"^(?:其中[:：]?|[一二三四五六七八九十]+[、.,]|\([一二三四五六七八九十]+\)|\(\d+\)|\d+[.、,](?!\d)|[①-⑳])"
)
_NOTE = re.compile(r"\([^()]*\)")


def fix_glyphs(text: str) -> str:
    """Replace CJK radical code points that PDF fonts emit for ordinary characters (⺠ -> 民); nothing else changes."""
    if not text:
        return text
    text = text.translate(str.maketrans(_RADICALS))
    return "".join(unicodedata.normalize("NFKC", ch) if "\u2f00" <= ch <= "\u2fdf" else ch for ch in text)


def _fold(text: str) -> str:
    text = text.translate(_FOLD)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text).translate(_FOLD)
    return text


# a line is folded by the narrative reader and again by the row scanner: short texts are cached
_fold_short = lru_cache(maxsize=8192)(_fold)
_FOLD_CACHED_LENGTH = 1000


def fold(text: str) -> str:
    """NFKC (full-width digits and brackets to ASCII), ASCII quotes, radicals mapped back; whitespace kept."""
    if not text:
        return ""
    if text.isascii():
        return text
    return _fold_short(text) if len(text) <= _FOLD_CACHED_LENGTH else _fold(text)


def squeeze(text: str) -> str:
    """Text without any whitespace."""
    return _SPACE.sub("", text)


def squeeze_with_map(text: str) -> tuple[str, list[int]]:
    """``squeeze(text)`` plus, for each kept character, its index in ``text``."""
    index: list[int] = []
    for m in _NON_SPACE_RUN.finditer(text):
        index.extend(range(m.start(), m.end()))
    return squeeze(text), index


@lru_cache(maxsize=65536)
def norm(text: str) -> str:
    """NFKC, no whitespace, ASCII quotes; the form used for every label comparison."""
    return squeeze(fold(text or ""))


@lru_cache(maxsize=65536)
def match_form(text: str) -> str:
    """``norm`` with OCR look-alike characters folded (幵→开, l.→1.): for comparing labels only."""
    return norm(text).translate(_LOOKALIKES)


def lookalike(text: str) -> str:
    """Fold OCR look-alikes of an already normalized string (same length)."""
    return text.translate(_LOOKALIKES)


@lru_cache(maxsize=65536)
def core(text: str) -> str:
    """``norm`` without leading numbering such as 一、 （一） 1. 其中："""
    out = norm(text)
    while True:
        stripped = _ENUM.sub("", out, count=1)
        if stripped == out or not stripped:
            return out
        out = stripped


@lru_cache(maxsize=65536)
def bare(text: str) -> str:
    """``core`` without bracketed notes such as （不同渠道和方式公开相同信息计1条）."""
    out = _NOTE.sub("", core(text))
    return out if len(out) >= 2 else core(text)


def clean_line(text: str) -> str:
    """Collapse runs of whitespace to one space and strip the ends."""
    return _SPACE.sub(" ", text or "").strip()


_CJK = re.compile(r"[\u4e00-\u9fff]")


def has_cjk(text: str) -> bool:
    """True when the text holds at least one CJK ideograph."""
    return _CJK.search(text) is not None
