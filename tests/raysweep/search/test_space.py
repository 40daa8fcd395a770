"""The search space against the trial config: which fields can be searched and why the others
cannot, the field types, and what a proposal becomes (rounded values, a label, a config)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.search import LOG_ALPHA, write_search_sweep

from raysweep.config import TrialConfig
from raysweep.heuristics.coreset import CoresetHeuristicConfig
from raysweep.heuristics.entropy import EntropyHeuristicConfig
from raysweep.heuristics.lloss import LLossHeuristicConfig
from raysweep.search.space import (
    apply_setting,
    field_type,
    format_value,
    key_suffix,
    normalise_setting,
    round_significant,
    searched_heuristics,
    setting_label,
    space_kinds,
)
from raysweep.sweep.config import load_sweep_config
from raysweep.typed_config import ConfigError


def test_setting_values_are_rounded_kept_in_range_and_typed(tmp_path: Path) -> None:
    sweep = load_sweep_config(
        write_search_sweep(
            tmp_path,
            "{settings: 2, space: {alpha: {low: 0.02, high: 20, scale: log}, vae.latent_dim: {low: 4, high: 64},"
            " training.lr: {choices: [0.01, 0.1]}}}",
        )
    )
    search = sweep.sweep.search
    kinds = space_kinds(search, sweep.sweep.heuristics)
    assert kinds == {"alpha": float, "vae.latent_dim": int, "training.lr": float}
    values = normalise_setting(
        search, {"alpha": 0.37132599183, "vae.latent_dim": 15.6, "training.lr": 0.1}, kinds
    )
    assert values == {"alpha": 0.371326, "vae.latent_dim": 16, "training.lr": 0.1}
    assert list(values) == list(search.space)  # the space's order
    assert (
        normalise_setting(search, {"alpha": 20.0000004, "vae.latent_dim": 64, "training.lr": 0.01}, kinds)[
            "alpha"
        ]
        == 20.0
    )  # kept inside the range
    assert (
        normalise_setting(search, {"alpha": 0.001, "vae.latent_dim": 99, "training.lr": 0.01}, kinds)[
            "vae.latent_dim"
        ]
        == 64
    )
    assert (
        round_significant(0.123456789) == 0.123457 and f"{round_significant(0.37132599183):g}" == "0.371326"
    )


def test_labels_and_key_suffixes_print_values_exactly() -> None:
    values = {"alpha": 0.371326, "vae.latent_dim": 16, "training.lr": 0.1}
    assert setting_label(values) == "alpha=0.371326,vae.latent_dim=16,training.lr=0.1"
    assert key_suffix(values) == "/vae.latent_dim=16/training.lr=0.1"  # alpha is already in the key
    assert key_suffix({"alpha": 2.0}) == ""
    assert format_value(16) == "16" and format_value(2.0) == "2" and format_value(1e-7) == "1e-07"


def test_apply_setting_validates_the_whole_config() -> None:
    config = TrialConfig(heuristic=LLossHeuristicConfig())
    applied = apply_setting(config, {"alpha": 0.5, "vae.latent_dim": 16, "heuristic.margin": 1.5})
    assert (applied.alpha, applied.vae.latent_dim, applied.heuristic.margin) == (0.5, 16, 1.5)
    assert config.alpha == 0.0  # the original is untouched
    with pytest.raises(ValueError, match="latent_dim"):
        apply_setting(config, {"vae.latent_dim": 0})


def test_field_types_and_why_a_field_cannot_be_searched() -> None:
    models = [CoresetHeuristicConfig, LLossHeuristicConfig]
    assert field_type("alpha", models) is float and field_type("vae.epochs", models) is int
    assert field_type("training.lr", models) is float
    with pytest.raises(ValueError, match="cannot be searched: the sweep's seeds pair every setting"):
        field_type("seed", models)
    with pytest.raises(ValueError, match="cannot be searched: every setting of a dataset"):
        field_type("dataset.pool_size", models)
    with pytest.raises(ValueError, match="has no field 'latnt_dim'"):
        field_type("vae.latnt_dim", models)
    with pytest.raises(ValueError, match=r"training\.lr is a value, not a section"):
        field_type("training.lr.x", models)
    with pytest.raises(ValueError, match="heuristic fields are one level deep"):
        field_type("heuristic.a.b", models)
    with pytest.raises(ValueError, match="heuristic coreset has no field 'margin'"):
        field_type("heuristic.margin", models)
    assert field_type("heuristic.margin", [LLossHeuristicConfig]) is float


def test_only_heuristics_that_take_vae_features_are_searched() -> None:
    heuristics = [EntropyHeuristicConfig(), CoresetHeuristicConfig(), LLossHeuristicConfig()]
    assert [h.name for h in searched_heuristics(heuristics)] == ["coreset", "lloss"]


MORE_BAD_BLOCKS = {
    "no_alpha": (
        "{settings: 2, space: {vae.latent_dim: {choices: [8, 16]}}}",
        "sweep.search.space: must include alpha",
    ),
    "alpha_zero": ("{settings: 2, space: {alpha: {low: 0, high: 1}}}", "searched alphas must be > 0"),
    "seed_field": (
        "{settings: 2, space: {alpha: {low: 0.1, high: 1}, seed: {choices: [1, 2]}}}",
        "space.seed: cannot be searched",
    ),
    "not_numeric": (
        "{settings: 2, space: {alpha: {low: 0.1, high: 1}, model.stem: {choices: [1, 2]}}}",
        "space.model.stem: not a numeric field",
    ),
    "fractional_int": (
        "{settings: 2, space: {alpha: {low: 0.1, high: 1}, vae.epochs: {low: 1.5, high: 4}}}",
        "space.vae.epochs: an integer field needs whole numbers",
    ),
    "invalid_value": (
        "{settings: 2, space: {alpha: {low: 0.1, high: 1}, vae.latent_dim: {choices: [0, 8]}}}",
        "space.vae.latent_dim: 0 is not a valid value (Input should be greater than 0)",
    ),
    "heuristic_without_field": (
        "{settings: 2, space: {alpha: {low: 0.1, high: 1}, heuristic.margin: {low: 0.5, high: 2}}}",
        "heuristic coreset has no field 'margin'",
    ),
    "unknown_field": (
        "{settings: 2, space: {alpha: {low: 0.1, high: 1}, vae.latnt_dim: {choices: [8, 16]}}}",
        "sweep.search.space.vae.latnt_dim: unknown trial field",
    ),
}


@pytest.mark.parametrize("case", sorted(MORE_BAD_BLOCKS))
def test_bad_search_spaces_name_the_field(tmp_path: Path, case: str) -> None:
    block, expected = MORE_BAD_BLOCKS[case]
    with pytest.raises(ConfigError) as caught:
        load_sweep_config(write_search_sweep(tmp_path, block))
    assert expected in str(caught.value) and "search.yaml" in str(caught.value)


def test_a_search_needs_a_heuristic_that_takes_vae_features(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="none of the sweep's heuristics \\(random, entropy\\) takes VAE features"
    ):
        load_sweep_config(write_search_sweep(tmp_path, LOG_ALPHA, heuristics="[random, entropy]"))


def test_search_with_grid_alphas_is_refused(tmp_path: Path) -> None:
    path = write_search_sweep(tmp_path, LOG_ALPHA)
    with pytest.raises(ConfigError, match=r"sweep.alphas: a search takes its alphas"):
        load_sweep_config(path, ["sweep.alphas=[0, 1]"])


def test_heuristic_fields_can_be_searched_when_every_searched_heuristic_has_them(tmp_path: Path) -> None:
    sweep = load_sweep_config(
        write_search_sweep(
            tmp_path,
            "{settings: 2, space: {alpha: {low: 0.1, high: 1}, heuristic.margin: {low: 0.5, high: 2}}}",
            heuristics="[entropy, lloss]",
        )
    )
    assert space_kinds(sweep.sweep.search, sweep.sweep.heuristics) == {
        "alpha": float,
        "heuristic.margin": float,
    }
