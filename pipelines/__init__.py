"""xxgk: a data warehouse for China's 政府信息公开工作年度报告 (government information-disclosure annual reports).

Sub-packages: ``registry`` (the single source of truth for codes, rules, labels and table schemas),
``extract`` (documents -> cells with provenance), ``rules`` (rule evaluation and Great Expectations
suites), ``warehouse`` (Parquet + DuckDB), ``defs`` (Dagster assets) and ``cli``.
"""

__version__ = "0.1.0"
