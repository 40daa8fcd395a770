"""Sweep configs: the shipped files load, ``--set`` overrides, bad axes name the file and the field,
and the digest that tells a sweep apart (stable for sweeps started before an axis existed)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from helpers.paths import CONFIGS, QUICKSTART

from raysweep.data import load_dataset
from raysweep.schedule import label_schedule
from raysweep.sweep.config import SweepConfig, apply_overrides, config_digest, load_sweep_config
from raysweep.sweep.trials import expand_trials
from raysweep.typed_config import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    return path


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
        }
    )


@pytest.mark.parametrize(
    "name",
    [
        "quickstart.yaml",
        "alpha_sweep.yaml",
        "alpha_search.yaml",
        "paper.yaml",
        "strategies.yaml",
        "encoders.yaml",
    ],
)
def test_shipped_configs_load(name: str) -> None:
    sweep = load_sweep_config(CONFIGS / name)
    assert sweep.experiment and expand_trials(sweep)


def test_quickstart_keeps_every_heuristic_and_two_seeds() -> None:
    sweep = load_sweep_config(QUICKSTART)
    trials = expand_trials(sweep)
    assert {t.heuristic for t in trials} == {"random", "entropy", "coreset", "medal", "lloss"}
    assert len(sweep.sweep.seeds) >= 2
    assert sweep.training.recalibrate_batchnorm
    dataset = load_dataset(trials[0].config.dataset)
    assert label_schedule(sweep.schedule, dataset.n_pool) == [100, 250, 400]


def test_empty_axis_and_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "experiment: x\nsweep: {datasets: [digits], heuristics: [random], seeds: []}\n")
    with pytest.raises(ConfigError, match=r"sweep\.seeds"):
        load_sweep_config(path)
    sweep = load_sweep_config(QUICKSTART, ["training.lr=0.05", "sweep.seeds=[3]"])
    assert sweep.training.lr == 0.05 and sweep.sweep.seeds == [3]
    with pytest.raises(ConfigError, match="unknown key"):
        load_sweep_config(QUICKSTART, ["training.bogus=1"])


def test_overrides_are_yaml_values_on_dotted_paths() -> None:
    data = apply_overrides(
        {"training": {"lr": 1}}, ["training.lr=0.5", "sweep.alphas=[0, 1]", "a.b.c=true"], "x"
    )
    assert data == {"training": {"lr": 0.5}, "sweep": {"alphas": [0, 1]}, "a": {"b": {"c": True}}}
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides({}, ["training.lr"], "x")
    with pytest.raises(ConfigError, match="not valid YAML"):
        apply_overrides({}, ["a=[1, 2"], "x")
    with pytest.raises(ConfigError, match=r"x: --set training\.lr\.deep: 'lr' is not a mapping"):
        apply_overrides({"training": {"lr": 1}}, ["training.lr.deep=2"], "x")


def test_axes_refuse_duplicates_and_a_heuristic_twice(tmp_path: Path) -> None:
    for axis in ("seeds: [0, 0]", "alphas: [0, 0.0]"):
        path = write(
            tmp_path, f"experiment: x\nsweep: {{datasets: [digits], heuristics: [random], {axis}}}\n"
        )
        if "seeds" not in axis:
            path.write_text(path.read_text().replace("}", ", seeds: [0]}"))
        with pytest.raises(ConfigError, match="duplicate entries"):
            load_sweep_config(path)
    twice = write(
        tmp_path, "experiment: x\nsweep: {datasets: [digits], heuristics: [random, random], seeds: [0]}\n"
    )
    with pytest.raises(ConfigError, match="the same heuristic twice"):
        load_sweep_config(twice)


def test_encoders_axis_errors(tmp_path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "experiment: x\nsweep: {datasets: [digits], heuristics: [coreset], seeds: [0], encoders: [vae, vampprior]}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_sweep_config(path)
    assert (
        str(path) in str(error.value)
        and "vampprior" in str(error.value)
        and "sweep.encoders" in str(error.value)
    )
    path.write_text(
        "experiment: x\nsweep: {datasets: [digits], heuristics: [coreset], seeds: [0], encoders: [gmvae, gmvae]}\n"
    )
    with pytest.raises(ConfigError, match="encoder twice"):
        load_sweep_config(path)
    path.write_text(
        "experiment: x\nsweep: {datasets: [digits], heuristics: [coreset], seeds: [0], encoders: []}\n"
    )
    with pytest.raises(ConfigError, match=r"sweep\.encoders"):
        load_sweep_config(path)


def test_a_search_runs_one_encoder(tmp_path: Path) -> None:
    from helpers.search import LOG_ALPHA, write_search_sweep

    path = write_search_sweep(tmp_path, LOG_ALPHA)
    with pytest.raises(ConfigError, match=r"sweep.encoders: a search runs its settings with one encoder"):
        load_sweep_config(path, ["sweep.encoders=[vae, gmvae]"])
    assert load_sweep_config(path, ["sweep.encoders=[gmvae]"]).sweep.encoders[0].name == "gmvae"


def test_sweep_device_is_checked_like_a_trial_s() -> None:
    with pytest.raises(ValueError, match="device must be auto, cpu, cuda or cuda:N"):
        SweepConfig.model_validate(
            {
                "experiment": "x",
                "sweep": {"datasets": ["d"], "heuristics": ["random"], "seeds": [0]},
                "device": "gpu",
            }
        )


def test_digest_of_a_default_sweep_ignores_the_new_axis() -> None:
    """Sweeps started before the axis existed resume: their digest is that of the dump without it."""
    sweep = sweep_config()
    data = sweep.model_dump(mode="json")
    del data["sweep"]["encoders"]
    del data["sweep"]["search"]  # the search block (issue 14) is left out the same way while unset
    del data["sweep"]["confirm_seeds"]  # and so are the confirmation's seeds (issue 22)
    before_the_axis = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
    assert config_digest(sweep) == config_digest(sweep_config(encoders=["vae"])) == before_the_axis
    assert config_digest(sweep_config(encoders=["vae", "gmvae"])) != before_the_axis


def test_grid_digest_leaves_the_absent_search_out() -> None:
    """A grid started before searches existed must still --resume: its digest ignores search: None."""
    sweep = load_sweep_config(QUICKSTART)
    data = sweep.model_dump(mode="json")
    assert data["sweep"].pop("search") is None
    data["sweep"].pop("encoders")  # the encoders axis at its default is left out as well
    assert data["sweep"].pop("confirm_seeds") is None  # as are unset confirmation seeds
    expected = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
    assert config_digest(sweep) == expected
    assert config_digest(load_sweep_config(QUICKSTART, ["training.lr=0.5"])) != expected
