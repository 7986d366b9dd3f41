"""Text normalisation used to compare printed labels with the registry's variants.

Printed labels differ in width (（一） vs (一)), quotes, whitespace inserted by line wrapping
("商业\\n企业"), numbering style (1. / 1、 / （1）) and explanatory notes in brackets.
``norm`` removes the presentational differences; ``core`` also drops numbering; ``bare``
also drops bracketed notes.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SPACE = re.compile(r"[\s\u3000\u200b\u200c\u200d\ufeff\xa0]+")
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "「": '"', "」": '"', "〈": "<", "〉": ">"})
_ENUM = re.compile(
    r"^(?:其中[:：]?|[一二三四五六七八九十]+[、.]|\([一二三四五六七八九十]+\)|\(\d+\)|\d+[.、](?!\d)|[①-⑳])"
)
_NOTE = re.compile(r"\([^()]*\)")
# PDF fonts sometimes map a glyph to a CJK *radical* code point (U+2E80-U+2EFF, U+2F00-U+2FDF)
# instead of the ideograph; NFKC fixes the Kangxi block but not the supplement.
_RADICALS = str.maketrans({
    "⺠": "民", "⻓": "长", "⻔": "门", "⻢": "马", "⻅": "见", "⻛": "风", "⻜": "飞", "⻋": "车",
    "⻝": "食", "⺟": "母", "⻄": "西", "⻆": "角", "⻬": "齐", "⻩": "黄", "⻚": "页", "⻙": "韦",
    "⻉": "贝", "⻈": "讠", "⾦": "金", "⻘": "青", "⻣": "骨", "⻤": "鬼", "⻨": "麦",
})


def fix_glyphs(text: str) -> str:
    """Replace CJK radical code points that PDF fonts emit for ordinary characters (⺠ -> 民); nothing else changes."""
    if not text:
        return text
    text = text.translate(_RADICALS)
    return "".join(unicodedata.normalize("NFKC", ch) if "\u2f00" <= ch <= "\u2fdf" else ch for ch in text)


@lru_cache(maxsize=65536)
def norm(text: str) -> str:
    """NFKC, no whitespace, ASCII quotes; the form used for every label comparison."""
    text = unicodedata.normalize("NFKC", text or "")
    text = text.translate(_QUOTES)
    return _SPACE.sub("", text)


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
