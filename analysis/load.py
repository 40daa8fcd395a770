"""MLflow -> one tidy pandas DataFrame, one row per (trial, step, metric).

Reads the launcher's schema (issue 4): parent runs tagged ``raysweep.role=sweep`` and
``raysweep.sweep_id``; child runs tagged ``raysweep.role=trial``, ``raysweep.trial_key`` and
``raysweep.initial_labels_sha256`` with params dataset, heuristic, alpha, seed, uses_vae (and
encoder, since issue 15) and metrics logged with step = number of labels. The ``encoder`` column is
where a trial's VAE features came from (``vae``, ``gmvae``, ``cvae``; ``vae`` for runs older than the
param) and ``none`` for trials that take none (alpha 0, random, entropy).

Which sweeps: ``sweep_id`` given -> only that sweep. Otherwise every sweep of the experiment, as long
as they share one budget (same initial labels, labels per round and pool size per dataset, and
label-count grids where one is a prefix of the other): a sweep extended later with more alphas or
seeds, or rerun, then reads as one study, and reruns of a trial collapse by the duplicate rule
below. Sweeps with different budgets are refused (:class:`MixedBudgetsError`) with the list of
sweeps, so the user picks one with ``--sweep``.

Duplicates: a resumed or retried trial may log a step twice, or a trial may have two runs. Rows are
deduplicated by (trial key, metric, step), keeping the latest by metric timestamp, then by run start
time; the number of dropped rows is returned and logged.

Alpha scaling: a VAE trial's alpha means a different weight under ``raw`` and ``balanced`` (param
``config.alpha_scaling``; runs logged before the param existed were ``raw``), and its trial key does
not say which, so sweeps whose VAE trials differ in scaling are refused like mixed budgets.

VAE seconds: each parent run's ``vae_trainings.json`` (one row per VAE: dataset, cache key,
seconds, the trial keys that used it) becomes ``SweepData.vaes``; a sweep without the file (an older
launcher) gets a note and no VAE seconds.

A search (``sweep.search``): :func:`search_tags` reads its trials' tags (search group, setting, the
setting's place in the searcher's order, stopped early) and :func:`settings_tried` the parent runs'
count of settings tried per group; a grid has neither.

A confirmation (``--confirm``): a sweep of its own whose parent and trial runs carry
``raysweep.confirms=<sweep id>``; it has the budget of the sweep it confirms, so reading every sweep
reads both. ``--sweep ID`` reads that sweep together with its confirmation (or, given a
confirmation's id, with the sweep it confirms). Each trial's ``confirms`` column holds the tag (""
for a sweep's own trials, the selection); the tidy frame carries it too.

Per trial the loader also reads ``vae_seed`` (param ``config.vae.seed``: the pool encoder's seed;
None for runs older than the param) and ``eval_split`` (param ``config.dataset.eval_split``: the split
``accuracy`` is measured on; ``test`` for runs older than the param).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd

from raysweep import schema
from raysweep.schedule import label_counts
from raysweep.schema import (
    ALPHA_SCALING_PARAM,
    CONFIRMS_TAG,
    DIAGNOSTIC_METRICS,
    EVAL_SPLIT_PARAM,
    INITIAL_LABELS_TAG,
    PARENT_RUN_TAG,
    ROLE_SWEEP,
    ROLE_TAG,
    ROLE_TRIAL,
    SEARCH_GROUP_METRIC_PREFIXES,
    SEARCH_GROUP_TAG,
    SETTING_INDEX_TAG,
    SETTING_TAG,
    STOPPED_EARLY_TAG,
    SWEEP_ID_TAG,
    TRIAL_KEY_TAG,
    VAE_SECONDS_METRIC,
    VAE_SEED_PARAM,
    VAE_TRAININGS_ARTIFACT,
    VAE_TRAININGS_METRIC,
)

log = logging.getLogger(__name__)

TRIAL_COLUMNS = ["dataset", "heuristic", "alpha", "seed"]
TIDY_COLUMNS = [
    "sweep_id",
    "confirms",
    "run_id",
    "trial_key",
    "dataset",
    "heuristic",
    "alpha",
    "seed",
    "uses_vae",
    "encoder",
    "initial_labels_sha256",
    "n_labels",
    "metric",
    "value",
]
DEFAULT_METRICS = (
    schema.ACCURACY,
    schema.AUC,
    schema.VAL_ACCURACY,
    schema.VAL_AUC,
    schema.TRAIN_ACCURACY,
    schema.TRAIN_SECONDS,
    schema.SELECTION_SECONDS,
    schema.EVAL_SECONDS,
    schema.ENCODER_SECONDS,
)
"""``eval_seconds`` (the test-set evaluation after each round) exists since the firstrun launcher;
older runs have none, and the runtime tables count it as 0 there. ``encoder_seconds``: a trial's
time getting its embeddings each round (a ``cvae`` retraining; a pool encoder's fetch). The
validation metrics and ``train_accuracy`` exist since issue 22; older runs have none."""
DEFAULT_EVAL_SPLIT = "test"
"""``accuracy``'s split for runs logged before ``config.dataset.eval_split`` existed."""
SCALING_BEFORE_PARAM = "raw"
"""Runs logged before ``alpha_scaling`` existed scaled the VAE block by alpha alone: ``raw``."""
VAE_COLUMNS = ["sweep_id", "dataset", "cache_key", "trained_this_run", "seconds", "trials"]
BUDGET_PARAMS = {
    "initial_labels": (schema.INITIAL_LABELS_PARAM, schema.TRIAL_INITIAL_LABELS_PARAM),
    "labels_per_round": (schema.LABELS_PER_ROUND_PARAM, schema.TRIAL_LABELS_PER_ROUND_PARAM),
    "pool_size": (schema.POOL_SIZE_PARAM, schema.TRIAL_POOL_SIZE_PARAM),
}
"""Budget field -> the parent param and the child param that may carry it."""
SCHEDULE_END_PARAMS = {"rounds": schema.ROUNDS_PARAM, "max_labels": schema.MAX_LABELS_PARAM}
"""Where the schedule stops (parent params; "None" when unset): with the budgets, the label counts
every trial of the sweep was to reach (``raysweep.schedule.label_counts``)."""
SEARCH_TAGS = {
    SEARCH_GROUP_TAG: "search_group",
    SETTING_TAG: "setting",
    SETTING_INDEX_TAG: "setting_index",
    STOPPED_EARLY_TAG: "stopped_early_round",
}
"""A search's trial tag -> the column :func:`search_tags` reads it into."""
SEARCH_COLUMNS = ["trial_key", "search_group", "setting", "setting_index", "stopped_early"]
SETTINGS_TRIED_PREFIX = SEARCH_GROUP_METRIC_PREFIXES[0]


class AnalysisError(ValueError):
    """Bad input for the analysis (unknown experiment, no runs, mixed budgets, unknown metric, ...).

    The CLI prints the message and exits 2.
    """


class MixedBudgetsError(AnalysisError):
    """Runs from sweeps with different label budgets were mixed."""


@dataclass
class SweepData:
    """What :func:`load_sweep` read.

    ``frame``: the tidy metrics (columns :data:`TIDY_COLUMNS`), deduplicated.
    ``trials``: one row per child run kept (run_id, trial_key, sweep_id, confirms, the trial
    columns, uses_vae, encoder, alpha_scaling, vae_seed, eval_split, initial_labels_sha256,
    start/end time, wall_seconds, status).
    ``sweeps``: one row per sweep (sweep_id, confirms, parent_run_id, start/end, wall_seconds,
    budget params, vae_trainings, vae_seconds).
    ``vaes``: one row per (sweep, VAE) from the parent runs' ``vae_trainings.json`` (columns
    :data:`VAE_COLUMNS`; ``trials`` is the list of trial keys that used the VAE).
    ``grids``: dataset -> the label counts its sweeps' schedules name (union over the sweeps);
    datasets whose schedule is unknown or ends only where the pool runs out have none.
    """

    experiment_name: str
    experiment_id: str
    tracking_uri: str
    frame: pd.DataFrame
    trials: pd.DataFrame
    sweeps: pd.DataFrame
    sweep_ids: list[str]
    vaes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=VAE_COLUMNS))
    grids: dict[str, list[int]] = field(default_factory=dict)
    duplicates_dropped: int = 0
    duplicate_runs: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def metrics(self) -> list[str]:
        return sorted(self.frame["metric"].unique())

    @property
    def confirmations(self) -> dict[str, str]:
        """Confirmation sweep id -> the id of the sweep whose choice it confirms (empty without one)."""
        confirming = self.trials[self.trials["confirms"] != ""]
        return dict(sorted(zip(confirming["sweep_id"], confirming["confirms"], strict=True)))

    @property
    def target_parent_run_id(self) -> str | None:
        """The parent run the report is logged to: the selected sweep's, or the latest one's."""
        parents = self.sweeps.dropna(subset=["parent_run_id"])
        if parents.empty:
            return None
        return str(parents.sort_values("start_time").iloc[-1]["parent_run_id"])


