"""Every name outside code reads: MLflow's tags, params, metrics and artifacts, and Tune's result keys.

The one definition of raysweep's run schema. The shell writes it (``raysweep.shell.tracking``, the
trainable, the launcher), ``analysis`` reads it, and neither spells a name itself. Names are only
ever added, never renamed: sweeps logged by earlier versions stay readable.

Layout of a sweep in MLflow:

- one parent run per sweep: tags :data:`SWEEP_ID_TAG`, :data:`ROLE_TAG` = :data:`ROLE_SWEEP`,
  :data:`TRIALS_TAG`; the :data:`SWEEP_PARAMS` (budgets and axes; a search adds ``search.*``); the
  resolved config as :data:`SWEEP_CONFIG_ARTIFACT`; at the end the :data:`SWEEP_METRICS`,
  :data:`VAE_SECONDS_METRIC` and :data:`VAE_TRAININGS_ARTIFACT` (one row per pool encoder: dataset,
  vae and encoder configs, cache_key, trained_this_run, seconds, the keys of the trials that used it);
  a search's outcome (:data:`SEARCH_OUTCOME_ARTIFACT`, per-group metrics and best-setting tags); the
  analysis report under :data:`ANALYSIS_ARTIFACT_DIR`.
- one child run per trial: tags :data:`PARENT_RUN_TAG`, :data:`SWEEP_ID_TAG`, :data:`ROLE_TAG` =
  :data:`ROLE_TRIAL`, :data:`TRIAL_KEY_TAG` (``dataset/heuristic/alpha/seed``, ``/encoder`` appended
  when not ``vae``), :data:`HEURISTIC_TAG`, :data:`ALPHA_TAG`, :data:`ENCODER_TAG`,
  :data:`INITIAL_LABELS_TAG`, :data:`NODE_TAG`, :data:`ERROR_TAG` (why a FAILED run failed); the
  :data:`TRIAL_PARAMS` and the whole resolved trial config flattened under :data:`CONFIG_PARAM_PREFIX`;
  the :data:`ROUND_METRICS` with step = number of labels, and :data:`ROUND_INDEX_METRIC`; at the end
  :data:`TRACKING_SECONDS_METRIC`; artifacts :data:`PICKS_ARTIFACT`, :data:`CURVE_ARTIFACT`. A search's
  trials carry the :data:`SEARCH_TRIAL_TAGS`, and one stopped early :data:`STOPPED_EARLY_TAG`.

Which round metrics appear where: ``auc`` where it is defined; ``encoder_seconds`` in every round
that reads VAE features (a ``cvae`` retraining, or the wait for the store's array); in every
selecting round of a trial that uses VAE features ``task_feature_spread``, ``vae_feature_spread``
(RMS distance to the pool centroid of each block as the heuristic sees it, after scaling and alpha),
``vae_share`` (the VAE block's fraction of the squared distances; for loss prediction of its head
input's spread), ``equivalent_raw_alpha`` (core-set, MedAL), and for heuristics whose model does not
depend on alpha ``plain_overlap`` (fraction of the round's picks the same heuristic at alpha 0 picks
on the same model) with ``diagnostics_seconds``, and for those that draw at random (BADGE, TypiClust)
``plain_overlap_baseline`` (the same fraction for the plain heuristic under another selection seed);
core-set and MedAL also ``vae_share_of_pick_distances``.
"""

from __future__ import annotations

# --------------------------------------------------------------------------------------------
# Tags
# --------------------------------------------------------------------------------------------

SWEEP_ID_TAG = "raysweep.sweep_id"
ROLE_TAG = "raysweep.role"
ROLE_SWEEP = "sweep"
ROLE_TRIAL = "trial"
TRIALS_TAG = "raysweep.trials"
"""Parent run: how many trials the sweep planned."""
PARENT_RUN_TAG = "mlflow.parentRunId"
"""MLflow's own tag that nests a trial's run under its sweep's run in the UI."""

