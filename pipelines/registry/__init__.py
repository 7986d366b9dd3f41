"""The single registry: cell vocabulary, rules, label variants and warehouse table schemas.

Everything the rest of the package knows about the statistical tables is read from the CSV
files in ``registry/data``:

* ``indicators.csv`` – one code per statistical cell per format (seeded from shared/spec);
* ``rules.csv`` – every arithmetic and logical rule over those codes (seeded from shared/spec);
* ``labels.csv`` – printed label variants, table anchors, era markers, units and NA marks;
* ``warehouse_tables.csv`` – the columns of every warehouse table;
* ``rule_texts.csv`` and ``display_zh.csv`` – the Chinese texts people read (rule titles,
  descriptions and what to correct; names of statuses, severities, tables …). They only
  change what reports say, never what is extracted, so they are outside ``registry_hash``.

Parquet schemas, DuckDB DDL, Great Expectations suites, Dagster checks and the data
dictionary are generated from these objects; nothing downstream restates them.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources

ERAS = ("old2014", "v2019", "v2021")
NEW_ERAS = ("v2019", "v2021")
TABLE_IDS = ("t2", "t3", "t4", "old")
# physical tables stored with the columns of a documented table: findings within one document
# (per report year) and across documents are kept apart and read together through the
# ``rule_results`` view
STORED_AS = {"document_rule_results": "rule_results", "cross_rule_results": "rule_results"}
# analysis tables stored wide: after the columns listed in warehouse_tables.csv, fact_<table_id> has one
# value column per printed column of that statistical table (Indicator.wide_column), generated here
WIDE_TABLES = {"fact_t2": "t2", "fact_t3": "t3", "fact_t4": "t4"}
APPLICANT_COLUMNS = (
    "natural_person",
    "commercial_enterprise",
    "research_institution",
    "public_welfare_org",
    "legal_service_org",
    "other_org",
    "total",
)


@dataclass(frozen=True)
class Indicator:
    """One statistical cell of an official table template."""

    code: str
    era: str
    table: str
    section_label: str
    row_label: str
    column_label: str
    unit: str
    parent_code: str
    notes: str

    @property
    def table_id(self) -> str:
        """Short table id: t2, t3, t4 or old."""
        return self.code.split(".", 1)[0]

    @property
    def row_key(self) -> str:
        """Code of the template row this cell sits in (t4 is a single row; old cells are rows)."""
        if self.table_id == "old":
            return self.code
        if self.table_id == "t4":
            return "t4"
        return self.code.rsplit(".", 1)[0]

    @property
    def column_key(self) -> str:
        """Last code segment for t2/t3, block.outcome for t4, 'value' for old."""
        if self.table_id == "old":
            return "value"
        if self.table_id == "t4":
            return self.code.split(".", 1)[1]
        return self.code.rsplit(".", 1)[1]

    @property
    def wide_row(self) -> str:
        """Row of the wide analysis table (fact_t2/t3/t4) holding the cell: its template row; Table 四's block."""
        return self.column_key.split(".", 1)[0] if self.table_id == "t4" else self.row_key

    @property
    def wide_column(self) -> str:
        """Column of the wide analysis table holding the cell: the printed column (Table 四: the outcome)."""
        return self.column_key.split(".", 1)[1] if self.table_id == "t4" else self.column_key.replace(".", "_")

    @property
    def value_type(self) -> str:
        """count (non-negative integer), signed (integer, may be negative) or money (decimal)."""
        if "SIGNED" in self.notes:
            return "signed"
        if self.unit in ("万元", "元") or self.code in ("t2.procurement.amount", "t2.admin_fees.amount"):
            return "money"
        return "count"

    @property
    def additive(self) -> bool:
        """Whether the cell may be summed across reporting bodies (stocks and de-duplicated totals may not)."""
        stock = "stock" in self.notes or "cumulative" in self.notes or self.code.endswith(".prev_year_items")
        dedup = self.code in ("old.proactive.total", "old.response.hot_topics") or self.code.startswith("old.capacity.")
        return not (stock or dedup)


@dataclass(frozen=True)
class Rule:
    """One rule of rules.csv (expression over indicator codes)."""

    rule_id: str
    era: str
    kind: str
    severity: str
    expression: str
    description: str

    @property
    def in_table(self) -> bool:
        """True for the kinds evaluated inside one document's tables."""
        return self.kind in ("sum", "identity", "nonneg", "integer", "bound")

    @property
    def check_name(self) -> str:
        """Identifier-safe name (used for Dagster checks and GX metadata)."""
        return re.sub(r"[^0-9A-Za-z]+", "_", self.rule_id).strip("_")


@dataclass(frozen=True)
class Label:
    """A row of labels.csv."""

    kind: str
    key: str
    variant: str
    note: str


