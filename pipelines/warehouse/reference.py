"""Reference tables loaded next to the facts: indicators and rules (from the registry) and agencies (raw/)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.agencies import AgencyRegistry
from pipelines.registry import load_registry, rule_texts


def indicators_frame() -> pd.DataFrame:
    """One row per code (codes shared by v2019 and v2021 appear once, with both eras)."""
    reg = load_registry()
    eras: dict[str, list[str]] = {}
    for ind in reg.indicators:
        eras.setdefault(ind.code, []).append(ind.era)
    order: dict[str, int] = {}
    for era in ("v2021", "v2019", "old2014"):
        for row in reg.template(era):
            order.setdefault(row.key, row.order)
    rows = []
    for code, ind in reg.by_code.items():
        rows.append(
            {
                "code": code,
                "eras": " ".join(eras[code]),
                "table_id": ind.table_id,
                "row_key": ind.row_key,
                "column_key": ind.column_key,
                "row_order": order.get(ind.row_key, 0),
                "section_label": ind.section_label or None,
                "row_label": ind.row_label or None,
                "column_label": ind.column_label or None,
                "unit": ind.unit or None,
                "parent_code": ind.parent_code or None,
                "value_type": ind.value_type,
                "additive": ind.additive,
                "notes": ind.notes or None,
            }
        )
    return pd.DataFrame(rows)


def rules_frame() -> pd.DataFrame:
    """rules.csv as a table, with each rule's Chinese title (rule_texts.csv)."""
    texts = rule_texts()
    return pd.DataFrame([{**r.__dict__, "title_zh": texts[r.rule_id].title if r.rule_id in texts else r.rule_id} for r in load_registry().rules])


def agencies_frame(raw_dir: Path) -> pd.DataFrame:
    """raw/agencies.csv as a table."""
    reg = AgencyRegistry.load(raw_dir)
    return pd.DataFrame(
        [
            {
                "agency_id": a.agency_id, "name": a.name, "variants": "|".join(a.variants) or None,
                "region_code": a.region_code or None, "level": a.level or None, "parent_id": a.parent_id or None,
                "kind": a.kind or None,
            }
            for a in reg.agencies.values()
        ],
        columns=["agency_id", "name", "variants", "region_code", "level", "parent_id", "kind"],
    )


def reference_frames(raw_dir: Path) -> dict[str, pd.DataFrame]:
    """All reference tables by name."""
    return {"indicators": indicators_frame(), "rules": rules_frame(), "agencies": agencies_frame(raw_dir)}
