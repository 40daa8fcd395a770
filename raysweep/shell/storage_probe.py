"""Refuse storage that not every node sees, before anything trains.

Without it, a node that does not share the storage path trains a trial's first round, logs it, and
fails at its first checkpoint with Ray's storage error (three times, with Tune's retries), while
trials on the driver's node succeed; the encoder cache is written on one node and read on another.

:func:`check_every_node_sees` writes a token under ``<storage>/.raysweep-probe/<token>/``, and a task
pinned to each alive node reads it back and writes a file of its own, which the driver reads in turn:
both directions, through the same filesystem object (and so the same endpoint and credentials
lookup) the trials use. A node that cannot is named with the path, and the launch ends with exit 2.
:func:`check_reachable_from_driver` does the driver's half alone before Ray starts, for an object
store (a wrong bucket, endpoint or credentials is bad input). The probe's files are removed again;
a local storage folder the probe had to create is removed too (bad input leaves nothing behind).
"""

from __future__ import annotations

import contextlib
import secrets

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from raysweep.shell.exit_codes import LaunchError
from raysweep.storage import Storage, StoragePath

PROBE_FOLDER = ".raysweep-probe"
PROBE_TIMEOUT_S = 180.0
"""How long a node may take to start a worker and answer (a loaded node starts workers slowly)."""


@ray.remote(num_cpus=0, max_retries=0)
def probe_from_node(folder: StoragePath, expected: str) -> str | None:
    """On one node: read the driver's token, write this node's answer. Why not, or None."""
    node_id = ray.get_runtime_context().get_node_id()
    token = folder / "token"
    try:
        seen = token.read_text()
    except OSError as exc:
        return f"cannot read {token} ({type(exc).__name__}: {exc})"
    if seen != expected:
        return f"{token} holds another token than the driver wrote (another storage at the same path)"
    try:
        (folder / f"node-{node_id}").write_text(expected)
    except OSError as exc:
        return f"cannot write under {folder} ({type(exc).__name__}: {exc})"
    return None


def check_reachable_from_driver(storage: Storage) -> None:
    """For an object store: the driver can write, read and delete there (before Ray starts)."""
    if storage.is_local:
        return  # created on first use; the node probe checks it
    folder = storage.root / PROBE_FOLDER / secrets.token_hex(8)
    try:
        (folder / "token").write_text("driver")
        (folder / "token").read_text()
    except OSError as exc:
        raise LaunchError(
            f"--storage {storage.uri}: cannot write and read there from the driver ({type(exc).__name__}: "
            f"{exc}); check the bucket, the endpoint and the credentials (AWS_ACCESS_KEY_ID / "
            "AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, or the Google application credentials)"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            folder.rmtree()


def node_label(node: dict) -> str:
    return (
        f"node {node['NodeID']} ({node.get('NodeManagerHostname') or '?'}, {node.get('NodeManagerAddress')})"
    )


def check_every_node_sees(storage: Storage, timeout_s: float = PROBE_TIMEOUT_S) -> int:
    """Exit 2 (LaunchError) naming each alive node that cannot read and write the storage as the
    driver does; returns how many nodes were probed."""
    created_root = storage.is_local and not storage.root.exists()
    folder = storage.root / PROBE_FOLDER / secrets.token_hex(8)
    expected = secrets.token_hex(16)
    try:
        try:
            (folder / "token").write_text(expected)
        except OSError as exc:
            raise LaunchError(
                f"--storage {storage.uri}: the driver cannot write there ({type(exc).__name__}: {exc})"
            ) from None
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        pending = {
            probe_from_node.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node["NodeID"], soft=False)
            ).remote(folder, expected): node
            for node in nodes
        }
        ready, late = ray.wait(list(pending), num_returns=len(pending), timeout=timeout_s)
        problems = []
        for ref in ready:
            node = pending[ref]
            try:
                problem = ray.get(ref)
            except ray.exceptions.RayError as exc:
                problem = f"the probe task failed ({type(exc).__name__})"
            if problem is None and not (folder / f"node-{node['NodeID']}").is_file():
                problem = f"what it wrote under {folder} is not there for the driver"
            if problem:
                problems.append(f"{node_label(node)}: {problem}")
        for ref in late:
            ray.cancel(ref, force=True)
            problems.append(
                f"{node_label(pending[ref])}: did not answer the storage probe in {timeout_s:.0f}s"
            )
        if problems:
            raise LaunchError(
                f"the storage {storage.uri} is not the same on every Ray node (every trial and the encoder "
                "cache need it on every node): "
                + "; ".join(problems)
                + ". Mount one shared filesystem at that path on every node (NFS, a ReadWriteMany volume), "
                "or use a bucket URI (s3://BUCKET/runs)"
            )
        return len(nodes)
    finally:
        with contextlib.suppress(OSError):
            folder.rmtree()
            if created_root:
                storage.root.rmtree()
            elif not (storage.root / PROBE_FOLDER).iterdir():
                (storage.root / PROBE_FOLDER).rmtree()
