"""raysweep: Ray Tune sweeps of deep active learning with VAE-augmented heuristics.

The core (config, data, models, heuristics, train, loop) imports neither ray nor mlflow; the shell
(stores, tracking, trainable, launch) wires it to Ray Tune and MLflow.
"""

__version__ = "0.1.0"
