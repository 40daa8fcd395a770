"""Do two sweeps give the same results? Curves and picks per trial key, bit for bit.

    python benchmarks/same_results.py --a sqlite:////tmp/before/mlflow.db --b sqlite:////tmp/after/mlflow.db \
        [--experiment raysweep-quickstart] [--sweep-a ID] [--sweep-b ID] [--key KEY ...]

For each trial key of the latest sweep in each store (or the sweeps named; or only the keys named, as
when one trial of a study was rerun alone): every per-round result metric (accuracy, auc,
the pick diagnostics; the timings are left out, they are not results) at every step, and the picks of
every round (``picks.npz``). Prints the keys compared and every difference; exits 1 when any differs
or a key is missing on one side. Used to show that a refactor changed no result (issue 21's check).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from mlflow.tracking import MlflowClient

from raysweep.schema import (
    PICKS_ARTIFACT,
    ROLE_SWEEP,
    ROLE_TAG,
    ROLE_TRIAL,
    ROUND_METRICS,
    SWEEP_ID_TAG,
    TRIAL_KEY_TAG,
)

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one bar per trial otherwise

RESULT_METRICS = [m for m in ROUND_METRICS if not m.endswith("_seconds")]
"""Everything a round logs that is a result, not a time."""


def sweep_trials(
    tracking_uri: str, experiment: str, sweep_id: str | None = None, keys: list[str] | None = None
) -> tuple[MlflowClient, dict[str, object]]:
    """Trial key -> run of sweep ``sweep_id`` (None: the latest), only ``keys`` when given."""
    client = MlflowClient(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise SystemExit(f"{tracking_uri}: no experiment {experiment!r}")
    runs = client.search_runs([found.experiment_id], max_results=10000)
    if sweep_id is None:
        parent = max(
            (r for r in runs if r.data.tags.get(ROLE_TAG) == ROLE_SWEEP), key=lambda r: r.info.start_time
        )
        sweep_id = parent.data.tags[SWEEP_ID_TAG]
    trials = {
        r.data.tags[TRIAL_KEY_TAG]: r
        for r in runs
        if r.data.tags.get(ROLE_TAG) == ROLE_TRIAL and r.data.tags.get(SWEEP_ID_TAG) == sweep_id
    }
    if keys:
        trials = {key: trials[key] for key in keys if key in trials}
    return client, trials


def curve(client: MlflowClient, run: object) -> dict[str, list[tuple[int, float]]]:
    return {
        name: sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, name))
        for name in RESULT_METRICS
    }


def picks(client: MlflowClient, run: object) -> dict[str, np.ndarray]:
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(run.info.run_id, PICKS_ARTIFACT, folder)
        with np.load(Path(path)) as archive:
            return {name: archive[name] for name in archive.files}


def compare(
    a_uri: str,
    b_uri: str,
    experiment: str,
    sweeps: tuple[str | None, str | None] = (None, None),
    keys: list[str] | None = None,
) -> list[str]:
    client_a, a = sweep_trials(a_uri, experiment, sweeps[0], keys)
    client_b, b = sweep_trials(b_uri, experiment, sweeps[1], keys)
    problems = [f"{key}: in neither store" for key in keys or [] if key not in a and key not in b]
    problems += [f"{key}: only in {a_uri}" for key in sorted(set(a) - set(b))]
    problems += [f"{key}: only in {b_uri}" for key in sorted(set(b) - set(a))]
    for key in sorted(set(a) & set(b)):
        curve_a, curve_b = curve(client_a, a[key]), curve(client_b, b[key])
        for name in RESULT_METRICS:
            if curve_a[name] != curve_b[name]:
                problems.append(f"{key}: {name} differs: {curve_a[name]} vs {curve_b[name]}")
        picks_a, picks_b = picks(client_a, a[key]), picks(client_b, b[key])
        if picks_a.keys() != picks_b.keys() or any(
            not np.array_equal(picks_a[r], picks_b[r]) for r in picks_a
        ):
            problems.append(f"{key}: picks differ")
    print(
        f"compared {len(set(a) & set(b))} trials ({len(RESULT_METRICS)} result metrics and the picks of every round)"
    )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", required=True, help="tracking URI of the first sweep")
    parser.add_argument("--b", required=True, help="tracking URI of the second sweep")
    parser.add_argument("--experiment", default="raysweep-quickstart")
    parser.add_argument("--sweep-a", help="sweep id in the first store (default: its latest)")
    parser.add_argument("--sweep-b", help="sweep id in the second store (default: its latest)")
    parser.add_argument("--key", action="append", help="compare only this trial key (repeatable)")
    args = parser.parse_args()
    problems = compare(args.a, args.b, args.experiment, (args.sweep_a, args.sweep_b), args.key)
    for problem in problems:
        print(problem)
    print("identical" if not problems else f"{len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
