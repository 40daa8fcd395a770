"""The storage probe: every node of a local Ray reads the driver's token and writes its own answer,
a node that sees another storage (or none) at the path is named, the driver's half refuses a bucket
it cannot use before Ray starts, and the probe leaves nothing behind. (A node that really sees
another filesystem at the path, in a mount namespace of its own: tests/system/test_shared_storage.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import ray
from helpers.s3 import S3Server

from raysweep.shell.exit_codes import LaunchError
from raysweep.shell.storage_probe import (
    PROBE_FOLDER,
    check_every_node_sees,
    check_reachable_from_driver,
    probe_from_node,
)
from raysweep.storage import parse_storage


def test_every_node_sees_a_local_storage_and_the_probe_leaves_nothing(local_ray, tmp_path: Path) -> None:
    created = tmp_path / "new_runs"
    assert check_every_node_sees(parse_storage(created)) == 1
    assert not created.exists()  # the probe created the storage folder: removed again
    kept = tmp_path / "runs"
    (kept / "exp").mkdir(parents=True)
    assert check_every_node_sees(parse_storage(kept)) == 1
    assert sorted(p.name for p in kept.iterdir()) == ["exp"]  # no probe folder left in a used storage


def test_a_node_names_what_it_did_not_see(local_ray, tmp_path: Path) -> None:
    folder = parse_storage(tmp_path).root / PROBE_FOLDER / "t1"
    assert ray.get(probe_from_node.remote(folder, "token-a")).startswith(f"cannot read {folder / 'token'}")
    (folder / "token").write_text("token-b")  # another storage mounted at the same path
    assert "holds another token than the driver wrote" in ray.get(probe_from_node.remote(folder, "token-a"))
    (folder / "token").write_text("token-a")
    assert ray.get(probe_from_node.remote(folder, "token-a")) is None
    node_id = ray.get_runtime_context().get_node_id()
    assert (folder / f"node-{node_id}").read_text() == "token-a"  # the answer the driver reads back


def test_the_driver_uses_a_bucket_or_refuses_it_before_ray(s3_server: S3Server, s3_bucket: str) -> None:
    check_reachable_from_driver(parse_storage(s3_server.uri(s3_bucket)))
    assert s3_server.keys(s3_bucket) == []  # its probe removed again
    check_reachable_from_driver(parse_storage("/nonexistent/local/runs"))  # local: left to the node probe
    with pytest.raises(LaunchError, match="cannot write and read there from the driver"):
        check_reachable_from_driver(parse_storage(s3_server.uri("no-such-bucket")))