TRIAL_KEY_TAG = "raysweep.trial_key"
HEURISTIC_TAG = "raysweep.heuristic"
ALPHA_TAG = "raysweep.alpha"
ENCODER_TAG = "raysweep.encoder"
INITIAL_LABELS_TAG = "raysweep.initial_labels_sha256"
"""SHA-256 of the trial's initial labels: runs compared by seed must carry the same one."""
NODE_TAG = "raysweep.node_id"
"""The Ray node the trial (last) ran on."""
ERROR_TAG = "raysweep.error"

SEARCH_GROUP_TAG = "raysweep.search_group"
"""``dataset/heuristic``: the settings searched together."""
SETTING_TAG = "raysweep.setting"
"""``alpha=0.371326,vae.latent_dim=16``."""
SETTING_INDEX_TAG = "raysweep.setting_index"
"""1, 2, ... in the searcher's order; 0 for the alpha-0 reference."""
STOPPED_EARLY_TAG = "raysweep.stopped_early"
"""On a trial stopped by early stopping: its last round (the run is KILLED)."""
SEARCH_TRIAL_TAGS = (SEARCH_GROUP_TAG, SETTING_TAG, SETTING_INDEX_TAG)
CONFIRMS_TAG = "raysweep.confirms"
"""On a confirmation's parent and trial runs: the id of the sweep whose choice they confirm on fresh
seeds (``--confirm``). Runs without it are a sweep's own (the choice's: selection results)."""
CHOSEN_TAG_PREFIX = "raysweep.chosen."
"""Confirmation parent run, one per group (``raysweep.chosen.<dataset>/<heuristic>``): the chosen arm."""
SEARCH_BEST_TAG_PREFIX = "raysweep.search.best."
"""Parent run, one per search group: the best setting's label."""

# --------------------------------------------------------------------------------------------
# Params
# --------------------------------------------------------------------------------------------

DATASET_PARAM = "dataset"
HEURISTIC_PARAM = "heuristic"
ALPHA_PARAM = "alpha"
SEED_PARAM = "seed"
ENCODER_PARAM = "encoder"
"""The trial config's encoder (``vae`` at alpha 0, where it is unused)."""
USES_VAE_PARAM = "uses_vae"
TRIAL_INITIAL_LABELS_PARAM = "initial_labels"
TRIAL_LABELS_PER_ROUND_PARAM = "labels_per_round"
TRIAL_POOL_SIZE_PARAM = "pool_size"
"""Read only: a trial param of the earliest launchers, which the analysis still accepts."""
TRIAL_PARAMS = (
    DATASET_PARAM,
    HEURISTIC_PARAM,
    ALPHA_PARAM,
    SEED_PARAM,
    ENCODER_PARAM,
    USES_VAE_PARAM,
    TRIAL_INITIAL_LABELS_PARAM,
    TRIAL_LABELS_PER_ROUND_PARAM,
)
"""A trial run's own params besides its flattened config."""
CONFIG_PARAM_PREFIX = "config."
"""A trial run's whole resolved config, flattened: ``config.training.lr``, ``config.alpha_scaling``, ..."""
ALPHA_SCALING_PARAM = CONFIG_PARAM_PREFIX + "alpha_scaling"
VAE_SEED_PARAM = CONFIG_PARAM_PREFIX + "vae.seed"
"""The trial's pool-encoder seed, resolved: the trial's seed under ``vae.seed: trial`` (one encoder per
seed), or the sweep's one integer for every seed."""
EVAL_SPLIT_PARAM = CONFIG_PARAM_PREFIX + "dataset.eval_split"
"""The split :data:`TEST_METRIC` is measured on (``test`` unless the config said ``val``)."""

