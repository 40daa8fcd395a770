"""What every report section takes (:class:`Study`) and returns (:class:`Section`).

A section is one function ``section(study) -> Section`` in its own module of
:mod:`analysis.sections`; :mod:`analysis.report` calls them in the report's order. A section builds
its own tables (name -> the DataFrame the report writes as ``<name>.csv``), its figures (saved into
``study.out_dir``) and its text (blocks of :mod:`analysis.render`).

:class:`Study` is the sweep as the report reads it. The tables that several sections show or draw
(the paired tests, the areas, the pick diagnostics, the runtime, ...) are computed once, here, so
that every section reads the same numbers from the same rows: which trials the paired tests leave
out, which encoder's arms the alpha sections read, which rows are the selection (the seeds that
chose) and which the confirmation on fresh seeds, and which split a choice reads, is decided in one
place; :func:`choice_text` and :func:`selection_text` say the last two in the same words wherever a
section needs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from analysis import (
    alpha_stats,
    confirm_stats,
    diagnostic_stats,
    encoder_stats,
    load,
    runtime_stats,
    search_stats,
    stats,
)
from analysis.load import SweepData
from analysis.render import Block
from raysweep.choice import CHOSEN_BY
from raysweep.schema import VALIDATION_METRIC, VALIDATION_PREFIX


@dataclass
class Section:
    """One part of the report: its tables (name -> table, written as ``<name>.csv``), its figures
    (stem -> the PNG, PDF and CSV written) and its blocks of text. A section with nothing to say for
    a sweep (a grid has no search section) is empty."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, list[Path]] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True)
