"""Who reported: the division registry, the resolver on 291 printed body names, overrides, copies of a report."""

from __future__ import annotations

import csv

import pandas as pd

from conftest import ROOT
from pipelines.agencies import AgencyRegistry, AgencyResolver, agencies_frame
from pipelines.identity import build_changes
from pipelines.identity.copies import report_copies
from pipelines.identity.divisions import CHANGES_FILE, division_registry
from pipelines.identity.resolver import Context, default_resolver

NAMES = ROOT / "tests" / "data" / "identity" / "agency_names.csv"
MIN_HIT_RATE = 0.97


def test_registry_has_current_and_former_divisions():
    reg = division_registry()
    hongze = reg.get("320813")
    assert (hongze.name, hongze.level, hongze.parent_code, hongze.status) == ("洪泽区", "county", "320800", "current")
    former = reg.get("320829")
    assert (former.name, former.status, former.successor_code) == ("洪泽县", "renamed", "320813")
    assert reg.get("310115").parent_code == "310000"  # municipality districts sit under the municipality
    assert reg.get("429004").parent_code == "420000"  # a county-level city directly under its province
    assert sum(1 for d in reg.by_code.values() if d.status == "current") > 3300


def test_every_former_code_leads_to_a_current_division():
    """Codes that moved away and back (简阳市 510180 ⇄ 510185, 2016) end at today's division, never in a cycle."""
    reg = division_registry()
    renamed = [d for d in reg.by_code.values() if d.status == "renamed"]
    assert renamed
    for d in renamed:
        assert reg.current(d.code) is not None and reg.current(d.code).status == "current", d
    placed = {default_resolver().resolve(name).region_code for name in ("成都市简阳市人民政府", "简阳市人民政府")}
    assert placed == {"510185"}


def test_division_changes_are_derived_from_the_gb2260_revisions():
    assert CHANGES_FILE.read_text(encoding="utf-8") == build_changes.derive(), (
        "data/division_changes.csv is stale: run python -m pipelines.identity.build_changes")


def test_printed_names_are_placed_or_left_unresolved_never_misplaced():
    """Counties, districts, towns/streets, departments, zones; with and without prefixes; misprints; context."""
    resolver = default_resolver()
    with NAMES.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 200
    placeable = [r for r in rows if r["region_code"]]
    hits, wrong, misses = 0, [], []
    for r in rows:
        res = resolver.resolve(r["printed"], Context(opening=r["context"] or None))
        if not r["region_code"]:
            assert not res.resolved and res.reason, (r["printed"], r["context"], res)  # ambiguous or not a name: never guessed
            continue
        got = (res.region_code, res.level, res.kind)
        if got == (r["region_code"], r["level"], r["kind"]):
            hits += 1
        elif res.resolved:
            wrong.append((r["printed"], got))
        else:
            misses.append((r["printed"], res.reason))
    assert not wrong, wrong
    rate = hits / len(placeable)
    print(f"resolver hit rate: {hits}/{len(placeable)} = {rate:.1%}; unresolved: {misses}")
    assert rate >= MIN_HIT_RATE


def test_variants_of_one_body_share_one_id():
    resolver = default_resolver()
    ids = {resolver.resolve(n).agency_id for n in ("洪泽区人民政府", "淮安市洪泽区人民政府", "洪泽县人民政府", "淮安市洪泽区政府")}
    assert ids == {"320813:gov"}
    dept = {resolver.resolve(n).agency_id for n in ("上海市科委", "上海市科学技术委员会")}
    assert dept == {"310000:dept:科学技术委员会"}
    res = resolver.resolve("上海市科委")
    assert (res.parent_id, res.kind, res.level) == ("310000:gov", "department", "province")
    back = resolver.from_id("500107:town:二郎街道")
    assert (back.name, back.parent_id, back.kind) == ("重庆市九龙坡区二郎街道办事处", "500107:gov", "township")


def test_overrides_win_and_the_table_lists_every_government(tmp_path):
    (tmp_path / "agencies.csv").write_text(
        "agency_id,name,variants,region_code,level,parent_id,kind\n"
        "fj-pingtan-zone,平潭综合实验区管理委员会,平潭综合实验区,350128,county,350000:gov,government_aggregate\n"
        "320813:gov,洪泽区政府（改名）,,320813,county,320800:gov,government_aggregate\n", encoding="utf-8")
    resolver = AgencyResolver(AgencyRegistry.load(tmp_path))
    zone = resolver.resolve("平潭综合实验区")
    assert (zone.agency_id, zone.match, zone.parent_id) == ("fj-pingtan-zone", "override", "350000:gov")
    renamed = resolver.resolve("淮安市洪泽区人民政府")  # the resolver places it; the override's attributes replace
    assert (renamed.agency_id, renamed.name, renamed.match) == ("320813:gov", "洪泽区政府（改名）", "registry")
    assert not resolver.resolve("鼓楼区人民政府").resolved
    frame = agencies_frame(tmp_path, pd.DataFrame({"agency_id": ["310000:dept:科学技术委员会"], "agency_printed": ["上海市科委"]}))
    by_id = frame.set_index("agency_id")
    assert by_id.loc["320800:gov", "source"] == "registry" and by_id.loc["320813:gov", "source"] == "override"
    assert by_id.loc["310000:dept:科学技术委员会", "variants"] == "上海市科委"
    assert (frame.parent_id == "320800:gov").sum() >= 7  # 淮安市's counties are known without any hand file


def _report(rid, body="x", year=2023, scope="agency", status="published", n_values=100, mirror=None, sha=None, ftype="html"):
    return {"report_id": rid, "report_year": year, "agency_id": body, "agency_printed": body, "scope": scope, "status": status,
            "n_values": n_values, "n_errors": 0 if status != "quarantined" else 2, "n_not_assessable": 0,
            "mirror_reason": mirror, "sha256": sha or rid, "file_type": ftype}


def test_copies_grouped_with_one_canonical():
    reports = pd.DataFrame([
        _report("a.txt", n_values=190, ftype="txt"), _report("a.html", n_values=200),
        _report("a_mirror.html", n_values=200, mirror="the file name says mirror"),
        _report("a_again.html", scope="unknown", n_values=150),
        _report("b.html", body="y", status="quarantined", n_values=200), _report("b.txt", body="y", n_values=10, ftype="txt"),
        _report("agg.html", body="y", scope="region_aggregate"),  # another scope: another report
        _report("y.html", body="y", scope="unknown"),  # two scopes stated: an unknown one joins neither
        _report("c.html", body=None, year=None),
    ])
    reports.loc[reports.report_id == "c.html", "agency_printed"] = None
    copies = report_copies(reports).set_index("report_id")
    assert copies.loc["a.txt", "canonical_report_id"] == "a.html" and copies.loc["a.html", "is_canonical"]
    assert copies.loc["a.txt", "copy_role"] == "format_copy" and "more values" in copies.loc["a.txt", "reason"]
    assert copies.loc["a_mirror.html", "copy_role"] == "mirror"
    assert copies.loc["a_again.html", "canonical_report_id"] == "a.html"  # unknown scope joins the only stated one
    assert copies.loc["agg.html", "is_canonical"] and copies.loc["agg.html", "reason"] == "the only copy"
    assert copies.loc["b.txt", "is_canonical"]  # published before quarantined, however complete
    assert copies.loc["c.html", "is_canonical"] and copies.loc["y.html", "is_canonical"]
    assert copies.is_canonical.sum() == 5
