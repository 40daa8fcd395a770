"""Starting (or joining) Ray for a sweep, and checking what the cluster offers its trials."""

from __future__ import annotations

import sys

import ray

from raysweep.shell.exit_codes import LaunchError
from raysweep.shell.preflight import check_reachable
from raysweep.sweep.config import SweepConfig


def start_ray(address: str | None) -> None:
    """Join the cluster at ``address`` (refusing one that does not answer or wants a token we lack),
    or start a local Ray without its dashboard."""
    if address:
        check_reachable(address)
        try:
            ray.init(address=address, log_to_driver=True)
        except ray.exceptions.AuthenticationError as exc:
            raise LaunchError(
                f"--address {address}: the cluster uses Ray token authentication; set RAY_AUTH_MODE=token and "
                f"RAY_AUTH_TOKEN (or ~/.ray/auth_token) to the cluster's token ({exc})"
            ) from None
        except ConnectionError as exc:
            raise LaunchError(f"--address {address}: no Ray cluster answers there ({exc})") from None
    else:
        ray.init(include_dashboard=False, log_to_driver=True)


def check_cluster_gpus(sweep: SweepConfig) -> None:
    """Refuse GPUs per trial on a cluster without them (trials would wait forever); warn when trials
    with ``device: auto`` will run on CPU beside idle GPUs."""
    if sweep.resources.gpu > 0:
        available = ray.cluster_resources().get("GPU", 0.0)
        if available < sweep.resources.gpu:
            raise LaunchError(
                f"resources.gpu={sweep.resources.gpu} per trial, but the Ray cluster has {available:g} GPUs; "
                "trials would wait forever. Set resources.gpu: 0 (device: auto runs on CPU) or use a GPU cluster."
            )
    elif sweep.device == "auto":
        gpus = ray.cluster_resources().get("GPU", 0.0)
        hint = f" although the cluster has {gpus:g} GPUs" if gpus else ""
        print(f"warning: device auto with resources.gpu 0: trials run on CPU{hint}", file=sys.stderr)
