"""Helpers the tests share, one job per module (importable as ``helpers.<module>``: pytest puts
``tests/`` on the path, see ``pyproject.toml``). Fixtures live in ``conftest.py`` files, never here."""
