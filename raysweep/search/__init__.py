"""A search instead of a grid, its pure part (no Ray, no MLflow).

- ``config``: the ``sweep.search`` block and the search algorithms by name;
- ``space``: which trial fields can be searched, and what a proposal becomes (a setting);
- ``objective``: a trial's objective from its curve, a setting's from its seeds;
- ``groups``: the settings of one (dataset, heuristic) are searched together; their trials;
- ``ledger``: everything the search decided, saved beside Tune's state, read back on a resume;
- ``outcome``: what the search found, as a table, lines and parent-run params.

The Ray part (the Tune searcher and the per-setting early stopping) is ``raysweep.shell.search``.
"""
