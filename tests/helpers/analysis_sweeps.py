"""The sweeps the analysis tests read, and the known answers written into them.

``tests/analysis/conftest.py`` writes each into one MLflow store per test session (with
:mod:`helpers.mlflow_runs`); the test modules assert against the constants here:

- ``study``: digits; core-set alphas 0, 0.5, 1 with +:data:`GAIN` injected at alpha 0.5; loss
  prediction 0, 1 with no gain; random; 5 seeds.
- ``alphas``: 3 seeds; core-set over 0, 0.25, 1 and the VAE-only end (-0.05); MedAL and loss
  prediction 0, 1; random; the pick diagnostics :data:`ARMS`; one VAE of 30 s shared by 15 trials;
  the MedAL alpha-1 trial of seed 0 never logged its 300-label round.
- ``encoders``: core-set at alpha 0 (the plain arm, once) and at alpha 1 with features from vae
  (+0.01 over plain), gmvae (+0.03) and cvae (+0.01, the same as vae): :data:`ENCODER_GAINS`; params
  ``encoder``, keys ``.../seed/<encoder>`` for non-default encoders, ``encoder_seconds`` per
  selecting round (:data:`ENCODER_SECONDS`).
- ``search-analysis``: a search's tags on a grid of :data:`SEARCH_ALPHAS` (in the searcher's order)
  whose gain is a bump over log alpha peaking at :data:`PEAK`, and a sixth setting stopped early.
- ``confirmed``: sweep ``c1`` (the selection: seeds :data:`CHOOSING_SEEDS`; core-set at alphas 0, 1,
  2, MedAL at 0, 1, random) whose test areas favour core-set alpha 2 (:data:`TEST_GAINS`) while its
  validation areas favour alpha 1 (:data:`VAL_GAINS`), one pool encoder per seed, the MedAL alpha-1
  trial of seed 0 under 0.99 train accuracy (:data:`UNDERFIT`); and its confirmation ``c1-confirm``
  (seeds :data:`CONFIRM_SEEDS`: the chosen arms, their alpha-0 partners and random) with known gains
  (:data:`CONFIRMED_GAINS`), the random floor :data:`FLOOR_GAIN` below, and MedAL's chosen arm
  picking the plain heuristic's points (:data:`CONFIRM_ARMS`).
- ``baselines``: heuristics that draw at random, one encoder draw for every seed (``vae.seed`` =
  :data:`ONE_ENCODER`): BADGE at alpha 1 overlaps plain 0.5 against a baseline of 0.5 (the plain
  picks again), TypiClust 0.5 against a baseline of 1 (:data:`BASELINE_ARMS`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from mlflow import MlflowClient
from mlflow.entities import Metric

from helpers.mlflow_runs import (
    T0_MS,
    Diagnostics,
    base_curve,
    get_or_create_experiment,
    initial_hash,
    write_sweep,
    write_trial,
)

GAIN = 0.03
STUDY = {"coreset": (0.0, 0.5, 1.0), "lloss": (0.0, 1.0), "random": (0.0,)}

INF = float("inf")
ARMS = {
    ("coreset", 0.25): Diagnostics(vae_share=0.06, plain_overlap=0.995),
    ("coreset", 1.0): Diagnostics(vae_share=0.5, plain_overlap=0.72),
    ("coreset", INF): Diagnostics(vae_share=1.0, plain_overlap=0.2),
    ("medal", 1.0): Diagnostics(vae_share=0.5, plain_overlap=0.989),
    ("lloss", 1.0): Diagnostics(vae_share=0.5, plain_overlap=float("nan")),
}

ENCODER_GRID = [100, 200, 300, 400]
ENCODER_GAINS = {(0.0, "none"): 0.0, (1.0, "vae"): 0.01, (1.0, "gmvae"): 0.03, (1.0, "cvae"): 0.01}
ENCODER_SECONDS = {"vae": 0.1, "gmvae": 0.1, "cvae": 2.0}

SEARCH_ALPHAS = [0.05, 0.4, 1.3, 3.0, 12.0]
"""In the searcher's order."""
PEAK = 1.3

