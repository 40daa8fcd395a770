"""The selection bias of choosing alpha on the split it is judged on, measured on real MNIST.

    .venv/bin/python benchmarks/selection_bias.py --data-root ../shared/data [--out DIR] [--keep]

One core-set grid (alpha 0 and four VAE alphas, five seeds) through the real CLI, then its
confirmation (``--confirm``: the alpha chosen on validation and alpha 0 on five fresh seeds), in one
folder (one MLflow store). From the trial runs' trial-end metrics (``accuracy_area``: normalised area
under the test accuracy curve; ``val_accuracy_area``: the same on the validation split) it prints,
side by side, the gain over alpha 0 (mean paired difference of test areas, with its 95% t-interval):

1. chosen on test, measured on test, same seeds (what raysweep reported before it chose on validation);
2. chosen on validation, measured on test, same seeds (the picks are still shared: still biased);
3. chosen on validation, confirmed on fresh seeds (the unbiased estimate).

The choice is :func:`raysweep.choice.choose_arms` in every case, only the metric differs. Also the cost
of replicated encoders: the VAE seconds of the grid (one VAE per seed) against one VAE (a fixed
``vae.seed``: one training of the same kind) and against the sweep's own seconds. Sized to run in
about 30 minutes on 2 CPU cores; skips with a message when the MNIST files are absent.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from analysis.stats import t_interval
from raysweep.choice import ArmScores, choose_arms
from raysweep.schema import (
    CONFIRMS_TAG,
    ROLE_SWEEP,
    ROLE_TAG,
    ROLE_TRIAL,
    TEST_METRIC,
    TRIAL_KEY_TAG,
    VAE_SECONDS_METRIC,
    VALIDATION_METRIC,
    area_metric,
)

EXPERIMENT = "selection-bias"
CONFIG = """
# benchmarks/selection_bias.py: core-set on real MNIST, alpha 0 and four VAE alphas, five seeds.
experiment: {experiment}
alpha_scaling: balanced
sweep:
  datasets: [mnist]
  heuristics: [coreset]
  alphas: [0, 0.5, 1, 2, vae_only]
  seeds: [0, 1, 2, 3, 4]
  confirm_seeds: [5, 6, 7, 8, 9]
dataset:
  root: {root}
  pool_size: {pool}
  eval_size: {eval_size}
  val_size: {val_size}
model: {{pretrained: false}}
training: {{lr: 0.01, batch_size: 64, initial_epochs: {epochs}, epochs_per_round: 0, recalibrate_batchnorm: true}}
schedule: {{initial_labels: 100, labels_per_round: 100, rounds: 3}}
vae: {{latent_dim: 16, epochs: 10}}
resources: {{cpu: 1, gpu: 0}}
storage: runs
"""


def launch(folder: Path, *flags: str) -> float:
    started = time.perf_counter()
    command = [sys.executable, "-m", "raysweep.launch", "sweep.yaml", *flags]
    with open(folder / "launch.log", "a") as log:
        code = subprocess.run(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT).returncode
    if code != 0:
        sys.exit(f"{' '.join(command)} exited {code}; see {folder / 'launch.log'}")
    return time.perf_counter() - started


def gain(areas: dict, arm: str, reference: str, seeds: list[int]) -> dict:
    """Mean paired test-area difference arm - reference over ``seeds`` with its 95% t-interval."""
    diffs = np.array([areas[arm][s] - areas[reference][s] for s in seeds])
    mean, _, low, high = t_interval(diffs)  # the report's interval, the one formula
    return {"arm": arm, "gain": mean, "ci": [low, high]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=None, help="folder to run in (default: a temp folder)")
    parser.add_argument("--pool", type=int, default=3000)
    parser.add_argument("--eval-size", type=int, default=2000)
    parser.add_argument("--val-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    if not (args.data_root / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        print(f"skipped: no MNIST under {args.data_root} (MNIST/raw/*-ubyte); pass --data-root")
        return 0
    folder = args.out or Path(tempfile.mkdtemp(prefix="selection-bias-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sweep.yaml").write_text(
        CONFIG.format(
            experiment=EXPERIMENT,
            root=args.data_root.resolve(),
            pool=args.pool,
            eval_size=args.eval_size,
            val_size=args.val_size,
            epochs=args.epochs,
        )
    )
    print(f"running in {folder} (load {os.getloadavg()[0]:.1f})", flush=True)
    sweep_seconds = launch(folder)
    confirm_seconds = launch(folder, "--confirm")

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    runs = client.search_runs([experiment_id], max_results=10000)
    areas: dict[str, dict[str, dict[int, float]]] = {TEST_METRIC: {}, VALIDATION_METRIC: {}}
    alphas: dict[str, float] = {}
    for run in runs:
        if run.data.tags.get(ROLE_TAG) != ROLE_TRIAL or run.info.status != "FINISHED":
            continue
        key = run.data.tags[TRIAL_KEY_TAG]
        seed = int(run.data.params["seed"])
        arm = key.rsplit("/", 1)[0] + "/*"
        alphas[arm] = float(run.data.params["alpha"])
        for metric in areas:
            areas[metric].setdefault(arm, {})[seed] = run.data.metrics[area_metric(metric)]
    seeds, fresh = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]
    reference = next(arm for arm, alpha in alphas.items() if alpha == 0)

    def chosen_by(metric: str) -> str:
        arms = [ArmScores("mnist/coreset", arm, alphas[arm], scores) for arm, scores in areas[metric].items()]
        return choose_arms(arms, seeds)["mnist/coreset"].arm

    test = areas[TEST_METRIC]
    rows = {
        "chosen on test, measured on test (same seeds)": gain(test, chosen_by(TEST_METRIC), reference, seeds),
        "chosen on validation, measured on test (same seeds)": gain(
            test, chosen_by(VALIDATION_METRIC), reference, seeds
        ),
        "chosen on validation, confirmed on fresh seeds": gain(
            test, chosen_by(VALIDATION_METRIC), reference, fresh
        ),
    }
    print(
        f"\nGain in normalised test-accuracy area over alpha 0 (core-set, MNIST pool {args.pool}, 5 seeds):"
    )
    for name, row in rows.items():
        low, high = row["ci"]
        print(f"  {name:<52} {row['arm']:<22} {row['gain']:+.4f}  95% CI [{low:+.4f}, {high:+.4f}]")

    parents = {r.data.tags.get(CONFIRMS_TAG, ""): r for r in runs if r.data.tags.get(ROLE_TAG) == ROLE_SWEEP}
    grid = parents[""]
    vae_seconds = grid.data.metrics.get(VAE_SECONDS_METRIC, float("nan"))
    one_vae = vae_seconds / len(seeds)
    print(
        f"\nReplicated encoders: {len(seeds)} VAEs (one per seed) {vae_seconds:.0f} s, one VAE (fixed vae.seed) "
        f"{one_vae:.0f} s; the grid's sweep took {sweep_seconds:.0f} s wall "
        f"(VAEs {vae_seconds / sweep_seconds:.1%} of it, one VAE {one_vae / sweep_seconds:.1%}); "
        f"the confirmation {confirm_seconds:.0f} s"
    )
    result = {
        "folder": str(folder),
        "rows": rows,
        "vae_seconds": vae_seconds,
        "one_vae_seconds": one_vae,
        "sweep_seconds": sweep_seconds,
        "confirm_seconds": confirm_seconds,
        "load": os.getloadavg(),
    }
    (folder / "selection_bias.json").write_text(json.dumps(result, indent=2))
    print(f"\n{folder / 'selection_bias.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
