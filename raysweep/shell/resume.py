"""The command that resumes a sweep: the same config and flags, from the same directory, or under a
Ray job the job submission to rerun. Printed by the launcher whenever a sweep stops unfinished."""

from __future__ import annotations

import argparse
import os
import shlex
import sys


def resume_command(args: argparse.Namespace, sweep_id: str, dashboard_url: str | None = None) -> str:
    """The exact command that resumes this sweep: the same config and flags, from the same directory;
    under a Ray job, the job submission to rerun (``dashboard_url``: the cluster's job server)."""
    from raysweep.shell.deployment import job_resubmission, under_ray_job

    if under_ray_job():
        return job_resubmission(launcher_arguments(args, sweep_id), dashboard_url)
    command = [sys.executable, *launcher_arguments(args, sweep_id)]
    return f"cd {shlex.quote(os.getcwd())} && {shlex.join(command)}"


def launcher_arguments(args: argparse.Namespace, sweep_id: str) -> list[str]:
    """``-m raysweep.launch CONFIG ...`` with the same config and flags, continuing ``sweep_id``."""
    command = ["-m", "raysweep.launch", str(args.config)]
    if args.smoke:
        command.append("--smoke")
    for override in args.overrides:
        command += ["--set", override]
    for flag, value in (
        ("--address", args.address),
        ("--tracking-uri", args.tracking_uri),
        ("--storage", args.storage),
        ("--tracking-outage-limit", args.tracking_outage_limit),
    ):
        if value is not None:
            command += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if args.confirm:
        # A confirmation continues when started again: its own id is <sweep id>-confirm.
        command += ["--confirm", args.confirm]
    elif args.sweep_id:
        command += ["--sweep-id", sweep_id]  # start-or-resume: the same command continues it
    else:
        command += ["--resume", sweep_id]
    return command
