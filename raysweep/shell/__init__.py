"""The shell: the only modules that import Ray or MLflow.

Everything outside this package is the pure core (data, models, heuristics, training, the AL loop,
sweep expansion) and can run in a notebook without a Ray cluster or a tracking server. The shell
wires the core to them:

- ``stores``    DatasetStore and EmbeddingStore actors (one copy of each dataset, one VAE per dataset)
- ``tracking``  the MLflow run schema and the idempotent per-round metrics sink
- ``trainable`` the Ray Tune trainable: one trajectory per trial, a checkpoint per round
- ``launch``    the CLI behind ``python -m raysweep.launch``

Nothing here imports at package import time, so ``import raysweep.shell`` stays cheap.
"""
