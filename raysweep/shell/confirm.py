"""``--confirm``: the choice a sweep made, rerun on seeds the choice never saw.

Choosing a setting and measuring its gain on the same seeds is biased even across splits: the
chosen arm is the one whose picks happened to suit those seeds. A confirmation takes the setting of
each (dataset, heuristic) that a finished sweep chose on validation (``raysweep.choice``), and reruns
it with its alpha-0 partner (and every heuristic without VAE features: the random floor) on fresh
seeds (``sweep.confirm_seeds``), in the same MLflow experiment, as a sweep of its own whose runs are
tagged ``raysweep.confirms=<sweep id>``. The report's headline (gain, interval, p) comes from those
seeds; the choosing sweep's numbers are selection results.

The confirmation of sweep ``S`` is sweep ``S-confirm``: running ``--confirm S`` again continues it
(start when absent, resume when present), and its choice is kept in its folder (``choice.json``), so a
resume confirms what it started to confirm.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from raysweep.choice import CHOSEN_BY, ArmScores, choose_arms
from raysweep.heuristics import heuristic_class
from raysweep.schema import (
    CHOICE_ARTIFACT,
    CHOSEN_BY_PARAM,
    CHOSEN_TAG_PREFIX,
    CONFIRM_SEEDS_PARAM,
    CONFIRMS_PARAM,
    CONFIRMS_TAG,
    VALIDATION_METRIC,
    area_metric,
)
from raysweep.shell.exit_codes import LaunchError
from raysweep.shell.plan import GridPlan
from raysweep.shell.sweep_record import SweepRecord
from raysweep.shell.tracking.patience import TrackingPatience
from raysweep.storage import StoragePath
from raysweep.sweep.config import SweepConfig
from raysweep.sweep.trials import Trial

CHOICE_SCORE = area_metric(VALIDATION_METRIC)
"""The trial-end metric a choice is made by."""


@dataclass
class Choice:
    """What a sweep chose, and on which seeds it is confirmed."""

    sweep_id: str
    """The sweep that chose."""
    chosen_by: str
    seeds: list[int]
    """The seeds the choice saw."""
    confirm_seeds: list[int]
    chosen: dict[str, str]
    """Group (``dataset/heuristic``) -> the chosen arm (``dataset/heuristic/alpha/*``)."""
    arms: list[dict[str, Any]]
    """Every arm with its group, alpha, score per seed and mean, for the record."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def read(cls, path: StoragePath) -> Choice:
        return cls(**json.loads(path.read_text()))


def make_choice(
    sweep: SweepConfig, record: SweepRecord, trials: list[Trial], patience: TrackingPatience
) -> Choice:
    """The choice of the finished sweep ``record`` over its ``trials``, from their runs' validation areas."""
    from raysweep.shell.tracking.sweep_run import finished_trial_metric

    scores = finished_trial_metric(record, CHOICE_SCORE, patience)
    if not scores:
        raise LaunchError(
            f"--confirm: no finished trial of sweep {record.sweep_id} logged {CHOICE_SCORE} (a sweep run "
            "before raysweep chose on validation, or one whose trials have not finished); resume it first"
        )
    arms: dict[str, ArmScores] = {}
    for trial in trials:
        group = f"{trial.dataset}/{trial.heuristic}"
        arm = arms.setdefault(trial.arm, ArmScores(group, trial.arm, trial.config.alpha, {}))
        arm.scores[trial.config.seed] = scores.get(trial.key, float("nan"))  # type: ignore[index]
    seeds = list(sweep.sweep.seeds)
    chosen = choose_arms(arms.values(), seeds)
    vae_groups = sorted({a.group for a in arms.values() if a.alpha > 0})
    missing = [group for group in vae_groups if group not in chosen]
    if missing:
        raise LaunchError(
            f"--confirm: sweep {record.sweep_id} has no setting with {CHOICE_SCORE} on every seed for "
            f"{', '.join(missing)}; resume it until its trials finish"
        )
    return Choice(
        sweep_id=record.sweep_id,
        chosen_by=CHOSEN_BY,
        seeds=seeds,
        confirm_seeds=sweep.sweep.confirmation_seeds,
        chosen={group: arm.arm for group, arm in chosen.items()},
        arms=[
            {**asdict(arm), "scores": dict(arm.scores), "mean": arm.mean_over(seeds)}
            for arm in sorted(arms.values(), key=lambda a: (a.group, a.alpha, a.arm))
        ],
    )


def confirmation_trials(sweep: SweepConfig, trials: list[Trial], choice: Choice) -> list[Trial]:
    """Per group, the chosen arm and its alpha-0 partner; every heuristic without VAE features at its
    one arm; each on every confirmation seed, in the sweep's order."""
    template: dict[str, Trial] = {}
    for trial in trials:
        template.setdefault(trial.arm, trial)
    wanted = []
    for arm, trial in template.items():
        group = f"{trial.dataset}/{trial.heuristic}"
        takes_vae = heuristic_class(trial.heuristic).supports_vae
        if not takes_vae and trial.config.alpha == 0:
            wanted.append(trial)  # the floor: random, entropy, ... on the fresh seeds too
        elif takes_vae and (
            choice.chosen.get(group) == arm or (trial.config.alpha == 0 and group in choice.chosen)
        ):
            wanted.append(trial)
    return [trial.with_seed(seed, sweep) for trial in wanted for seed in choice.confirm_seeds]


@dataclass
class ConfirmPlan(GridPlan):
    """A grid of the confirmation's trials, whose runs say which sweep's choice they confirm."""

    choice: Choice | None = None

    def describe(self) -> list[str]:
        assert self.choice is not None
        lines = [
            f"confirmation of sweep {self.choice.sweep_id}: chosen by {self.choice.chosen_by} on seeds "
            f"{self.choice.seeds}, rerun on seeds {self.choice.confirm_seeds}"
        ]
        for group, arm in self.choice.chosen.items():
            mean = next(a["mean"] for a in self.choice.arms if a["arm"] == arm)
            lines.append(f"  {group}: {arm} (mean {mean:.4f}) and its alpha-0 partner")
        return lines

    def parent_params(self) -> dict[str, str]:
        assert self.choice is not None
        return {
            CONFIRMS_PARAM: self.choice.sweep_id,
            CONFIRM_SEEDS_PARAM: ",".join(str(s) for s in self.choice.confirm_seeds),
            CHOSEN_BY_PARAM: self.choice.chosen_by,
        }

    def parent_tags(self) -> dict[str, str]:
        assert self.choice is not None
        return {
            CONFIRMS_TAG: self.choice.sweep_id,
            **{f"{CHOSEN_TAG_PREFIX}{group}": arm for group, arm in self.choice.chosen.items()},
        }

    def parent_texts(self) -> dict[str, str]:
        assert self.choice is not None
        return {CHOICE_ARTIFACT: self.choice.to_json()}

    def keep(self, sweep_dir: StoragePath) -> None:
        assert self.choice is not None
        (sweep_dir / CHOICE_ARTIFACT).write_text(self.choice.to_json())

    def tags(self, trial: Trial, tune_config: dict[str, Any]) -> dict[str, str]:
        assert self.choice is not None
        return {CONFIRMS_TAG: self.choice.sweep_id}


def prepare_confirmation(
    sweep: SweepConfig, plan: GridPlan, wanted: str, outage_limit: float
) -> tuple[ConfirmPlan, str, bool]:
    """The confirmation of sweep ``wanted`` (an id or ``latest``): its plan, its sweep id, and whether it
    exists already (then it is resumed with the choice it kept). Bad input (no such sweep, another
    config, a choice that cannot be made) is a LaunchError: nothing is written."""
    from raysweep.shell.deployment import sweep_digest
    from raysweep.shell.sweep_record import confirmation_id, find_sweep_folder, sweep_exists
    from raysweep.shell.tracking.patience import short_mlflow_http_attempts
    from raysweep.storage import parse_storage

    experiment_dir = parse_storage(sweep.storage).root / sweep.experiment
    chooser_dir = find_sweep_folder(experiment_dir, wanted, flag="--confirm")
    record = SweepRecord.read(chooser_dir)
    if record.config_digest != sweep_digest(sweep):
        raise LaunchError(
            f"--confirm: the config differs from the one sweep {record.sweep_id} ran with; confirm it with "
            "the same config and flags"
        )
    folder = experiment_dir / confirmation_id(record.sweep_id)
    resume = sweep_exists(folder) and (folder / CHOICE_ARTIFACT).is_file()
    if resume:
        choice = Choice.read(folder / CHOICE_ARTIFACT)
    else:
        short_mlflow_http_attempts()
        patience = TrackingPatience(record.tracking_uri, outage_limit)
        choice = make_choice(sweep, record, plan.trials_so_far(chooser_dir), patience)
    trials = confirmation_trials(sweep, plan.trials_so_far(chooser_dir), choice)
    confirm_sweep = sweep.model_copy(update={"tracking_uri": record.tracking_uri})
    return ConfirmPlan(confirm_sweep, trials, choice), confirmation_id(record.sweep_id), resume
