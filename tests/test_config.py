"""Trial and sweep configs: defaults are the paper's, bad values name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from raysweep.config import TrialConfig, load_trial_config
from raysweep.sweep.config import load_sweep_config
from raysweep.sweep.smoke import smoke
from raysweep.sweep.trials import expand_trials
from raysweep.typed_config import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_defaults_are_the_papers() -> None:
    config = TrialConfig()
    assert (config.training.lr, config.training.momentum, config.training.batch_size) == (1e-3, 0.9, 128)
    assert (config.training.initial_epochs, config.training.epochs_per_round) == (10, 5)
    assert (config.schedule.initial_labels, config.schedule.labels_per_round) == (3000, 3000)
    assert (config.vae.latent_dim, config.vae.epochs, config.vae.lr, config.vae.weight_decay) == (
        32,
        20,
        1e-3,
        5e-3,
    )
    assert config.model.pretrained is True


def test_unknown_key_names_file_and_path(tmp_path: Path) -> None:
    path = write(tmp_path, "training:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError) as error:
        load_trial_config(path)
    assert str(path) in str(error.value) and "training.lrr: unknown key" in str(error.value)


def test_bad_value_and_bad_heuristic(tmp_path: Path) -> None:
    path = write(tmp_path, "alpha: -1\nheuristic: {name: corset}\ndevice: gpu\n")
    with pytest.raises(ConfigError) as error:
        load_trial_config(path)
    message = str(error.value)
    assert "alpha" in message and "greater than or equal to 0" in message
    assert "heuristic" in message and "corset" in message
    assert "device" in message


def test_yaml_error_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_trial_config(write(tmp_path, "training: [1, 2\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_trial_config(tmp_path / "nope.yaml")


def test_alpha_rejected_for_heuristics_without_vae() -> None:
    with pytest.raises(ValueError, match="takes no VAE features"):
        TrialConfig.model_validate({"heuristic": {"name": "entropy"}, "alpha": 0.5})
    assert TrialConfig.model_validate({"heuristic": {"name": "lloss"}, "alpha": 0.5}).uses_vae
    assert not TrialConfig.model_validate({"heuristic": {"name": "coreset"}, "alpha": 0}).uses_vae


def test_trial_list_is_the_valid_combinations() -> None:
    sweep = load_sweep_config(CONFIGS / "quickstart.yaml")
    trials = expand_trials(sweep)
    keys = [t.key for t in trials]
    assert "digits/random/0/0" in keys and "digits/random/0.5/0" not in keys
    # random, entropy once per seed; coreset, medal, lloss once per alpha and seed
    assert len(keys) == len(set(keys)) == 2 * (2 + 3 * 2)
    assert {t.config.alpha for t in trials if t.heuristic == "coreset"} == {0.0, 1.0}


def test_empty_axis_and_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "experiment: x\nsweep: {datasets: [digits], heuristics: [random], seeds: []}\n")
    with pytest.raises(ConfigError, match=r"sweep\.seeds"):
        load_sweep_config(path)
    sweep = load_sweep_config(CONFIGS / "quickstart.yaml", ["training.lr=0.05", "sweep.seeds=[3]"])
    assert sweep.training.lr == 0.05 and sweep.sweep.seeds == [3]
    with pytest.raises(ConfigError, match="unknown key"):
        load_sweep_config(CONFIGS / "quickstart.yaml", ["training.bogus=1"])


@pytest.mark.parametrize("name", ["quickstart.yaml", "alpha_sweep.yaml", "paper.yaml", "strategies.yaml"])
def test_shipped_configs_load_and_smoke_keeps_axes(name: str) -> None:
    sweep = load_sweep_config(CONFIGS / name)
    shrunk = smoke(sweep)
    assert shrunk.sweep.datasets == sweep.sweep.datasets
    assert shrunk.sweep.heuristics == sweep.sweep.heuristics and shrunk.sweep.alphas == sweep.sweep.alphas
    assert shrunk.sweep.seeds == sweep.sweep.seeds[:2]
    assert shrunk.schedule.rounds <= 2 and shrunk.training.initial_epochs <= 6


def test_alpha_scaling_defaults_to_balanced_and_rejects_unknown_modes(tmp_path: Path) -> None:
    assert TrialConfig().alpha_scaling == "balanced"
    assert load_trial_config(write(tmp_path, "alpha_scaling: raw\n")).alpha_scaling == "raw"
    with pytest.raises(ConfigError) as error:
        load_trial_config(write(tmp_path, "alpha_scaling: equal\n"))
    assert "alpha_scaling" in str(error.value) and "balanced" in str(error.value)


@pytest.mark.parametrize("written", ["vae_only", "inf", ".inf", "VAE_ONLY"])
def test_vae_only_end_of_the_alpha_axis(tmp_path: Path, written: str) -> None:
    config = load_trial_config(write(tmp_path, f"heuristic: {{name: medal}}\nalpha: {written}\n"))
    assert config.alpha == float("inf") and config.uses_vae
    with pytest.raises(ConfigError, match="VAE features alone"):
        load_trial_config(write(tmp_path, f"heuristic: {{name: lloss}}\nalpha: {written}\n"))
    with pytest.raises(ConfigError, match="alpha"):
        load_trial_config(write(tmp_path, "heuristic: {name: medal}\nalpha: .nan\n"))


def test_sweep_alphas_take_vae_only_and_lloss_skips_it(tmp_path: Path) -> None:
    sweep = load_sweep_config(
        CONFIGS / "quickstart.yaml",
        ["sweep.heuristics=[coreset, lloss]", "sweep.alphas=[0, 1, vae_only]", "alpha_scaling=raw"],
    )
    keys = [t.key for t in expand_trials(sweep)]
    assert "digits/coreset/inf/0" in keys and "digits/lloss/1/0" in keys
    assert not any(k.startswith("digits/lloss/inf") for k in keys)
    assert all(t.config.alpha_scaling == "raw" for t in expand_trials(sweep))
    with pytest.raises(ConfigError, match="alphas"):
        load_sweep_config(CONFIGS / "quickstart.yaml", ["sweep.alphas=[0, -1]"])
