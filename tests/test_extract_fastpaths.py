"""Shortcuts taken for speed in extraction give the same result as the long way."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.extract.narrative import _claims, find_all, patterns, required_text

REGEXES = [p.regex for p in patterns()] + [rx for _, rx, _ in _claims()]


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_required_text_is_in_every_match(data):
    """A narrative pattern is skipped where its required text is absent: every match must contain it."""
    rx = data.draw(st.sampled_from(REGEXES))
    s = data.draw(st.from_regex(rx, fullmatch=True))
    assert required_text(rx) in s


WINDOWED = [p for p in patterns() if p.before is not None]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_find_all_is_finditer(data):
    """Trying a pattern only near its required text finds exactly what ``finditer`` finds, in order."""
    pat = data.draw(st.sampled_from(WINDOWED + list(patterns()[:3])))
    # texts made of matches, bare required texts and characters the patterns use (lookbehinds' included)
    alphabet = st.sampled_from(sorted(set("".join(p.regex.pattern for p in WINDOWED) + "0123456789，。 ")))
    pieces = st.one_of(st.from_regex(pat.regex, fullmatch=True), st.just(pat.required), st.text(alphabet, max_size=6))
    text = "".join(data.draw(st.lists(pieces, max_size=8)))
    assert [m.span() for m in find_all(pat, text)] == [m.span() for m in pat.regex.finditer(text)]
    assert [m.groupdict() for m in find_all(pat, text)] == [m.groupdict() for m in pat.regex.finditer(text)]


def test_required_text_examples():
    assert required_text(re.compile(r"(?:政府)?门户网站公开政府信息(?P<n>\d+)条")) == "门户网站公开政府信息"
    assert required_text(re.compile(r"(?<!部门)规章(?P<n>\d+)件")) == "规章"
    assert required_text(re.compile(r"均获维持|均予维持")) == "均"  # the prefix common to the alternatives
    assert required_text(re.compile(r"获维持|予维持")) == ""
    assert required_text(re.compile(r"abc", re.IGNORECASE)) == ""


def test_pipe_cells_sit_on_the_line_where_they_start(tmp_path):
    """Pipe-flattened lines: each cell keeps the source line its text starts on (found by bisection)."""
    from pipelines.extract.documents import PIPE, read_text

    pieces = ["前言", "| 项目 | 本年新收 |", "政府信息公开申请数量 | 12 | 3", " | 4 |", "5 | 结转 |", "6"]
    text = "\n".join(pieces)
    doc = read_text(tmp_path / "x.txt", text, "txt")
    pipe = [ln for ln in doc.lines if ln.mode == PIPE]
    assert len(pipe) == 1
    joined, starts, line = "", [], 2
    for p in pieces[1:-1]:
        starts.append((len(joined), line))
        joined += p
        line += 1
    pos = 0
    for cell, part in zip(pipe[0].cells, joined.split("|")):
        at = pos + (len(part) - len(part.lstrip()) if part.strip() else 0)  # where its printed text starts
        assert cell.line == max(ln for off, ln in starts if off <= at)
        pos += len(part) + 1
    assert [c.line for c in pipe[0].cells] == [2, 2, 2, 3, 3, 3, 4, 5, 5]


def test_html_cell_text_is_the_cells_text_nodes():
    """A table cell's text serialised by lxml equals its text nodes joined (bold, breaks, entities, nested tables)."""
    from lxml import etree

    from pipelines.extract.html import _cell_text
    from pipelines.extract.text import clean_line

    page = ('<table><tr><td>a\r\nb &amp; &lt;x&gt;&nbsp;c<b>d</b>e<br>f<span>g<i>h</i></span>tail'
            '<table><tr><td>in</td></tr></table>after</td><td/><th> 12 </th></tr></table>')
    root = etree.fromstring(page.encode(), etree.HTMLParser(encoding="utf-8"))
    cells = list(root.iter("td", "th"))
    assert [_cell_text(td) for td in cells] == [clean_line("".join(td.itertext())) for td in cells]
    assert _cell_text(cells[0]) == "a b & <x> cdefghtailinafter"
