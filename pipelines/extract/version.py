"""The parser version, computed from the extraction code and the registry (never bumped by hand).

``PARSER_VERSION = <code hash>+<registry hash>``: the first part hashes every Python file of
``pipelines/extract`` (readers, OCR and table stages alike) plus ``rules/expressions.py``, which
turns rules into the equalities the verification stage uses; the second hashes every registry
data file (labels, patterns, rules, indicators). Any change to either re-extracts every report on
the next run, because cached results are keyed by sha256 and this version.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from pipelines.registry import registry_hash

_PACKAGE = Path(__file__).resolve().parent
_ALSO = (_PACKAGE.parent / "rules" / "expressions.py",)


@lru_cache(maxsize=1)
def code_hash() -> str:
    """SHA-256 of the extraction code (file names and bytes, in a fixed order)."""
    h = hashlib.sha256()
    files = sorted(p for p in _PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
    for path in (*files, *_ALSO):
        h.update(path.relative_to(_PACKAGE.parent).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


PARSER_VERSION = f"{code_hash()[:10]}+{registry_hash()[:8]}"