def check_store(tracking_uri: str) -> None:
    """Refuse a sqlite URI whose file does not exist (mlflow would silently create an empty store)."""
    if tracking_uri.startswith("sqlite:"):
        path = unquote(urlparse(tracking_uri).path)
        # sqlite:///relative/path -> path '/relative/path'; sqlite:////abs -> '//abs'
        candidates = [Path(path), Path(path.lstrip("/")), Path("/" + path.lstrip("/"))]
        if not any(p.is_file() for p in candidates):
            raise AnalysisError(f"no MLflow store at {tracking_uri}: the sqlite file does not exist")


def load_sweep(
    tracking_uri: str,
    experiment: str,
    sweep_id: str | None = None,
    metrics: Sequence[str] | None = None,
    max_workers: int = 8,
) -> SweepData:
    """Read an experiment's sweep(s) into a :class:`SweepData`. Raises :class:`AnalysisError`."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    check_store(tracking_uri)
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        known = sorted(e.name for e in client.search_experiments(view_type=ViewType.ALL))
        raise AnalysisError(
            f"unknown experiment {experiment!r} in {tracking_uri}; known: {', '.join(known) or 'none'}"
        )
    runs = _search_all(client, exp.experiment_id)
    parents = [r for r in runs if _is_parent(r)]
    children = [r for r in runs if _is_trial(r)]
    notes: list[str] = []

    if sweep_id is not None:
        wanted = together_with_confirmations(sweep_id, children)
        children = [r for r in children if r.data.tags.get(SWEEP_ID_TAG) in wanted]
        parents = [r for r in parents if r.data.tags.get(SWEEP_ID_TAG) in wanted]
        if not any(r.data.tags.get(SWEEP_ID_TAG) == sweep_id for r in children):
            known = sorted({r.data.tags.get(SWEEP_ID_TAG, "?") for r in runs if _is_trial(r)})
            raise AnalysisError(
                f"sweep {sweep_id!r} has no trial runs in experiment {experiment!r}; "
                f"sweeps with trials: {', '.join(known) or 'none'}"
            )
        if len(wanted) > 1:
            notes.append(
                f"--sweep {sweep_id}: read together with {', '.join(sorted(wanted - {sweep_id}))} "
                "(a sweep and its confirmation on fresh seeds)"
            )
    if not children:
        raise AnalysisError(f"experiment {experiment!r} has no trial runs (runs with param 'heuristic')")

    sweep_ids = sorted({r.data.tags.get(SWEEP_ID_TAG, "") for r in children})
    if sweep_id is None:
        if len(sweep_ids) > 1:
            notes.append(
                f"no --sweep given: reading all {len(sweep_ids)} sweeps of the experiment "
                f"({', '.join(sweep_ids)}), which share one budget; reruns of a trial are deduplicated"
            )
        else:
            notes.append(f"no --sweep given: the experiment holds one sweep ({sweep_ids[0]})")

    trials = _trial_table(children)
    if (trials["confirms"] != "").all():
        confirmed = ", ".join(sorted(set(trials["confirms"])))
        raise AnalysisError(
            f"only confirmation trials were read (they confirm sweep {confirmed}, which has no trial runs "
            f"in experiment {experiment!r}): the report compares a choice with its confirmation"
        )
    for confirmation, confirmed in sorted(
        trials.loc[trials["confirms"] != "", ["sweep_id", "confirms"]]
        .drop_duplicates()
        .itertuples(index=False)
    ):
        notes.append(
            f"sweep {confirmation} confirms the choice of sweep {confirmed} on fresh seeds: its trials are the "
            "confirmation (the report's headline), the others the selection"
        )
    histories = _histories(client, trials, metrics, max_workers)
    histories.update(_histories(client, trials[trials["uses_vae"]], DIAGNOSTIC_METRICS, max_workers))
    frame = _tidy(trials, histories)
    if frame.empty:
        raise AnalysisError(f"the trial runs of experiment {experiment!r} logged no metrics")
    sweeps = _sweep_table(parents, trials)
    _check_budgets(sweeps, trials, frame)

    frame, dropped = dedupe(frame)
    duplicate_runs = int(trials.duplicated("trial_key").sum())
    if dropped or duplicate_runs:
        message = (
            f"dropped {dropped} duplicate metric points (same trial key, metric and step; kept the latest)"
            f"; {duplicate_runs} trial keys had more than one run"
        )
        log.warning(message)
        notes.append(message)
    used_runs = set(frame["run_id"])
    trials = trials[trials["run_id"].isin(used_runs)].reset_index(drop=True)
    vaes = _vae_table(client, sweeps, trials, notes)
    grids = scheduled_grids(sweeps, trials)
    return SweepData(
        experiment_name=experiment,
        experiment_id=exp.experiment_id,
        tracking_uri=tracking_uri,
        frame=frame,
        trials=trials,
        sweeps=sweeps,
        sweep_ids=sweep_ids,
        vaes=vaes,
        grids=grids,
        duplicates_dropped=dropped,
        duplicate_runs=duplicate_runs,
        notes=notes,
    )


def together_with_confirmations(sweep_id: str, children: list) -> set[str]:
    """``sweep_id``, the sweeps that confirm it, and the sweep it confirms (from the trial runs' tags)."""
    wanted = {sweep_id}
    for run in children:
        tags = run.data.tags
        if tags.get(CONFIRMS_TAG) == sweep_id:
            wanted.add(tags.get(SWEEP_ID_TAG, ""))
        elif tags.get(SWEEP_ID_TAG) == sweep_id and tags.get(CONFIRMS_TAG):
            wanted.add(tags[CONFIRMS_TAG])
    return wanted


def scheduled_grids(sweeps: pd.DataFrame, trials: pd.DataFrame) -> dict[str, list[int]]:
    """dataset -> the union of the label counts its sweeps' schedules name (see :class:`SweepData`).

    A trial that stopped early (a sweep stopped before its last round, a round whose metrics never
    arrived) misses counts of this grid even where no other trial reached them.
    """
    if sweeps.empty or not set(SCHEDULE_END_PARAMS) <= set(sweeps.columns):
        return {}
    grids: dict[str, set[int]] = {}
    for sweep in sweeps.itertuples():
        if pd.isna(sweep.initial_labels) or pd.isna(sweep.labels_per_round):
            continue
        counts = label_counts(
            int(sweep.initial_labels),
            int(sweep.labels_per_round),
            None if pd.isna(sweep.rounds) else int(sweep.rounds),
            None if pd.isna(sweep.max_labels) else int(sweep.max_labels),
        )
        if counts is None:
            continue
        for dataset in trials.loc[trials["sweep_id"] == sweep.sweep_id, "dataset"].unique():
            grids.setdefault(dataset, set()).update(counts)
    return {dataset: sorted(counts) for dataset, counts in grids.items()}


def dedupe(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep one row per (trial key, metric, step): the latest by timestamp, then by run start time.

    ``frame`` needs ``timestamp`` and ``run_start`` columns; they are dropped from the result.
    Returns the deduplicated frame and the number of rows dropped.
    """
    ordered = frame.sort_values(["trial_key", "metric", "n_labels", "timestamp", "run_start"], kind="stable")
    kept = ordered.drop_duplicates(["trial_key", "metric", "n_labels"], keep="last")
    dropped = len(frame) - len(kept)
    kept = kept.drop(columns=["timestamp", "run_start"]).sort_values(
        ["dataset", "heuristic", "alpha", "seed", "metric", "n_labels"]
    )
    return kept.reset_index(drop=True)[TIDY_COLUMNS], dropped


def search_tags(data: SweepData) -> pd.DataFrame:
    """One row per trial key of ``data`` with its search tags (empty for a grid).

    Columns :data:`SEARCH_COLUMNS`: trial_key, search_group, setting, setting_index (int),
    stopped_early (bool).
    """
    from mlflow import MlflowClient

    client = MlflowClient(data.tracking_uri)
    wanted = set(data.trials["run_id"])
    rows, token = [], None
    while True:
        page = client.search_runs(
            [data.experiment_id],
            filter_string=f"tags.`{ROLE_TAG}` = '{ROLE_TRIAL}'",
            max_results=1000,
            page_token=token,
        )
        for run in page:
            tags = run.data.tags
            if run.info.run_id not in wanted or SETTING_INDEX_TAG not in tags:
                continue
            rows.append(
                {
                    "run_id": run.info.run_id,
                    "sweep_id": tags.get(SWEEP_ID_TAG, ""),
                    "trial_key": tags.get(TRIAL_KEY_TAG),
                    **{column: tags.get(tag) for tag, column in SEARCH_TAGS.items()},
                }
            )
        token = page.token
        if not token:
            break
    if not rows:
        return pd.DataFrame(columns=SEARCH_COLUMNS)
    table = pd.DataFrame(rows)
    table["setting_index"] = table["setting_index"].astype(int)
    table["stopped_early"] = table["stopped_early_round"].notna()
    # a trial key with several runs (a rerun) is stopped if any of them was
    table = table.groupby("trial_key", as_index=False).agg(
        search_group=("search_group", "first"),
        setting=("setting", "first"),
        setting_index=("setting_index", "first"),
        stopped_early=("stopped_early", "any"),
    )
    return table[SEARCH_COLUMNS]


def settings_tried(data: SweepData) -> dict[str, int]:
    """Search group -> settings the searcher tried, from the parent runs' ``search_settings_tried.<group>``
    metrics (the largest where several sweeps logged one)."""
    from mlflow import MlflowClient

    client = MlflowClient(data.tracking_uri)
    tried: dict[str, int] = {}
    for run_id in data.sweeps.get("parent_run_id", pd.Series(dtype=object)).dropna():
        for name, value in client.get_run(run_id).data.metrics.items():
            if name.startswith(SETTINGS_TRIED_PREFIX):
                group = name.removeprefix(SETTINGS_TRIED_PREFIX)
                tried[group] = max(tried.get(group, 0), int(value))
    return tried


# ------------------------------------------------------------------------------------------------


def _search_all(client, experiment_id: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _is_trial(run) -> bool:
    role = run.data.tags.get(ROLE_TAG)
    return role == ROLE_TRIAL or (role is None and schema.HEURISTIC_PARAM in run.data.params)


def _is_parent(run) -> bool:
    role = run.data.tags.get(ROLE_TAG)
    return role == ROLE_SWEEP or (
        role is None and SWEEP_ID_TAG in run.data.tags and PARENT_RUN_TAG not in run.data.tags
    )


def _trial_table(children: list) -> pd.DataFrame:
    rows = []
    for run in children:
        params, tags, info = run.data.params, run.data.tags, run.info
        required = (schema.DATASET_PARAM, schema.HEURISTIC_PARAM, schema.ALPHA_PARAM, schema.SEED_PARAM)
        missing = [p for p in required if p not in params]
        if missing:
            raise AnalysisError(f"trial run {info.run_id} lacks params {', '.join(missing)}")
        try:
            alpha, seed = float(params[schema.ALPHA_PARAM]), int(params[schema.SEED_PARAM])
        except ValueError as err:
            raise AnalysisError(f"trial run {info.run_id}: bad alpha/seed param ({err})") from None
        uses_vae = params.get(schema.USES_VAE_PARAM, str(alpha > 0)).strip().lower() == "true"
        encoder = params.get(schema.ENCODER_PARAM, "vae") if uses_vae else "none"
        dataset, heuristic = params[schema.DATASET_PARAM], params[schema.HEURISTIC_PARAM]
        key = tags.get(TRIAL_KEY_TAG) or f"{dataset}/{heuristic}/{alpha:g}/{seed}" + (
            f"/{encoder}" if encoder not in ("vae", "none") else ""
        )
        end = info.end_time
        rows.append(
            {
                "run_id": info.run_id,
                "trial_key": key,
                "sweep_id": tags.get(SWEEP_ID_TAG, ""),
                "confirms": tags.get(CONFIRMS_TAG, ""),
                "dataset": dataset,
                "heuristic": heuristic,
                "alpha": alpha,
                "seed": seed,
                "uses_vae": uses_vae,
                "encoder": encoder,
                "alpha_scaling": params.get(ALPHA_SCALING_PARAM, SCALING_BEFORE_PARAM),
                "vae_seed": _int_or_none(params.get(VAE_SEED_PARAM)),
                "eval_split": params.get(EVAL_SPLIT_PARAM, DEFAULT_EVAL_SPLIT),
                "initial_labels_sha256": tags.get(INITIAL_LABELS_TAG),
                "status": info.status,
                "start_time": info.start_time,
                "end_time": end,
                "wall_seconds": (end - info.start_time) / 1000.0 if end and info.start_time else float("nan"),
                **{name: _int_or_none(params.get(child)) for name, (_, child) in BUDGET_PARAMS.items()},
            }
        )
    return pd.DataFrame(rows)


def _histories(client, trials: pd.DataFrame, metrics: Sequence[str] | None, max_workers: int) -> dict:
    """(run_id, metric) -> list of mlflow Metric. Threads: cheap for sqlite, a big win for a server."""
    wanted = list(metrics) if metrics is not None else list(DEFAULT_METRICS)
    jobs = [(run_id, name) for run_id in trials["run_id"] for name in wanted]
    if not jobs:
        return {}
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        results = pool.map(lambda job: client.get_metric_history(*job), jobs)
        return dict(zip(jobs, results, strict=True))


def _tidy(trials: pd.DataFrame, histories: dict) -> pd.DataFrame:
    rows = [
        (run_id, m.key, int(m.step), float(m.value), int(m.timestamp))
        for (run_id, _), points in histories.items()
        for m in points
    ]
    points = pd.DataFrame(rows, columns=["run_id", "metric", "n_labels", "value", "timestamp"])
    cols = [
        "run_id",
        "sweep_id",
        "confirms",
        "trial_key",
        *TRIAL_COLUMNS,
        "uses_vae",
        "encoder",
        "initial_labels_sha256",
        "start_time",
    ]
    return points.merge(trials[cols], on="run_id").rename(columns={"start_time": "run_start"})


def _sweep_table(parents: list, trials: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for run in parents:
        info, params, metrics = run.info, run.data.params, run.data.metrics
        end = info.end_time
        rows.append(
            {
                "sweep_id": run.data.tags.get(SWEEP_ID_TAG, ""),
                "confirms": run.data.tags.get(CONFIRMS_TAG, ""),
                "parent_run_id": info.run_id,
                "start_time": info.start_time,
                "end_time": end,
                "wall_seconds": (end - info.start_time) / 1000.0 if end and info.start_time else float("nan"),
                "vae_trainings": metrics.get(VAE_TRAININGS_METRIC, float("nan")),
                "vae_seconds": metrics.get(VAE_SECONDS_METRIC, float("nan")),
                "sweep_seconds": metrics.get(schema.SWEEP_SECONDS_METRIC, float("nan")),
                **{name: _int_or_none(params.get(parent)) for name, (parent, _) in BUDGET_PARAMS.items()},
                **{name: _int_or_none(params.get(param)) for name, param in SCHEDULE_END_PARAMS.items()},
            }
        )
    sweeps = pd.DataFrame(
        rows,
        columns=[
            "sweep_id",
            "confirms",
            "parent_run_id",
            "start_time",
            "end_time",
            "wall_seconds",
            "vae_trainings",
            "vae_seconds",
            "sweep_seconds",
            *BUDGET_PARAMS,
            *SCHEDULE_END_PARAMS,
        ],
    )
    # A resumed sweep may hold several parent runs for one sweep id; keep the latest.
    sweeps = sweeps.sort_values("start_time").drop_duplicates("sweep_id", keep="last")
    # Sweeps with trials but no parent run still get a row (nothing to log the report to).
    orphans = sorted(set(trials["sweep_id"]) - set(sweeps["sweep_id"]))
    if orphans:
        confirms = trials.drop_duplicates("sweep_id").set_index("sweep_id")["confirms"]
        sweeps = pd.concat(
            [sweeps, pd.DataFrame({"sweep_id": orphans, "confirms": confirms.reindex(orphans).tolist()})],
            ignore_index=True,
        )
    return sweeps[sweeps["sweep_id"].isin(set(trials["sweep_id"]))].reset_index(drop=True)


def _check_budgets(sweeps: pd.DataFrame, trials: pd.DataFrame, frame: pd.DataFrame) -> None:
    """Refuse sweeps whose budgets differ: their curves and areas are not comparable."""
    if trials["sweep_id"].nunique() < 2:
        return
    problems = []
    # 1. Declared budgets (parent and child params), per dataset.
    declared = trials[["sweep_id", "dataset", *BUDGET_PARAMS]].copy()
    if not sweeps.empty:
        parent_budget = sweeps[["sweep_id", *[c for c in BUDGET_PARAMS if c in sweeps]]]
        declared = declared.merge(parent_budget, on="sweep_id", how="left", suffixes=("", "_parent"))
        for name in BUDGET_PARAMS:
            if f"{name}_parent" in declared:
                declared[name] = declared[name].fillna(declared[f"{name}_parent"])
    for dataset, group in declared.groupby("dataset"):
        for name in BUDGET_PARAMS:
            values = group.dropna(subset=[name]).groupby("sweep_id")[name].agg(lambda s: sorted(set(s)))
            distinct = {v for vs in values for v in vs}
            if len(distinct) > 1:
                per = "; ".join(f"{sid}: {', '.join(str(int(v)) for v in vs)}" for sid, vs in values.items())
                problems.append(f"{dataset} {name} differs ({per})")
    # 2. Alpha scaling of the VAE trials: alpha 1 is another weight under raw than under balanced.
    scalings = trials[trials["uses_vae"]].groupby("sweep_id")["alpha_scaling"].agg(lambda s: sorted(set(s)))
    if len({v for vs in scalings for v in vs}) > 1:
        per = "; ".join(f"{sid}: {', '.join(vs)}" for sid, vs in scalings.items())
        problems.append(f"alpha_scaling differs ({per}): the same alpha is another weight")
    # 3. Observed label-count grids: one must be a prefix of the other.
    grids = frame.groupby(["dataset", "sweep_id"])["n_labels"].agg(lambda s: sorted(set(s)))
    for dataset, per_sweep in grids.groupby(level=0):
        items = [(sid, grid) for (_, sid), grid in per_sweep.items()]
        for i, (sid_a, grid_a) in enumerate(items):
            for sid_b, grid_b in items[i + 1 :]:
                k = min(len(grid_a), len(grid_b))
                if grid_a[:k] != grid_b[:k]:
                    problems.append(
                        f"{dataset} label counts differ ({sid_a}: {_grid_text(grid_a)}; {sid_b}: {_grid_text(grid_b)})"
                    )
    if problems:
        raise MixedBudgetsError(
            "runs from sweeps with different budgets are mixed in this experiment: "
            + "; ".join(problems)
            + ". Pick one sweep with --sweep ID."
        )


def _vae_table(client, sweeps: pd.DataFrame, trials: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """The parent runs' ``vae_trainings.json`` rows; a note for each VAE-using sweep without one."""
    rows = []
    vae_sweeps = set(trials.loc[trials["uses_vae"], "sweep_id"])
    for sweep in sweeps.dropna(subset=["parent_run_id"]).itertuples():
        logged = _read_vae_trainings(client, sweep.parent_run_id)
        if logged is None:
            if sweep.sweep_id in vae_sweeps:
                notes.append(
                    f"sweep {sweep.sweep_id} logged no {VAE_TRAININGS_ARTIFACT} (a launcher older than the VAE "
                    "timing): its VAE training seconds are unknown and left out of the runtime totals"
                )
            continue
        for vae in logged:
            seconds = vae.get("seconds")
            rows.append(
                {
                    "sweep_id": sweep.sweep_id,
                    "dataset": vae.get("dataset"),
                    "cache_key": vae.get("cache_key"),
                    "trained_this_run": bool(vae.get("trained_this_run")),
                    "seconds": float(seconds) if seconds is not None else float("nan"),
                    "trials": list(vae.get("trials", [])),
                }
            )
    return pd.DataFrame(rows, columns=VAE_COLUMNS)


def _read_vae_trainings(client, parent_run_id: str) -> list[dict] | None:
    if VAE_TRAININGS_ARTIFACT not in {a.path for a in client.list_artifacts(parent_run_id)}:
        return None
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(parent_run_id, VAE_TRAININGS_ARTIFACT, folder)
        try:
            return list(json.loads(Path(path).read_text())["vaes"])
        except (ValueError, KeyError, TypeError) as err:
            raise AnalysisError(
                f"parent run {parent_run_id}: unreadable {VAE_TRAININGS_ARTIFACT} ({err})"
            ) from None


def _grid_text(grid: list[int]) -> str:
    return ", ".join(str(g) for g in grid[:6]) + (", ..." if len(grid) > 6 else "")


def _int_or_none(value: str | None) -> float | None:
    if value is None or value in ("", "None", "null"):
        return None
    try:
        return float(int(float(value)))
    except ValueError:
        return None
