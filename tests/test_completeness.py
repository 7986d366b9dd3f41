"""Completeness: a report cut short, or with lines repeated, says which tables and cells it lost — never confident guesses."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import RAW, document_for, load_truth
from pipelines.extract import extract_document
from pipelines.extract.completeness import LOSS_KINDS
from pipelines.process import decide_status

STEM = "shanghai_municipal_sci_tech_commission_2024"


def status_of(ext) -> str:
    """The pipeline's status decision for an extraction that passes every rule."""
    reports = pd.DataFrame([{"report_id": "r", "report_year": 2024, "status": "rejected" if ext.fatal else "published",
                             "n_ambiguous": sum(c.value_status == "ambiguous" for c in ext.cells)}])
    issues = pd.DataFrame([{"report_id": "r", **i.to_dict()} for i in ext.issues],
                          columns=["report_id", "severity", "kind", "message", "location", "table_id", "code", "printed"])
    return decide_status(reports, pd.DataFrame(), issues).status.iloc[0]


def test_truncated_report_names_every_lost_cell(tmp_path):
    text = document_for(STEM).read_text(encoding="utf-8")
    cut = text[: text.index("（四）无")]  # the file ends inside Table 三
    path = tmp_path / "truncated.md"
    path.write_text(cut, encoding="utf-8")
    ext = extract_document(path)
    truth = load_truth(STEM)
    got = {c.code: c.value for c in ext.cells}
    assert all(got[c] == truth[c] for c in got if got[c] is not None)  # what is read is right
    named = {i.code for i in ext.issues if i.code} | {i.table_id for i in ext.issues if i.kind == "table_missing"}
    lost = [c for c, v in truth.items() if v is not None and got.get(c) is None]
    assert lost and all(c in named or c.split(".")[0] in named for c in lost)
    assert {i.kind for i in ext.issues} & LOSS_KINDS
    assert status_of(ext) == "published_partial"


def test_complete_report_is_published():
    assert status_of(extract_document(document_for(STEM))) == "published"


def test_duplicated_zero_line_never_becomes_a_confident_value(tmp_path):
    """A '0 |' line repeated in a table flattened one cell per line: the row spans more cells than every other
    row, so it is not read (the original prints 规章 0 | 0 | (blank))."""
    lines = (RAW / "incoming" / "hubei_wuhan_hanyang_district_gov_office_2022.excerpt.txt").read_text(encoding="utf-8").split("\n")
    original = extract_document(RAW / "incoming" / "hubei_wuhan_hanyang_district_gov_office_2022.excerpt.txt")
    assert [original.cell(f"t2.rules.{c}").value_status for c in ("issued", "repealed", "in_force")] == ["number", "number", "blank"]
    k = lines.index("规章 |") + 1
    path = tmp_path / "dup.txt"
    path.write_text("\n".join(lines[: k + 1] + [lines[k]] + lines[k + 1 :]), encoding="utf-8")
    ext = extract_document(path)
    assert all(ext.cell(f"t2.rules.{c}") is None for c in ("issued", "repealed", "in_force"))
    issue = next(i for i in ext.issues if i.code == "t2.rules.in_force")
    assert issue.kind == "row_shape" and "repeated" in issue.message
    assert ext.cell("t2.normative_docs.issued").value == 5  # the other rows are read


# ------------------------------------------------------------------------------------------------
# families found by the fuzzer (issue 12 §3/§7): known documents re-rendered into each shape


def _lines_of(rel: str) -> list[str]:
    return (RAW / rel).read_text(encoding="utf-8").split("\n")


def _extract_lines(tmp_path, lines: list[str], suffix: str, name: str = "doc"):
    path = tmp_path / f"{name}{suffix}"
    path.write_text("\n".join(lines), encoding="utf-8")
    return extract_document(path)


def test_last_cell_line_deleted_in_a_table_printed_one_cell_per_line(tmp_path):
    """A table flattened one cell per line ('0 |'), its last value line deleted: the row ends the text, and the
    text after the final '|' is not a cell, so the row spans one cell less than every other row and is not read
    (it was read with a blank last cell)."""
    from hostile import mutate as M

    lines = M.load_seed("synth:flat").data.decode("utf-8").split("\n")
    end = lines.index("四、结转下年度继续办理 |")
    k = next(j for j in range(end + 1, len(lines)) if lines[j + 1] == "|")  # the row's last value line
    ext = _extract_lines(tmp_path, lines[:k] + lines[k + 1 :], ".txt")
    assert all(ext.cell(f"t3.carried_forward.{c}") is None for c in ("natural_person", "total"))
    assert {i.kind for i in ext.issues if i.code == "t3.carried_forward.total"} == {"row_shape"}
    assert status_of(ext) == "published_partial"
    whole = _extract_lines(tmp_path, lines, ".txt", "whole")
    assert whole.cell("t3.carried_forward.total").value == 0 and status_of(whole) == "published"


def test_labels_then_values_table_missing_a_value_row_is_not_shifted(tmp_path):
    """Labels printed as a block, then their value rows (PDF→markdown): one value row deleted leaves more labels
    than value rows, so no row takes the next row's values (the single 2019 （六） row is no alternative when a
    split （六） row is printed)."""
    rel = "incoming/shanghai_municipal_sci_tech_commission_2024.md"
    lines = _lines_of(rel)
    original = extract_document(RAW / rel)
    k = lines.index("5.要求行政机关确认或") + 6  # the first value row after the block of labels
    assert lines[k].startswith("| 0 |")
    ext = _extract_lines(tmp_path, lines[:k] + lines[k + 1 :], ".md")
    for c in ext.cells:
        if c.value is not None and c.table_id == "t3":
            assert c.value == original.cell(c.code).value, c.code
    assert status_of(ext) == "published_partial"


