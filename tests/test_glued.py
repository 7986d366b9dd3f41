"""Splitting glued digits: unique splits are recovered, several splits stay missing with candidates."""

from __future__ import annotations

from conftest import RAW
from pipelines.extract import extract_document
from pipelines.extract.glued import GluedRow, row_splits, solve
from pipelines.rules.expressions import linear_constraints

COLS = ("natural_person", "commercial_enterprise", "research_institution", "public_welfare_org", "legal_service_org", "other_org", "total")


def t3(row):
    return tuple(f"t3.{row}.{c}" for c in COLS)


def test_unique_split_by_row_sum():
    """平潭 2021: '640020470' = 64, 0, 0, 2, 0, 4, 70 (the only cut whose parts add up to the total)."""
    row = GluedRow("t3.new_received", t3("new_received"), ("count",) * 7, ["640020470"])
    result = solve([row], {}, linear_constraints("v2021"))
    assert [result.values[c] for c in t3("new_received")] == ["64", "0", "0", "2", "0", "4", "70"]
    assert not result.ambiguous


def test_ambiguous_split_is_left_missing():
    """平潭 2021 Table 二 '693665': 69|3|665 and 6|93|665 both fit; nothing is chosen."""
    codes = ("t2.normative_docs.issued", "t2.normative_docs.repealed", "t2.normative_docs.in_force")
    row = GluedRow("t2.normative_docs", codes, ("count",) * 3, ["693665"])
    result = solve([row], {}, linear_constraints("v2021"))
    assert not result.values
    assert {"69", "6"} <= set(result.ambiguous[codes[0]])


def test_cross_row_constraint_decides():
    rows = [GluedRow("a", ("a1", "a2"), ("count", "count"), ["111"])]
    assert sorted(row_splits(GluedRow("a", ("a1", "a2"), ("count", "count"), ["111"]))) == [("1", "11"), ("11", "1")]
    result = solve(rows, {"b": 10.0}, (("R", {"a1": 1.0, "a2": -1.0, "b": -1.0}),))
    assert result.values == {"a1": "11", "a2": "1"}


def test_whitespace_is_a_hard_boundary_and_units_stay_on_the_last_cell():
    row = GluedRow("p", ("t2.procurement.items", "t2.procurement.amount"), ("count", "money"), ["135", "75394432.52元"])
    assert row_splits(row) == [("135", "75394432.52元")]
    assert row_splits(GluedRow("z", ("x", "y"), ("count", "count"), ["00"])) == [("0", "0")]
    assert row_splits(GluedRow("z", ("x",), ("count",), ["012"])) == []  # no redundant leading zero


def test_inconsistent_table_falls_back_to_row_constraints():
    """平潭 2020 prints rows that add to 27 under （七）总计 21: splits come from each row alone and the
    column-sum failure is reported by the rules, not hidden by a forced cut."""
    ext = extract_document(RAW / "incoming" / "fujian_pingtan_zone_admin_committee_2020.txt")
    assert any(i.kind == "glued_inconsistent" for i in ext.issues)
    assert ext.cell("t3.total_processed.total").value == 21
    assert ext.cell("t3.results.granted.total").value == 7


def test_many_independent_ambiguous_rows_never_look_unique():
    """Enumeration limits must not turn an ambiguous row into a 'unique' one (平潭 2019 Table 二 '350')."""
    rows = [GluedRow(f"r{i}", (f"a{i}", f"b{i}", f"c{i}"), ("count",) * 3, ["1357924680"]) for i in range(6)]
    rows.append(GluedRow("fees", ("p", "q"), ("count", "signed"), ["350"]))
    result = solve(rows, {}, linear_constraints("v2019"))
    assert "p" not in result.values and set(result.ambiguous["p"]) == {"3", "35"}
