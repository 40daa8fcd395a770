"""Write realistic raysweep MLflow stores for the analysis tests, with the real mlflow client.

The layout follows the launcher's schema (issue 4): one parent run per sweep (tags
``raysweep.sweep_id``, ``raysweep.role=sweep``, schedule params, the resolved config as an artifact,
metrics ``vae_trainings``/``vae_seconds``), one child run per trial (tags ``mlflow.parentRunId``,
``raysweep.sweep_id``, ``raysweep.role=trial``, ``raysweep.trial_key``,
``raysweep.initial_labels_sha256``; params dataset, heuristic, alpha, seed, uses_vae,
initial_labels, labels_per_round; metrics accuracy, auc, train_seconds, selection_seconds with
step = number of labels; artifacts picks.npz and curve.csv).

VAE trials also log the launcher's pick diagnostics (``vae_share``, ``plain_overlap``,
``diagnostics_seconds`` per selection round; ``plain_overlap_baseline`` and
``vae_share_of_pick_distances`` where asked) and param ``config.alpha_scaling``; the parent run logs
``vae_trainings.json`` (one VAE per dataset, its seconds and the trials that used it).

Since issue 22, where asked: ``val_accuracy`` / ``val_auc`` (a validation curve with a gain of its
own, so a choice on validation and a result on test can disagree), ``train_accuracy``, params
``config.vae.seed`` and ``config.dataset.eval_split``, and a confirmation's tags
(``raysweep.confirms`` on parent and trials, ``raysweep.chosen.<group>`` on the parent).

Curves are synthetic with a known answer: ``base_curve(n, seed) + gain[(heuristic, alpha)] + noise``.
The seed offset is shared by every heuristic/alpha of a seed (the paired design), so a fixed gain
stands out in paired tests even when seeds differ a lot. Metrics go in with ``log_batch`` because
one sqlite write per point is slow.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from raysweep.schema import (
    CHOSEN_TAG_PREFIX,
    CONFIRMS_TAG,
    EVAL_SPLIT_PARAM,
    PLAIN_OVERLAP_BASELINE,
    TRAIN_ACCURACY,
    VAE_SEED_PARAM,
    VAE_SHARE_OF_PICK_DISTANCES,
    VALIDATION_METRIC,
    VALIDATION_PREFIX,
)

T0_MS = 1_700_000_000_000
"""Fixed start of time for every synthetic run, so wall times are known answers."""


def base_curve(n_labels: np.ndarray | float, seed: int) -> np.ndarray:
    """A saturating learning curve in accuracy units with a per-seed offset (shared by all methods)."""
    n = np.asarray(n_labels, dtype=float)
    seed_offset = 0.01 * ((seed * 7919) % 11 - 5) / 5  # in [-0.01, 0.01], deterministic
    return 0.55 + 0.35 * (1.0 - np.exp(-n / 300.0)) + seed_offset


def initial_hash(dataset: str, seed: int) -> str:
    """The launcher's hash of the initial labels: the same for every method of a (dataset, seed)."""
    return hashlib.sha256(f"{dataset}|{seed}".encode()).hexdigest()


def trial_key(dataset: str, heuristic: str, alpha: float, seed: int) -> str:
    """As raysweep.sweep.trial_key writes it: alpha formatted with ``:g`` ("0", "0.5", "1", "inf")."""
    return f"{dataset}/{heuristic}/{alpha:g}/{seed}"


VAE_HEURISTICS = ("coreset", "medal", "lloss", "badge", "typiclust")
OVERLAP_HEURISTICS = ("coreset", "medal", "badge", "typiclust")
"""The launcher logs plain_overlap only where the trained model does not depend on alpha."""

Gain = Mapping[tuple[str, float], float] | Callable[[str, float, np.ndarray], np.ndarray] | None
"""A fixed accuracy gain per (heuristic, alpha), or a function of (heuristic, alpha, n_labels)."""


def gain_of(gain: Gain, heuristic: str, alpha: float, steps: np.ndarray) -> np.ndarray:
    if callable(gain):
        return np.asarray(gain(heuristic, alpha, steps), dtype=float)
    return np.full(len(steps), (gain or {}).get((heuristic, alpha), 0.0))


def uses_vae(heuristic: str, alpha: float) -> bool:
    return alpha > 0 and heuristic in VAE_HEURISTICS


@dataclass(frozen=True)
class Diagnostics:
    """Per-round pick diagnostics a VAE trial logs: the same values in every selection round."""

    vae_share: float
    plain_overlap: float
    seconds: float = 0.25
    baseline: float | None = None
    """``plain_overlap_baseline`` (heuristics that draw at random log it); None: not logged."""
    pick_distances: float | None = None
    """``vae_share_of_pick_distances``; None: not logged."""


