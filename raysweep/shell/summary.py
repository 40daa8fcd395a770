"""The end of a sweep as the user reads it: a table per (dataset, heuristic, alpha), the failed or
unfinished trials, what the encoders cost, how to open the runs and how to resume; and the exit code.

Reads each trial's outcome as Tune's results give it (``config``, ``metrics``, ``error``; when Tune
cannot read them back, ``raysweep.shell.tracking.sweep_run.outcomes_from_runs`` gives the same from
MLflow) and prints; the parent run's final metrics go through the tracking package.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from raysweep.schema import (
    ACCURACY,
    ENCODER_TRAININGS_PREFIX,
    RESULT_AREA,
    RESULT_ROUND,
    RESULT_ROUNDS,
    TRIAL_CONFIG_KEY,
    VAE_CACHE_HITS_METRIC,
    VAE_TRAININGS_METRIC,
)
from raysweep.shell.exit_codes import EXIT_OK, EXIT_TRIALS_FAILED, stopped_by
from raysweep.sweep.trials import DEFAULT_ENCODER, Trial

RESUME_HINT = (
    "Resume the sweep (finished trials stay finished, the others continue from their last round) with:"
)
DATASET_COLUMN = 28
"""Widest dataset name the summary prints whole; longer ones (``npz:/a/long/path/file.npz``) keep
their start and end around an ellipsis, so the columns stay aligned."""


def trajectory_done(metrics: dict[str, Any] | None) -> bool:
    """Whether a trial's last report was its last round (``rounds``: the trajectory's length)."""
    if not metrics or RESULT_ROUND not in metrics:
        return False
    return metrics[RESULT_ROUND] + 1 >= metrics.get(RESULT_ROUNDS, metrics[RESULT_ROUND] + 1)


def error_line(error: Any) -> str:
    """The line of a trial's error that says what went wrong (a traceback's final line)."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    if not lines:
        return "no result"
    unindented = [line for line in lines if not line[0].isspace()]
    return (unindented or lines)[-1]


def shorten(name: str, width: int) -> str:
    """``name`` if it fits in ``width`` characters, else its head and tail around "..."."""
    if len(name) <= width:
        return name
    head = (width - 3) // 3  # the source prefix (npz:/...), then as much of the file name as fits
    return f"{name[:head]}...{name[len(name) - (width - 3 - head) :]}"


def summary_table(rows: dict[tuple[str, ...], list[tuple[float, float]]]) -> list[str]:
    """Lines of the summary: one per (dataset, heuristic, alpha), means of (final accuracy, area) over seeds.

    Keys may carry a fourth element, the encoder (``-`` for alpha-0 rows, which read no embeddings):
    then an ``encoder`` column follows ``alpha``. A sweep of the default encoder only keeps the
    three-column key and the table it always had.
    """
    width = min(DATASET_COLUMN, max([len("dataset"), *(len(key[0]) for key in rows)]))
    named = max([len("heuristic"), *(len(key[1]) for key in rows)])
    with_encoder = any(len(key) == 4 for key in rows)
    encoder_width = max([len("encoder"), *(len(key[3]) for key in rows if len(key) == 4)])
    encoder_header = f" {'encoder':<{encoder_width}}" if with_encoder else ""
    lines = [
        f"  {'dataset':<{width}} {'heuristic':<{named}} {'alpha':>9}{encoder_header} {'seeds':>5} "
        f"{'final accuracy':>15} {'area under curve':>17}"
    ]
    for key, values in sorted(rows.items()):
        dataset, heuristic, alpha = key[:3]
        encoder = f" {(key[3] if len(key) == 4 else '-'):<{encoder_width}}" if with_encoder else ""
        final = sum(v[0] for v in values) / len(values)
        area = sum(v[1] for v in values) / len(values)
        lines.append(
            f"  {shorten(dataset, width):<{width}} {heuristic:<{named}} {alpha:>9}{encoder} {len(values):>5} "
            f"{final:>15.4f} {area:>17.4f}"
        )
    return lines


