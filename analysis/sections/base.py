"""What every report section takes (:class:`Study`) and returns (:class:`Section`).

A section is one function ``section(study) -> Section`` in its own module of
:mod:`analysis.sections`; :mod:`analysis.report` calls them in the report's order. A section builds
its own tables (name -> the DataFrame the report writes as ``<name>.csv``), its figures (saved into
``study.out_dir``) and its text (blocks of :mod:`analysis.render`).

:class:`Study` is the sweep as the report reads it. The tables that several sections show or draw
(the paired tests, the areas, the pick diagnostics, the runtime, ...) are computed once, here, so
that every section reads the same numbers from the same rows: which trials the paired tests leave
out, or which encoder's arms the alpha sections read, is decided in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from analysis import encoder_stats, load, search_stats, stats
from analysis.load import SweepData
from analysis.render import Block


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

    Each property is computed on first use and kept, so sections share one copy.
    """

    data: SweepData
    metric: str
    out_dir: Path

    @cached_property
    def several_encoders(self) -> bool:
        """Some trials read VAE features from an encoder besides ``vae``: the encoders section compares
        the encoders and the alpha sections read one of them (:attr:`frame`)."""
        return encoder_stats.has_encoders(self.data.frame)

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The tidy frame of the alpha sections: one arm per alpha. With several encoders these are the
        reference encoder's arms (:func:`analysis.encoder_stats.reference_rows`): the alpha tables
        would otherwise average different encoders at one alpha; the encoders section compares them all.
        """
        if self.several_encoders:
            return encoder_stats.reference_rows(self.data.frame)
        return self.data.frame

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
        return stats.trial_areas(self.frame, self.metric, self.data.grids)

    @cached_property
    def alpha_curve(self) -> pd.DataFrame:
        return stats.alpha_curve(self.areas)

    @cached_property
    def alpha_summary(self) -> pd.DataFrame:
        return stats.alpha_summary(self.areas)

    @cached_property
    def trial_diagnostics(self) -> pd.DataFrame:
        return stats.trial_diagnostics(self.frame)

    @cached_property
    def arms(self) -> pd.DataFrame:
        """Per alpha arm: vae_share and plain_overlap over seeds (:func:`analysis.stats.arm_diagnostics`)."""
        return stats.arm_diagnostics(self.trial_diagnostics)

    @cached_property
    def runtime(self) -> dict[str, pd.DataFrame]:
        # every trial the sweep ran costs time: the arms of every encoder included
        data = self.data
        return stats.runtime_tables(data.frame, data.trials, data.sweeps, data.vaes)
