"""The auditor's outputs of ``xxgk report``, in Chinese, one module per job.

* ``texts``    – Chinese names from the registry: cells (printed labels), rules, coded values;
* ``data``     – what the report shows, read from the warehouse with DuckDB (page by page);
* ``findings`` – a rule result turned into what an auditor acts on (what, where, expected vs found, source);
* ``charts``   – Vega-Lite charts (altair) rendered offline to inline SVG (vl-convert);
* ``pages``    – the HTML pages: summary (quality.html), findings pages, letters;
* ``workbook`` – the .xlsx export of findings and published tables (xlsxwriter);
* ``browser``  – headless Chromium driven over its DevTools pipe: PDFs and screenshots, many per start;
* ``datadocs`` – Great Expectations Data Docs, rewritten to load only local copies of their assets.

``pipelines.quality.write_report`` puts them together.
"""
