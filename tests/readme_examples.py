"""The ``xxgk sql`` examples of README with the output README prints for them (on the warehouse `make run` builds):
run by tests/test_analysis.py, timed at national scale by benchmarks/national.py."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_sql_examples() -> list[tuple[str, str]]:
    """(command line, printed output) of every example: a ```sh block holding one ``.venv/bin/xxgk sql`` command,
    followed by a ``` block with what it prints."""
    text = README.read_text(encoding="utf-8")
    return [(m.group(1).strip(), m.group(2)) for m in
            re.finditer(r"```sh\n(\.venv/bin/xxgk sql [^\n]*)\n```\n+```\n(.*?)```", text, flags=re.S)]
