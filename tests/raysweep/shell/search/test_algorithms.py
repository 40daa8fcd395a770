"""Each search algorithm by name as an inner Tune searcher: Optuna's sampler behind OptunaSearch, over
the space as Optuna distributions."""

from __future__ import annotations

import pytest
from helpers.paths import CONFIGS
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from ray.tune.search.optuna import OptunaSearch

from raysweep.schema import RESULT_OBJECTIVE
from raysweep.search.config import SEARCH_ALGORITHMS, SearchConfig
from raysweep.shell.search.algorithms import inner_searcher, optuna_space
from raysweep.sweep.config import load_sweep_config


def test_every_search_algorithm_builds_an_inner_searcher() -> None:
    sweep = load_sweep_config(CONFIGS / "alpha_search.yaml")
    for name in SEARCH_ALGORITHMS:
        search = sweep.sweep.search.model_copy(update={"algorithm": name})
        built = inner_searcher(search, {"alpha": float}, seed=0)
        assert isinstance(built, OptunaSearch)
        expected = "TPESampler" if SEARCH_ALGORITHMS[name].sampler == "tpe" else "RandomSampler"
        assert type(built._sampler).__name__ == expected
        assert built.metric == RESULT_OBJECTIVE and built.mode == search.objective.mode


def test_the_space_as_optuna_distributions() -> None:
    search = SearchConfig(
        settings=2,
        space={
            "alpha": {"low": 0.05, "high": 5, "scale": "log"},
            "vae.latent_dim": {"low": 4, "high": 64},
            "training.lr": {"choices": [0.01, 0.1]},
            "vae.epochs": {"choices": [1, 2]},
        },
    )
    space = optuna_space(
        search, {"alpha": float, "vae.latent_dim": int, "training.lr": float, "vae.epochs": int}
    )
    assert space["alpha"] == FloatDistribution(0.05, 5.0, log=True)
    assert space["vae.latent_dim"] == IntDistribution(4, 64, log=False)
    assert space["training.lr"] == CategoricalDistribution([0.01, 0.1])
    assert space["vae.epochs"] == CategoricalDistribution([1, 2])
    assert all(type(c) is int for c in space["vae.epochs"].choices)


@pytest.mark.parametrize("algorithm", sorted(SEARCH_ALGORITHMS))
def test_a_seeded_inner_searcher_proposes_the_same_settings_again(algorithm: str) -> None:
    search = SearchConfig(
        algorithm=algorithm, settings=3, space={"alpha": {"low": 0.05, "high": 5, "scale": "log"}}
    )

    def proposals(seed: int) -> list[float]:
        inner = inner_searcher(search, {"alpha": float}, seed=seed)
        return [inner.suggest(f"t{i}")["alpha"] for i in range(3)]

    first = proposals(0)
    assert first == proposals(0) and first != proposals(1)
    assert all(0.05 <= alpha <= 5 for alpha in first)