CHOOSING_SEEDS = range(5)
CONFIRM_SEEDS = range(5, 10)
FLOOR_GAIN = -0.1
"""Random's accuracy relative to the plain heuristics."""
TEST_GAINS = {
    ("coreset", 1.0): 0.01,
    ("coreset", 2.0): 0.03,
    ("medal", 1.0): 0.02,
    ("random", 0.0): FLOOR_GAIN,
}
VAL_GAINS = {("coreset", 1.0): 0.03, ("coreset", 2.0): 0.0, ("medal", 1.0): 0.02, ("random", 0.0): FLOOR_GAIN}
CONFIRMED_GAINS = {("coreset", 1.0): 0.02, ("medal", 1.0): 0.0, ("random", 0.0): FLOOR_GAIN}
UNDERFIT = {"digits/medal/1/0": {100: 0.9, 200: 0.97}}
CONFIRM_ARMS = {
    ("coreset", 1.0): Diagnostics(vae_share=0.5, plain_overlap=0.6, pick_distances=0.4),
    ("medal", 1.0): Diagnostics(vae_share=0.05, plain_overlap=0.995, pick_distances=0.02),
}
ONE_ENCODER = 7
BASELINE_ARMS = {
    ("badge", 1.0): Diagnostics(vae_share=0.5, plain_overlap=0.5, baseline=0.5),
    ("typiclust", 1.0): Diagnostics(vae_share=0.5, plain_overlap=0.5, baseline=1.0),
}


def write_alphas(uri: str, artifact_root: Path) -> None:
    write_sweep(
        uri,
        "alphas",
        sweep_id="a1",
        artifact_root=artifact_root,
        heuristics={
            "coreset": (0.0, 0.25, 1.0, INF),
            "medal": (0.0, 1.0),
            "lloss": (0.0, 1.0),
            "random": (0.0,),
        },
        seeds=range(3),
        gain={("coreset", INF): -0.05},
        diagnostics=ARMS,
        vae_seconds=30.0,
        missing_steps={"digits/medal/1/0": [300]},
    )


def write_encoders(uri: str, artifact_root: Path) -> None:
    """The ``encoders`` sweep as the launcher logs it (see the module's docstring)."""
    client = MlflowClient(uri)
    experiment_id = get_or_create_experiment(client, "encoders", artifact_root)
    parent = client.create_run(
        experiment_id, start_time=T0_MS, tags={"raysweep.sweep_id": "e1", "raysweep.role": "sweep"}
    )
    rng = np.random.default_rng(0)
    for index, ((alpha, encoder), gain) in enumerate(ENCODER_GAINS.items()):
        for seed in range(5):
            values = base_curve(np.array(ENCODER_GRID), seed) + gain + rng.normal(0, 0.002, len(ENCODER_GRID))
            run_id = write_trial(
                client,
                experiment_id,
                sweep_id="e1",
                parent_run_id=parent.info.run_id,
                dataset="digits",
                heuristic="coreset",
                alpha=alpha,
                seed=seed,
                steps=ENCODER_GRID,
                accuracy=values,
                initial_labels=100,
                labels_per_round=100,
                initial_labels_sha256=initial_hash("digits", seed),
                start_ms=T0_MS + 1000 * (10 * index + seed),
                end_ms=T0_MS + 1000 * (10 * index + seed) + 60_000,
            )
            if encoder != "none":
                client.log_param(run_id, "encoder", encoder)
                if encoder != "vae":
                    client.set_tag(run_id, "raysweep.trial_key", f"digits/coreset/1/{seed}/{encoder}")
                client.log_batch(
                    run_id,
                    metrics=[
                        Metric("encoder_seconds", ENCODER_SECONDS[encoder], T0_MS, step)
                        for step in ENCODER_GRID[:-1]
                    ],
                )
    client.set_terminated(parent.info.run_id)


