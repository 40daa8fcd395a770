"""A search on Tune's machinery (the Ray part; the pure part is ``raysweep.search``):

- ``algorithms``: each search algorithm as an inner Tune searcher (Optuna behind OptunaSearch);
- ``searcher``: :class:`~raysweep.shell.search.searcher.PairedSeedSearch`, the Tune searcher that
  hands out the alpha-0 references, then each group's proposals, every one on every seed;
- ``stopping``: :class:`~raysweep.shell.search.stopping.SettingMedianStopping`, early stopping per setting.
"""
