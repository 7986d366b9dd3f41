"""GX Data Docs keep a bounded history: each auditor's report adds a validation result per table suite, and
only the newest ``KEEP_VALIDATIONS`` of each (with their pages) are kept, so the project does not grow with every run."""

from __future__ import annotations

import re
import shutil

import pipelines.report.datadocs as datadocs


def _runs(uncommitted, part: str) -> dict[str, list[str]]:
    base = uncommitted / part
    return {p.relative_to(base).as_posix(): sorted(x.name for x in p.iterdir()) for p in sorted(base.glob("*/*"))}


def test_data_docs_keep_the_newest_validations(clean_subset, tmp_path, monkeypatch):
    """Three builds with a history of 2: each suite keeps its 2 newest results and pages, the index links only pages
    that exist, and the removed runs are the oldest."""
    raw, src = clean_subset
    wh = tmp_path / "warehouse"
    shutil.copytree(src, wh)
    shutil.rmtree(wh / "reports" / "gx_project", ignore_errors=True)
    monkeypatch.setattr(datadocs, "KEEP_VALIDATIONS", 2)
    seen = []
    for _ in range(3):
        index, unknown = datadocs.build_data_docs(wh)
        assert unknown == []
        seen.append(_runs(wh / "reports" / "gx_project" / "gx" / "uncommitted", "validations"))
    uncommitted = wh / "reports" / "gx_project" / "gx" / "uncommitted"
    stored, pages = _runs(uncommitted, "validations"), _runs(uncommitted, "data_docs/local_site/validations")
    assert stored and stored.keys() == pages.keys()
    for suite, runs in stored.items():
        assert len(runs) == 2 and runs == pages[suite]
        assert seen[0][suite][0] not in runs  # the first build's run was the oldest: removed
        assert runs[-1] == seen[2][suite][-1]  # the newest is kept
    html = index.read_text(encoding="utf-8")
    linked = set(re.findall(r'validations/[^"\']+?\.html', html))
    assert linked and all((index.parent / link).exists() for link in linked)


def test_prune_keeps_the_newest_by_run_time(tmp_path):
    """Run times sort as text; every suite and run name is pruned on its own; nothing to prune is not an error."""
    for suite, times in {"table_a": ["20261205T010000.1Z", "20261204T230000.5Z", "20261205T020000.0Z"], "rules_x": ["20261201T000000.0Z"]}.items():
        for t in times:
            (tmp_path / "validations" / suite / "__none__" / t).mkdir(parents=True)
            (tmp_path / "validations" / suite / "__none__" / t / "b.json").write_text("{}")
    assert datadocs.prune_validations(tmp_path, keep=2) == 1
    assert sorted(p.name for p in (tmp_path / "validations" / "table_a" / "__none__").iterdir()) == \
        ["20261205T010000.1Z", "20261205T020000.0Z"]
    assert [p.name for p in (tmp_path / "validations" / "rules_x" / "__none__").iterdir()] == ["20261201T000000.0Z"]
    assert datadocs.prune_validations(tmp_path / "absent") == 0
