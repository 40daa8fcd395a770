"""Trial configs: defaults are the paper's, bad values name the file and the field."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from raysweep.config import (
    CVAEEncoderConfig,
    DatasetConfig,
    GMVAEEncoderConfig,
    TrialConfig,
    VAEEncoderConfig,
    load_trial_config,
    parse_alpha,
)
from raysweep.typed_config import ConfigError


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
    assert config.encoder == VAEEncoderConfig() and config.heuristic.name == "random"
    assert config.alpha == 0 and not config.uses_vae and config.device == "auto"


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


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1"])
def test_device_forms(device: str) -> None:
    assert TrialConfig(device=device).device == device


def test_dataset_name_is_stripped_and_not_blank() -> None:
    assert DatasetConfig(name="  digits ").name == "digits"
    with pytest.raises(ValueError, match="dataset name must not be empty"):
        DatasetConfig(name="   ")


def test_alpha_rejected_for_heuristics_without_vae() -> None:
    with pytest.raises(ValueError, match="takes no VAE features"):
        TrialConfig.model_validate({"heuristic": {"name": "entropy"}, "alpha": 0.5})
    assert TrialConfig.model_validate({"heuristic": {"name": "lloss"}, "alpha": 0.5}).uses_vae
    assert not TrialConfig.model_validate({"heuristic": {"name": "coreset"}, "alpha": 0}).uses_vae


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
    assert parse_alpha(" Inf ") == math.inf and parse_alpha("0.5") == "0.5" and parse_alpha(2) == 2


def test_encoder_configs() -> None:
    assert GMVAEEncoderConfig().components == 10
    with pytest.raises(ValueError, match="components"):
        GMVAEEncoderConfig(components=0)
    with pytest.raises(ValueError, match="vampprior"):
        TrialConfig.model_validate({"encoder": {"name": "vampprior"}})
    config = TrialConfig.model_validate({"encoder": {"name": "cvae"}, "heuristic": {"name": "coreset"}})
    assert config.encoder == CVAEEncoderConfig() and not config.uses_vae  # unused at alpha 0
