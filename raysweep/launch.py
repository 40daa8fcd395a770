"""``python -m raysweep.launch CONFIG``: the sweep CLI (fixed entry point; the code lives in
:mod:`raysweep.shell.cli`)."""

from __future__ import annotations

import sys

from raysweep.shell.cli import main

if __name__ == "__main__":
    sys.exit(main())