@dataclass(frozen=True)
class Column:
    """One column of a warehouse table."""

    table: str
    name: str
    type: str
    nullable: bool
    primary_key: bool
    allowed: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class TemplateRow:
    """A printed row of a statistical table: its label variants and the codes of its cells."""

    table_id: str
    key: str
    eras: frozenset[str]
    codes: tuple[str, ...]
    column_keys: tuple[str, ...]
    column_labels: tuple[str, ...]
    labels: tuple[str, ...]
    section: str
    order: int
    has_unit_column: bool = False
    subtotal: str | None = None

    @property
    def is_subtotal(self) -> bool:
        """True for a non-standard printed subtotal line (its codes are not vocabulary cells)."""
        return self.subtotal is not None

    @property
    def width(self) -> int:
        """Number of value cells in the row."""
        return len(self.codes)


@dataclass
class Registry:
    """Loaded registry with derived lookups (templates, rule index, table schemas)."""

    indicators: tuple[Indicator, ...]
    rules: tuple[Rule, ...]
    labels: tuple[Label, ...]
    columns: tuple[Column, ...]
    _cache: dict = field(default_factory=dict, repr=False)

    # ---- vocabulary -------------------------------------------------------------------------
    @cached_property
    def codes(self) -> frozenset[str]:
        """Every code of every era."""
        return frozenset(i.code for i in self.indicators)

    @cached_property
    def by_code(self) -> dict[str, Indicator]:
        """First indicator per code (codes shared by v2019/v2021 mean the same cell)."""
        out: dict[str, Indicator] = {}
        for ind in self.indicators:
            out.setdefault(ind.code, ind)
        return out

    def indicators_for(self, era: str) -> list[Indicator]:
        """Indicators of one era, in template order."""
        return [i for i in self.indicators if i.era == era]

    def codes_for(self, era: str) -> list[str]:
        """Codes of one era, in template order."""
        return [i.code for i in self.indicators_for(era)]

    def labels_of(self, kind: str, key: str | None = None) -> list[Label]:
        """Label rows of one kind (optionally one key)."""
        return [lb for lb in self.labels if lb.kind == kind and (key is None or lb.key == key)]

    def variants(self, kind: str, key: str | None = None) -> list[str]:
        """Printed variants of one kind (optionally one key)."""
        return [lb.variant for lb in self.labels_of(kind, key)]

    # ---- templates --------------------------------------------------------------------------
    def template(self, era: str) -> list[TemplateRow]:
        """Rows of the era's tables in printed order.

        Table 三 is the union of the 2019 and 2021 layouts (the single （六） row and its 2021
        split are both accepted, whatever the era), because real reports mix them; rows of the
        other layout carry ``era`` not in ``row.eras`` so callers can tell them apart.
        """
        key = ("template", era)
        if key not in self._cache:
            self._cache[key] = self._build_template(era)
        return self._cache[key]

    def _build_template(self, era: str) -> list[TemplateRow]:
        source = [i for i in self.indicators if i.era == era]
        if era in NEW_ERAS:
            source = [i for i in source if i.table_id != "t3"] + self._t3_union()
            source.sort(key=lambda i: ("t2", "t3", "t4").index(i.table_id))
        groups: dict[str, list[Indicator]] = {}
        for ind in source:
            members = groups.setdefault(ind.row_key, [])
            if ind.code not in {m.code for m in members}:
                members.append(ind)
        eras_of: dict[str, set[str]] = {}
        labels_of: dict[str, list[str]] = {}
        for ind in self.indicators:
            eras_of.setdefault(ind.row_key, set()).add(ind.era)
            if ind.row_label and ind.row_label not in labels_of.setdefault(ind.row_key, []):
                labels_of[ind.row_key].append(ind.row_label)
        for lb in self.labels_of("row"):
            if lb.variant not in labels_of.setdefault(lb.key, []):
                labels_of[lb.key].append(lb.variant)
        subtotal_before = {}
        if era in NEW_ERAS:
            for lb in self.labels_of("subtotal"):
                first = next((k for k in groups if k.startswith(f"t3.results.{lb.key}.")), None)
                if first and lb.key != "other":
                    subtotal_before[first] = lb
        rows = []
        for rk, inds in groups.items():
            if rk in subtotal_before:
                lb = subtotal_before[rk]
                rows.append(
                    TemplateRow(
                        table_id="t3",
                        key=f"t3.subtotal.{lb.key}",
                        eras=frozenset(NEW_ERAS),
                        codes=tuple(subtotal_code(lb.key, c) for c in APPLICANT_COLUMNS),
                        column_keys=APPLICANT_COLUMNS,
                        column_labels=APPLICANT_COLUMNS,
                        labels=(lb.variant,),
                        section="三、本年度办理结果",
                        order=len(rows),
                        subtotal=lb.key,
                    )
                )
            first = inds[0]
            if first.table_id == "t4":
                col_labels = tuple(f"{i.section_label} > {i.column_label}" for i in inds)
            else:
                col_labels = tuple(i.column_label for i in inds)
            rows.append(
                TemplateRow(
                    table_id=first.table_id,
                    key=rk,
                    eras=frozenset(eras_of[rk]),
                    codes=tuple(i.code for i in inds),
                    column_keys=tuple(i.column_key for i in inds),
                    column_labels=col_labels,
                    labels=tuple(labels_of.get(rk, [])),
                    section=first.section_label,
                    order=len(rows),
                    has_unit_column=first.table_id == "old",
                )
            )
        return rows

    def _t3_union(self) -> list[Indicator]:
        """Table 三 cells of both new layouts in printed order: the single 2019 （六） row precedes its 2021 split."""
        v21 = [i for i in self.indicators if i.era == "v2021" and i.table_id == "t3"]
        v19_only = [
            i for i in self.indicators
            if i.era == "v2019" and i.table_id == "t3" and i.code not in {x.code for x in v21}
        ]
        split_at = next(k for k, i in enumerate(v21) if i.code.startswith("t3.results.other."))
        return v21[:split_at] + v19_only + v21[split_at:]

    def template_row(self, era: str, key: str) -> TemplateRow:
        """One template row by key."""
        for row in self.template(era):
            if row.key == key:
                return row
        raise KeyError(f"{era}: no template row {key!r}")

    # ---- rules --------------------------------------------------------------------------------
    def rules_for(self, era: str, kinds: tuple[str, ...] | None = None) -> list[Rule]:
        """Rules of one era, optionally restricted to some kinds."""
        return [r for r in self.rules if r.era == era and (kinds is None or r.kind in kinds)]

    @cached_property
    def rule_by_id(self) -> dict[str, Rule]:
        """Rules keyed by rule_id."""
        return {r.rule_id: r for r in self.rules}

    # ---- warehouse tables -------------------------------------------------------------------
    @cached_property
    def tables(self) -> dict[str, list[Column]]:
        """Warehouse tables -> ordered columns (the wide analysis tables with their generated value columns)."""
        out: dict[str, list[Column]] = {}
        for col in self.columns:
            out.setdefault(col.table, []).append(col)
        for name, table_id in WIDE_TABLES.items():
            out[name] = out.get(name, []) + [
                Column(name, key, "float64", True, False, (), " / ".join(dict.fromkeys(i.column_label for i in inds)))
                for key, inds in self.wide_columns(table_id).items()
            ]
        return out

    def wide_columns(self, table_id: str) -> dict[str, list[Indicator]]:
        """Value columns of a wide analysis table in printed order -> the indicators stored in each."""
        out: dict[str, list[Indicator]] = {}
        for ind in self.indicators:
            if ind.table_id == table_id:
                out.setdefault(ind.wide_column, []).append(ind)
        return out

    def table(self, name: str) -> list[Column]:
        """Columns of one warehouse table (or of the documented table it is stored as)."""
        return self.tables[STORED_AS.get(name, name)]


