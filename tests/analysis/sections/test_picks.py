"""analysis.sections.picks: did each alpha arm change the picks? (issues 10, 11)"""

from __future__ import annotations

import pandas as pd
from helpers.analysis_sweeps import ARMS
from helpers.mlflow_runs import Diagnostics, write_sweep

from analysis import diagnostic_stats
from analysis.load import load_sweep
from analysis.render import Paragraph, Table, to_markdown
from analysis.sections.picks import picks, with_same_picks


def test_the_arm_with_the_plain_picks_is_flagged(alphas, study_of):
    section = picks(study_of(alphas))
    text = to_markdown(section.blocks)
    flagged = [line for line in text.splitlines() if "this arm is not a different experiment" in line]
    assert (
        "- digits coreset alpha = 0.25: mean plain_overlap 0.9950: picks equal to the plain heuristic's; "
        "this arm is not a different experiment" in flagged
    )
    assert not any("medal" in line or "alpha = 1:" in line for line in flagged)
    assert "Alpha scaling: `balanced` (each block divided by its pool spread" in text
    assert list(section.tables) == ["trial_diagnostics", "arm_diagnostics"]


def test_pick_diagnostics_of_two_seeds_show_no_interval(store, study_of):
    uri, art = store["uri"], store["art"]
    write_sweep(uri, "two-seeds", sweep_id="w1", artifact_root=art, seeds=[0, 1], diagnostics=ARMS)
    section = picks(study_of(load_sweep(uri, "two-seeds")))
    text = to_markdown(section.blocks)
    [header] = [
        line
        for line in text.splitlines()
        if line.startswith("| dataset | heuristic | alpha | seeds | vae_share")
    ]
    assert "CI" not in header  # fewer than 3 seeds: not informative, not shown
    assert "| digits | coreset | 1 | 2 | 0.5000 | 0.7200 |" in text
    arms = section.tables["arm_diagnostics"]
    assert arms["plain_overlap_ci_low"].notna().all()  # the table written keeps the intervals as computed
    assert section.blocks[-1] == Paragraph("No arm has a mean plain_overlap of 0.99 of its baseline or more.")


def test_runs_without_pick_diagnostics_say_so(grid, study_of):
    section = picks(study_of(grid))
    assert len(section.blocks) == 2 and "These runs logged no pick diagnostics" in section.blocks[1].text
    assert section.tables["arm_diagnostics"].empty


def test_with_same_picks_marks_the_flagged_arms_only():
    arms = pd.DataFrame(
        {
            "dataset": ["d", "d"],
            "heuristic": ["coreset", "medal"],
            "alpha": [0.5, 1.0],
            "same_picks_as_plain": [True, False],
        }
    )
    table = pd.DataFrame(
        {"dataset": ["d", "d", "d"], "heuristic": ["coreset", "coreset", "medal"], "alpha": [0.5, 1.0, 1.0]}
    )
    assert with_same_picks(table, arms)["same_picks"].tolist() == ["yes", "", ""]
    assert "same_picks" not in table  # the input is untouched
    # no arm flagged: no column at all
    assert "same_picks" not in with_same_picks(table, arms.assign(same_picks_as_plain=False))


def test_overlap_is_read_against_its_baseline(baselines, study_of):
    section = picks(study_of(baselines))
    [table] = [block.frame for block in section.blocks if isinstance(block, Table)]
    assert {"baseline", "ratio"} <= set(table.columns)
    rows = table.set_index("heuristic")[["plain_overlap", "baseline", "ratio", "flag"]]
    assert rows.loc["badge"].tolist() == ["0.5000", "0.5000", "1.0000", diagnostic_stats.SAME_PICKS_TEXT]
    assert rows.loc["typiclust"].tolist() == ["0.5000", "1.0000", "0.5000", ""]
    text = to_markdown(section.blocks)
    assert (
        "- digits badge alpha = 1: mean plain_overlap 0.5000 against a baseline of 0.5000: picks equal to the "
        "plain heuristic's" in text
    )
    assert "its overlap is read against its 'baseline'" in text


def test_the_share_of_the_pick_distances_is_shown(store, study_of):
    arms = {("coreset", 1.0): Diagnostics(vae_share=0.5, plain_overlap=0.7, pick_distances=0.3)}
    write_sweep(
        store["uri"],
        "pick-distances",
        sweep_id="p1",
        artifact_root=store["art"],
        seeds=[0, 1, 2],
        diagnostics=arms,
    )
    section = picks(study_of(load_sweep(store["uri"], "pick-distances")))
    [table] = [block.frame for block in section.blocks if isinstance(block, Table)]
    assert table["vae_share_of_pick_distances"].tolist() == ["0.3000"]
