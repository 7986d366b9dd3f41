"""Records produced by extraction: cells with provenance, issues, and the per-document result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from pipelines.registry import registry_hash

# bump CODE_VERSION when extraction code changes; registry changes are caught by the hash
CODE_VERSION = "2026.11.1"
PARSER_VERSION = f"{CODE_VERSION}+{registry_hash()[:8]}"

ERROR = "error"
WARNING = "warning"
INFO = "info"


@dataclass
class CellRecord:
    """One statistical cell as printed, with where it came from (columns of the ``cells`` table)."""

    code: str
    table_id: str
    value: float | None
    raw: str | None
    value_status: str
    unit: str | None = None
    label: str | None = None
    label_match: str = "exact"
    recovery: str = "none"
    candidates: str | None = None
    source_kind: str = "text"
    page: int | None = None
    line: int | None = None
    table_index: int | None = None
    row_index: int | None = None
    col_index: int | None = None
    bbox: str | None = None
    context: str | None = None

    def to_dict(self) -> dict:
        """Plain dict (for DataFrames and JSON); flat fields, so a shallow copy suffices."""
        return dict(self.__dict__)


@dataclass
class Issue:
    """Something the extractor noticed: error = document unreadable, warning = part unreadable."""

    severity: str
    kind: str
    message: str
    location: str | None = None

    def to_dict(self) -> dict:
        """Plain dict (for DataFrames and JSON)."""
        return asdict(self)


@dataclass
class Extraction:
    """Everything extracted from one document."""

    source_path: str
    file_type: str
    title: str | None = None
    agency_printed: str | None = None
    report_year: int | None = None
    era: str | None = None
    scope: str = "unknown"
    is_report: bool = True
    cells: list[CellRecord] = field(default_factory=list)
    subtotals: list[CellRecord] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    narrative: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    text: str = ""

    def add(self, severity: str, kind: str, message: str, location: str | None = None) -> None:
        """Record an issue."""
        self.issues.append(Issue(severity, kind, message, location))

    @property
    def fatal(self) -> Issue | None:
        """The first error-level issue, if the document could not be read."""
        return next((i for i in self.issues if i.severity == ERROR), None)

    def cell(self, code: str) -> CellRecord | None:
        """The extracted cell for a code, if any."""
        return next((c for c in self.cells if c.code == code), None)
