"""Great Expectations suites generated from the registry, and their validation on DataFrames.

Two families of suites, both written to ``expectations/`` by ``xxgk expectations generate``:

* ``rules_<era>`` – one expectation per rule of rules.csv, over the *rule matrix*: one row per
  report, one column per rule holding the largest violation among the rule's instances
  (``evaluate.measure``): the column must be <= tolerance. Nulls (every instance not
  assessable) are ignored by GX, which is exactly "not a pass, not a failure". The failing
  instances of a failing (report, rule) are those whose own violation exceeds the tolerance.
* ``table_<name>`` – the warehouse table schemas of warehouse_tables.csv: ordered columns,
  non-null columns, allowed values.

GX runs on pandas (its SQLAlchemy path on DuckDB is broken upstream, GX #10738/#11579).
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

import pandas as pd

from pipelines.registry import ERAS, STORED_AS, load_registry
from pipelines.rules.evaluate import TOLERANCE

GX_SEVERITY = {"error": "critical", "warning": "warning"}


def rule_suite_spec(era: str) -> dict:
    """Deterministic JSON of the rule suite of one era."""
    reg = load_registry()
    expectations = []
    for rule in reg.rules_for(era):
        expectations.append(
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": rule.rule_id, "max_value": TOLERANCE},
                "meta": {
                    "rule_id": rule.rule_id,
                    "kind": rule.kind,
                    "severity": rule.severity,
                    "expression": rule.expression,
                    "description": rule.description,
                },
                "severity": GX_SEVERITY[rule.severity],
            }
        )
    return {"name": f"rules_{era}", "expectations": expectations, "meta": {"generated_from": "pipelines/registry/data/rules.csv"}}


def table_suite_spec(table: str) -> dict:
    """Deterministic JSON of the schema suite of one warehouse table."""
    cols = load_registry().table(table)
    exps: list[dict] = [
        {"type": "expect_table_columns_to_match_ordered_list", "kwargs": {"column_list": [c.name for c in cols]},
         "meta": {"table": table}, "severity": "critical"}
    ]
    for c in cols:
        if not c.nullable:
            exps.append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": c.name},
                         "meta": {"table": table, "column": c.name}, "severity": "critical"})
        if c.allowed:
            exps.append({"type": "expect_column_values_to_be_in_set", "kwargs": {"column": c.name, "value_set": list(c.allowed)},
                         "meta": {"table": table, "column": c.name}, "severity": "critical"})
    pk = [c.name for c in cols if c.primary_key]
    if len(pk) > 1:
        exps.append({"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": pk},
                     "meta": {"table": table, "primary_key": pk}, "severity": "critical"})
    elif pk:
        exps.append({"type": "expect_column_values_to_be_unique", "kwargs": {"column": pk[0]},
                     "meta": {"table": table, "primary_key": pk}, "severity": "critical"})
    return {"name": f"table_{table}", "expectations": exps, "meta": {"generated_from": "pipelines/registry/data/warehouse_tables.csv"}}


def all_suite_specs() -> dict[str, dict]:
    """Every generated suite by name."""
    specs = {f"rules_{era}": rule_suite_spec(era) for era in ERAS}
    for table in load_registry().tables:
        specs[f"table_{table}"] = table_suite_spec(table)
    return specs


def render(spec: dict) -> str:
    """The committed JSON text of a suite."""
    return json.dumps(spec, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def write_suites(directory: Path) -> list[Path]:
    """Write every suite to ``<directory>/expectations/<name>.json``."""
    out = []
    target = Path(directory) / "expectations"
    target.mkdir(parents=True, exist_ok=True)
    for name, spec in all_suite_specs().items():
        path = target / f"{name}.json"
        path.write_text(render(spec), encoding="utf-8")
        out.append(path)
    return out


def drift(directory: Path) -> list[str]:
    """Names of suites whose committed JSON differs from the registry (missing, changed or stale)."""
    target = Path(directory) / "expectations"
    specs = all_suite_specs()
    problems = []
    for name, spec in specs.items():
        path = target / f"{name}.json"
        if not path.exists():
            problems.append(f"{name}: missing ({path})")
        elif path.read_text(encoding="utf-8") != render(spec):
            problems.append(f"{name}: differs from the registry ({path})")
    if target.exists():
        for path in target.glob("*.json"):
            if path.stem not in specs:
                problems.append(f"{path.stem}: not generated by the registry ({path})")
    return problems


# --------------------------------------------------------------------------------------------
# validation


def quiet_context(**kwargs):
    """A GX data context (``gx.get_context(**kwargs)``) without progress bars or info logging."""
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(**kwargs)
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


@lru_cache(maxsize=1)
def _context():
    return quiet_context(mode="ephemeral")


KEY_EXPECTATIONS = ("expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique")


def build_suite(name: str, part: str = "all"):
    """The GX ExpectationSuite of a generated suite spec (``rules_<era>`` or ``table_<name>``).

    ``part``: ``all``; ``columns`` (every expectation but the key's uniqueness: each depends only on the
    set of values of its column, see ``validate_table``); ``keys`` (the key's uniqueness).
    """
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    spec = all_suite_specs()[name]
    suite = gx.ExpectationSuite(name=name if part == "all" else f"{name}.{part}", meta=spec.get("meta"))
    for e in spec["expectations"]:
        if part != "all" and (e["type"] in KEY_EXPECTATIONS) != (part == "keys"):
            continue
        suite.add_expectation_configuration(
            ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"], meta=e["meta"], severity=e.get("severity", "critical"))
        )
    return suite


_suite = lru_cache(maxsize=64)(build_suite)


def validate(frame: pd.DataFrame, suite_name: str, index_columns: list[str], part: str = "all",
             result_format: str = "COMPLETE"):
    """Run a generated suite (or one ``part`` of it) on a DataFrame; returns the GX validation result."""
    ctx = _context()
    name = "xxgk"
    try:
        source = ctx.data_sources.get(name)
    except (KeyError, ValueError):
        source = ctx.data_sources.add_pandas(name)
    asset_name = f"frame_{suite_name}"
    try:
        asset = source.get_asset(asset_name)
    except (LookupError, ValueError):
        asset = source.add_dataframe_asset(asset_name)
    try:
        batch_def = asset.get_batch_definition("whole")
    except (KeyError, ValueError, LookupError):
        batch_def = asset.add_batch_definition_whole_dataframe("whole")
    batch = batch_def.get_batch(batch_parameters={"dataframe": frame})
    fmt = {"result_format": result_format}
    if result_format == "COMPLETE" and index_columns:
        fmt["unexpected_index_column_names"] = index_columns
    return batch.validate(_suite(suite_name, part), result_format=fmt)


def rule_matrix(measures: pd.DataFrame, era: str) -> pd.DataFrame:
    """One row per report, one column per rule of the era: the largest violation of its instances (null = not assessable)."""
    rules = [r.rule_id for r in load_registry().rules_for(era)]
    assessable = measures[measures.violation.notna()]
    matrix = assessable.pivot_table(index="report_id", columns="rule_id", values="violation", aggfunc="max")
    matrix = matrix.reindex(index=pd.Index(measures.report_id.unique(), name="report_id"), columns=rules)
    return matrix.reset_index()


def failed_measures(measures: pd.DataFrame, era: str) -> pd.DataFrame:
    """Rows of the measures frame that fail, as decided by the generated GX suite on the rule matrix.

    Every expectation of a rule suite looks at one row at a time, so GX validates the distinct rows of the matrix
    (most reports share one, e.g. no violation at all) and a failing row fails for every report that has it."""
    if measures.empty:
        return measures.iloc[0:0]
    matrix = rule_matrix(measures, era)
    cols = [c for c in matrix.columns if c != "report_id"]
    group = matrix.groupby(cols, dropna=False, sort=False).ngroup() if cols else pd.Series(0, index=matrix.index)
    distinct = matrix.loc[~group.duplicated()].assign(report_id=group[~group.duplicated()].astype(str))
    result = validate(distinct, f"rules_{era}", ["report_id"])
    reports_of = matrix.report_id.groupby(group.astype(str)).agg(list)
    failing = set()
    for r in result.results:
        rule_id = r.expectation_config.kwargs["column"]
        for item in r.result.get("unexpected_index_list") or []:
            failing.update((rid, rule_id) for rid in reports_of[str(item["report_id"])])
    if not failing:
        return measures.iloc[0:0]
    pairs = pd.MultiIndex.from_frame(measures[["report_id", "rule_id"]]).isin(list(failing))
    return measures[pairs & (measures.violation > TOLERANCE)]


def disagreements(measures: pd.DataFrame, era: str) -> pd.DataFrame:
    """Rule instances on which the generated GX suite and the rule engine's own outcome (``measures.outcome``)
    disagree: report_id, rule_id, the engine's outcome and GX's (``fail`` / ``pass``). Empty when they agree."""
    gx_failed = set(failed_measures(measures, era).index)
    engine_failed = set(measures.index[measures.outcome == "fail"])
    odd = measures.loc[sorted(gx_failed ^ engine_failed), ["report_id", "rule_id", "outcome"]]
    return pd.DataFrame({"report_id": odd.report_id, "rule_id": odd.rule_id, "engine": odd.outcome,
                         "gx": ["fail" if i in gx_failed else "pass" for i in odd.index]})


def distinct_values(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A small frame with ``frame``'s columns in which each of ``columns`` holds exactly the distinct values of that
    column of ``frame`` (null included), repeated to a common length; the other columns hold one value of theirs.

    A column expectation that depends only on the set of a column's values (not null, in a set, the column list)
    succeeds on it exactly when it succeeds on ``frame``."""
    uniques = {c: pd.unique(frame[c]) for c in columns}
    n = max([len(u) for u in uniques.values()] + [1])
    out = {}
    for c in frame.columns:
        values = list(uniques[c]) if c in uniques else list(frame[c].iloc[:1])
        out[c] = values + [values[0]] * (n - len(values))
    return pd.DataFrame(out, columns=list(frame.columns))


def validate_table(frame: pd.DataFrame, table: str) -> list[tuple[str, list[str]]]:
    """Failures of a warehouse table's schema suite: ``(what failed, report ids of the offending rows)``; empty when it passes.

    Validated as two batches: the column expectations on ``distinct_values(frame)`` (the same outcome, thousands of
    rows fewer), the key's uniqueness on the key columns. Only when a batch fails is the whole frame validated again
    with every offending row's report_id."""
    name = f"table_{STORED_AS.get(table, table)}"
    spec = all_suite_specs()[name]
    checked = sorted({e["kwargs"]["column"] for e in spec["expectations"] if "column" in e["kwargs"]})
    keys = [c for e in spec["expectations"] if e["type"] in KEY_EXPECTATIONS
            for c in e["kwargs"].get("column_list", [e["kwargs"].get("column")])]
    index = ["report_id"] if "report_id" in frame.columns else []
    frame = frame.reset_index(drop=True)
    out = []
    batches = [("columns", distinct_values(frame, [c for c in checked if c in frame.columns]))]
    if keys and set(keys) <= set(frame.columns):
        batches.append(("keys", frame[list(dict.fromkeys(keys + index))]))
    for part, batch in batches:
        result = validate(batch, name, index, part, "BOOLEAN_ONLY" if part == "columns" else "COMPLETE")
        if result.success:
            continue
        if part == "columns":
            result = validate(frame, name, index, part)
        for r in result.results:
            if not r.success:
                cfg = r.expectation_config
                ids = sorted({str(i.get("report_id")) for i in r.result.get("unexpected_index_list") or [] if isinstance(i, dict)})
                out.append((f"{table}: {cfg.type} {cfg.kwargs.get('column', cfg.kwargs.get('column_list', ''))} failed "
                            f"({r.result.get('unexpected_count', '')} rows)", ids))
    return out
