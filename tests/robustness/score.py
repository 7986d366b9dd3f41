"""Scoring a rendering cell by cell against the truth, and the suite's totals.

A truth cell is *correct* when the extracted value equals it (a blank or '/' truth cell: when
nothing is extracted), *missing with reason* when no value was extracted and an extraction issue
names the cell (or its whole table), *silently missing* when no issue does, and *wrong* when a
different value was extracted. A value for a code the truth does not list is *invented*.

``python tests/robustness/score.py`` prints the table of every rendering and the totals that
README quotes.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent.parent))

from conftest import load_truth  # noqa: E402
from robustness.render import render, renderings  # noqa: E402

from pipelines.extract import extract_document  # noqa: E402

KINDS = ("correct", "missing_with_reason", "silently_missing", "wrong", "invented")


def score(ext, truth: dict[str, float | None]) -> Counter:
    """Counts of the kinds above for one extraction."""
    got = {c.code: c.value for c in ext.cells}
    named = {i.code for i in ext.issues if i.code}
    tables = {i.table_id for i in ext.issues if i.kind == "table_missing"}
    out = Counter(cells=len(truth))
    for code, want in truth.items():
        have = got.get(code)
        if have == want or (want is None and have is None):
            out["correct"] += 1
        elif have is None:
            out["missing_with_reason" if code in named or code.split(".", 1)[0] in tables else "silently_missing"] += 1
        else:
            out["wrong"] += 1
    out["invented"] = sum(1 for code, v in got.items() if v is not None and code not in truth)
    return out


def score_rendering(stem: str, shape: str, folder: Path) -> tuple[Counter, object]:
    """Render, extract and score one (document, shape)."""
    path = render(stem, shape, folder)
    ext = extract_document(path)
    return score(ext, load_truth(stem)), ext


def main() -> None:
    totals = Counter()
    docs = set()
    shapes: dict[str, Counter] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for stem, shape in renderings():
            counts, _ = score_rendering(stem, shape, Path(tmp))
            totals.update(counts)
            totals["renderings"] += 1
            shapes.setdefault(shape, Counter()).update(counts)
            docs.add(stem)
            flag = "" if not (counts["wrong"] or counts["invented"] or counts["silently_missing"]) else "  <-- "
            print(f"{stem[:44]:44} {shape:20} cells {counts['cells']:4} correct {counts['correct']:4} "
                  f"missing(reason) {counts['missing_with_reason']:3} silent {counts['silently_missing']:3} "
                  f"wrong {counts['wrong']} invented {counts['invented']}{flag}")
    print("\n| shape | cells | correct | missing with reason | wrong |\n|---|---|---|---|---|")
    for shape, c in shapes.items():
        print(f"| {shape} | {c['cells']} | {c['correct']} | {c['missing_with_reason']} | {c['wrong'] + c['invented']} |")
    print(f"TOTAL documents {len(docs)} renderings {totals['renderings']} cells {totals['cells']} correct {totals['correct']} "
          f"missing-with-reason {totals['missing_with_reason']} silently-missing {totals['silently_missing']} "
          f"wrong {totals['wrong']} invented {totals['invented']}")


if __name__ == "__main__":
    main()
