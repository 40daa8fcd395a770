"""analysis.sections.training: the rounds whose training did not fit its labels (``confirmed``: MedAL alpha 1
of seed 0 under 0.99 at 100 and 200 labels); nothing for runs without ``train_accuracy``."""

from __future__ import annotations

from analysis.render import Bullets, Heading, Table
from analysis.sections.training import training


def test_the_arm_under_0_99_train_accuracy_is_flagged(confirmed, study_of):
    section = training(study_of(confirmed))
    assert section.blocks[0] == Heading("Did the training fit the labels?")
    assert list(section.tables) == ["training"]
    [table] = [block.frame for block in section.blocks if isinstance(block, Table)]
    flagged = table[table["flag"] != ""]
    assert flagged[
        ["heuristic", "alpha", "trials", "rounds under 0.99", "under at (labels)"]
    ].values.tolist() == [["medal", "1", "selection", "2", "100, 200"]]
    assert set(table["trials"]) == {"selection", "confirmation of c1"}  # both sweeps, each row labelled
    assert section.blocks[-1] == Bullets(
        [
            "digits medal alpha = 1: 2 of 25 rounds under 0.99 (lowest 0.9000, at 100, 200 labels): does not "
            "fit its labels"
        ]
    )


def test_runs_without_train_accuracy_get_no_section(grid, study_of):
    section = training(study_of(grid))
    assert section.tables == {} and section.blocks == []
