"""The end of a sweep as the user reads it: the table (means over seeds, aligned however long the
names), the failed and unfinished trials, the closing lines, the exit code and the parent's status.
The summary of a real sweep is checked against MLflow in ``test_launch.py``."""

from __future__ import annotations

import re
import signal
from types import SimpleNamespace

import pytest

from raysweep.schema import RESULT_AREA, RESULT_ROUND, RESULT_ROUNDS, TRIAL_CONFIG_KEY
from raysweep.shell.summary import (
    DATASET_COLUMN,
    RESUME_HINT,
    SweepOutcome,
    error_line,
    exit_code,
    print_closing,
    print_summary,
    run_status,
    shorten,
    summary_table,
    trajectory_done,
)
from raysweep.sweep.config import SweepConfig
from raysweep.sweep.trials import expand_trials

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


def test_summary_table_gets_an_encoder_column_only_when_keys_carry_one() -> None:
    plain = summary_table({("digits", "coreset", "1"): [(0.8, 0.7)]})
    assert "encoder" not in plain[0] and plain[1].split() == [
        "digits",
        "coreset",
        "1",
        "1",
        "0.8000",
        "0.7000",
    ]
    rows = {
        ("digits", "coreset", "0", "-"): [(0.8, 0.7), (0.9, 0.8)],
        ("digits", "coreset", "1", "gmvae"): [(0.85, 0.75)],
        ("digits", "coreset", "1", "cvae"): [(0.87, 0.77)],
    }
    lines = summary_table(rows)
    assert lines[0].split()[:5] == ["dataset", "heuristic", "alpha", "encoder", "seeds"]
    assert [line.split()[:5] for line in lines[1:]] == [
        ["digits", "coreset", "0", "-", "2"],
        ["digits", "coreset", "1", "cvae", "1"],
        ["digits", "coreset", "1", "gmvae", "1"],
    ]
    assert lines[1].split()[5:] == ["0.8500", "0.7500"]  # means over the alpha-0 arm's two seeds
    assert len({len(line) for line in lines}) == 1  # aligned columns


def test_a_trajectory_is_done_when_its_last_round_reported() -> None:
    assert trajectory_done({RESULT_ROUND: 2, RESULT_ROUNDS: 3})
    assert not trajectory_done({RESULT_ROUND: 1, RESULT_ROUNDS: 3})
    assert trajectory_done({RESULT_ROUND: 1})  # results of old sweeps carry no length: the last one seen
    assert not trajectory_done({}) and not trajectory_done(None)


def test_error_line_is_the_line_that_says_what_went_wrong() -> None:
    traceback = "Traceback (most recent call last):\n  File 'x', line 1\n    boom()\nValueError: bad pool\n\n"
    assert error_line(traceback) == "ValueError: bad pool"
    assert error_line("  only indented\n") == "  only indented" and error_line("") == "no result"
    assert error_line(RuntimeError("ray died")) == "ray died"


def outcome_of_a_sweep() -> SweepOutcome:
    sweep = SweepConfig.model_validate(
        {
            "experiment": "x",
            "sweep": {
                "datasets": ["digits"],
                "heuristics": ["random", "coreset"],
                "alphas": [0, 1],
                "seeds": [0, 1],
            },
        }
    )
    trials = expand_trials(sweep)  # random/0/{0,1}, coreset/0/{0,1}, coreset/1/{0,1}

    def result(key: str, accuracy: float, area: float, round_: int = 2, error: str | None = None):
        metrics = {RESULT_ROUND: round_, RESULT_ROUNDS: 3, "accuracy": accuracy, RESULT_AREA: area}
        return SimpleNamespace(config={TRIAL_CONFIG_KEY: key}, metrics=metrics, error=error)

    results = [
        result("digits/random/0/0", 0.8, 0.6),
        result("digits/random/0/1", 0.6, 0.4),
        result("digits/coreset/0/0", 0.9, 0.7),
        result("digits/coreset/0/1", 0.5, 0.3, round_=1),  # stopped before its last round
        result("digits/coreset/1/0", 0.1, 0.1, error="Traceback ...\nValueError: boom"),
        SimpleNamespace(config=None, metrics={}, error=None),  # a result Tune could not read back
    ]
    return SweepOutcome.of(results, trials)  # coreset/1/1 never ran


def test_the_outcome_of_each_trial() -> None:
    outcome = outcome_of_a_sweep()
    assert outcome.failed == ["digits/coreset/1/0", "digits/coreset/1/1"]
    assert outcome.finished == {"digits/random/0/0", "digits/random/0/1", "digits/coreset/0/0"}
    assert outcome.unfinished == ["digits/coreset/0/1", "digits/coreset/1/0", "digits/coreset/1/1"]
    assert outcome.rows() == {
        ("digits", "random", "0"): [(0.8, 0.6), (0.6, 0.4)],
        ("digits", "coreset", "0"): [(0.9, 0.7)],
    }
    assert exit_code(outcome, None) == 1 and run_status(outcome, None) == "FAILED"
    assert exit_code(outcome, signal.SIGTERM) == 143 and run_status(outcome, signal.SIGINT) == "KILLED"


def test_print_summary_and_closing(capsys: pytest.CaptureFixture) -> None:
    outcome = outcome_of_a_sweep()
    print_summary(outcome, None)
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "Summary (mean over seeds):"
    [random_row] = [line for line in out if line.split()[:2] == ["digits", "random"]]
    assert random_row.split()[2:] == ["0", "2", "0.7000", "0.5000"]
    assert "2 trial(s) failed:" in out
    assert "  digits/coreset/1/0: ValueError: boom" in out and "  digits/coreset/1/1: never ran" in out
    print_summary(outcome, signal.SIGINT)
    assert "stopped by SIGINT: 3 trial(s) not finished" in capsys.readouterr().out
    counters = {
        "vae_trainings": 2,
        "vae_cache_hits": 1,
        "encoder_trainings.gmvae": 1,
        "encoder_trainings.vae": 1,
    }
    print_closing(counters, "s1", 12.4, "mlflow ui ...", "cd x && resume", show_resume=True)
    out = capsys.readouterr().out
    assert "VAE trainings this run: 2 (gmvae 1, vae 1) (cache hits: 1)" in out
    assert "sweep s1 took 12s. Compare the runs in MLflow:\n  mlflow ui ..." in out
    assert f"{RESUME_HINT}\n  cd x && resume" in out
    print_closing({"vae_trainings": 0, "vae_cache_hits": 0}, "s1", 1, "ui", "resume", show_resume=False)
    out = capsys.readouterr().out
    assert "VAE trainings this run: 0 (cache hits: 0)" in out and RESUME_HINT not in out
