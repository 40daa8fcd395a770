"""A sweep's trials: the valid combinations of its axes, each with its key and whole trial config."""

from __future__ import annotations

import pytest
from helpers.paths import QUICKSTART

from raysweep.config import GMVAEEncoderConfig
from raysweep.sweep.config import SweepConfig, load_sweep_config
from raysweep.sweep.trials import expand_trials, format_alpha, trial_key
from raysweep.typed_config import ConfigError


def sweep_config(**axes) -> SweepConfig:
    return SweepConfig.model_validate(
        {
            "experiment": "x",
            "sweep": {
                "datasets": ["digits"],
                "heuristics": ["random", "coreset"],
                "alphas": [0, 1],
                "seeds": [0, 1],
                **axes,
            },
            "training": {"lr": 0.05},
        }
    )


def test_trial_list_is_the_valid_combinations() -> None:
    sweep = load_sweep_config(QUICKSTART)
    trials = expand_trials(sweep)
    keys = [t.key for t in trials]
    assert "digits/random/0/0" in keys and "digits/random/0.5/0" not in keys
    # random, entropy once per seed; coreset, medal, lloss once per alpha and seed
    assert len(keys) == len(set(keys)) == 2 * (2 + 3 * 2)
    assert {t.config.alpha for t in trials if t.heuristic == "coreset"} == {0.0, 1.0}


def test_every_trial_carries_the_sweep_s_shared_settings() -> None:
    sweep = sweep_config()
    for trial in expand_trials(sweep):
        config = trial.config
        assert config.training.lr == 0.05 and config.dataset.name == trial.dataset == "digits"
        assert (config.schedule, config.model) == (sweep.schedule, sweep.model)
        # vae.seed: trial (the default): each seed trains its own VAE, so the error bars include it.
        assert config.vae == sweep.vae.for_trial(config.seed) and config.vae.seed == config.seed
        assert trial.key == trial_key(trial.dataset, trial.heuristic, config.alpha, config.seed)
        assert trial.encoder == ("vae" if config.alpha > 0 else None)


def test_keys_print_alpha_short_and_name_a_non_default_encoder() -> None:
    assert format_alpha(0.0) == "0" and format_alpha(0.25) == "0.25" and format_alpha(float("inf")) == "inf"
    assert trial_key("digits", "coreset", 1.0, 3) == "digits/coreset/1/3"
    assert trial_key("digits", "coreset", 1.0, 3, "gmvae") == "digits/coreset/1/3/gmvae"


def test_sweep_alphas_take_vae_only_and_lloss_skips_it() -> None:
    sweep = load_sweep_config(
        QUICKSTART,
        ["sweep.heuristics=[coreset, lloss]", "sweep.alphas=[0, 1, vae_only]", "alpha_scaling=raw"],
    )
    keys = [t.key for t in expand_trials(sweep)]
    assert "digits/coreset/inf/0" in keys and "digits/lloss/1/0" in keys
    assert not any(k.startswith("digits/lloss/inf") for k in keys)
    assert all(t.config.alpha_scaling == "raw" for t in expand_trials(sweep))
    with pytest.raises(ConfigError, match="alphas"):
        load_sweep_config(QUICKSTART, ["sweep.alphas=[0, -1]"])


def test_encoders_axis_keys_and_the_shared_alpha_zero_arm() -> None:
    default = [t.key for t in expand_trials(sweep_config())]
    assert default == [
        "digits/random/0/0",
        "digits/random/0/1",
        "digits/coreset/0/0",
        "digits/coreset/0/1",
        "digits/coreset/1/0",
        "digits/coreset/1/1",
    ]  # the keys of vae sweeps are what they were before the axis existed
    trials = expand_trials(sweep_config(encoders=["vae", {"name": "gmvae", "components": 4}, "cvae"]))
    keys = [t.key for t in trials]
    assert len(keys) == 2 + 2 + 3 * 2  # alpha 0 once, alpha 1 per encoder
    assert keys[:4] == default[:4]
    assert keys[4:] == [
        "digits/coreset/1/0",
        "digits/coreset/1/1",
        "digits/coreset/1/0/gmvae",
        "digits/coreset/1/1/gmvae",
        "digits/coreset/1/0/cvae",
        "digits/coreset/1/1/cvae",
    ]
    by_key = {t.key: t for t in trials}
    assert by_key["digits/coreset/1/0/gmvae"].config.encoder == GMVAEEncoderConfig(components=4)
    assert (
        by_key["digits/coreset/0/0"].encoder is None and by_key["digits/coreset/1/0/cvae"].encoder == "cvae"
    )