@dataclass
class WrittenSweep:
    experiment_id: str
    sweep_id: str
    parent_run_id: str
    child_run_ids: dict[str, str] = field(default_factory=dict)
    """trial key -> run id."""
    grid: list[int] = field(default_factory=list)
    """The label counts (steps) every trial logged."""


def store_uri(directory: Path | str) -> str:
    return f"sqlite:///{Path(directory) / 'mlflow.db'}"


def get_or_create_experiment(client: MlflowClient, name: str, artifact_root: Path) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=(artifact_root / name).as_uri())


def write_sweep(
    tracking_uri: str,
    experiment: str,
    *,
    sweep_id: str,
    artifact_root: Path,
    datasets: Iterable[str] = ("digits",),
    heuristics: Mapping[str, Iterable[float]] = {"coreset": (0.0, 0.5, 1.0)},
    seeds: Iterable[int] = range(5),
    initial_labels: int = 100,
    labels_per_round: int = 100,
    rounds: int = 4,
    pool_size: int = 1000,
    gain: Gain = None,
    noise: float = 0.002,
    val_gain: Gain | bool = False,
    train_accuracy: float | None = None,
    underfit: Mapping[str, Mapping[int, float]] | None = None,
    vae_seed: int | str | None = None,
    eval_split: str | None = None,
    confirms: str | None = None,
    chosen: Mapping[str, str] | None = None,
    rng_seed: int = 0,
    hash_fn: Callable[[str, str, float, int], str] | None = None,
    start_ms: int = T0_MS,
    trial_wall_s: float = 60.0,
    train_s_per_round: float = 2.0,
    selection_s_per_round: float = 0.5,
    eval_s_per_round: float | None = None,
    artifacts: bool = False,
    parent: bool = True,
    alpha_scaling: str | None = "balanced",
    diagnostics: Mapping[tuple[str, float], Diagnostics] | None = None,
    vae_seconds: float | None = 12.5,
    cache_key: Callable[[str], str] = lambda dataset: f"vae-{dataset}",
    missing_steps: Mapping[str, Iterable[int]] | None = None,
) -> WrittenSweep:
    """Write one sweep: a parent run and one finished child run per (dataset, heuristic, alpha, seed).

    ``heuristics`` maps a heuristic to its alpha grid. ``gain`` adds a fixed accuracy gain per
    (heuristic, alpha) (or a function of (heuristic, alpha, n_labels)). ``hash_fn(dataset,
    heuristic, alpha, seed)`` overrides the initial-label hash (to write unpaired data). Every trial
    starts at ``start_ms`` plus its index in seconds and lasts ``trial_wall_s``; per-round
    train/selection seconds are constants, so runtime sums are known answers; ``eval_s_per_round``
    adds ``eval_seconds`` at every label count (None: not logged, as before the launcher logged it).

    ``alpha_scaling``: the ``config.alpha_scaling`` param of the trials (None: not logged, as before
    the param existed). ``diagnostics[(heuristic, alpha)]``: what its VAE trials log each selection
    round (plain_overlap only for core-set and MedAL); VAE trials without an entry log none.
    ``vae_seconds``: one VAE per dataset (key ``cache_key(dataset)``) took this long; None: the
    parent logs no ``vae_trainings.json`` (an older launcher). ``missing_steps[trial key]``: label
    counts that trial never logged (a gap).

    ``val_gain``: log ``val_accuracy`` (and ``val_auc``) too: the same seed curve, this gain (like
    ``gain``; True: no gain) and noise of its own; False: not logged (a launcher older than the
    validation split). ``train_accuracy``: logged at every label count with this value, except the
    ``underfit[trial key][n_labels]`` values. ``vae_seed``: param ``config.vae.seed`` of every trial,
    ``"trial"`` for the trial's seed (None: not logged); ``eval_split``: param
    ``config.dataset.eval_split``. ``confirms``: the sweep this one confirms (tag on parent and
    trials), ``chosen``: the parent's chosen arm per ``dataset/heuristic``.
    """
    client = MlflowClient(tracking_uri)
    experiment_id = get_or_create_experiment(client, experiment, Path(artifact_root))
    rng = np.random.default_rng(rng_seed)
    grid = [initial_labels + r * labels_per_round for r in range(rounds + 1)]
    steps = np.array(grid, dtype=float)
    datasets, seeds = list(datasets), list(seeds)
    heuristics = {h: [float(a) for a in alphas] for h, alphas in heuristics.items()}

    written = WrittenSweep(experiment_id=experiment_id, sweep_id=sweep_id, parent_run_id="", grid=grid)
    if parent:
        tags = {"raysweep.sweep_id": sweep_id, "raysweep.role": "sweep"}
        if confirms:
            tags[CONFIRMS_TAG] = confirms
            tags.update({f"{CHOSEN_TAG_PREFIX}{group}": arm for group, arm in (chosen or {}).items()})
        run = client.create_run(experiment_id, start_time=start_ms, tags=tags, run_name=f"sweep-{sweep_id}")
        written.parent_run_id = run.info.run_id
        client.log_batch(
            run.info.run_id,
            params=[
                Param("schedule.initial_labels", str(initial_labels)),
                Param("schedule.labels_per_round", str(labels_per_round)),
                Param("schedule.rounds", str(rounds)),
                Param("schedule.max_labels", "None"),
                Param("dataset.pool_size", str(pool_size)),
            ],
            metrics=[
                Metric("vae_trainings", float(len(datasets)), start_ms, 0),
                *([Metric("vae_seconds", vae_seconds * len(datasets), start_ms, 0)] if vae_seconds else []),
            ],
        )
        config = {"sweep_id": sweep_id, "datasets": datasets, "heuristics": heuristics, "seeds": seeds}
        client.log_text(run.info.run_id, json.dumps(config, indent=2), "resolved_config.json")
        if vae_seconds is not None:
            vaes = [
                {
                    "dataset": dataset,
                    "vae": {"latent_dim": 32},
                    "cache_key": cache_key(dataset),
                    "trained_this_run": True,
                    "seconds": vae_seconds,
                    "trials": sorted(
                        trial_key(dataset, h, a, s)
                        for h, alphas in heuristics.items()
                        for a in alphas
                        for s in seeds
                        if uses_vae(h, a)
                    ),
                }
                for dataset in datasets
            ]
            client.log_dict(run.info.run_id, {"vaes": vaes}, "vae_trainings.json")

    index = 0
    for dataset in datasets:
        for heuristic, alphas in heuristics.items():
            for alpha in alphas:
                for seed in seeds:
                    values = base_curve(steps, seed) + rng.normal(0.0, noise, size=len(steps))
                    values = values + gain_of(gain, heuristic, alpha, steps)
                    val = None
                    if val_gain is not False:
                        val = base_curve(steps, seed) + rng.normal(0.0, noise, size=len(steps))
                        val = val + gain_of(None if val_gain is True else val_gain, heuristic, alpha, steps)
                    key = trial_key(dataset, heuristic, alpha, seed)
                    train = None
                    if train_accuracy is not None:
                        fitted = (underfit or {}).get(key, {})
                        train = np.array([fitted.get(n, train_accuracy) for n in grid])
                    params = {
                        **(
                            {VAE_SEED_PARAM: str(seed if vae_seed == "trial" else vae_seed)}
                            if vae_seed
                            else {}
                        ),
                        **({EVAL_SPLIT_PARAM: eval_split} if eval_split else {}),
                    }
                    sha = hash_fn(dataset, heuristic, alpha, seed) if hash_fn else initial_hash(dataset, seed)
                    start = start_ms + 1000 * index
                    kept = [i for i, n in enumerate(grid) if n not in set((missing_steps or {}).get(key, ()))]
                    run_id = write_trial(
                        client,
                        experiment_id,
                        sweep_id=sweep_id,
                        parent_run_id=written.parent_run_id or None,
                        dataset=dataset,
                        heuristic=heuristic,
                        alpha=alpha,
                        seed=seed,
                        steps=[grid[i] for i in kept],
                        accuracy=values[kept],
                        initial_labels=initial_labels,
                        labels_per_round=labels_per_round,
                        initial_labels_sha256=sha,
                        start_ms=start,
                        end_ms=start + int(1000 * trial_wall_s),
                        train_s=train_s_per_round,
                        selection_s=selection_s_per_round,
                        eval_s=eval_s_per_round,
                        artifacts=artifacts,
                        alpha_scaling=alpha_scaling if uses_vae(heuristic, alpha) else None,
                        diagnostics=(diagnostics or {}).get((heuristic, alpha)),
                        val_accuracy=None if val is None else val[kept],
                        train_accuracy=None if train is None else train[kept],
                        params=params,
                        tags={CONFIRMS_TAG: confirms} if confirms else None,
                    )
                    written.child_run_ids[key] = run_id
                    index += 1
    if parent:
        client.set_terminated(written.parent_run_id, end_time=start_ms + 1000 * (index + int(trial_wall_s)))
    return written


