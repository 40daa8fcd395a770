"""Starting or joining Ray: an address nobody answers is refused before ``ray.init``, and GPUs per
trial are checked against what the cluster offers. Ray itself is not started here (the sweeps that
start it are in ``test_launch.py`` and ``tests/system``)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import ray
from helpers.processes import free_port

from raysweep.shell import ray_cluster
from raysweep.shell.exit_codes import LaunchError
from raysweep.sweep.config import SweepConfig


def sweep(**fields) -> SweepConfig:
    return SweepConfig.model_validate(
        {
            "experiment": "x",
            "sweep": {"datasets": ["digits"], "heuristics": ["random"], "seeds": [0]},
            **fields,
        }
    )


def test_an_address_nobody_answers_is_refused_before_ray_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray, "init", lambda **kwargs: pytest.fail("ray.init must not be reached"))
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(LaunchError, match=f"--address {address}: no Ray cluster answers there"):
        ray_cluster.start_ray(address)


def test_a_local_ray_starts_without_its_dashboard(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def init(**kwargs) -> SimpleNamespace:
        calls.append(kwargs)
        return SimpleNamespace(dashboard_url="")  # what ray.init returns without a dashboard

    monkeypatch.setattr(ray, "init", init)
    assert ray_cluster.start_ray(None) is None  # no dashboard, so no job server to name
    assert calls == [{"include_dashboard": False, "log_to_driver": True}]


@pytest.mark.parametrize(
    ("wanted", "offered", "refused"), [(0.5, 0.0, True), (2.0, 1.0, True), (0.5, 1.0, False)]
)
def test_gpus_per_trial_must_exist_on_the_cluster(
    monkeypatch: pytest.MonkeyPatch, wanted: float, offered: float, refused: bool
) -> None:
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 4.0, "GPU": offered})
    monkeypatch.setattr(
        ray_cluster, "growth_for", lambda bundle: None
    )  # no autoscaler (test_capacity.py has them)
    config = sweep(resources={"gpu": wanted})
    if refused:
        with pytest.raises(
            LaunchError, match=f"resources.gpu={wanted} per trial, but the Ray cluster has {offered:g} GPUs"
        ):
            ray_cluster.check_cluster_gpus(config)
    else:
        ray_cluster.check_cluster_gpus(config)


def test_device_auto_on_cpu_trials_warns_and_names_idle_gpus(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 4.0, "GPU": 2.0})
    ray_cluster.check_cluster_gpus(sweep())
    assert capsys.readouterr().err == (
        "warning: device auto with resources.gpu 0: trials run on CPU although the cluster has 2 GPUs\n"
    )
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 4.0})
    ray_cluster.check_cluster_gpus(sweep())
    assert capsys.readouterr().err == "warning: device auto with resources.gpu 0: trials run on CPU\n"
    ray_cluster.check_cluster_gpus(sweep(device="cpu"))
    assert capsys.readouterr().err == ""
