"""Where the repository's files are, for tests at any depth of ``tests/``."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
QUICKSTART = CONFIGS / "quickstart.yaml"
REAL_DATA = REPO.parent / "shared" / "data"
"""Real MNIST for the ``slow`` tests (``../shared/data``), when the machine has it."""
