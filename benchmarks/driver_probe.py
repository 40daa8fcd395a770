"""``python -m raysweep.launch`` with timers on what the driver does per trial, for cluster_scale.py.

    python benchmarks/driver_probe.py STATS.json CONFIG [launcher arguments ...]

Runs the launcher's ``main`` unchanged in this process, after wrapping two things it calls:

* Tune's experiment-state save (``TuneController.save_to_dir``: every trial's state as JSON, plus
  the searcher's), which Tune runs every ``checkpoint_period`` seconds and forces after a trial has
  written ``CheckpointConfig.num_to_keep`` checkpoints since the last save;
* MLflow's REST client (``http_request``, as the REST store and the artifact proxy's client call it):
  every call the driver makes to the tracking server, by endpoint.

At exit it writes STATS.json: calls and seconds of each, the largest experiment-state file, and the
process's CPU seconds and peak RSS. The trials' own MLflow calls happen in Ray workers, not here
(cluster_scale.py counts them in the server's access log).
"""

from __future__ import annotations

import atexit
import json
import resource
import sys
import time
from collections import Counter
from pathlib import Path

# Imported before Ray and Tune: the CLI module sets the environment they read when imported.
from raysweep.shell.cli import main as launch

ARTIFACTS_ENDPOINT = "/api/2.0/mlflow-artifacts/artifacts"


def endpoint_group(endpoint: str) -> str:
    """An endpoint with an artifact's own path cut off, so uploads count under one name."""
    return f"{ARTIFACTS_ENDPOINT}/*" if endpoint.startswith(ARTIFACTS_ENDPOINT) else endpoint


def main() -> int:
    stats_path = Path(sys.argv[1])
    launcher_args = sys.argv[2:]
    saves: list[float] = []
    state_bytes = [0]
    calls: Counter[str] = Counter()
    call_seconds = [0.0]

    from mlflow.store.artifact import http_artifact_repo
    from mlflow.utils import rest_utils
    from ray.tune.execution.tune_controller import TuneController

    original_save = TuneController.save_to_dir

    def timed_save(self: TuneController) -> None:
        started = time.perf_counter()
        original_save(self)
        saves.append(time.perf_counter() - started)
        state = Path(self._storage.experiment_driver_staging_path, self.experiment_state_file_name)
        if state.exists():
            state_bytes[0] = max(state_bytes[0], state.stat().st_size)

    TuneController.save_to_dir = timed_save

    original_request = rest_utils.http_request

    def counted_request(host_creds, endpoint, method, *args, **kwargs):
        started = time.perf_counter()
        try:
            return original_request(host_creds, endpoint, method, *args, **kwargs)
        finally:
            call_seconds[0] += time.perf_counter() - started
            calls[f"{method} {endpoint_group(endpoint)}"] += 1

    # Both modules look the name up at call time: the REST store's calls and the artifact proxy's.
    rest_utils.http_request = counted_request
    http_artifact_repo.http_request = counted_request

    def write() -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        stats_path.write_text(
            json.dumps(
                {
                    "tune_state_saves": len(saves),
                    "tune_state_save_seconds": sum(saves),
                    "tune_state_save_max_seconds": max(saves, default=0.0),
                    "tune_state_bytes": state_bytes[0],
                    "mlflow_calls": dict(calls),
                    "mlflow_seconds": call_seconds[0],
                    "cpu_seconds": usage.ru_utime + usage.ru_stime,
                    "peak_rss_bytes": usage.ru_maxrss * 1024,
                },
                indent=2,
            )
        )

    atexit.register(write)
    return launch(launcher_args)


if __name__ == "__main__":
    sys.exit(main())