def test_grid_row_with_extra_blank_cells_at_both_ends_is_not_read(tmp_path):
    """An HTML row with more cells than columns and blanks at both ends: its values fit under several sets of
    columns, so the row is lost with its reason instead of being read shifted."""
    rel = "incoming/shanghai_municipal_gov_general_office_2019.html"
    text = (RAW / rel).read_text(encoding="utf-8")
    row = "<tr><td>8.属于行政查询事项</td><td>10</td>"
    assert text.count(row) == 1
    path = tmp_path / "wide.html"
    path.write_text(text.replace(row, "<tr><td>8.属于行政查询事项</td>" + "<td>&nbsp;</td>" * 3 + "<td>10</td>"), encoding="utf-8")
    ext = extract_document(path)
    code = "t3.results.denied.admin_query.natural_person"
    assert ext.cell(code) is None
    assert next(i for i in ext.issues if i.code == code).kind == "row_shape"
    assert status_of(ext) == "published_partial"


def test_garbled_table_3_header_is_not_followed(tmp_path):
    """Table 三's two header rows swapped (organisations before their group 法人或其他组织): the header is not
    read, the equalities decide the order, and no applicant column is shifted."""
    rel = "incoming/shanghai_municipal_gov_general_office_2019.html"
    lines = _lines_of(rel)
    k = next(j for j, ln in enumerate(lines) if "<td>商业企业</td>" in ln)
    assert "自然人" in lines[k - 1]
    ext = _extract_lines(tmp_path, lines[: k - 1] + [lines[k], lines[k - 1]] + lines[k + 1 :], ".html")
    truth = load_truth("shanghai_municipal_gov_general_office_2019")
    assert all(c.value == truth[c.code] for c in ext.cells if c.table_id == "t3" and c.value is not None)


def test_control_byte_in_html_is_damage_not_a_rejection(tmp_path):
    """One control byte in an HTML page (lxml refuses it): the page is read, the byte is an unreadable region,
    the number it touches is not read, and the report says so."""
    rel = "incoming/shanghai_municipal_gov_general_office_2019.html"
    text = (RAW / rel).read_text(encoding="utf-8")
    path = tmp_path / "ctrl.html"
    path.write_text(text.replace("<td>821</td>", "<td>8\x0721</td>", 1), encoding="utf-8")
    ext = extract_document(path)
    assert not ext.fatal
    damaged = ext.cell("t3.new_received.natural_person")
    assert damaged is None or damaged.value is None
    assert "t3.new_received.natural_person" in {i.code for i in ext.issues}
    assert ext.cell("t3.carried_over.total").value == 18  # the rest is read
    assert "line(s) 57" in next(i.message for i in ext.issues if i.kind == "unreadable_region")
    assert status_of(ext) == "published_partial"


def test_html_nested_past_the_parser_limit_is_rejected_naming_the_depth(tmp_path):
    path = tmp_path / "deep.html"
    path.write_text("<html><body>" + "<div>" * 3000 + "<p>测试市2022年政府信息公开工作年度报告</p>" + "</div>" * 3000
                    + "</body></html>", encoding="utf-8")
    ext = extract_document(path)
    assert ext.fatal.kind == "too_deep" and "nested" in ext.fatal.message


def test_long_glued_run_is_bounded_and_says_so(tmp_path):
    """A glued run of digits with astronomically many splits (平潭's Table 四 made 110 digits long): the search
    stops at its bound and the cells are missing with that reason (it ran for minutes before)."""
    rel = "incoming/fujian_pingtan_zone_admin_committee_2023.txt"
    text = (RAW / rel).read_text(encoding="utf-8")
    assert text.count("总计110024001510102五、") == 1
    path = tmp_path / "long.txt"
    path.write_text(text.replace("总计110024001510102五、", "总计" + "1" * 110 + "五、"), encoding="utf-8")
    ext = extract_document(path)
    assert all(c.value is None for c in ext.cells if c.table_id == "t4")
    issue = next(i for i in ext.issues if i.code == "t4.review.maintained")
    assert issue.kind == "ambiguous_split" and "bound" in issue.message
    assert ext.cell("t3.new_received.total").value is not None  # the rest is read


def test_memory_error_reaches_the_worker_pool(tmp_path, monkeypatch):
    """Over the worker's memory limit, extraction does not turn MemoryError into a reason: the pool names the limit."""
    import pipelines.extract as extract

    def out_of_memory(path):
        raise MemoryError

    monkeypatch.setattr(extract, "read_document", out_of_memory)
    (tmp_path / "a.txt").write_text("x", encoding="utf-8")
    with pytest.raises(MemoryError):
        extract.extract_document(tmp_path / "a.txt")


SHAPE_SEEDS = ["incoming/gansu_ganzhou_district_gov_2016.txt", "incoming/hubei_wuhan_hanyang_district_gov_office_2022.excerpt.txt",
               "incoming/shanghai_municipal_sci_tech_commission_2024.md", "incoming/shanghai_municipal_gov_general_office_2019.html",
               "incoming/fujian_pingtan_zone_admin_committee_2023.txt", "synth:flat"]


