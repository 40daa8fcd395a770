"""Did each round's training fit its labels? The paper trains "until >99% train accuracy": per arm, the
rounds whose ``train_accuracy`` is under 0.99 (nothing for runs that logged no ``train_accuracy``)."""

from __future__ import annotations

from analysis import diagnostic_stats
from analysis.render import Bullets, Heading, Paragraph, Table, format_table
from analysis.sections.base import Section, Study
from raysweep.schema import TRAIN_ACCURACY


def training(study: Study) -> Section:
    fit = diagnostic_stats.training_fit(study.data.frame)
    if fit.empty:
        return Section()
    shown = fit.assign(
        trials_of=["selection" if c == "" else f"confirmation of {c}" for c in fit["confirms"]],
        flag=["" if fits else "does not fit its labels" for fits in fit["fits"]],
    )
    if (shown["encoder"].isin(["vae", "none"])).all():
        shown = shown.drop(columns="encoder")
    unfit = fit[~fit["fits"]]
    blocks = [
        Heading("Did the training fit the labels?"),
        Paragraph(
            f"The paper trains the task model each round until its accuracy on the labeled set exceeds "
            f"{diagnostic_stats.TRAIN_FIT:g} (`training.until_train_accuracy`, with `training.max_epochs`). "
            f"Every round logs `{TRAIN_ACCURACY}` after training; per arm: the rounds of all its trials, "
            f"those under {diagnostic_stats.TRAIN_FIT:g}, the lowest value and the label counts where it "
            "happened. "
            "An arm whose rounds do not fit their labels compares heuristics on under-trained models: "
            "its picks rest on a model the paper would have trained further. Full table: `training.csv`."
        ),
        Table(
            format_table(
                shown,
                {
                    "dataset": "dataset",
                    "heuristic": "heuristic",
                    "alpha": "alpha",
                    "encoder": "encoder",
                    "trials_of": "trials",
                    "trials": "seeds",
                    "rounds": "rounds",
                    "rounds_under": f"rounds under {diagnostic_stats.TRAIN_FIT:g}",
                    "trials_under": "seeds with one",
                    "min_train_accuracy": "lowest train accuracy",
                    "under_at": "under at (labels)",
                    "flag": "flag",
                },
            )
        ),
    ]
    if unfit.empty:
        blocks.append(
            Paragraph(f"Every round of every arm reached {diagnostic_stats.TRAIN_FIT:g} train accuracy.")
        )
    else:
        blocks.append(
            Bullets(
                [
                    f"{r.dataset} {r.heuristic} alpha = {r.alpha:g}"
                    + (f" ({r.encoder})" if r.encoder not in ("vae", "none") else "")
                    + ("" if r.confirms == "" else f", confirmation of {r.confirms}")
                    + f": {r.rounds_under} of {r.rounds} rounds under {diagnostic_stats.TRAIN_FIT:g} (lowest "
                    f"{r.min_train_accuracy:.4f}, at {r.under_at} labels): does not fit its labels"
                    for r in unfit.itertuples()
                ]
            )
        )
    return Section(tables={"training": fit}, blocks=blocks)
