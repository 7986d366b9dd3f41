"""Hostile inputs for xxgk: the catalogue of odd and hostile files (``catalogue``) and the seeded mutator (``mutate``)."""
