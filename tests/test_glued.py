"""Splitting glued digits: unique splits are recovered, several splits stay missing with candidates."""

from __future__ import annotations

from conftest import RAW
from pipelines.extract import extract_document
from pipelines.extract.glued import row_splits
from pipelines.extract.verify import Unit, verify

COLS = ("natural_person", "commercial_enterprise", "research_institution", "public_welfare_org", "legal_service_org", "other_org", "total")


def t3(row):
    return tuple(f"t3.{row}.{c}" for c in COLS)


def glued(codes, pieces, kinds=None):
    kinds = kinds or ("count",) * len(codes)
    splits, complete = row_splits(pieces, kinds)
    return Unit(tuple(codes), splits, "glued", complete=complete)


def test_unique_split_by_row_sum():
    """平潭 2021: '640020470' = 64, 0, 0, 2, 0, 4, 70 (the only cut whose parts add up to the total)."""
    out = verify("v2021", {}, [glued(t3("new_received"), ["640020470"])])
    assert [out.values[c] for c in t3("new_received")] == ["64", "0", "0", "2", "0", "4", "70"]
    assert not out.undecided and set(out.how.values()) == {"split"}


def test_ambiguous_split_is_left_missing():
    """平潭 2021 Table 二 '693665': 69|3|665 and 6|93|665 both fit; nothing is chosen."""
    codes = ("t2.normative_docs.issued", "t2.normative_docs.repealed", "t2.normative_docs.in_force")
    out = verify("v2021", {}, [glued(codes, ["693665"])])
    assert not out.values
    assert {"69", "6"} <= set(out.undecided[codes[0]])


def test_narrative_figure_decides_only_what_it_states():
    codes = ("t2.normative_docs.issued", "t2.normative_docs.repealed", "t2.normative_docs.in_force")
    out = verify("v2021", {}, [glued(codes, ["693665"])], {"normative_docs": (69.0, "制发行政规范性文件69件。")})
    assert out.values == {codes[0]: "69"}  # '3665' still splits as 3|665, 36|65, 366|5
    assert out.how[codes[0]] == "narrative" and "69件" in out.evidence[codes[0]]
    assert set(out.undecided[codes[1]]) == {"3", "36", "366"}
    # a statement that fits no cut is not used
    out = verify("v2021", {}, [glued(codes, ["693665"])], {"normative_docs": (70.0, "制发70件。")})
    assert not out.values and any("fits no reading" in n for n in out.notes)


def test_cross_row_constraint_decides():
    assert sorted(row_splits(["111"], ("count", "count"))[0]) == [("1", "11"), ("11", "1")]
    fixed = {f"t3.new_received.{c}": 0.0 for c in COLS[1:6]} | {"t3.new_received.total": 11.0}
    out = verify("v2021", fixed, [glued(("t3.new_received.natural_person",), ["11"])])
    assert out.values == {"t3.new_received.natural_person": "11"}


def test_whitespace_is_a_hard_boundary_and_units_stay_on_the_last_cell():
    assert row_splits(["135", "75394432.52元"], ("count", "money"))[0] == [("135", "75394432.52元")]
    assert row_splits(["00"], ("count", "count"))[0] == [("0", "0")]
    assert row_splits(["012"], ("count",))[0] == []  # no redundant leading zero
    assert row_splits(["0.5"], ("money",))[0] == [("0.5",)]  # but money may start with 0.


def test_inconsistent_table_falls_back_to_row_constraints():
    """平潭 2020 prints rows that add to 27 under （七）总计 21: splits come from each row alone and the
    column-sum failure is reported by the rules, not hidden by a forced cut."""
    ext = extract_document(RAW / "incoming" / "fujian_pingtan_zone_admin_committee_2020.txt")
    assert any(i.kind == "glued_inconsistent" for i in ext.issues)
    assert ext.cell("t3.total_processed.total").value == 21
    assert ext.cell("t3.results.granted.total").value == 7


def test_many_independent_ambiguous_rows_never_look_unique():
    """Enumeration limits must not turn an ambiguous row into a 'unique' one (平潭 2019 Table 二 '350')."""
    units = [glued((f"a{i}", f"b{i}", f"c{i}"), ["1357924680"]) for i in range(6)]
    units.append(glued(("p", "q"), ["350"], ("count", "signed")))
    out = verify("v2019", {}, units)
    assert "p" not in out.values and set(out.undecided["p"]) == {"3", "35"}
