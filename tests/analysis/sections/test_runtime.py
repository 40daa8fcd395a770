"""analysis.sections.runtime: seconds per heuristic and per sweep, shared VAEs split over their trials."""

from __future__ import annotations

import pytest
from helpers.mlflow_runs import write_sweep

from analysis.load import load_sweep
from analysis.render import to_markdown
from analysis.sections.runtime import runtime


def test_runtime_adds_each_heuristics_share_of_the_vae_seconds(alphas, study_of):
    section = runtime(study_of(alphas))
    # 30 s of VAE training over the 15 trials that used it (2 s each)
    by_heuristic = section.tables["runtime_by_heuristic"].set_index("heuristic")
    assert by_heuristic.loc["coreset", "vae_seconds"] == pytest.approx(9 * 2.0)
    assert by_heuristic.loc["lloss", "vae_seconds"] == pytest.approx(3 * 2.0)
    assert by_heuristic.loc["random", "vae_seconds"] == 0.0
    per_trial = 5 * 2.0 + 4 * 0.5  # the helper's train and selection seconds
    gap_trial = 4 * 2.0 + 3 * 0.5  # digits/medal/1/0 lacks one round
    assert by_heuristic.loc["medal", "total_seconds"] == pytest.approx(5 * per_trial + gap_trial + 3 * 2.0)
    assert by_heuristic.loc["coreset", "diagnostics_seconds"] == pytest.approx(9 * 4 * 0.25)
    text = to_markdown(section.blocks)
    assert (
        "digits (sklearn) core-set: 720 s wall (144 s train + selection + evaluation + 18 s VAE training) "
        "over 12 trials" in text
    )
    assert (
        "| digits | coreset | 12 | 4 | 3 | 120.0 | 24.0 | 0.0 | 144.0 | 9 | 18.0 | 162.0 | 9.0 | 720.0 | 60.0 |"
        in text
    )
    assert "| a1 | 27 | 321.5 | 87.0 | 1 | 30.0 |" in text
    assert list(section.tables) == ["runtime_per_trial", "runtime_by_heuristic", "runtime_per_sweep"]


def test_unknown_vae_seconds_are_said_and_give_no_total(store, study_of):
    uri, art = store["uri"], store["art"]
    write_sweep(uri, "older-launcher", sweep_id="o2", artifact_root=art, seeds=[0], vae_seconds=None)
    section = runtime(study_of(load_sweep(uri, "older-launcher")))
    text = to_markdown(section.blocks)
    assert (
        " VAE seconds unknown (sweep logged none) for 2 coreset trials on digits: no total for those." in text
    )
    assert "| total s |" not in text  # no row has a total: no column
