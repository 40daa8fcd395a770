"""The command that resumes a sweep repeats every flag, from the folder it ran in."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from raysweep.shell import cli
from raysweep.shell.resume import resume_command

LAUNCH_ARGUMENTS = [
    "configs/my sweep.yaml",
    "--smoke",
    "--set",
    "sweep.alphas=[0, 1]",
    "--address",
    "10.0.0.1:6379",
    "--tracking-uri",
    "http://mlflow:5000",
    "--storage",
    "/shared/runs",
    "--tracking-outage-limit",
    "30",
]
"""A launch with every kind of flag: a path with a space, a --set, a cluster, a server, storage."""


def test_the_resume_command_repeats_every_flag_from_the_same_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = cli.parse_args(LAUNCH_ARGUMENTS)
    command = resume_command(args, "20261206-000000-abcdef")
    cd, _, rest = command.partition(" && ")
    assert cd == f"cd {shlex.quote(str(tmp_path))}"
    assert shlex.split(rest) == [
        sys.executable,
        "-m",
        "raysweep.launch",
        *LAUNCH_ARGUMENTS,
        "--resume",
        "20261206-000000-abcdef",
    ]
    plain = resume_command(cli.parse_args(["s.yaml"]), "x")
    assert plain.endswith(f"{shlex.join([sys.executable, '-m', 'raysweep.launch', 's.yaml'])} --resume x")
