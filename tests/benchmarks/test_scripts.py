"""Every benchmark script starts as its docstring says (``python benchmarks/NAME.py ...``).

The benchmarks are run by hand, rarely and for long: a script that no longer imports is found an hour
into a run, or by the next person. It happened: after the tests moved into tests/raysweep,
cluster_scale.py and tracking_load.py put tests/ first on sys.path, where that folder shadowed the
raysweep package, and both failed at import. ``--help`` imports everything a script needs and
parses its arguments, and costs a second or two, not a run.
"""

from __future__ import annotations

import os
import subprocess
import sys

from helpers.paths import REPO

BENCHMARKS = REPO / "benchmarks"
NOT_A_COMMAND = {"driver_probe.py": "the launcher with probes, started by cluster_scale.py (imported there)"}


def test_every_benchmark_script_imports_and_prints_its_usage() -> None:
    scripts = sorted(p for p in BENCHMARKS.glob("*.py") if p.name not in NOT_A_COMMAND)
    assert len(scripts) >= 10  # not vacuous: the folder holds the benchmarks README lists
    # As a user runs them: from the repository, with the venv's Python and no PYTHONPATH of ours.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    started = {
        script.name: subprocess.Popen(
            [sys.executable, str(script), "--help"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for script in scripts
    }
    failed = {}
    for name, process in started.items():
        try:
            output, _ = process.communicate(timeout=300)
        finally:
            process.kill()
        if process.returncode != 0 or f"usage: {name}" not in output:
            failed[name] = output[-1500:]
    assert failed == {}, failed
