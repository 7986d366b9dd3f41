"""Shortcuts taken for speed in extraction give the same result as the long way."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.extract.narrative import _claims, patterns, required_text

REGEXES = [p.regex for p in patterns()] + [rx for _, rx, _ in _claims()]


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_required_text_is_in_every_match(data):
    """A narrative pattern is skipped where its required text is absent: every match must contain it."""
    rx = data.draw(st.sampled_from(REGEXES))
    s = data.draw(st.from_regex(rx, fullmatch=True))
    assert required_text(rx) in s


def test_required_text_examples():
    assert required_text(re.compile(r"(?:政府)?门户网站公开政府信息(?P<n>\d+)条")) == "门户网站公开政府信息"
    assert required_text(re.compile(r"(?<!部门)规章(?P<n>\d+)件")) == "规章"
    assert required_text(re.compile(r"均获维持|均予维持")) == "均"  # the prefix common to the alternatives
    assert required_text(re.compile(r"获维持|予维持")) == ""
    assert required_text(re.compile(r"abc", re.IGNORECASE)) == ""
