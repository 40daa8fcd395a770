"""The command line: its arguments, the input checks before anything starts (bad input: exit 2, one
message, no traceback, nothing written), ``--dry-run``, and the exact command that resumes a sweep.

``cli.main`` runs in this process here; ``tests/raysweep/test_launch.py`` runs it as
``python -m raysweep.launch`` and checks the process's own exit code.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from helpers.datafiles import write_mnist
from helpers.paths import CONFIGS, QUICKSTART
from helpers.search import LOG_ALPHA, write_search_sweep

from raysweep.shell import cli
from raysweep.shell.exit_codes import EXIT_BAD_INPUT, EXIT_OK
from raysweep.shell.tracking import DEFAULT_OUTAGE_LIMIT_S
from raysweep.sweep.config import load_sweep_config
from raysweep.sweep.trials import expand_trials


def run_main(cwd: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.chdir(cwd)
    return cli.main(list(args))


# ---------------------------------------------------------------------------------------------
# Arguments and the resume command
# ---------------------------------------------------------------------------------------------


def test_arguments_and_their_defaults() -> None:
    parsed = cli.parse_args(["sweep.yaml"])
    assert parsed.config == Path("sweep.yaml") and parsed.overrides == [] and not parsed.smoke
    assert parsed.resume is None and parsed.tracking_outage_limit is None and not parsed.dry_run
    parsed = cli.parse_args(
        ["s.yaml", "--resume", "--set", "a=1", "--set", "b=2", "--tracking-outage-limit", "30"]
    )
    assert parsed.resume == "latest" and parsed.overrides == ["a=1", "b=2"]
    assert parsed.tracking_outage_limit == 30.0
    assert cli.parse_args(["s.yaml", "--resume", "20261206-000000-abcdef"]).resume == "20261206-000000-abcdef"
    assert DEFAULT_OUTAGE_LIMIT_S == 600


@pytest.mark.parametrize("text", ["0", "-5", "soon", "nan"])
def test_the_outage_limit_is_a_positive_number_of_seconds(text: str) -> None:
    with pytest.raises(
        argparse.ArgumentTypeError, match=f"expected a positive number of seconds, got '{text}'"
    ):
        cli.positive_seconds(text)
    assert cli.positive_seconds("2.5") == 2.5


# ---------------------------------------------------------------------------------------------
# Bad input: exit 2, one clear message, nothing left behind
# ---------------------------------------------------------------------------------------------

BAD_CONFIGS = {
    "yaml_error": ("experiment: x\nsweep: [1, 2\n", "not valid YAML"),
    "unknown_key": (
        "experiment: x\nsweep: {datasets: [digits], heuristics: [random], seeds: [0]}\ntrainng: {}\n",
        "trainng: unknown key",
    ),
    "wrong_type": (
        "experiment: x\nsweep: {datasets: [digits], heuristics: [random], seeds: [0]}\ntraining: {lr: fast}\n",
        "training.lr",
    ),
    "empty_axis": (
        "experiment: x\nsweep: {datasets: [digits], heuristics: [], seeds: [0]}\n",
        "sweep.heuristics",
    ),
    "unknown_heuristic": (
        "experiment: x\nsweep: {datasets: [digits], heuristics: [corset], seeds: [0]}\n",
        "corset",
    ),
    "budget_over_pool": (
        "experiment: x\nsweep: {datasets: [digits], heuristics: [random], seeds: [0]}\nmodel: {pretrained: false}\n"
        "schedule: {initial_labels: 5000}\n",
        "exceeds the pool",
    ),
    "missing_data": (
        "experiment: x\nsweep: {datasets: [mnist], heuristics: [random], seeds: [0]}\nmodel: {pretrained: false}\n"
        "dataset: {root: nowhere}\n",
        "train-images-idx3-ubyte",
    ),
    "missing_npz": (
        "experiment: x\nsweep: {datasets: ['npz:missing.npz'], heuristics: [random], seeds: [0]}\nmodel: {pretrained: false}\n",
        "missing.npz",
    ),
    "missing_weights": (
        "experiment: x\nsweep: {datasets: [digits], heuristics: [random], seeds: [0]}\nmodel: {weights_path: w.pth}\n",
        "pretrained: false",
    ),
    "unknown_source": (
        "experiment: x\nsweep: {datasets: [cifar], heuristics: [random], seeds: [0]}\nmodel: {pretrained: false}\n",
        "unknown dataset source 'cifar'",
    ),
    "bad_override": (
        "experiment: x\nsweep: {datasets: [digits], heuristics: [random], seeds: [0]}\n",
        "--set",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_input_exits_2_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture, case: str
) -> None:
    text, expected = BAD_CONFIGS[case]
    (tmp_path / "sweep.yaml").write_text(text)
    extra = ["--set", "training.lr"] if case == "bad_override" else []
    assert run_main(tmp_path, monkeypatch, "sweep.yaml", *extra) == EXIT_BAD_INPUT
    err = capfd.readouterr().err
    assert err.startswith("error: ") and expected in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.yaml"]  # no mlflow.db, no storage


BAD_SEARCH_BLOCKS = {
    "empty_range": (
        "{settings: 2, space: {alpha: {low: 1, high: 1}}}",
        "sweep.search.space.alpha",
        "empty range",
    ),
    "low_above_high": (
        "{settings: 2, space: {alpha: {low: 2, high: 1}}}",
        "sweep.search.space.alpha",
        "low (2) > high (1)",
    ),
    "log_touching_zero": (
        "{settings: 2, space: {alpha: {low: 0, high: 1, scale: log}}}",
        "sweep.search.space.alpha",
        "log range must stay above 0",
    ),
    "unknown_field": (
        "{settings: 2, space: {alpha: {low: 0.1, high: 1}, vae.latnt_dim: {choices: [8, 16]}}}",
        "sweep.search.space.vae.latnt_dim",
        "has no field 'latnt_dim'",
    ),
    "unknown_algorithm": (
        "{algorithm: hyperopt, settings: 2, space: {alpha: {low: 0.1, high: 1}}}",
        "sweep.search.algorithm",
        "known: optuna, random",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SEARCH_BLOCKS))
def test_bad_search_block_exits_2_naming_the_field_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture, case: str
) -> None:
    block, field, problem = BAD_SEARCH_BLOCKS[case]
    config = write_search_sweep(tmp_path, block)
    assert run_main(tmp_path, monkeypatch, str(config)) == EXIT_BAD_INPUT
    err = capfd.readouterr().err
    assert field in err and problem in err, err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["search.yaml"]  # no mlflow.db, no storage


# ---------------------------------------------------------------------------------------------
# --dry-run: the resolved trial list, nothing written
# ---------------------------------------------------------------------------------------------


def test_dry_run_lists_every_trial_with_its_schedule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    assert run_main(tmp_path, monkeypatch, str(QUICKSTART), "--dry-run") == EXIT_OK
    out = capfd.readouterr().out.splitlines()
    assert out[0] == "16 trials in experiment 'raysweep-quickstart':"
    rows = {line.split()[0]: line.split()[1:] for line in out[2:]}
    keys = [t.key for t in expand_trials(load_sweep_config(QUICKSTART))]
    assert list(rows) == keys
    assert rows["digits/lloss/1/1"] == ["True", "100", "->", "400", "in", "3", "rounds"]
    assert rows["digits/random/0/0"][0] == "False"
    assert list(tmp_path.iterdir()) == []


def test_dry_run_prints_a_search_s_references_and_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    config = write_search_sweep(tmp_path, LOG_ALPHA.replace("space:", "early_stopping: {}, space:"))
    # The default schedule (3,000 initial labels) does not fit the digits pool: --dry-run says so.
    config.write_text(
        config.read_text() + "schedule: {initial_labels: 100, labels_per_round: 100, rounds: 2}\n"
    )
    assert run_main(tmp_path, monkeypatch, str(config), "--dry-run") == EXIT_OK
    out = capfd.readouterr().out
    assert "6 trials" in out and "digits/coreset/0/2" in out and "digits/random/0/0" in out
    assert "search (optuna, seed 0): 3 settings per group x 3 seeds, at most 1 in flight per group" in out
    assert "alpha in [0.05, 5] log" in out and "groups: digits/coreset" in out
    assert "early stopping: median" in out and "at most 15 trials in all" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["search.yaml"]


def test_encoders_config_dry_run_keeps_every_encoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    # --smoke: a pool of 400 and a validation hold-out of 300 outside it.
    write_mnist(tmp_path / "data", n_train=700, n_test=60)
    code = run_main(
        tmp_path,
        monkeypatch,
        str(CONFIGS / "encoders.yaml"),
        "--smoke",
        "--dry-run",
        "--set",
        f"dataset.root={tmp_path / 'data'}",
        "--set",
        "model.pretrained=false",
    )
    out, err = capfd.readouterr()
    assert code == EXIT_OK, err
    # 2 heuristics x (the alpha-0 arm + 3 encoders at alpha 1) x 2 smoke seeds
    assert "16 trials" in out
    for key in ("mnist/coreset/0/1", "mnist/lloss/1/0", "mnist/lloss/1/1/gmvae", "mnist/coreset/1/0/cvae"):
        assert key in out
    assert "mnist/coreset/0/0/gmvae" not in out  # alpha 0 is not repeated per encoder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
