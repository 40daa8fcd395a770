"""Tidy frames by hand for the analysis tests: the shape :mod:`analysis.load` returns, a few rows long."""

from __future__ import annotations

import pandas as pd


def tidy(rows: list[tuple], sha: str | None = "h") -> pd.DataFrame:
    """rows: (heuristic, alpha, seed, n_labels, value) -> a tidy accuracy frame for dataset 'd'."""
    frame = pd.DataFrame(rows, columns=["heuristic", "alpha", "seed", "n_labels", "value"])
    frame["dataset"] = "d"
    frame["metric"] = "accuracy"
    frame["trial_key"] = [
        f"d/{h}/{a}/{s}" for h, a, s in zip(frame.heuristic, frame.alpha, frame.seed, strict=True)
    ]
    frame["initial_labels_sha256"] = [f"{sha}{s}" if sha else None for s in frame.seed]
    return frame
