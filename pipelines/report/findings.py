"""A stored rule result turned into what an auditor acts on: what is wrong, where, found vs expected, why, what to do.

Everything shown is built from the ``rule_results`` row (rule, instance, cells, found,
expected, evidence), the cells it names (printed text and provenance) and the registry's
Chinese texts. The English ``message`` is kept as secondary detail.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pandas as pd

from pipelines.report.texts import cell_label, is_cell_code, name, number, rule_text, where

# narrative results say how the table bounds the stated figure ("the tables give at least 275")
_NARRATIVE_BOUND = re.compile(r"the tables give (at least|at most|blank)")
_BOUND_ZH = {"at least": "至少", "at most": "至多"}
# cross-year results name the report they were compared with
_COMPARED = re.compile(r"compared with (?P<report>.+) \((?P<year>\d{4})\)$")


@dataclass
class CellView:
    """One printed cell a finding reads."""

    code: str
    label: str
    printed: str
    where: str


@dataclass
class FindingView:
    """One finding, ready to show."""

    report_id: str
    rule_id: str
    instance: str
    outcome: str
    severity: str
    title: str
    description: str
    fix: str
    severity_text: str
    cells: list[CellView] = field(default_factory=list)
    found_label: str = ""
    found: str = ""
    expected_label: str = ""
    expected: str = ""
    relation: str = ""
    difference: str = ""
    evidence: str = ""
    other_report: str = ""
    other_year: str = ""
    message: str = ""

    @property
    def values_line(self) -> str:
        """'“（七）总计” 21，应等于各项办理结果之和 27（相差 -6）' — empty when the rule compares no numbers."""
        if not (self.found_label or self.expected_label):
            return ""
        found = f"{self.found_label} {self.found}"
        expected = f"{self.expected_label} {self.expected}"
        line = f"{found}，{self.relation}{expected}" if self.relation else f"{found}；{expected}"
        return line + (f"（相差 {self.difference}）" if self.difference else "")


def _missing(x) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


def _relation(rule_id: str, instance: str) -> str:
    """'应等于' / '应不大于' … for in-table rules (from the rule instance) and Y-JUMP (op in the instance)."""
    from pipelines.rules.findings import instance_index

    inst = instance_index().get((rule_id, instance))
    op = inst.op if inst is not None else (instance.rsplit(" ", 1)[-1] if instance.endswith(("<=", ">=")) else "")
    return name("rule_op", op) if op in ("==", "<=", ">=", "<", ">") else ""


def finding_view(row: dict, cells: dict[tuple[str, str], dict] | None) -> FindingView:
    """The view of one ``rule_results`` row; ``cells`` maps (report_id, code) to the cell's row (None: name the cells only)."""
    row = {k: None if _missing(v) else v for k, v in row.items()}
    text = rule_text(row["rule_id"])
    instance = row.get("instance") or ""
    view = FindingView(
        report_id=row["report_id"], rule_id=row["rule_id"], instance=instance, outcome=row["outcome"],
        severity=row["severity"], title=text.title, description=text.description, fix=text.fix,
        severity_text=name("rule_results.severity", row["severity"]), message=row.get("message") or "",
    )
    for code in (row.get("cells") or "").split():
        if not is_cell_code(code):
            continue  # a group of cells (narrative scope), not a printed cell
        if cells is None:
            view.cells.append(CellView(code=code, label=cell_label(code), printed="", where=""))
            continue
        c = cells.get((row["report_id"], code))
        if c is None:
            view.cells.append(CellView(code, cell_label(code), "未印出", ""))
            continue
        raw = None if _missing(c.get("raw")) else c.get("raw")
        printed = raw if raw else name("cells.value_status", c.get("value_status") or "blank")
        view.cells.append(CellView(code, cell_label(code), printed, where(c)))
    evidence = row.get("evidence") or ""
    if row["kind"] == "cross_year":
        m = _COMPARED.match(evidence)
        if m:
            view.other_report, view.other_year = m["report"], m["year"]
            evidence = ""
    view.evidence = evidence.replace(" = blank", " = 空白")
    if row["outcome"] == "fail" and (text.found or text.expected):
        found, expected = row.get("found"), row.get("expected")
        view.found_label, view.expected_label = text.found, text.expected
        view.found = number(found)
        view.expected = number(expected)
        if row["kind"] == "narrative":
            m = _NARRATIVE_BOUND.search(view.message)
            if m and m.group(1) == "blank":
                view.expected = "空白"
            elif m:
                view.expected = f"{_BOUND_ZH[m.group(1)]} {view.expected}"
        view.relation = _relation(row["rule_id"], instance)
        bounded = view.expected.startswith(("至少", "至多", "空白"))
        if not _missing(found) and not _missing(expected) and not bounded:
            diff = float(found) - float(expected)
            view.difference = number(round(diff, 6)) if abs(diff) > 1e-9 else ""
    return view
