"""Reference tables loaded next to the facts: indicators and rules (from the registry), agencies and regions (identity)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.agencies import agencies_frame, regions_frame
from pipelines.registry import load_registry


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
    """rules.csv as a table."""
    return pd.DataFrame([r.__dict__ for r in load_registry().rules])


def reference_frames(raw_dir: Path, seen: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """All reference tables by name (``seen``: (agency_id, agency_printed) of the loaded reports, listed in ``agencies``)."""
    return {"indicators": indicators_frame(), "rules": rules_frame(), "agencies": agencies_frame(raw_dir, seen),
            "regions": regions_frame()}
