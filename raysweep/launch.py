"""``python -m raysweep.launch CONFIG``: the sweep CLI (fixed entry point; the code lives in
:mod:`raysweep.shell.launch`)."""

from __future__ import annotations

import sys

from raysweep.shell.launch import main

if __name__ == "__main__":
    sys.exit(main())
