"""What the loop's callers hand it in the tests: a metrics sink that keeps every row, and an embedding
provider that records the rounds it was asked for (``raysweep.loop.MetricsSink``, ``EmbeddingProvider``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np


class ListSink:
    """Keeps every ``(round_index, n_labels, metrics)`` the loop logs."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, dict]] = []

    def log_round(self, round_index: int, n_labels: int, metrics: Mapping[str, float]) -> None:
        self.rows.append((round_index, n_labels, dict(metrics)))

    def without_seconds(self) -> list[dict]:
        """Each row's metrics without the timings (which differ between identical runs)."""
        return [{k: v for k, v in m.items() if not k.endswith("seconds")} for _, _, m in self.rows]


class RecordingProvider:
    """Wraps a provider and records the rounds and label counts it was asked for."""

    def __init__(self, provider: Callable[[int, np.ndarray], np.ndarray]) -> None:
        self.provider = provider
        self.calls: list[tuple[int, int]] = []

    def __call__(self, round_index: int, labeled_indices: np.ndarray) -> np.ndarray:
        self.calls.append((round_index, len(labeled_indices)))
        return self.provider(round_index, labeled_indices)
