"""raysweep.shell.capacity and the GPU pre-flight on what an autoscaler v2 reports.

Ray's fake autoscaling cluster runs only autoscaler v1 from the wheel (tests/system/test_autoscaling.py).
Autoscaler v2 reports its node types to the GCS as a ``ClusterConfig`` under a key of Ray's own; here
a local Ray's GCS holds one written as v2 writes it (Ray's protobuf, Ray's key), and the launcher's
reading of it, through Ray's ``GlobalState.get_cluster_config``, decides the pre-flight.
"""

from __future__ import annotations

import pytest
import ray
from ray.core.generated import autoscaler_pb2
from ray.experimental.internal_kv import _internal_kv_del, _internal_kv_put

from raysweep.shell.capacity import NodeType, autoscaler_node_types, autoscaler_running, growth_for
from raysweep.shell.exit_codes import LaunchError
from raysweep.shell.ray_cluster import check_cluster_gpus
from raysweep.sweep.config import SweepConfig

KEY = ray._raylet.GCS_AUTOSCALER_CLUSTER_CONFIG_KEY.encode()
NAMESPACE = ray._raylet.GCS_AUTOSCALER_STATE_NAMESPACE.encode()


def report(*groups: tuple[str, dict[str, int], int, int]) -> None:
    """What autoscaler v2 reports: its node types (name, resources, min count, max count)."""
    config = autoscaler_pb2.ClusterConfig()
    for name, resources, min_count, max_count in groups:
        group = config.node_group_configs.add(name=name, min_count=min_count, max_count=max_count)
        group.resources.update(resources)
    _internal_kv_put(KEY, config.SerializeToString(), overwrite=True, namespace=NAMESPACE)


def sweep(gpu: float) -> SweepConfig:
    return SweepConfig.model_validate(
        {
            "experiment": "x",
            "sweep": {"datasets": ["digits"], "heuristics": ["random"], "seeds": [0]},
            "resources": {"cpu": 1, "gpu": gpu},
        }
    )


def test_a_local_ray_has_no_autoscaler(local_ray: None) -> None:
    _internal_kv_del(KEY, namespace=NAMESPACE)
    assert autoscaler_node_types() is None and not autoscaler_running()
    assert growth_for({"CPU": 1, "GPU": 1}) is None
    with pytest.raises(LaunchError, match="has 0 GPUs; trials would wait forever"):
        check_cluster_gpus(sweep(gpu=1))


def test_a_gpu_group_from_zero_lets_gpu_trials_wait(local_ray: None, capsys: pytest.CaptureFixture) -> None:
    report(("head", {"CPU": 0}, 1, 1), ("cpu", {"CPU": 4}, 1, 8), ("gpu", {"CPU": 8, "GPU": 1}, 0, 4))
    assert autoscaler_running()
    assert [t.name for t in autoscaler_node_types()] == ["head", "cpu", "gpu"]
    assert growth_for({"CPU": 1, "GPU": 0.25}).types == ["gpu"]
    check_cluster_gpus(sweep(gpu=0.25))  # not refused
    assert "0 GPUs now and its autoscaler can add nodes of type gpu" in capsys.readouterr().out


def test_no_node_type_that_fits_is_refused(local_ray: None) -> None:
    report(("cpu", {"CPU": 4}, 1, 8), ("gpu", {"CPU": 8, "GPU": 1}, 0, 0))  # the GPU group may not grow
    with pytest.raises(LaunchError, match="its autoscaler has no node type with them"):
        check_cluster_gpus(sweep(gpu=1))
    report(("cpu", {"CPU": 4}, 1, 8), ("gpu", {"CPU": 8, "GPU": 1}, 0, 4))
    with pytest.raises(LaunchError, match="has 0 GPUs and its autoscaler has no node type"):
        check_cluster_gpus(sweep(gpu=2))  # two GPUs per trial: no node has them
    _internal_kv_del(KEY, namespace=NAMESPACE)


def test_a_node_type_fits_a_bundle_when_it_has_every_resource() -> None:
    gpu = NodeType("gpu", {"CPU": 8.0, "GPU": 1.0}, max_count=-1)  # -1: no cap
    assert gpu.fits({"CPU": 2, "GPU": 1}) and gpu.fits({"CPU": 8, "GPU": 0})
    assert not gpu.fits({"CPU": 9}) and not gpu.fits({"GPU": 1, "TPU": 1})
    assert not NodeType("gpu", {"GPU": 1.0}, max_count=0).fits({"GPU": 1})
