"""The launcher's summary table and its message for a config path that is a folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from raysweep.shell.summary import DATASET_COLUMN, shorten, summary_table
from raysweep.typed_config import ConfigError, read_yaml

LONG_NPZ = "npz:/data/projects/active-learning/medical/chest_xray_subset_2026_final.npz"


def field_spans(line: str) -> list[tuple[int, int]]:
    """(start, end) of each whitespace-separated field of a table line."""
    return [(match.start(), match.end()) for match in re.finditer(r"\S+", line)]


def test_summary_columns_stay_aligned_with_long_dataset_names() -> None:
    rows = {
        (LONG_NPZ, "coreset", "0"): [(0.91, 0.80), (0.89, 0.78)],
        (LONG_NPZ, "coreset", "0.5"): [(0.93, 0.81)],
        ("digits", "lloss", "2"): [(0.85, 0.70), (0.87, 0.72)],
        ("medmnist:chestmnist", "random", "0"): [(0.94, 0.90)],
    }
    lines = summary_table(rows)
    assert len(lines) == 5
    # header fields: dataset heuristic alpha seeds final accuracy area under curve
    header = field_spans(lines[0])
    for line in lines[1:]:
        fields = field_spans(line)
        assert len(fields) == 6 and len(line) == len(lines[0])
        assert fields[1][0] == header[1][0]  # heuristic: left-aligned under its header
        assert [f[1] for f in fields[2:]] == [header[i][1] for i in (2, 3, 5, 8)]  # numbers: right-aligned
    [plain] = [line.split() for line in lines if line.split()[1:3] == ["coreset", "0"]]
    assert plain[3:] == ["2", "0.9000", "0.7900"]  # means over the two seeds of LONG_NPZ/coreset/0
    long_rows = [line for line in lines if "coreset" in line]
    assert all(
        line.split()[0].startswith("npz:/") and line.split()[0].endswith("final.npz") for line in long_rows
    )


def test_shorten_keeps_the_source_and_the_file_name() -> None:
    short = shorten(LONG_NPZ, DATASET_COLUMN)
    assert len(short) == DATASET_COLUMN and short.startswith("npz:/") and short.endswith("_final.npz")
    assert "..." in short
    assert shorten("digits", DATASET_COLUMN) == "digits"


def test_config_path_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder, not a config file"):
        read_yaml(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "raysweep.launch", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert f"{tmp_path}: is a folder, not a config file" in result.stderr
    assert "not found" not in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
