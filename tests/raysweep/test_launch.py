"""``python -m raysweep.launch``: the fixed entry point is the shell's CLI, with its exit codes.

Run as users run it (a subprocess): a missing config and a folder exit 2 with one line and nothing
written; ``--dry-run`` lists the trials and writes nothing. The CLI's own behaviour is tested in
``tests/raysweep/shell/test_cli.py``; whole sweeps in ``tests/raysweep/shell`` and ``tests/system``.
"""

from __future__ import annotations

from pathlib import Path

from helpers.drivers import launch
from helpers.paths import QUICKSTART


def test_launch_entry_point_is_the_shell_cli() -> None:
    from raysweep import launch as entry
    from raysweep.shell import cli

    assert entry.main is cli.main


def test_nonexistent_config_and_dry_run(tmp_path: Path) -> None:
    missing = launch(tmp_path, "nope.yaml")
    assert missing.returncode == 2 and "config file not found" in missing.stderr
    assert "Traceback" not in missing.stderr
    dry = launch(tmp_path, str(QUICKSTART), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "16 trials" in dry.stdout and "digits/lloss/1/1" in dry.stdout
    assert list(tmp_path.iterdir()) == []


def test_config_path_that_is_a_folder(tmp_path: Path) -> None:
    result = launch(tmp_path, str(tmp_path), timeout=300)
    assert result.returncode == 2
    assert f"{tmp_path}: is a folder, not a config file" in result.stderr
    assert "not found" not in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
