"""Every check of the input before Ray starts: a bad config or missing data is exit 2 with nothing
written (no MLflow run, no storage folder).

:func:`resolve_paths` makes every path absolute (Tune runs trials in their own working directories);
:func:`check_inputs` loads each dataset once and checks the schedule against its pool, the ImageNet
weights and the device settings; :func:`check_tracking` asks an MLflow tracking server once whether it
lets the launcher in; :func:`check_reachable` fails fast on a Ray address nobody answers.
"""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

from raysweep.data import load_dataset
from raysweep.models.resnet import load_imagenet_state_dict
from raysweep.schedule import ScheduleError, label_schedule
from raysweep.shell.exit_codes import LaunchError
from raysweep.shell.tracking.access import uri_credentials_problem
from raysweep.shell.tracking.uris import default_tracking_uri
from raysweep.storage import StorageError, canonical_storage
from raysweep.sweep.config import SweepConfig
from raysweep.sweep.trials import Trial

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"


def resolve_paths(sweep: SweepConfig, args: argparse.Namespace) -> SweepConfig:
    """Absolute paths everywhere: Tune trials run in their own working directories, on other nodes.

    The storage becomes an absolute path or the URI it is (``raysweep.storage``); the tracking URI is
    ``--tracking-uri``, else ``MLFLOW_TRACKING_URI`` (what compose, KubeRay manifests and most
    clusters set for every process), else the config's, else a SQLite file here.
    """
    root = sweep.dataset.root.expanduser().resolve()
    try:
        storage = canonical_storage(args.storage or sweep.storage)
    except StorageError as exc:
        raise LaunchError(str(exc)) from None
    tracking_uri = args.tracking_uri or os.environ.get(TRACKING_URI_ENV) or sweep.tracking_uri
    if tracking_uri is None:
        tracking_uri = default_tracking_uri()
    elif tracking_uri.startswith("sqlite:///") and not tracking_uri.startswith("sqlite:////"):
        tracking_uri = f"sqlite:///{Path(tracking_uri.removeprefix('sqlite:///')).resolve()}"
    datasets = [
        f"npz:{Path(name[4:]).expanduser().resolve()}" if name.startswith("npz:") else name
        for name in sweep.sweep.datasets
    ]
    model = sweep.model
    if model.weights_path is not None:  # loaded by every trial, wherever it runs
        model = model.model_copy(update={"weights_path": model.weights_path.expanduser().resolve()})
    return sweep.model_copy(
        update={
            "dataset": sweep.dataset.model_copy(update={"root": root}),
            "model": model,
            "storage": storage,
            "tracking_uri": tracking_uri,
            "sweep": sweep.sweep.model_copy(update={"datasets": datasets}),
        }
    )


def check_inputs(sweep: SweepConfig, trials: list[Trial]) -> dict[str, int]:
    """Load every dataset once and check budgets, weights and devices. Returns pool sizes."""
    if sweep.device.startswith("cuda") and sweep.resources.gpu == 0:
        raise LaunchError(
            f"device: {sweep.device} but resources.gpu is 0; give trials a GPU or use device: auto"
        )
    if sweep.model.pretrained:
        load_imagenet_state_dict(sweep.model.weights_path)
    pools = {}
    for name in sweep.sweep.datasets:
        config = trials[[t.dataset for t in trials].index(name)].config.dataset
        dataset = load_dataset(config)
        try:
            label_schedule(sweep.schedule, dataset.n_pool)
        except ScheduleError as exc:
            raise LaunchError(f"dataset {name}: {exc}") from None
        pools[name] = dataset.n_pool
        del dataset
    return pools


def check_tracking(sweep: SweepConfig) -> None:
    """Refuse a tracking URI with credentials in it, and one whose server refuses the launcher's
    credentials, permission to read the experiment, or the host name (one request, seconds)."""
    problem = uri_credentials_problem(sweep.tracking_uri)
    if problem:
        raise LaunchError(problem)
    from raysweep.shell.tracking.access_check import check_access
    from raysweep.shell.tracking.patience import TrackingRefused

    try:
        check_access(sweep.tracking_uri, sweep.experiment)
    except TrackingRefused as exc:
        raise LaunchError(str(exc)) from None


def check_reachable(address: str) -> None:
    """Fail fast on a HOST:PORT nobody listens on; ray.init would retry for minutes."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return  # ray://, auto, ...: leave it to Ray
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise LaunchError(f"--address {address}: no Ray cluster answers there ({exc})") from None