@dataclass
class SweepOutcome:
    """Which trials of the sweep finished, failed or did not finish, from Tune's results."""

    trials: list[Trial]
    by_key: dict[str, Any]
    """Trial key -> its result (``config``, ``metrics``, ``error``)."""
    failed: list[str]
    finished: set[str]

    @classmethod
    def of(cls, results: Iterable[Any], trials: list[Trial]) -> SweepOutcome:
        by_key: dict[str, Any] = {}
        for result in results:
            key = (result.config or {}).get(TRIAL_CONFIG_KEY)
            if key is not None:
                by_key[key] = result
        keys = [t.key for t in trials]
        failed = sorted(k for k in keys if k not in by_key or by_key[k].error is not None)
        finished = {k for k, r in by_key.items() if r.error is None and trajectory_done(r.metrics)}
        return cls(trials, by_key, failed, finished)

    @property
    def unfinished(self) -> list[str]:
        return sorted({t.key for t in self.trials} - self.finished)

    def rows(self) -> dict[tuple[str, ...], list[tuple[float, float]]]:
        """(dataset, heuristic, alpha[, encoder]) -> (final accuracy, area) of each finished seed.

        The encoder column only where the sweep ran more than the default encoder (alpha-0 rows show '-').
        """
        several_encoders = any(t.encoder not in (None, DEFAULT_ENCODER.name) for t in self.trials)
        rows: dict[tuple[str, ...], list[tuple[float, float]]] = {}
        for trial in self.trials:
            if trial.key not in self.finished:
                continue
            metrics = self.by_key[trial.key].metrics
            group = (trial.dataset, trial.heuristic, f"{trial.config.alpha:g}")
            if several_encoders:
                group += (trial.encoder or "-",)
            rows.setdefault(group, []).append((metrics[ACCURACY], metrics[RESULT_AREA]))
        return rows


def print_summary(outcome: SweepOutcome, interrupted_by: int | None) -> None:
    """The table and what did not finish."""
    print("\nSummary (mean over seeds):")
    for line in summary_table(outcome.rows()):
        print(line)
    if interrupted_by is not None:
        print(
            f"\nstopped by {signal.Signals(interrupted_by).name}: {len(outcome.unfinished)} trial(s) not finished"
        )
    elif outcome.failed:
        print(f"\n{len(outcome.failed)} trial(s) failed:")
        for key in outcome.failed:
            result = outcome.by_key.get(key)
            print(f"  {key}: {error_line(result.error) if result is not None else 'never ran'}")


def print_closing(
    counters: dict[str, int],
    sweep_id: str,
    seconds: float,
    ui: str,
    resume: str,
    show_resume: bool,
) -> None:
    """Encoder trainings, the sweep's time, the MLflow UI command and (when needed) the resume command."""
    per_encoder = ", ".join(
        f"{name.removeprefix(ENCODER_TRAININGS_PREFIX)} {count}"
        for name, count in counters.items()
        if name.startswith(ENCODER_TRAININGS_PREFIX)
    )
    print(
        f"\nVAE trainings this run: {counters[VAE_TRAININGS_METRIC]}{f' ({per_encoder})' if per_encoder else ''} "
        f"(cache hits: {counters[VAE_CACHE_HITS_METRIC]})"
    )
    print(f"sweep {sweep_id} took {seconds:.0f}s. Compare the runs in MLflow:")
    print(f"  {ui}")
    if show_resume:
        print(f"\n{RESUME_HINT}\n  {resume}", flush=True)


def exit_code(outcome: SweepOutcome, interrupted_by: int | None) -> int:
    if interrupted_by is not None:
        return stopped_by(interrupted_by)
    return EXIT_TRIALS_FAILED if outcome.failed else EXIT_OK


def run_status(outcome: SweepOutcome, interrupted_by: int | None) -> str:
    """The parent run's final status."""
    return "KILLED" if interrupted_by is not None else "FAILED" if outcome.failed else "FINISHED"