INITIAL_LABELS_PARAM = "schedule.initial_labels"
LABELS_PER_ROUND_PARAM = "schedule.labels_per_round"
ROUNDS_PARAM = "schedule.rounds"
MAX_LABELS_PARAM = "schedule.max_labels"
SCHEDULE_PARAMS = (INITIAL_LABELS_PARAM, LABELS_PER_ROUND_PARAM, ROUNDS_PARAM, MAX_LABELS_PARAM)
POOL_SIZE_PARAM = "dataset.pool_size"
DATASETS_PARAM = "datasets"
HEURISTICS_PARAM = "heuristics"
ALPHAS_PARAM = "alphas"
SEEDS_PARAM = "seeds"
ENCODERS_PARAM = "encoders"
AXIS_PARAMS = (DATASETS_PARAM, HEURISTICS_PARAM, ALPHAS_PARAM, SEEDS_PARAM, ENCODERS_PARAM)
TRIALS_PARAM = "trials"
SWEEP_PARAMS = (*SCHEDULE_PARAMS, POOL_SIZE_PARAM, *AXIS_PARAMS, TRIALS_PARAM)
"""The parent run's params (values: the sweep's; an unset field logs ``None``)."""
CONFIRMS_PARAM = "confirms"
CONFIRM_SEEDS_PARAM = "confirm_seeds"
CHOSEN_BY_PARAM = "chosen_by"
CONFIRMATION_PARAMS = (CONFIRMS_PARAM, CONFIRM_SEEDS_PARAM, CHOSEN_BY_PARAM)
"""A confirmation's parent run: which sweep it confirms, on which seeds, chosen by what."""
SEARCH_PARAM_PREFIX = "search."

# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------

VALIDATION_PREFIX = "val_"
"""``val_<metric>`` is ``<metric>`` on the validation split."""
ACCURACY = "accuracy"
"""Accuracy on ``dataset.eval_split`` (test in every shipped config): the held-out result."""
AUC = "auc"
VAL_ACCURACY = VALIDATION_PREFIX + ACCURACY
"""Accuracy on the validation split: what choosing reads."""
VAL_AUC = VALIDATION_PREFIX + AUC
TRAIN_ACCURACY = "train_accuracy"
"""Accuracy on the labeled set after the round's training (the paper trains until > 0.99)."""
TRAIN_EPOCHS = "train_epochs"
TRAIN_SECONDS = "train_seconds"
SELECTION_SECONDS = "selection_seconds"
EVAL_SECONDS = "eval_seconds"
INFERENCE_SECONDS = "inference_seconds"
"""The pool inference inside ``selection_seconds``."""
ENCODER_SECONDS = "encoder_seconds"
TASK_FEATURE_SPREAD = "task_feature_spread"
VAE_FEATURE_SPREAD = "vae_feature_spread"
VAE_SHARE = "vae_share"
EQUIVALENT_RAW_ALPHA = "equivalent_raw_alpha"
PLAIN_OVERLAP = "plain_overlap"
PLAIN_OVERLAP_BASELINE = "plain_overlap_baseline"
"""``plain_overlap`` of the plain heuristic against itself under another selection seed (heuristics
that draw at random; 1 by construction, and not logged, for the deterministic ones)."""
VAE_SHARE_OF_PICK_DISTANCES = "vae_share_of_pick_distances"
DIAGNOSTICS_SECONDS = "diagnostics_seconds"
ROUND_METRICS = (
    ACCURACY,
    AUC,
    VAL_ACCURACY,
    VAL_AUC,
    TRAIN_ACCURACY,
    TRAIN_EPOCHS,
    TRAIN_SECONDS,
    SELECTION_SECONDS,
    EVAL_SECONDS,
    INFERENCE_SECONDS,
    ENCODER_SECONDS,
    TASK_FEATURE_SPREAD,
    VAE_FEATURE_SPREAD,
    VAE_SHARE,
    EQUIVALENT_RAW_ALPHA,
    PLAIN_OVERLAP,
    PLAIN_OVERLAP_BASELINE,
    VAE_SHARE_OF_PICK_DISTANCES,
    DIAGNOSTICS_SECONDS,
)
"""Per-round metrics of a trial run, logged at step = number of labels."""
TEST_METRIC = ACCURACY
"""The held-out result."""
VALIDATION_METRIC = VAL_ACCURACY
"""What choosing reads (a search's objective, the report's best alpha): the validation split."""
ROUND_INDEX_METRIC = "round"
"""Logged beside the round metrics: the round's index."""
DIAGNOSTIC_METRICS = (
    VAE_SHARE,
    PLAIN_OVERLAP,
    PLAIN_OVERLAP_BASELINE,
    VAE_SHARE_OF_PICK_DISTANCES,
    DIAGNOSTICS_SECONDS,
)
"""Round metrics that only trials with VAE features log: how much the VAE block weighed."""
TRACKING_SECONDS_METRIC = "tracking_seconds"
"""A trial's time in MLflow calls, logged once at its end."""


