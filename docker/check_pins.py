"""Fail when an installed distribution is not pinned, at the installed version, in a constraints file.

    python docker/check_pins.py docker/constraints.txt

Run by both Dockerfiles right after the dependencies are installed, with the image's interpreter:
pip applies a constraint only to a package that has one, so a dependency that an extra pulls in
(``ray[default]`` brings grpcio, opencensus, py-spy, ...) installs at whatever version is newest
unless this check names it. setuptools counts (torch requires it, so pip installs it); only pip
itself is left out, which comes with the base image's venv and which the Dockerfiles never install.
A local version label (``2.14.1+cpu``) matches the pin of its public version, as it does for pip.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

NOT_PINNED = frozenset({"pip"})


def normalized(name: str) -> str:
    """PEP 503 normalised project name: ``Jinja2`` and ``jinja2``, ``typing_extensions`` and
    ``typing-extensions`` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(constraints: Path) -> dict[str, str]:
    pins = {}
    for number, line in enumerate(constraints.read_text().splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
        if match is None:
            raise SystemExit(f"{constraints}:{number}: expected NAME==VERSION, got {line!r}")
        pins[normalized(match[1])] = match[2]
    return pins


def unpinned(pins: dict[str, str]) -> list[str]:
    """One line per installed distribution that the pins miss or pin at another version."""
    problems = []
    installed = {normalized(d.metadata["Name"]): d.version for d in metadata.distributions()}
    for name, version in sorted(installed.items()):
        if name in NOT_PINNED:
            continue
        if name not in pins:
            problems.append(f"{name}=={version} is installed but not pinned")
        elif version.split("+", 1)[0] != pins[name]:
            problems.append(f"{name}=={version} is installed but pinned at {pins[name]}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python check_pins.py CONSTRAINTS_FILE", file=sys.stderr)
        return 2
    constraints = Path(argv[0])
    problems = unpinned(read_pins(constraints))
    if problems:
        print(f"{constraints}: {len(problems)} installed distributions not pinned:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print("Regenerate the constraints: docker/README.md, 'Images'.", file=sys.stderr)
        return 1
    print(f"{constraints}: every installed distribution is pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