def subtotal_code(group: str, column: str) -> str:
    """Key of a printed subtotal cell (not a vocabulary code): printed_subtotal.<group>.<column>."""
    return f"printed_subtotal.{group}.{column}"


def _read_csv(name: str) -> list[dict[str, str]]:
    with resources.files(__package__).joinpath("data", name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# texts for people only: editing them must not re-extract the warehouse
PRESENTATION_FILES = frozenset({"rule_texts.csv", "display_zh.csv"})


@lru_cache(maxsize=1)
def registry_hash() -> str:
    """SHA-256 of every registry data file that decides extraction: codes, labels, patterns, rules, tables."""
    import hashlib

    h = hashlib.sha256()
    base = resources.files(__package__).joinpath("data")
    for name in sorted(p.name for p in base.iterdir() if p.name.endswith(".csv") and p.name not in PRESENTATION_FILES):
        h.update(name.encode())
        h.update(base.joinpath(name).read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=1)
def load_registry() -> Registry:
    """Load the registry from the package data (cached)."""
    indicators = tuple(
        Indicator(**{k: (v or "").strip() for k, v in row.items()}) for row in _read_csv("indicators.csv")
    )
    rules = tuple(Rule(**{k: (v or "").strip() for k, v in row.items()}) for row in _read_csv("rules.csv"))
    labels = tuple(Label(**{k: (v or "") for k, v in row.items()}) for row in _read_csv("labels.csv"))
    columns = tuple(
        Column(
            table=row["table"],
            name=row["column"],
            type=row["type"],
            nullable=row["nullable"] == "true",
            primary_key=row["primary_key"] == "true",
            allowed=tuple(a for a in row["allowed"].split("|") if a),
            description=row["description"],
        )
        for row in _read_csv("warehouse_tables.csv")
    )
    return Registry(indicators=indicators, rules=rules, labels=labels, columns=columns)


@dataclass(frozen=True)
class RuleText:
    """The Chinese texts of one rule (rule_texts.csv): what it is called, checks, compares and asks to correct."""

    rule_id: str
    title: str
    description: str
    found: str
    expected: str
    fix: str


@lru_cache(maxsize=1)
def rule_texts() -> dict[str, RuleText]:
    """rule_id -> Chinese texts of the rule."""
    return {row["rule_id"]: RuleText(**{k: (v or "").strip() for k, v in row.items()}) for row in _read_csv("rule_texts.csv")}


@lru_cache(maxsize=1)
def display_texts() -> dict[tuple[str, str], str]:
    """(domain, key) -> Chinese name; a domain is ``table.column`` of a coded column (e.g. reports.status) or ``rule_op``."""
    return {(row["domain"], row["key"]): row["text"] for row in _read_csv("display_zh.csv")}