def area_metric(metric: str) -> str:
    """The trial-end metric holding the normalised area under ``metric``'s curve: ``accuracy_area``."""
    return f"{metric}_area"


def final_metric(metric: str) -> str:
    """The trial-end metric holding ``metric`` at the last label count: ``final_accuracy``."""
    return f"final_{metric}"


SUMMARISED_METRICS = (TEST_METRIC, VALIDATION_METRIC)
TRIAL_SUMMARY_METRICS = tuple(
    name for metric in SUMMARISED_METRICS for name in (area_metric(metric), final_metric(metric))
)
"""One number per trial, logged at its end (step 0), for the MLflow UI's compare views (sort,
scatter and parallel coordinates of alpha against the outcome): the normalised area under the test
and validation accuracy curves (``raysweep.curves``) and the last round's values."""

VAE_TRAININGS_METRIC = "vae_trainings"
"""Pool-encoder trainings this run (its first name, kept for readers of older sweeps)."""
VAE_CACHE_HITS_METRIC = "vae_cache_hits"
ENCODER_TRAININGS_METRIC = "encoder_trainings"
ENCODER_CACHE_HITS_METRIC = "encoder_cache_hits"
TRIALS_FINISHED_METRIC = "trials_finished"
TRIALS_FAILED_METRIC = "trials_failed"
SWEEP_SECONDS_METRIC = "sweep_seconds"
SWEEP_METRICS = (
    VAE_TRAININGS_METRIC,
    VAE_CACHE_HITS_METRIC,
    ENCODER_TRAININGS_METRIC,
    ENCODER_CACHE_HITS_METRIC,
    TRIALS_FINISHED_METRIC,
    TRIALS_FAILED_METRIC,
    SWEEP_SECONDS_METRIC,
)
"""The parent run's metrics at the end of each driver run (plus ``encoder_trainings.<name>``)."""
ENCODER_TRAININGS_PREFIX = "encoder_trainings."
VAE_SECONDS_METRIC = "vae_seconds"
"""Training seconds of every pool encoder the sweep's trials used (trained now or read from the cache)."""
SEARCH_SETTINGS_TRIED_METRIC = "search_settings_tried"
SEARCH_GROUP_METRIC_PREFIXES = (
    "search_settings_tried.",
    "search_best_objective.",
    "search_reference_objective.",
)
"""Parent run, one metric per search group (``<prefix><dataset>/<heuristic>``)."""

# --------------------------------------------------------------------------------------------
# Artifacts
# --------------------------------------------------------------------------------------------

PICKS_ARTIFACT = "picks.npz"
"""A trial's picks: ``round_0`` the initial labels, ``round_r`` the points bought in round r."""
CURVE_ARTIFACT = "curve.csv"
SWEEP_CONFIG_ARTIFACT = "sweep_config.yaml"
VAE_TRAININGS_ARTIFACT = "vae_trainings.json"
SEARCH_OUTCOME_ARTIFACT = "search.json"
CHOICE_ARTIFACT = "choice.json"
"""Confirmation parent run: every arm's score per seed, and the arm chosen per group."""
ANALYSIS_ARTIFACT_DIR = "analysis"

# --------------------------------------------------------------------------------------------
# Tune: a trial's config and its per-round result
# --------------------------------------------------------------------------------------------

TRIAL_CONFIG_KEY = "trial"
"""The trial key in a Tune trial's config (the only thing Tune's param space carries)."""
PROPOSAL_CONFIG_KEY = "search"
"""A searched trial's proposal in its Tune config: ``{group, setting, seed, values}``."""
RESULT_ROUND = "round"
RESULT_ROUNDS = "rounds"
"""The trajectory's length: a result whose round is the last one is a finished trajectory."""
RESULT_N_LABELS = "n_labels"
RESULT_AREA = "area_under_curve"
"""Normalised area under the test accuracy curve so far."""
RESULT_OBJECTIVE = "objective"
"""A search's objective over the curve so far."""
