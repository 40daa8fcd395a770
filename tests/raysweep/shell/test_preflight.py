"""raysweep.shell.preflight.resolve_paths: what a trial on another node needs resolved on the driver."""

from __future__ import annotations

from pathlib import Path

import pytest

from raysweep.shell.cli import parse_args
from raysweep.shell.exit_codes import LaunchError
from raysweep.shell.preflight import resolve_paths
from raysweep.sweep.config import load_sweep_config

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "quickstart.yaml"


def resolved(*flags: str, overrides: tuple[str, ...] = ()):
    args = parse_args([str(CONFIG), *flags])
    return resolve_paths(load_sweep_config(CONFIG, list(overrides)), args)


def test_the_tracking_uri_comes_from_the_flag_then_the_environment_then_the_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolved().tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert resolved(overrides=("tracking_uri=http://config:5000",)).tracking_uri == "http://config:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://from-env:5000")  # what compose and k8s/ set
    assert resolved(overrides=("tracking_uri=http://config:5000",)).tracking_uri == "http://from-env:5000"
    assert resolved("--tracking-uri", "http://flag:5000").tracking_uri == "http://flag:5000"


def test_storage_and_weights_are_absolute_or_a_uri(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    sweep = resolved(overrides=("model.weights_path=weights/resnet18.pth",))
    assert sweep.storage == str(tmp_path / "raysweep_runs")
    assert sweep.model.weights_path == tmp_path / "weights" / "resnet18.pth"  # trials load it on their node
    assert resolved("--storage", "s3://bucket/runs").storage == "s3://bucket/runs"
    with pytest.raises(LaunchError, match="one slash"):
        resolved("--storage", "s3:/bucket/runs")
