"""The run schema: every name defined once, none spelled twice, and none of the names earlier sweeps
were logged with ever renamed (the module's promise: old sweeps stay readable)."""

from __future__ import annotations

import raysweep.schema as schema

TAGS = {name: value for name, value in vars(schema).items() if name.endswith("_TAG")}
PARAMS = {name: value for name, value in vars(schema).items() if name.endswith("_PARAM")}
METRICS = {name: value for name, value in vars(schema).items() if name.endswith("_METRIC")}
ARTIFACTS = {name: value for name, value in vars(schema).items() if name.endswith(("_ARTIFACT", "_DIR"))}
PREFIXES = {name: value for name, value in vars(schema).items() if name.endswith("_PREFIX")}

LOGGED_BY_EARLIER_SWEEPS = {
    "tags": {
        "raysweep.sweep_id",
        "raysweep.role",
        "raysweep.trials",
        "mlflow.parentRunId",
        "raysweep.trial_key",
        "raysweep.heuristic",
        "raysweep.alpha",
        "raysweep.encoder",
        "raysweep.initial_labels_sha256",
        "raysweep.node_id",
        "raysweep.error",
        "raysweep.search_group",
        "raysweep.setting",
        "raysweep.setting_index",
        "raysweep.stopped_early",
    },
    "round metrics": {"accuracy", "auc", "train_seconds", "selection_seconds", "vae_share", "plain_overlap"},
    "sweep metrics": {"vae_trainings", "vae_cache_hits", "trials_finished", "trials_failed", "sweep_seconds"},
    "artifacts": {"picks.npz", "curve.csv", "sweep_config.yaml", "vae_trainings.json", "search.json"},
    "trial params": {
        "dataset",
        "heuristic",
        "alpha",
        "seed",
        "uses_vae",
        "initial_labels",
        "labels_per_round",
    },
}
"""Written out on purpose: a rename in ``raysweep.schema`` must fail here, not in a reader of old sweeps."""


def test_no_name_is_used_for_two_things() -> None:
    assert len(set(TAGS.values())) == len(TAGS), TAGS
    for names in (schema.ROUND_METRICS, schema.SWEEP_METRICS, schema.TRIAL_PARAMS, schema.SWEEP_PARAMS):
        assert len(set(names)) == len(names), names
    assert not set(schema.ROUND_METRICS) & set(schema.SWEEP_METRICS)
    assert len(set(ARTIFACTS.values())) == len(ARTIFACTS)


def test_groups_are_made_of_the_names_defined_here() -> None:
    assert set(schema.DIAGNOSTIC_METRICS) <= set(schema.ROUND_METRICS)
    assert set(schema.SEARCH_TRIAL_TAGS) <= set(TAGS.values())
    assert schema.VAE_TRAININGS_METRIC in schema.SWEEP_METRICS
    assert set(schema.SCHEDULE_PARAMS) | {schema.POOL_SIZE_PARAM} | set(schema.AXIS_PARAMS) < set(
        schema.SWEEP_PARAMS
    )
    assert schema.ALPHA_SCALING_PARAM.startswith(schema.CONFIG_PARAM_PREFIX)
    assert schema.ROUND_INDEX_METRIC not in schema.ROUND_METRICS  # logged beside them, not one of them
    assert schema.ROLE_SWEEP != schema.ROLE_TRIAL


def test_prefixes_end_where_the_name_they_prefix_begins() -> None:
    # Namespaces end with a dot; the one word prefix (the validation split's) with an underscore.
    namespaces = {name: value for name, value in PREFIXES.items() if name != "VALIDATION_PREFIX"}
    assert namespaces and all(value.endswith(".") for value in namespaces.values()), namespaces
    assert schema.VALIDATION_PREFIX == "val_" and schema.VAL_ACCURACY == "val_accuracy"
    assert schema.VAL_AUC == "val_auc" and {schema.VAL_ACCURACY, schema.VAL_AUC} <= set(schema.ROUND_METRICS)
    assert all(prefix.endswith(".") for prefix in schema.SEARCH_GROUP_METRIC_PREFIXES)


def test_names_earlier_sweeps_were_logged_with_are_still_here() -> None:
    assert LOGGED_BY_EARLIER_SWEEPS["tags"] <= set(TAGS.values())
    assert LOGGED_BY_EARLIER_SWEEPS["round metrics"] <= set(schema.ROUND_METRICS)
    assert LOGGED_BY_EARLIER_SWEEPS["sweep metrics"] <= set(schema.SWEEP_METRICS)
    assert LOGGED_BY_EARLIER_SWEEPS["artifacts"] <= set(ARTIFACTS.values())
    assert LOGGED_BY_EARLIER_SWEEPS["trial params"] <= set(schema.TRIAL_PARAMS)
    assert schema.TRIAL_CONFIG_KEY == "trial" and schema.RESULT_AREA == "area_under_curve"
