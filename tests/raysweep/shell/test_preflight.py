"""Every check before Ray starts: absolute paths (or a storage URI) everywhere, the tracking URI from
the flag, the environment or the config, each dataset loaded once and the schedule, weights and
devices checked, an unreachable address refused fast."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from helpers.paths import QUICKSTART
from helpers.processes import free_port

from raysweep.models.resnet import WeightsError
from raysweep.shell.cli import parse_args
from raysweep.shell.exit_codes import LaunchError
from raysweep.shell.preflight import check_inputs, check_reachable, resolve_paths
from raysweep.sweep.config import SweepConfig, load_sweep_config
from raysweep.sweep.trials import expand_trials


def sweep(**fields) -> SweepConfig:
    axes = fields.pop("axes", {})
    return SweepConfig.model_validate(
        {
            "experiment": "x",
            "sweep": {"datasets": ["digits"], "heuristics": ["random"], "seeds": [0], **axes},
            "model": {"pretrained": False},
            "schedule": {"initial_labels": 10, "labels_per_round": 10, "rounds": 1},
            **fields,
        }
    )


def args(**given) -> argparse.Namespace:
    return argparse.Namespace(**{"storage": None, "tracking_uri": None, **given})


def quickstart(*flags: str, overrides: tuple[str, ...] = ()) -> SweepConfig:
    """The quickstart config resolved as the command line ``CONFIG *flags`` resolves it."""
    return resolve_paths(
        load_sweep_config(QUICKSTART, list(overrides)), parse_args([str(QUICKSTART), *flags])
    )


def test_paths_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    resolved = resolve_paths(
        sweep(
            dataset={"root": "data"},
            tracking_uri="sqlite:///runs/mlflow.db",
            axes={"datasets": ["digits", "npz:mine.npz"]},
        ),
        args(),
    )
    assert resolved.dataset.root == tmp_path / "data"
    assert resolved.storage == str(tmp_path / "raysweep_runs")
    assert resolved.tracking_uri == f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    assert resolved.sweep.datasets == ["digits", f"npz:{tmp_path / 'mine.npz'}"]
    default = resolve_paths(sweep(), args())
    assert default.tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_command_line_storage_and_tracking_uri_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    given = resolve_paths(
        sweep(storage="elsewhere", tracking_uri="sqlite:///a.db"),
        args(storage=Path("shared"), tracking_uri="http://127.0.0.1:5000"),
    )
    assert given.storage == str(tmp_path / "shared") and given.tracking_uri == "http://127.0.0.1:5000"
    absolute = resolve_paths(sweep(tracking_uri="sqlite:////abs/mlflow.db"), args())
    assert absolute.tracking_uri == "sqlite:////abs/mlflow.db"


def test_the_tracking_uri_comes_from_the_flag_then_the_environment_then_the_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert quickstart().tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert quickstart(overrides=("tracking_uri=http://config:5000",)).tracking_uri == "http://config:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://from-env:5000")  # what compose and k8s/ set
    assert quickstart(overrides=("tracking_uri=http://config:5000",)).tracking_uri == "http://from-env:5000"
    assert quickstart("--tracking-uri", "http://flag:5000").tracking_uri == "http://flag:5000"


def test_storage_and_weights_are_absolute_or_a_uri(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    config = quickstart(overrides=("model.weights_path=weights/resnet18.pth",))
    assert config.storage == str(tmp_path / "raysweep_runs")
    assert config.model.weights_path == tmp_path / "weights" / "resnet18.pth"  # trials load it on their node
    assert quickstart("--storage", "s3://bucket/runs").storage == "s3://bucket/runs"
    with pytest.raises(LaunchError, match="one slash"):
        quickstart("--storage", "s3:/bucket/runs")


def test_check_inputs_returns_the_pool_sizes() -> None:
    config = sweep(dataset={"pool_size": 50})
    assert check_inputs(config, expand_trials(config)) == {"digits": 50}


def test_a_schedule_over_the_pool_names_the_dataset() -> None:
    config = sweep(dataset={"pool_size": 15})
    with pytest.raises(
        LaunchError, match="dataset digits: 1 rounds of 10 labels after 10 initial ones need 20 points"
    ):
        check_inputs(config, expand_trials(config))


def test_devices_and_weights_are_checked_first() -> None:
    cuda = sweep(device="cuda:0")
    with pytest.raises(LaunchError, match=r"device: cuda:0 but resources\.gpu is 0"):
        check_inputs(cuda, expand_trials(cuda))
    pretrained = sweep(model={"pretrained": True, "weights_path": "/nowhere/w.pth"})
    with pytest.raises(WeightsError, match="pretrained: false"):
        check_inputs(pretrained, expand_trials(pretrained))


def test_an_unreachable_address_is_refused_and_others_left_to_ray() -> None:
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(LaunchError, match=f"--address {address}: no Ray cluster answers there"):
        check_reachable(address)
    for left_to_ray in ("auto", "ray://head:10001", "head"):
        check_reachable(left_to_ray)
