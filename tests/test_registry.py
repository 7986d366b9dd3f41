"""The registry is consistent, fully used, and every generated file matches it."""

from __future__ import annotations

from conftest import ROOT
from pipelines.dictionary import generated_docs
from pipelines.registry import ERAS, load_registry
from pipelines.rules.expressions import IN_TABLE_KINDS, expand, placeholder_domains
from pipelines.rules.suites import drift


def test_seed_files_are_the_spec_copies():
    reg = load_registry()
    assert {e: len(reg.codes_for(e)) for e in ERAS} == {"old2014": 58, "v2019": 198, "v2021": 200}
    assert len(reg.rules) == 95


def test_every_code_has_one_template_row_per_era():
    reg = load_registry()
    for era in ERAS:
        placed = [c for row in reg.template(era) if not row.is_subtotal for c in row.codes]
        assert len(placed) == len(set(placed))
        assert set(reg.codes_for(era)) <= set(placed), era


def test_every_in_table_rule_expands_over_known_codes():
    reg = load_registry()
    for rule in reg.rules:
        if rule.kind not in IN_TABLE_KINDS:
            continue
        instances = expand(rule)
        assert instances, rule.rule_id
        for inst in instances:
            unknown = [c for c in inst.codes if c not in reg.codes and not c.startswith("printed_subtotal.")]
            assert not unknown, (rule.rule_id, unknown)


def test_placeholders_read_from_descriptions():
    rule = load_registry().rule_by_id["O-INT"]
    values = placeholder_domains(rule)["x"]
    assert "fees.application_fees" not in values and "capacity.dedicated_funding" not in values
    assert len(values) == 56


def test_label_variants_point_at_template_rows():
    reg = load_registry()
    keys = {row.key for era in ERAS for row in reg.template(era)}
    columns = {i.column_key for i in reg.indicators}
    for lb in reg.labels_of("row"):
        assert lb.key in keys, lb
    for lb in reg.labels_of("column"):
        assert lb.key in columns, lb


def test_generated_expectation_suites_match_registry():
    assert drift(ROOT / "expectations") == [], "run `xxgk expectations generate`"


def test_generated_docs_match_registry():
    for name, text in generated_docs().items():
        path = ROOT / "docs" / name
        assert path.exists() and path.read_text(encoding="utf-8") == text, f"{path}: run `xxgk docs generate`"
