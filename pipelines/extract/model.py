"""Records produced by extraction: cells with provenance, issues, uncoded rows, and the per-document result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from pipelines.extract.version import PARSER_VERSION

__all__ = ["PARSER_VERSION", "CellRecord", "Issue", "UncodedRow", "Extraction", "ERROR", "WARNING", "INFO"]

ERROR = "error"
WARNING = "warning"
INFO = "info"

ORIGINAL = "original"
THIRD_PARTY_MIRROR = "third_party_mirror"


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
    column_match: str = "header"
    recovery: str = "none"
    verification: str = "unchecked"
    candidates: str | None = None
    source_kind: str = "text"
    confidence: float | None = None
    filled_from: str | None = None
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
    """Something the extractor noticed: error = document unreadable, warning = part unreadable, info = noted.

    ``table_id``/``code`` name the table or cell concerned (when there is one), ``printed`` the
    text as printed that could not be read.
    """

    severity: str
    kind: str
    message: str
    location: str | None = None
    table_id: str | None = None
    code: str | None = None
    printed: str | None = None

    def to_dict(self) -> dict:
        """Plain dict (for DataFrames and JSON)."""
        return asdict(self)


@dataclass
class UncodedRow:
    """A printed row that looks like a table row but maps to no code (an extra local row, or a label too far from any template row)."""

    table_id: str
    label: str
    raw: str
    n_values: int
    reason: str
    source_kind: str = "text"
    page: int | None = None
    line: int | None = None
    table_index: int | None = None
    row_index: int | None = None

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
    origin: str = ORIGINAL
    is_report: bool = True
    cells: list[CellRecord] = field(default_factory=list)
    subtotals: list[CellRecord] = field(default_factory=list)
    uncoded: list[UncodedRow] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    narrative: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    text: str = ""

    def add(self, severity: str, kind: str, message: str, location: str | None = None, **where) -> None:
        """Record an issue (``where``: table_id, code, printed)."""
        self.issues.append(Issue(severity, kind, message, location, **where))

    @property
    def fatal(self) -> Issue | None:
        """The first error-level issue, if the document could not be read."""
        return next((i for i in self.issues if i.severity == ERROR), None)

    def cell(self, code: str) -> CellRecord | None:
        """The extracted cell for a code, if any."""
        return next((c for c in self.cells if c.code == code), None)