@pytest.mark.parametrize("name", SHAPE_SEEDS)
def test_known_document_cut_short_or_with_a_line_deleted_or_repeated(name):
    """Every shape of the families, on known documents of each layout: lines holding figures deleted or repeated
    (a sample of them), the file truncated at 30/50/70/90 %. The fuzzer's oracle finds no value the change does
    not support and no report left published after losing cells."""
    from hostile import mutate as M

    seed, base = M.load_seed(name), M.baseline(name)
    lines = seed.data.split(b"\n")
    with_figures = [k for k, ln in enumerate(lines) if any(ch in ln for ch in b"0123456789")]
    shapes = []
    for k in with_figures[:: max(1, len(with_figures) // 8)]:
        shapes.append((f"delete line {k + 1}", lines[:k] + lines[k + 1 :]))
        shapes.append((f"duplicate line {k + 1}", lines[: k + 1] + [lines[k]] + lines[k + 1 :]))
    cases = [M.Case(name, -10 - n, b"\n".join(ls), seed.suffix, (what,)) for n, (what, ls) in enumerate(shapes)]
    cases += [M.Case(name, -1 - n, seed.data[: int(len(seed.data) * f)], seed.suffix, (f"truncate at {f:.0%}",))
              for n, f in enumerate((0.3, 0.5, 0.7, 0.9))]
    outcomes = [M.judge(case, base) for case in cases]
    M.judge_statuses(outcomes)
    assert sum(bool(o.lost) for o in outcomes) >= 4  # the shapes do lose cells
    found = [f"{f.case} {f.kind}: {f.detail} <- {f.steps}" for o in outcomes for f in o.findings]
    assert not found, "\n".join(found)


def test_table_line_damaged_at_its_start_lends_no_label_to_the_next_row(tmp_path):
    """A markdown table line damaged before its first '|' becomes running text: its label is followed by figures
    it cannot read, so it is not a label printed alone, and the next line's values stay with their own row."""
    rel = "incoming/shanghai_municipal_sci_tech_commission_2024.md"
    lines = _lines_of(rel)
    k = next(j for j, ln in enumerate(lines) if "（一）予以公开" in ln and ln.startswith("|"))
    ext = _extract_lines(tmp_path, lines[:k] + ["\x00" + lines[k]] + lines[k + 1 :], ".md")
    original = extract_document(RAW / rel)
    for c in ext.cells:
        if c.value is not None:
            assert c.value == original.cell(c.code).value, c.code
    assert ext.cell("t3.results.granted.total") is None or ext.cell("t3.results.granted.total").value is None
    assert status_of(ext) == "published_partial"


# one case of every family the long fuzz found (tools/fuzz.py --replay ID shows each)
FOUND = [
    "incoming/fujian_pingtan_zone_admin_committee_2023.txt:346",  # hang: glued digits
    "incoming/shanghai_municipal_sci_tech_commission_2024.md:447",  # hang
    "incoming/hubei_wuhan_hanyang_district_gov_office_2022.excerpt.txt:340",  # duplicated line -> confident zeros
    "synth:flat:1170",  # last cell line deleted -> read as blank
    "incoming/shanghai_municipal_gov_general_office_2019.html:1143",  # header rows swapped -> shifted columns
    "incoming/shanghai_municipal_gov_general_office_2019.html:1169",  # blank cells inserted -> shifted row
    "incoming/shanghai_municipal_gov_general_office_2019.html:1016",  # control byte -> rejected
    "incoming/shanghai_municipal_sci_tech_commission_2024.md:2096",  # labels then values: a row lost, next row shifted
    "incoming/shanghai_municipal_sci_tech_commission_2024.md:693",  # a copied row fills the count of a lost one
    "incoming/shanghai_municipal_sci_tech_commission_2024.md:931",  # damaged table line lends its label
    "synth:flat:2031",  # rows spliced: value contradicted by the row sum
    "synth:md:302",  # a digit turned into "/"
    "incoming/shanghai_municipal_gov_general_office_2019.html:411",  # a chunk inside a tag empties a cell
    "pingtan/pingtan_zone_admin_committee_2023.html:2955",  # a digit turned into "-"
    "incoming/shanghai_municipal_sci_tech_commission_2024.md:3607",  # damaged value cell lends its label to the next row
    "synth:flat:5870",  # two labels spliced by a deletion: no fuzzy likeness across the damage
    "synth:html:3766",  # an unclosed attribute quote swallows the next line's markup
    "incoming/hubei_wuhan_hanyang_district_gov_office_2022.excerpt.txt:4697",  # lines swapped, then a digit changed
    "incoming/hubei_wuhan_hanyang_district_gov_office_2022.excerpt.txt:6157",  # a digit changed, then lines swapped
    "incoming/shanghai_municipal_gov_general_office_2019.html:12402",  # header group cell lost; rows printed with blanks
    "incoming/shanghai_municipal_sci_tech_commission_2024.md:10018",  # a value cell turned into a letter lends its label
    "synth:html:12437",  # a chunk inside a cell: its digits run across inline tags
    "synth:html:12068",
    "synth:html:37323",  # bytes inserted into 424.47: a number run into letters/control bytes read as 42
    "incoming/tianjin_hongqiao_district_gov_service_office_2022.excerpt.txt:26984",  # pipe row broken after its label: line of its digits
    "synth:flat:23842",  # a value flipped to blank in a one-cell-per-line table: the blank's line
    "synth:flat:40763",
    "synth:flat:15661",  # a deletion from inside one row to inside the next: a cut cell, next row's values
    "synth:flat:6540",
    "synth:flat:29708",
    "synth:flat:18096",  # ... the same with two labels spliced (2.重复|版物)
    "synth:flat:33004",
    "incoming/hubei_wuhan_hanyang_district_gov_office_2022.excerpt.txt:32600",  # ... nothing visible at the cut
    "incoming/shanghai_municipal_sci_tech_commission_2024.md:25638",  # value rows joined: (六) placed by count
    "incoming/shanghai_municipal_sci_tech_commission_2024.md:10266",
    "incoming/hubei_wuhan_hanyang_district_gov_office_2022.excerpt.txt:32606",  # two lines repeated: a 0 fills a blank
    "incoming/hubei_wuhan_hanyang_district_gov_office_2022.excerpt.txt:34980",
    "synth:flat:100182",  # a label spliced with a later row's whole label (…行政查 + 总计)
    "incoming/gansu_ganzhou_district_gov_2016.txt:103205",  # a tab inside a label: its end fuzzily matched the total
    "synth:flat:13061",  # a total below its printed parts beside a blank: contradicted
    "synth:html:4656",  # rows swallowed by an unclosed tag: the line of their <tr>
    "incoming/shanghai_municipal_gov_general_office_2019.html:18703",
    "synth:flat:52693",  # a copied chunk's '|' lines end a one-cell-per-line row where a blank would
    "synth:flat:63598",  # ... and rows printed twice, the later copy cut short by the chunk's end
    "incoming/shanghai_municipal_sci_tech_commission_2024.md:42548",  # '行政许可 9<TAB>7': a value run into its label
    "synth:flat:46234",  # a value line deleted and a '|' put before the next label: the span made up, a blank read
    "incoming/hunan_yueyang_nanhu_unnamed_bureau_2019.excerpt.txt:56913",  # a figure put after a line's "|": joined to the next line's, 8 + 0 read as 80
    "incoming/hubei_wuhan_hanyang_district_gov_office_2022.excerpt.txt:59724",  # oracle: a swap diffed as a delete and a replace moves the line between
]


def test_fuzz_findings_stay_fixed():
    from hostile import mutate as M

    outcomes = []
    for case_id in FOUND:
        seed_name, number = case_id.rsplit(":", 1)
        base = M.baseline(seed_name)
        outcomes.append(M.judge(M.make_case(base.seed, int(number)), base))
    M.judge_statuses(outcomes)
    found = [f"{f.case} {f.kind}: {f.detail}" for o in outcomes for f in o.findings]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("fmt", ["html", "html-flattened", "txt", "md", "flat"])
def test_number_run_into_letters_or_control_bytes_is_not_read(fmt):
    """'42j2\\x05…4.47' (bytes inserted into 424.47) is a damaged cell, not 42; units and notes still read."""
    from hostile import mutate as M

    seed = M.load_seed("synth:" + fmt.split("-")[0])
    data = seed.data
    if fmt == "html-flattened":  # table markup lost: each row becomes a line of running text
        for tag, new in ((b"table", b"div"), (b"tr", b"p"), (b"td", b"span"), (b"th", b"span")):
            data = data.replace(b"<" + tag + b">", b"<" + new + b">").replace(b"<" + tag + b" ", b"<" + new + b" ")
            data = data.replace(b"</" + tag + b">", b"</" + new + b">")
    code = "t2.admin_fees.amount"
    raw = next(c.raw for c in M.extract_bytes(data, seed.suffix).cells if c.code == code)
    head, tail = raw[:2], raw[2:]
    for damaged in (f"{head}j2\x05\ufffdO\ufffd\ufffd{tail}", f"{head}j2{tail}", f"{head}\x05{tail}", f"{head}{tail}Z", f"{head}\x01"):
        ext = M.extract_bytes(data.replace(raw.encode(), damaged.encode(), 1), seed.suffix)
        assert [c.value for c in ext.cells if c.code == code] == [], (fmt, damaged)
        assert any(i.code == code for i in ext.issues), (fmt, damaged)  # the loss is named
    for fine in (f"{raw}万元", f"{raw}（万元）"):
        ext = M.extract_bytes(data.replace(raw.encode(), fine.encode(), 1), seed.suffix)
        assert [c.value for c in ext.cells if c.code == code] == [float(raw)], (fmt, fine)


def test_pipe_row_broken_after_its_label_keeps_the_line_of_its_digits(tmp_path):
    """'行政许可 | ⏎1517 | ||': the value is read, and its line is the line its digits are printed on."""
    src = RAW / "incoming" / "tianjin_hongqiao_district_gov_service_office_2022.excerpt.txt"
    lines = src.read_text(encoding="utf-8").split("\n")
    k = next(i for i, ln in enumerate(lines) if ln.startswith("行政许可 | 1517"))
    lines[k : k + 1] = ["行政许可 | ", "1517 | ||"]
    path = tmp_path / src.name
    path.write_text("\n".join(lines), encoding="utf-8")
    cell = next(c for c in extract_document(path).cells if c.code == "t2.licensing.decisions")
    assert (cell.value, cell.line) == (1517, k + 2)


def test_blank_last_cell_in_a_one_cell_per_line_table_sits_on_its_own_line():
    """A row's last value turned blank ('0 |' -> '  |'): the blank is read on that line, not on the empty cell after it."""
    from hostile import mutate as M

    seed = M.load_seed("synth:flat")
    base = {c.code: c for c in M.extract_bytes(seed.data, seed.suffix).cells}
    cell = base["t3.results.denied.internal_affairs.total"]
    lines = seed.data.decode("utf-8").split("\n")
    assert lines[cell.line - 1].strip() == f"{cell.raw} |"
    lines[cell.line - 1] = "  |"
    got = next(c for c in M.extract_bytes("\n".join(lines).encode(), seed.suffix).cells if c.code == cell.code)
    assert (got.value_status, got.line) == ("blank", cell.line)


@pytest.mark.parametrize("cut", ["cell", "label", "lines"])
def test_rows_spliced_by_a_deletion_are_not_read(cut):
    """A span deleted from inside one row to inside the next (its label gone): the first row's label then
    carries the next row's values, with a cut cell (' |'), a spliced label or nothing visible where they meet.
    No confident value differs from what the original printed for that row."""
    from hostile import mutate as M

    seed = M.load_seed("synth:flat")
    base = {c.code: c for c in M.extract_bytes(seed.data, seed.suffix).cells}
    text = seed.data.decode("utf-8")
    lines = text.split("\n")
    starts = [0]
    for ln in lines:
        starts.append(starts[-1] + len(ln) + 1)
    rows: dict[str, list] = {}
    for code, c in base.items():
        if code.startswith("t3.results.") and c.line:
            rows.setdefault(code.rsplit(".", 1)[0], []).append(c)
    keys = sorted(rows, key=lambda k: min(c.line for c in rows[k]))
    tried = 0
    for key, nxt in zip(keys, keys[1:]):
        a = sorted(rows[key], key=lambda c: c.line)
        b = sorted(rows[nxt], key=lambda c: c.line)
        if len(a) != 7 or len(b) != 7 or b[0].line - a[-1].line != 3:
            continue  # adjacent rows only (label line between)
        if cut == "cell":  # from row a's 4th value to the digits of row b's 4th value: ' |' is left
            lo, hi = starts[a[3].line - 1], starts[b[3].line - 1] + len(b[3].raw)
        elif cut == "lines":  # whole lines: row a's last four values and row b's label and first three values
            lo, hi = starts[a[3].line - 1], starts[b[3].line - 1]
        else:  # from the middle of row a's label to the middle of row b's label
            la, lb = lines[a[0].line - 2], lines[b[0].line - 2]
            lo = starts[a[0].line - 2] + len(la) // 2
            hi = starts[b[0].line - 2] + len(lb) // 2
        ext = M.extract_bytes((text[:lo] + text[hi:]).encode("utf-8"), seed.suffix)
        got = {c.code: c.value for c in ext.cells if c.code.startswith(key + ".") and c.value_status == "number"}
        assert all(base[code].value == v for code, v in got.items()), (cut, key, got)
        tried += 1
    assert tried >= 5


def test_value_row_joined_with_the_next_labelled_row_places_no_values_by_count(tmp_path):
    """Labels-then-values tables: a deletion joins a value row to the next labelled row, whose label is lost
    ('| 0 | … | 0 | 4 | 0 | … | 4 |'). The wide row means the value rows no longer count the printed rows:
    nothing is placed by their count (the single 2019 （六） row took a (六) row's values), and every cell
    read is right."""
    import re

    text = document_for(STEM).read_text(encoding="utf-8")
    truth = load_truth(STEM)
    lines = text.split("\n")
    bare_row = re.compile(r"^\|(?: [\d\s]+ \|)+$")
    tried = 0
    for k, ln in enumerate(lines):
        nxt = next((j for j in range(k + 1, min(k + 4, len(lines))) if not lines[j].startswith("|---")), None)
        if not bare_row.match(ln) or nxt is None or not re.match(r"^\| \d\.\S+ \|", lines[nxt]):
            continue
        joined = ln[:-1] + lines[nxt][lines[nxt].index("|", 1) :].lstrip()[1:]
        path = tmp_path / f"joined{k}.md"
        path.write_text("\n".join(lines[:k] + [joined] + lines[nxt + 1 :]), encoding="utf-8")
        got = {c.code: c.value for c in extract_document(path).cells if c.value is not None}
        wrong = {c: v for c, v in got.items() if truth.get(c) != v}
        assert not wrong, (k, wrong)
        tried += 1
    assert tried >= 2


def test_html_rows_outside_a_table_keep_the_line_of_their_row(tmp_path):
    """Table markup lost (an unclosed tag or a deleted <table>): the rows are read as running text, and each
    value's line is the source line its digits are printed on."""
    import re

    from hostile import mutate as M

    seed = M.load_seed("synth:html")
    text = re.sub(r"<table[^>]*>", "", seed.data.decode("utf-8"))
    ext = M.extract_bytes(text.encode("utf-8"), seed.suffix)
    lines = text.split("\n")
    cells = [c for c in ext.cells if c.value_status == "number" and c.table_index is None]
    assert len(cells) > 20
    off = [c.code for c in cells if c.raw not in re.sub(r"<[^>]+>", "", lines[c.line - 1])]
    assert not off, off


def test_total_below_its_printed_parts_is_contradicted_even_with_a_blank_part():
    """'1 | 0 | 1 | 0 | 0 | (blank) | 0': whatever the blank is (a count is never negative), the total 0 cannot
    be the sum of parts 1 and 1 — the row's cells are contradicted, not unchecked (fuzz synth:flat:13061)."""
    from pipelines.extract.verify import CONTRADICTED, UNCHECKED, statuses

    row = "t3.results.granted"
    parts = {"natural_person": 1, "commercial_enterprise": 0, "research_institution": 1, "public_welfare_org": 0,
             "legal_service_org": 0}  # other_org blank
    values = {f"{row}.{k}": float(v) for k, v in parts.items()}
    assert set(statuses({**values, f"{row}.total": 0.0}, "v2021").values()) == {CONTRADICTED}
    assert statuses({**values, f"{row}.total": 2.0}, "v2021")[f"{row}.total"] == UNCHECKED  # the blank may be 0


def test_one_cell_per_line_table_with_two_repeated_lines_fills_no_blank():
    """Two lines repeated in a one-cell-per-line Table 二 (a value line '0 |' and an empty cell '|' of another
    row): the rows that still span the table's usual number of cells keep the convention, and the repeated
    value never fills a blank cell (fuzz hanyang:32606). No confident value differs from the original."""
    import re

    from hostile import mutate as M

    src = RAW / "incoming" / "hubei_wuhan_hanyang_district_gov_office_2022.excerpt.txt"
    data = src.read_bytes()
    base = {c.code: c.value for c in M.extract_bytes(data, ".txt").cells if c.value_status == "number"}
    lines = data.decode("utf-8").split("\n")
    t2 = range(next(i for i, ln in enumerate(lines) if "第二十条" in ln), next(i for i, ln in enumerate(lines) if ln.startswith("三、")))
    values = [i for i in t2 if re.fullmatch(r"\d+ \|", lines[i])]
    empties = [i for i in t2 if lines[i] == "|"]
    tried = 0
    for v in values:
        for e in empties:
            dup = [ln for i, ln in enumerate(lines) for _ in range(2 if i in (v, e) else 1)]
            got = {c.code: c.value for c in M.extract_bytes("\n".join(dup).encode(), ".txt").cells
                   if c.value_status == "number" and c.code.startswith("t2.")}
            wrong = {c: x for c, x in got.items() if base.get(c) != x}
            assert not wrong, (v, e, wrong)
            tried += 1
    assert tried >= 10


@pytest.mark.parametrize("fmt", ["flat", "md", "html"])
def test_label_spliced_with_a_later_rows_label_is_not_read(fmt):
    """A deletion from inside one label to the end of a later row's label ('8.属于行政查' + '总计'): the fuzzy label
    ends with the whole label of another row, whose values follow — the row is not read (fuzz synth:flat:100182)."""
    from hostile import mutate as M

    seed = M.load_seed("synth:" + fmt)
    text = seed.data.decode("utf-8")
    assert "8.属于行政查询事项" in text
    ext = M.extract_bytes(text.replace("8.属于行政查询事项", "8.属于行政查总计", 1).encode("utf-8"), seed.suffix)
    code = "t3.results.denied.admin_query"
    assert not [c for c in ext.cells if c.code.startswith(code + ".") and c.value is not None]
    assert any(i.code and i.code.startswith(code + ".") and "t3.total_processed" in i.message for i in ext.issues)


def test_label_split_over_two_grid_cells_lends_no_fuzzy_label(tmp_path):
    """'3. 政务微博<TAB>公开政府信息数<TAB>条<TAB>425': a tab inserted inside a label must not let its end fuzzily
    match another row (公开政府信息数 = the total) and give it this row's value (fuzz gansu_2016:103205)."""
    src = document_for("gansu_ganzhou_district_gov_2016")
    truth = load_truth("gansu_ganzhou_district_gov_2016")
    lines = src.read_text(encoding="utf-8").split("\n")
    for k in [i for i, ln in enumerate(lines) if ln.startswith("3. 政务微博公开政府信息数")][-1:]:  # the table's copy
        lines[k] = lines[k].replace("政务微博", "政务微博\t", 1)
    path = tmp_path / src.name
    path.write_text("\n".join(lines), encoding="utf-8")
    got = {c.code: c.value for c in extract_document(path).cells if c.value is not None}
    assert not {c: v for c, v in got.items() if truth.get(c) != v}


def _cells_then_bar(src: dict) -> str:
    """One cell per line ending in ' |', each row ended by a lone '|' line (the fuzz seed synth:flat's layout)."""
    from robustness.render import _title_first, table_rows

    out = []
    for kind, cells in table_rows(src):
        out.extend([cells[0]] if kind == "text" else [*(f"{c} |" if c else "|" for c in cells), "|"])
    return "\n".join(_title_first(src) + out + src["epilogue"]) + "\n"


def _chunk_into_row(lines: list[str], label_at: int, cut_after: int) -> list[str]:
    """The fuzzer's repeat_chunk: the text from the '|' of the last value of the row three above row ``label_at``
    through half of row ``label_at``'s label, copied in front of line ``label_at + cut_after`` (into its values).

    The chunk's first two lines are '|' '|': where it lands after the 6th of 7 values, they read as a blank 7th cell
    and the row's end, exactly as the row would print a blank (fuzz synth:flat:52693).
    """
    ends = [i for i in range(label_at) if lines[i] == "|"]
    chunk = ["|", *lines[ends[-3] : label_at], lines[label_at][: len(lines[label_at]) // 2]]
    at = label_at + cut_after
    return lines[:at] + chunk[:-1] + [chunk[-1] + lines[at]] + lines[at + 1 :]


@pytest.mark.parametrize("stem", ["pingtan_zone_admin_committee_2023", "shanghai_municipal_sci_tech_commission_2024",
                                  "jiangsu_huaian_hongze_district_gov_2024", "pingtan_zone_admin_committee_2024"])
def test_copied_chunk_inside_a_one_cell_per_line_table_is_a_visible_loss(stem, tmp_path):
    """Known reports re-rendered one cell per line, a chunk of earlier lines copied into a Table 三 row (fuzz synth:flat:52693).

    The chunk's '|' line ends the row where a blank cell would: the rows the chunk cuts are not read, each lost cell
    names the copied lines, no value differs from the clean reading, and the report is not plain published.
    """
    from robustness.render import load

    suffix, text = ".txt", _cells_then_bar(load(stem))
    clean_path = tmp_path / f"clean{suffix}"
    clean_path.write_text(text, encoding="utf-8")
    clean = {c.code: c.value for c in extract_document(clean_path).cells if c.value is not None}
    lines = text.split("\n")
    rows = [i for i, ln in enumerate(lines) if ln.startswith(("4.保护第三方", "（七）总计", "2.重复申请"))]
    assert len(rows) == 3
    for label_at in rows:
        for cut_after in (3, 7):  # after 2 values; after 6 of 7 (the copied '|' reads as a blank 7th)
            path = tmp_path / f"chunk{label_at}_{cut_after}{suffix}"
            path.write_text("\n".join(_chunk_into_row(lines, label_at, cut_after)), encoding="utf-8")
            ext = extract_document(path)
            got = {c.code: c.value for c in ext.cells if c.value is not None}
            assert {c: v for c, v in got.items() if clean.get(c) != v} == {}, (label_at, cut_after)  # never a wrong number
            lost = set(clean) - set(got)
            named = {i.code for i in ext.issues if i.kind == "repeated_lines"}  # each names the copied lines
            assert lost and lost <= named, (label_at, cut_after, sorted(lost - named))
            assert status_of(ext) == "published_partial"
    # the row above printed again whole, between two rows, cuts no row: a copy of the row, compared, not a loss
    assert lines[rows[0] - 1] == "|" and not lines[rows[0] - 9][:-2].isdigit()  # the row above: label, 7 values, '|'
    between = lines[: rows[0]] + lines[rows[0] - 9 : rows[0]] + lines[rows[0] :]
    path = tmp_path / f"between{suffix}"
    path.write_text("\n".join(between), encoding="utf-8")
    ext = extract_document(path)
    assert not any(i.kind == "repeated_lines" for i in ext.issues)
    assert {c.code: c.value for c in ext.cells if c.value is not None} == clean


def _value_into_label(cells: list[str], whole: bool) -> list[str] | None:
    """A row whose first value ran into its label cell: ``行政许可 9 | 7`` (a tab or a cell boundary inside 97), or
    with ``whole``, ``行政许可 97 | …`` (the boundary after the label lost). None when the row has no such value."""
    label, first, rest = cells[0], cells[1] if len(cells) > 1 else "", cells[2:]
    if whole:
        return [f"{label} {first}", *rest] if first.isdigit() else None
    return [f"{label} {first[:1]}", first[1:], *rest] if first.isdigit() and len(first) >= 2 else None


@pytest.mark.parametrize("whole", [False, True], ids=["split", "whole"])
@pytest.mark.parametrize("fmt", ["txt", "md"])
def test_value_run_into_its_label_cell_is_never_read_as_the_rest(fmt, whole, tmp_path):
    """Known reports as tab text and markdown, every third row's first value run into its label cell (fuzz
    shanghai_sci_tech_2024.md:42548: '行政许可 9<TAB>7' read as 7). A label that matches only approximately
    because of the figures in it is not read: no value differs from the truth, and every lost cell has an issue."""
    from robustness.render import _md_tables, _tabbed, _title_first, load, table_rows

    tried = 0
    for stem in ("shanghai_municipal_sci_tech_commission_2024", "shanghai_municipal_gov_general_office_2019",
                 "jiangsu_huaian_hongze_district_gov_2024"):
        src, truth = load(stem), load_truth(stem)
        rows = table_rows(src)
        for offset in range(3):
            changed = [(kind, (_value_into_label(cells, whole) or cells) if kind == "row" and n % 3 == offset else cells)
                       for n, (kind, cells) in enumerate(rows)]
            tables = _tabbed(src, changed) if fmt == "txt" else _md_tables(changed)
            path = tmp_path / f"{stem}_{offset}.{fmt}"
            path.write_text("\n".join(_title_first(src) + [""] + tables + [""] + src["epilogue"]) + "\n", encoding="utf-8")
            ext = extract_document(path)
            got = {c.code: c.value for c in ext.cells if c.value_status == "number"}
            assert {c: v for c, v in got.items() if truth.get(c) != v} == {}, (stem, offset)  # never a wrong number
            lost = {c for c, v in truth.items() if v is not None and c not in got}
            assert lost <= {i.code for i in ext.issues}, (stem, offset, sorted(lost - {i.code for i in ext.issues}))
            tried += len(lost)
    assert tried  # some rows could not be read: the shape is exercised


def _one_cell_per_line_rows(stem: str, tmp_path):
    """A known report re-rendered one cell per line: its clean values, its lines, and where three Table 三 rows start."""
    from robustness.render import load

    text = _cells_then_bar(load(stem))
    clean_path = tmp_path / "clean.txt"
    clean_path.write_text(text, encoding="utf-8")
    clean = {c.code: c.value for c in extract_document(clean_path).cells if c.value is not None}
    lines = text.split("\n")
    rows = [i for i, ln in enumerate(lines) if ln.startswith(("4.保护第三方", "2.重复申请", "（一）予以公开"))]
    assert len(rows) == 3
    return clean, lines, rows


@pytest.mark.parametrize("stem", ["pingtan_zone_admin_committee_2023", "shanghai_municipal_sci_tech_commission_2024",
                                  "jiangsu_huaian_hongze_district_gov_2024"])
def test_deleted_value_line_and_a_bar_before_the_next_label_read_no_blank(stem, tmp_path):
    """Known reports re-rendered one cell per line, one value line of a Table 三 row deleted and a '|' inserted at the
    start of the next row's label line (fuzz synth:flat:46234): the row again spans as many cells as a complete row,
    but its last empty cell is on the next label's line, where no blank is printed — the row is not read, each lost
    cell has an issue, no value differs from the clean reading, and the report is not plain published. A real blank
    printed on its own line is still read as blank."""
    clean, lines, rows = _one_cell_per_line_rows(stem, tmp_path)
    for label_at in rows:
        end = next(i for i in range(label_at + 1, len(lines)) if lines[i] == "|")  # the row's closing '|' line
        assert end - label_at == 8, (stem, label_at)  # label, 7 values
        for gone in (label_at + 1, end - 1):  # its first or its last value line
            changed = lines[:gone] + lines[gone + 1 : end + 1] + ["|" + lines[end + 1]] + lines[end + 2 :]
            path = tmp_path / f"cut{label_at}_{gone}.txt"
            path.write_text("\n".join(changed), encoding="utf-8")
            ext = extract_document(path)
            got = {c.code: c.value for c in ext.cells if c.value is not None}
            assert {c: v for c, v in got.items() if clean.get(c) != v} == {}, (stem, gone)  # never a wrong number
            assert not any(c.value_status == "blank" and clean.get(c.code) is not None for c in ext.cells), (stem, gone)
            lost = set(clean) - set(got)
            assert lost and lost <= {i.code for i in ext.issues}, (stem, gone, sorted(lost - {i.code for i in ext.issues}))
            assert status_of(ext) == "published_partial"
        # the same row with its last value printed blank on its own line ('|'): a blank, read as one
        blank = lines[: end - 1] + ["|"] + lines[end:]
        path = tmp_path / f"blank{label_at}.txt"
        path.write_text("\n".join(blank), encoding="utf-8")
        cells = {c.code: c for c in extract_document(path).cells}
        last = [c for c in cells.values() if c.line == end]
        assert [c.value_status for c in last] == ["blank"], (stem, label_at)


@pytest.mark.parametrize("stem", ["shanghai_municipal_sci_tech_commission_2024", "jiangsu_huaian_hongze_district_gov_2024"])
def test_blank_last_cell_where_every_row_starts_with_a_bar_before_its_label(stem, tmp_path):
    """One cell per line, each row's '|' printed before its label ('|（一）予以公开 |'): every complete row's last
    empty cell is on the next label's line, so a row whose last value is printed blank ('|') is still read, as blank."""
    from robustness.render import _title_first, load, table_rows

    src = load(stem)
    out = []
    for kind, cells in table_rows(src):
        out.extend([cells[0]] if kind == "text" else [f"|{cells[0]} |", *(f"{c} |" if c else "|" for c in cells[1:])])
    lines = _title_first(src) + out + src["epilogue"]
    clean_path = tmp_path / "clean.txt"
    clean_path.write_text("\n".join(lines), encoding="utf-8")
    clean = {c.code: c for c in extract_document(clean_path).cells}
    blanked = 0
    for code in ("t3.results.denied.third_party_rights.total", "t3.results.unable.not_held.total"):
        cell = clean[code]
        assert cell.value_status == "number" and lines[cell.line - 1] == f"{cell.raw} |", code
        changed = lines[: cell.line - 1] + ["|"] + lines[cell.line :]
        path = tmp_path / "blank.txt"
        path.write_text("\n".join(changed), encoding="utf-8")
        ext = extract_document(path)
        got = {c.code: c for c in ext.cells}
        assert (got[code].value_status, got[code].line) == ("blank", cell.line), code
        assert {c: r.value for c, r in got.items() if r.value != clean[c].value} == {code: None}, code
        blanked += 1
    assert blanked == 2


@pytest.mark.parametrize("stem", ["pingtan_zone_admin_committee_2023", "shanghai_municipal_sci_tech_commission_2024"])
def test_figure_after_a_bar_never_joins_the_next_line(stem, tmp_path):
    """Known reports re-rendered one cell per line, a figure inserted after a value line's '|' ('0 |8'; fuzz
    hunan…2019.excerpt.txt:56913): joined to the next line's '0 |' it would read 80. The break is damage: no value
    differs from the clean reading, each lost cell has an issue, the report is not plain published."""
    clean, lines, rows = _one_cell_per_line_rows(stem, tmp_path)
    for label_at in rows:
        changed = lines[: label_at + 2] + [lines[label_at + 2] + "8"] + lines[label_at + 3 :]
        path = tmp_path / f"glued{label_at}.txt"
        path.write_text("\n".join(changed), encoding="utf-8")
        ext = extract_document(path)
        got = {c.code: c.value for c in ext.cells if c.value is not None}
        assert {c: v for c, v in got.items() if clean.get(c) != v} == {}, (stem, label_at)  # never a wrong number
        lost = set(clean) - set(got)
        assert lost and lost <= {i.code for i in ext.issues}, (stem, sorted(lost - {i.code for i in ext.issues}))
        assert status_of(ext) == "published_partial"