def search_gain(heuristic: str, alpha: float, steps: np.ndarray) -> np.ndarray:
    """A bump over log alpha, largest at alpha 1.3: 0.02 accuracy there, ~0 at the ends."""
    if alpha == 0:
        return np.zeros_like(steps)
    return 0.02 * np.exp(-((np.log10(alpha) - np.log10(PEAK)) ** 2) / (2 * 0.3**2)) + 0 * steps


def write_search(uri: str, artifact_root: Path) -> dict[str, str]:
    """The ``search-analysis`` sweep; returns the trial keys of the setting stopped early -> run ids."""
    written = write_sweep(
        uri,
        "search-analysis",
        sweep_id="s1",
        artifact_root=artifact_root,
        heuristics={"coreset": [0.0, *SEARCH_ALPHAS]},
        seeds=range(4),
        gain=search_gain,
        noise=0.001,
    )
    client = MlflowClient(uri)
    for key, run_id in written.child_run_ids.items():
        alpha = float(key.split("/")[2])
        index = 0 if alpha == 0 else SEARCH_ALPHAS.index(alpha) + 1
        client.set_tag(run_id, "raysweep.search_group", "digits/coreset")
        client.set_tag(run_id, "raysweep.setting", f"alpha={alpha:g}")
        client.set_tag(run_id, "raysweep.setting_index", str(index))
    client.log_metric(written.parent_run_id, "search_settings_tried.digits/coreset", 6.0)
    # a sixth setting stopped early after two rounds on both seeds it ran
    stopped = {}
    for seed in (0, 1):
        steps = written.grid[:2]
        run_id = write_trial(
            client,
            written.experiment_id,
            sweep_id="s1",
            parent_run_id=written.parent_run_id,
            dataset="digits",
            heuristic="coreset",
            alpha=20.0,
            seed=seed,
            steps=steps,
            accuracy=np.array([0.5, 0.51]),
            initial_labels=100,
            labels_per_round=100,
            initial_labels_sha256=initial_hash("digits", seed),
            start_ms=written.grid[0],
            end_ms=None,
        )
        for name, value in {
            "raysweep.search_group": "digits/coreset",
            "raysweep.setting": "alpha=20",
            "raysweep.setting_index": "6",
            "raysweep.stopped_early": "1",
        }.items():
            client.set_tag(run_id, name, value)
        client.set_terminated(run_id, status="KILLED")
        stopped[f"digits/coreset/20/{seed}"] = run_id
    return stopped


def write_confirmed(uri: str, artifact_root: Path) -> None:
    """The ``confirmed`` experiment: sweep ``c1`` and its confirmation ``c1-confirm`` (module docstring)."""
    shared = dict(artifact_root=artifact_root, train_accuracy=1.0, vae_seed="trial", eval_split="test")
    write_sweep(
        uri,
        "confirmed",
        sweep_id="c1",
        heuristics={"coreset": (0.0, 1.0, 2.0), "medal": (0.0, 1.0), "random": (0.0,)},
        seeds=CHOOSING_SEEDS,
        gain=TEST_GAINS,
        val_gain=VAL_GAINS,
        underfit=UNDERFIT,
        **shared,
    )
    write_sweep(
        uri,
        "confirmed",
        sweep_id="c1-confirm",
        heuristics={"coreset": (0.0, 1.0), "medal": (0.0, 1.0), "random": (0.0,)},
        seeds=CONFIRM_SEEDS,
        gain=CONFIRMED_GAINS,
        val_gain=CONFIRMED_GAINS,
        diagnostics=CONFIRM_ARMS,
        confirms="c1",
        chosen={"digits/coreset": "digits/coreset/1/*", "digits/medal": "digits/medal/1/*"},
        start_ms=T0_MS + 10**7,
        rng_seed=1,
        **shared,
    )


def write_baselines(uri: str, artifact_root: Path) -> None:
    """The ``baselines`` sweep (module docstring)."""
    write_sweep(
        uri,
        "baselines",
        sweep_id="b1",
        artifact_root=artifact_root,
        heuristics={"badge": (0.0, 1.0), "typiclust": (0.0, 1.0)},
        seeds=range(3),
        diagnostics=BASELINE_ARMS,
        vae_seed=ONE_ENCODER,
        val_gain=True,
    )