def write_trial(
    client: MlflowClient,
    experiment_id: str,
    *,
    sweep_id: str,
    parent_run_id: str | None,
    dataset: str,
    heuristic: str,
    alpha: float,
    seed: int,
    steps: list[int],
    accuracy: np.ndarray,
    initial_labels: int,
    labels_per_round: int,
    initial_labels_sha256: str,
    start_ms: int,
    end_ms: int | None,
    train_s: float = 2.0,
    selection_s: float = 0.5,
    eval_s: float | None = None,
    metric_timestamp_ms: int | None = None,
    artifacts: bool = False,
    alpha_scaling: str | None = None,
    diagnostics: Diagnostics | None = None,
    val_accuracy: np.ndarray | None = None,
    train_accuracy: np.ndarray | None = None,
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Write one child run as the launcher does and return its run id.

    Selection metrics (selection_seconds and the diagnostics) go to every step but the last: the
    loop selects after each round but the final one. ``val_accuracy`` (with a ``val_auc`` beside it)
    and ``train_accuracy``: one value per step, logged when given; ``params`` and ``tags``: more of
    each (``config.vae.seed``, ``raysweep.confirms``, ...).
    """
    extra_tags = dict(tags or {})
    tags = {
        "raysweep.sweep_id": sweep_id,
        "raysweep.role": "trial",
        "raysweep.trial_key": trial_key(dataset, heuristic, alpha, seed),
        "raysweep.initial_labels_sha256": initial_labels_sha256,
    }
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    tags.update(extra_tags)
    run = client.create_run(
        experiment_id, start_time=start_ms, tags=tags, run_name=f"{heuristic}-a{alpha}-s{seed}"
    )
    run_id = run.info.run_id
    params = {
        "dataset": dataset,
        "heuristic": heuristic,
        "alpha": str(float(alpha)),
        "seed": str(int(seed)),
        "uses_vae": str(uses_vae(heuristic, alpha)),
        "initial_labels": str(initial_labels),
        "labels_per_round": str(labels_per_round),
        **({"config.alpha_scaling": alpha_scaling} if alpha_scaling else {}),
        **(params or {}),
    }
    stamp = metric_timestamp_ms if metric_timestamp_ms is not None else start_ms
    metrics = []
    for i, (step, acc) in enumerate(zip(steps, accuracy, strict=True)):
        ts = stamp + 10 * i
        metrics += [
            Metric("accuracy", float(acc), ts, int(step)),
            Metric("auc", float(min(1.0, acc + 0.05)), ts, int(step)),
            Metric("train_seconds", float(train_s), ts, int(step)),
            *([Metric("eval_seconds", float(eval_s), ts, int(step))] if eval_s is not None else []),
            # no selection after the last round, as in the loop
            *([Metric("selection_seconds", float(selection_s), ts, int(step))] if i < len(steps) - 1 else []),
        ]
        if val_accuracy is not None:
            val = float(val_accuracy[i])
            metrics += [
                Metric(VALIDATION_METRIC, val, ts, int(step)),
                Metric(VALIDATION_PREFIX + "auc", float(min(1.0, val + 0.05)), ts, int(step)),
            ]
        if train_accuracy is not None:
            metrics.append(Metric(TRAIN_ACCURACY, float(train_accuracy[i]), ts, int(step)))
        if diagnostics is not None and i < len(steps) - 1:
            metrics += [
                Metric("vae_share", diagnostics.vae_share, ts, int(step)),
                Metric("diagnostics_seconds", diagnostics.seconds, ts, int(step)),
                *(
                    [Metric("plain_overlap", diagnostics.plain_overlap, ts, int(step))]
                    if heuristic in OVERLAP_HEURISTICS
                    else []
                ),
                *(
                    [Metric(PLAIN_OVERLAP_BASELINE, diagnostics.baseline, ts, int(step))]
                    if diagnostics.baseline is not None and heuristic in OVERLAP_HEURISTICS
                    else []
                ),
                *(
                    [Metric(VAE_SHARE_OF_PICK_DISTANCES, diagnostics.pick_distances, ts, int(step))]
                    if diagnostics.pick_distances is not None
                    else []
                ),
            ]
    client.log_batch(run_id, metrics=metrics, params=[Param(k, v) for k, v in params.items()])
    if artifacts:
        with tempfile.TemporaryDirectory() as tmp:
            picks = {f"round_{r}": np.arange(r * 10, r * 10 + 10) for r in range(len(steps) - 1)}
            buffer = io.BytesIO()
            np.savez(buffer, **picks)
            (Path(tmp) / "picks.npz").write_bytes(buffer.getvalue())
            rows = "\n".join(f"{s},{a}" for s, a in zip(steps, accuracy, strict=True))
            (Path(tmp) / "curve.csv").write_text("n_labels,accuracy\n" + rows + "\n")
            client.log_artifacts(run_id, tmp)
    if end_ms is not None:
        client.set_terminated(run_id, end_time=end_ms)
    return run_id


def log_points(client: MlflowClient, run_id: str, name: str, points: list[tuple[int, float, int]]) -> None:
    """Log extra (step, value, timestamp_ms) points of one metric (to write duplicates)."""
    client.log_batch(run_id, metrics=[Metric(name, float(v), int(ts), int(s)) for s, v, ts in points])
