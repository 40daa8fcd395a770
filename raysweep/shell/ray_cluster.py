"""Starting (or joining) Ray for a sweep, and checking what the cluster offers its trials."""

from __future__ import annotations

import sys

import ray

from raysweep.shell.capacity import growth_for
from raysweep.shell.exit_codes import LaunchError
from raysweep.shell.preflight import check_reachable
from raysweep.sweep.config import SweepConfig


def start_ray(address: str | None) -> str | None:
    """Join the cluster at ``address`` (refusing one that does not answer or wants a token we lack),
    or start a local Ray without its dashboard (with ``RAY_ADDRESS`` set, as under a Ray job, Ray
    joins that cluster instead). Returns the cluster's dashboard address, if it has one."""
    if address:
        check_reachable(address)
        try:
            context = ray.init(address=address, log_to_driver=True)
        except ray.exceptions.AuthenticationError as exc:
            raise LaunchError(
                f"--address {address}: the cluster uses Ray token authentication; set RAY_AUTH_MODE=token and "
                f"RAY_AUTH_TOKEN (or ~/.ray/auth_token) to the cluster's token ({exc})"
            ) from None
        except ConnectionError as exc:
            raise LaunchError(f"--address {address}: no Ray cluster answers there ({exc})") from None
    else:
        context = ray.init(include_dashboard=False, log_to_driver=True)
    return context.dashboard_url or None


def check_cluster_gpus(sweep: SweepConfig) -> None:
    """Refuse GPUs per trial on a cluster without them that cannot add any (trials would wait
    forever); let trials wait for the GPU nodes an autoscaler adds; warn when trials with ``device:
    auto`` will run on CPU beside idle GPUs."""
    if sweep.resources.gpu > 0:
        available = ray.cluster_resources().get("GPU", 0.0)
        if available < sweep.resources.gpu:
            growth = growth_for({"CPU": sweep.resources.cpu, "GPU": sweep.resources.gpu})
            if growth is None or not growth.possible:
                autoscaler = " and its autoscaler has no node type with them" if growth is not None else ""
                raise LaunchError(
                    f"resources.gpu={sweep.resources.gpu} per trial, but the Ray cluster has {available:g} GPUs"
                    f"{autoscaler}; trials would wait forever. Set resources.gpu: 0 (device: auto runs on CPU) "
                    "or use a GPU cluster."
                )
            adds = (
                f"its autoscaler can add nodes of type {', '.join(growth.types)}"
                if growth.types
                else "an autoscaler runs (v1, whose node types Ray does not report)"
            )
            print(
                f"the Ray cluster has {available:g} GPUs now and {adds}: trials wait for GPU nodes to start"
            )
    elif sweep.device == "auto":
        gpus = ray.cluster_resources().get("GPU", 0.0)
        hint = f" although the cluster has {gpus:g} GPUs" if gpus else ""
        print(f"warning: device auto with resources.gpu 0: trials run on CPU{hint}", file=sys.stderr)