class Study:
    """A loaded sweep, the metric its curves, tests and areas use, and the folder figures go to.

    Each property is computed on first use and kept, so sections share one copy. Every section but
    the confirmation's describes the selection: the sweeps' own trials (:attr:`selection`), the
    seeds that chose; a confirmation's trials (:attr:`confirmation`) are the confirmed section's.
    """

    data: SweepData
    metric: str
    out_dir: Path

    @cached_property
    def selection(self) -> pd.DataFrame:
        """The tidy rows of the sweeps' own trials (``data.frame`` itself without a confirmation)."""
        return confirm_stats.selection_rows(self.data.frame)

    @cached_property
    def selection_trials(self) -> pd.DataFrame:
        return confirm_stats.selection_rows(self.data.trials)

    @cached_property
    def confirmation(self) -> pd.DataFrame:
        """The tidy rows of a confirmation's trials (fresh seeds); empty without one."""
        return confirm_stats.confirmation_rows(self.data.frame)

    @cached_property
    def several_encoders(self) -> bool:
        """Some trials read VAE features from an encoder besides ``vae``: the encoders section compares
        the encoders and the alpha sections read one of them (:attr:`frame`)."""
        return encoder_stats.has_encoders(self.selection)

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The tidy frame of the alpha sections: the selection, one arm per alpha. With several encoders
        these are the reference encoder's arms (:func:`analysis.encoder_stats.reference_rows`): the
        alpha tables would otherwise average different encoders at one alpha; the encoders section
        compares them all.
        """
        if self.several_encoders:
            return encoder_stats.reference_rows(self.selection)
        return self.selection

    @cached_property
    def split(self) -> str:
        """The split the report's metric is measured on, for table headers: ``validation`` for a
        ``val_`` metric, else ``test`` (the trials' ``eval_split``, which the overview names)."""
        return "validation" if self.metric.startswith(VALIDATION_PREFIX) else "test"

    @cached_property
    def choice_areas(self) -> pd.DataFrame | None:
        """The areas under the validation curves (``val_accuracy``) that choices read; None when the
        runs logged none (a launcher older than the validation split): choices then read the test
        areas, biased upward."""
        if VALIDATION_METRIC not in set(self.frame["metric"]):
            return None
        return alpha_stats.trial_areas(self.frame, VALIDATION_METRIC, self.data.grids)

    @cached_property
    def chosen_on(self) -> str:
        """Which split the choices read: ``validation``, or ``test`` for runs without a validation metric."""
        return "test" if self.choice_areas is None else "validation"

    @cached_property
    def notes(self) -> list[str]:
        """For the report's header: the loader's notes, and which arms the alpha sections read."""
        if not self.several_encoders:
            return list(self.data.notes)
        reference = encoder_stats.reference_encoder(self.data.frame)
        return [
            *self.data.notes,
            f"several encoders: the alpha sections compare `{reference}` arms with alpha 0; the "
            "encoders section compares every encoder",
        ]

    @cached_property
    def scaling(self) -> str | None:
        """The VAE trials' alpha scaling (the loader refused a mix), None without VAE trials."""
        trials = self.data.trials
        used = (
            sorted(set(trials.loc[trials["uses_vae"], "alpha_scaling"])) if "alpha_scaling" in trials else []
        )
        return ", ".join(used) or None

    @cached_property
    def search_tags(self) -> pd.DataFrame:
        """The trials' search tags (:func:`analysis.load.search_tags`); empty for a grid."""
        return load.search_tags(self.data)

    @cached_property
    def curve_summary(self) -> pd.DataFrame:
        return stats.curve_summary(self.frame, self.metric)

    @cached_property
    def paired_tests(self) -> pd.DataFrame:
        # a search's trials stopped early have partial curves: shown, but kept out of paired tests
        return stats.paired_tests(
            search_stats.without_partial_curves(self.frame, self.search_tags), self.metric
        )

    @cached_property
    def areas(self) -> pd.DataFrame:
        return alpha_stats.trial_areas(self.frame, self.metric, self.data.grids)

    @cached_property
    def alpha_curve(self) -> pd.DataFrame:
        return alpha_stats.alpha_curve(self.areas)

    @cached_property
    def alpha_summary(self) -> pd.DataFrame:
        """The alpha chosen on validation (:attr:`choice_areas`), its gain on the metric's areas."""
        return alpha_stats.alpha_summary(self.areas, self.choice_areas)

    @cached_property
    def trial_diagnostics(self) -> pd.DataFrame:
        return diagnostic_stats.trial_diagnostics(self.frame)

    @cached_property
    def arms(self) -> pd.DataFrame:
        """Per alpha arm: vae_share and plain_overlap over seeds
        (:func:`analysis.diagnostic_stats.arm_diagnostics`)."""
        return diagnostic_stats.arm_diagnostics(self.trial_diagnostics)

    @cached_property
    def runtime(self) -> dict[str, pd.DataFrame]:
        """Per trial and per heuristic: the selection's trials; per sweep: every sweep, the
        confirmation's included."""
        # every trial the sweep ran costs time: the arms of every encoder included
        data = self.data
        selection = runtime_stats.runtime_tables(
            self.selection, self.selection_trials, data.sweeps, data.vaes
        )
        if self.confirmation.empty:
            return selection
        every = runtime_stats.runtime_tables(data.frame, data.trials, data.sweeps, data.vaes)
        return {**selection, "per_sweep": every["per_sweep"]}

    @cached_property
    def confirmation_areas(self) -> pd.DataFrame:
        """:func:`analysis.confirm_stats.confirmation_areas` of the metric; empty without a confirmation."""
        return confirm_stats.confirmation_areas(self.data.frame, self.metric, self.data.grids)

    @cached_property
    def confirmed(self) -> pd.DataFrame:
        """The confirmed comparisons (:func:`analysis.confirm_stats.confirmed_tests`)."""
        if self.confirmation.empty:
            return confirm_stats.confirmed_tests(self.confirmation_areas)
        return confirm_stats.confirmed_tests(
            self.confirmation_areas,
            confirm_stats.groups_confirmed(self.data.frame),
            confirm_stats.areas_with_encoders(self.selection, self.metric, self.data.grids),
        )

    @cached_property
    def confirmation_arms(self) -> pd.DataFrame:
        """The confirmation's pick diagnostics per arm
        (:func:`analysis.diagnostic_stats.arm_diagnostics`)."""
        return diagnostic_stats.arm_diagnostics(diagnostic_stats.trial_diagnostics(self.confirmation))


def choice_text(study: Study) -> str:
    """How the best alpha (and a search's best setting) was chosen, in words."""
    if study.chosen_on == "validation":
        return (
            f"the alpha chosen on validation ({CHOSEN_BY}, among the alpha > 0 arms complete on every "
            "seed; ties to the smaller alpha)"
        )
    return (
        f"the alpha chosen by the same rule on the {study.split} areas (the alpha > 0 arm with the largest "
        f"mean, among those complete on every seed): these runs logged no `{VALIDATION_METRIC}` (a "
        "launcher older than the validation split), so it is chosen on test: biased upward, the gain "
        "below is the largest of k noisy estimates"
    )


def selection_text(study: Study) -> str:
    """What the sections that read the choosing seeds are, in words."""
    if study.confirmation.empty:
        return (
            "These are selection results: the seeds that chose also measure the gain; confirm it on "
            "fresh seeds with `python -m raysweep.launch CONFIG --confirm`."
        )
    return (
        "These are selection results (the seeds that chose); the confirmed numbers on fresh seeds are "
        "in 'Confirmed on fresh seeds'."
    )
