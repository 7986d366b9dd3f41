"""Great Expectations Data Docs that work offline.

GX builds its pages with links to Bootstrap, jQuery, bootstrap-table and Font Awesome on
public CDNs; offline they are unstyled and the index tables stay empty. After GX has built
the site, the exact files it references (vendored in ``pipelines/report/vendor``, see
SOURCES.md there) are copied into the site and every page is rewritten to load them from
there. Scripts the pages do not use (Vega: no profiling charts) and the optional dark theme
are removed, and GX's logo (fetched with the data context id in its address) is the copy GX
ships in the site. A page loads nothing from the network.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from pipelines.warehouse.store import connect

MAX_VALIDATED_ROWS = 200_000
KEEP_VALIDATIONS = 10  # validation results kept per suite: each auditor's report adds one (and its page); older ones are removed
VENDOR = Path(__file__).resolve().parent / "vendor"
SITE_VENDOR = "static/vendor"  # inside data_docs/local_site

# CDN address GX 1.24 writes -> local copy (path under vendor/)
CDN_FILES = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js/popper.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/js/bootstrap.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker/js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome/css/all.min.css",
}
# linked by GX but unused by these pages
UNUSED = (
    "https://cdn.jsdelivr.net/npm/vega@5",
    "https://cdn.jsdelivr.net/npm/vega-lite@5",
    "https://cdn.jsdelivr.net/npm/vega-embed@6",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",
)
_TAG = re.compile(
    r"""<(?P<tag>script|link)\b(?P<attrs>[^>]*?)\b(?:src|href)=["'](?P<url>https?://[^"']+)["'](?P<rest>[^>]*)>(?P<close>\s*</script>)?""",
    re.IGNORECASE,
)
# GX's logo, fetched from its web-asset bucket with the data context id in the query string: use the copy
# GX ships in the site's static/images
_LOGO = re.compile(r"""https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/[^"')\s]*""")
_SRI = re.compile(r"""\s(?:integrity|crossorigin)=["'][^"']*["']""", re.IGNORECASE)


def make_offline(site: Path) -> list[str]:
    """Copy the vendored assets into ``site`` and rewrite every page to use them; returns unknown addresses removed."""
    site = Path(site)
    target = site / SITE_VENDOR
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(VENDOR, target, ignore=shutil.ignore_patterns("SOURCES.md"))
    unknown: list[str] = []
    for page in site.rglob("*.html"):
        prefix = os.path.relpath(target, page.parent).replace(os.sep, "/")

        def local(m: re.Match) -> str:
            url = m["url"]
            if url in CDN_FILES:
                attr = "src" if m["tag"].lower() == "script" else "href"
                attrs = _SRI.sub("", f'{m["attrs"]}{attr}="{prefix}/{CDN_FILES[url]}"{m["rest"]}')
                return f"<{m['tag']}{attrs}>" + (m["close"] or "")
            if url not in UNUSED:
                unknown.append(url)
            return ""

        logo = os.path.relpath(site / "static" / "images" / "logo-long.png", page.parent).replace(os.sep, "/")
        text = page.read_text(encoding="utf-8")
        new = _LOGO.sub(logo, _TAG.sub(local, text))
        if new != text:
            page.write_text(new, encoding="utf-8")
    return sorted(set(unknown))


def prune_validations(uncommitted: Path, keep: int | None = None) -> int:
    """Remove all but the newest ``keep`` validation results of each suite and their rendered pages (GX keeps every
    one: the project would grow with every run); returns how many runs' results were removed.

    GX stores them as ``validations/<suite>/<run name>/<run time>/…`` (the run time sorts as text), its site
    mirrors that under ``data_docs/local_site/validations``; the index is rebuilt from the store afterwards."""
    keep = KEEP_VALIDATIONS if keep is None else keep
    removed = 0
    for base in (uncommitted / "validations", uncommitted / "data_docs" / "local_site" / "validations"):
        for run_name in sorted(base.glob("*/*")) if base.is_dir() else []:
            runs = sorted(run_name.iterdir(), key=lambda p: p.name)
            for old in runs[:-keep] if keep else runs:
                shutil.rmtree(old) if old.is_dir() else old.unlink()
                removed += 1
    return removed


def build_data_docs(warehouse: Path) -> tuple[Path, list[str]]:
    """GX Data Docs of every generated suite, the table suites validated on the warehouse tables, made offline.

    Returns the index page and the external addresses that had to be removed (none for the pinned GX).
    """
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    from pipelines.rules.suites import all_suite_specs, build_suite, quiet_context

    root = Path(warehouse) / "reports" / "gx_project"
    ctx = quiet_context(mode="file", project_root_dir=str(root))
    source = ctx.data_sources.add_or_update_pandas("warehouse")
    con = connect(warehouse, read_only=True)
    try:
        for name in all_suite_specs():
            suite = ctx.suites.add_or_update(build_suite(name))
            if not name.startswith("table_"):
                continue
            table = name.removeprefix("table_")
            if table == "document_inventory":
                continue
            rows = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            if rows > MAX_VALIDATED_ROWS:
                continue  # large tables are validated batch by batch while they are written (Dagster 'schema' checks)
            frame = con.execute(f'SELECT * FROM "{table}"').df()
            try:
                asset = source.get_asset(table)
            except LookupError:
                asset = source.add_dataframe_asset(table)
            try:
                batch_def = asset.get_batch_definition("all")
            except (KeyError, LookupError, ValueError):
                batch_def = asset.add_batch_definition_whole_dataframe("all")
            vd = ctx.validation_definitions.add_or_update(gx.ValidationDefinition(name=f"validate_{table}", data=batch_def, suite=suite))
            cp = ctx.checkpoints.add_or_update(
                gx.Checkpoint(name=f"checkpoint_{table}", validation_definitions=[vd], actions=[UpdateDataDocsAction(name="docs")])
            )
            cp.run(batch_parameters={"dataframe": frame})
    finally:
        con.close()
    prune_validations(root / "gx" / "uncommitted")
    ctx.build_data_docs()
    index = next(iter(root.rglob("data_docs/local_site/index.html")), None)
    if index is None:
        raise RuntimeError(f"Great Expectations did not build Data Docs under {root}")
    return index, make_offline(index.parent)
