"""A search instead of a grid: the search block, the paired-seed searcher, early stopping per setting.

The searcher and the scheduler are driven here as Tune drives them (suggest, results, completions,
Tune's save and restore), with a real OptunaSearch inside; tests/test_search_sweep.py runs whole
searches through the CLI on a real local Ray and MLflow store.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

from raysweep.loop import RoundResult
from raysweep.schema import ROUND_METRICS
from raysweep.search.config import SEARCH_ALGORITHMS, Objective
from raysweep.search.groups import (
    ledger_trials,
    planned_trial_count,
    prewarm_trials,
    search_groups,
    setting_trial,
)
from raysweep.search.ledger import LEDGER, SearchLedger
from raysweep.search.objective import behind_median, trial_objective
from raysweep.search.outcome import search_outcome
from raysweep.search.space import normalise_setting, round_significant, space_kinds
from raysweep.shell.search.searcher import PairedSeedSearch
from raysweep.shell.search.stopping import SettingMedianStopping
from raysweep.sweep.config import config_digest, load_sweep_config
from raysweep.sweep.trials import expand_trials
from raysweep.typed_config import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write_sweep(
    tmp_path: Path, search: str, heuristics: str = "[random, coreset]", seeds: str = "[0, 1, 2]"
) -> Path:
    path = tmp_path / "search.yaml"
    path.write_text(
        "experiment: search-test\n"
        f"sweep:\n  datasets: [digits]\n  heuristics: {heuristics}\n  seeds: {seeds}\n"
        f"  search: {search}\n"
        "model: {pretrained: false}\n"
    )
    return path


LOG_ALPHA = "{settings: 3, max_concurrent_settings: 1, space: {alpha: {low: 0.05, high: 5, scale: log}}}"


class Driver:
    """Calls a searcher the way Tune's SearchGenerator does: fresh trial ids, configs handed out in order."""

    def __init__(self, searcher: PairedSeedSearch) -> None:
        self.searcher = searcher
        self.count = 0
        self.ids: dict[str, str] = {}  # key -> latest trial id

    def next(self) -> dict | str | None:
        trial_id = f"trial{self.count:04d}"
        self.count += 1
        config = self.searcher.suggest(trial_id)
        if isinstance(config, dict):
            self.ids[config["trial"]] = trial_id
        return config

    def finish(self, key: str, objective: float, rounds: int = 3, last_round: int | None = None) -> None:
        last = rounds - 1 if last_round is None else last_round
        self.searcher.on_trial_complete(
            self.ids[key], {"objective": objective, "round": last, "rounds": rounds}
        )


def inner_values(
    searcher: PairedSeedSearch, group: str = "digits/coreset"
) -> list[tuple[dict, float | None, str]]:
    study = searcher._inner[group]._ot_study
    return [(t.params, t.value, t.state.name) for t in study.trials]


# ---------------------------------------------------------------------------------------------
# The search block
# ---------------------------------------------------------------------------------------------


def test_search_block_loads_and_plans_references_plus_settings(tmp_path: Path) -> None:
    sweep = load_sweep_config(write_sweep(tmp_path, LOG_ALPHA))
    assert [t.key for t in expand_trials(sweep)] == [
        f"digits/{h}/0/{s}" for h in ("random", "coreset") for s in (0, 1, 2)
    ]  # the reference arms: every heuristic at alpha 0 on every seed
    assert [g.name for g in search_groups(sweep)] == ["digits/coreset"]
    assert planned_trial_count(sweep) == 6 + 3 * 3
    assert sweep.sweep.search.algorithm == "optuna" and sweep.sweep.search.objective == Objective()


def test_grid_digest_leaves_the_absent_search_out() -> None:
    """A grid started before searches existed must still --resume: its digest ignores search: None."""
    sweep = load_sweep_config(REPO / "configs" / "quickstart.yaml")
    data = sweep.model_dump(mode="json")
    assert data["sweep"].pop("search") is None
    data["sweep"].pop("encoders")  # the encoders axis at its default is left out as well
    expected = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
    assert config_digest(sweep) == expected


def test_setting_values_are_rounded_and_keys_print_them_exactly(tmp_path: Path) -> None:
    sweep = load_sweep_config(
        write_sweep(
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
    assert (
        normalise_setting(search, {"alpha": 20.0000004, "vae.latent_dim": 64, "training.lr": 0.01}, kinds)[
            "alpha"
        ]
        == 20.0
    )  # kept inside the range
    [group] = search_groups(sweep)
    trial = setting_trial(sweep, group, values, 2)
    assert trial.key == "digits/coreset/0.371326/2/vae.latent_dim=16/training.lr=0.1"
    assert (trial.config.alpha, trial.config.vae.latent_dim, trial.config.training.lr, trial.config.seed) == (
        0.371326,
        16,
        0.1,
        2,
    )
    assert f"{trial.config.alpha:g}" == "0.371326" and round_significant(0.123456789) == 0.123457


def test_trial_objective_area_and_final() -> None:
    curve = [
        RoundResult(0, 100, {"accuracy": 0.5, "vae_share": 0.2}),
        RoundResult(1, 200, {"accuracy": 0.7, "vae_share": 0.4}),
        RoundResult(2, 400, {"accuracy": 0.8}),
    ]
    # trapezoid: (0.5+0.7)/2*100 + (0.7+0.8)/2*200 = 60 + 150 = 210, over 300 labels
    assert trial_objective(curve, Objective()) == pytest.approx(0.7)
    assert trial_objective(curve, Objective(summary="final")) == pytest.approx(0.8)
    assert trial_objective(curve, Objective(metric="vae_share", summary="final")) == pytest.approx(0.4)
    assert math.isnan(trial_objective(curve, Objective(metric="plain_overlap")))
    assert behind_median(0.5, [0.4, 0.6, 0.7], "max") and not behind_median(0.65, [0.4, 0.6, 0.7], "max")
    assert behind_median(0.7, [0.4, 0.6, 0.7], "min") and not behind_median(0.5, [], "max")


def test_every_search_algorithm_builds_an_inner_searcher() -> None:
    from ray.tune.search.optuna import OptunaSearch

    from raysweep.shell.search.algorithms import inner_searcher

    sweep = load_sweep_config(REPO / "configs" / "alpha_search.yaml")
    for name in SEARCH_ALGORITHMS:
        search = sweep.sweep.search.model_copy(update={"algorithm": name})
        built = inner_searcher(search, {"alpha": float}, seed=0)
        assert isinstance(built, OptunaSearch)
        expected = "TPESampler" if SEARCH_ALGORITHMS[name].sampler == "tpe" else "RandomSampler"
        assert type(built._sampler).__name__ == expected
    assert Objective(metric=ROUND_METRICS[-1]).metric == ROUND_METRICS[-1]


BAD_BLOCKS = {
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


@pytest.mark.parametrize("case", sorted(BAD_BLOCKS))
def test_bad_search_block_exits_2_naming_the_field_and_leaves_nothing(tmp_path: Path, case: str) -> None:
    block, field, problem = BAD_BLOCKS[case]
    config = write_sweep(tmp_path, block)
    result = subprocess.run(
        [sys.executable, "-m", "raysweep.launch", str(config)],
        cwd=tmp_path,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert field in result.stderr and problem in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["search.yaml"]  # no mlflow.db, no storage


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
    "empty_choices": ("{settings: 2, space: {alpha: {choices: []}}}", "empty choices"),
    "unknown_metric": (
        "{settings: 2, space: {alpha: {low: 0.1, high: 1}}, objective: {metric: acuracy}}",
        "unknown metric 'acuracy'",
    ),
}


@pytest.mark.parametrize("case", sorted(MORE_BAD_BLOCKS))
def test_more_bad_search_blocks_name_the_field(tmp_path: Path, case: str) -> None:
    block, expected = MORE_BAD_BLOCKS[case]
    with pytest.raises(ConfigError) as caught:
        load_sweep_config(write_sweep(tmp_path, block))
    assert expected in str(caught.value) and "search.yaml" in str(caught.value)


def test_search_with_grid_alphas_is_refused(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, LOG_ALPHA)
    with pytest.raises(ConfigError, match=r"sweep.alphas: a search takes its alphas"):
        load_sweep_config(path, ["sweep.alphas=[0, 1]"])


def test_a_search_runs_one_encoder_and_keys_name_a_non_default_one(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, LOG_ALPHA)
    with pytest.raises(ConfigError, match=r"sweep.encoders: a search runs its settings with one encoder"):
        load_sweep_config(path, ["sweep.encoders=[vae, gmvae]"])
    sweep = load_sweep_config(path, ["sweep.encoders=[gmvae]"])
    group = search_groups(sweep)[0]
    trial = setting_trial(sweep, group, {"alpha": 0.5}, 1)
    assert trial.key == "digits/coreset/0.5/1/gmvae" and trial.config.encoder.name == "gmvae"
    assert [t.config.encoder.name for t in prewarm_trials(sweep)] == ["gmvae"]


def test_heuristic_fields_can_be_searched_when_every_searched_heuristic_has_them(tmp_path: Path) -> None:
    sweep = load_sweep_config(
        write_sweep(
            tmp_path,
            "{settings: 2, space: {alpha: {low: 0.1, high: 1}, heuristic.margin: {low: 0.5, high: 2}}}",
            heuristics="[entropy, lloss]",
        )
    )
    [group] = search_groups(sweep)
    trial = setting_trial(sweep, group, {"alpha": 0.5, "heuristic.margin": 1.5}, 0)
    assert trial.key == "digits/lloss/0.5/0/heuristic.margin=1.5" and trial.config.heuristic.margin == 1.5


# ---------------------------------------------------------------------------------------------
# The searcher, driven as Tune drives it
# ---------------------------------------------------------------------------------------------


def new_searcher(tmp_path: Path, block: str = LOG_ALPHA, **kwargs) -> PairedSeedSearch:
    sweep = load_sweep_config(write_sweep(tmp_path, block, **kwargs))
    return PairedSeedSearch(sweep, expand_trials(sweep), tmp_path / "sweep" / LEDGER)


def test_references_first_then_each_setting_on_every_seed_and_the_mean_told(tmp_path: Path) -> None:
    searcher = new_searcher(tmp_path)
    tune = Driver(searcher)
    references = [tune.next() for _ in range(6)]
    assert [c["trial"] for c in references] == [
        f"digits/{h}/0/{s}" for h in ("random", "coreset") for s in (0, 1, 2)
    ]
    assert all("search" not in c for c in references)
    first = [tune.next() for _ in range(3)]
    values = first[0]["search"]["values"]
    assert [c["search"]["seed"] for c in first] == [0, 1, 2]
    assert all(c["search"]["values"] == values and c["search"]["setting"] == 1 for c in first)
    assert [c["trial"] for c in first] == [f"digits/coreset/{values['alpha']:g}/{s}" for s in (0, 1, 2)]
    assert tune.next() is None  # max_concurrent_settings 1: the next setting waits for this one
    for key, objective in zip([c["trial"] for c in first], [0.6, 0.7, 0.8], strict=True):
        tune.finish(key, objective)
    [(params, value, state)] = inner_values(searcher)
    assert params["alpha"] == pytest.approx(values["alpha"], rel=1e-5)  # runs use it rounded to 6 digits
    assert value == pytest.approx(0.7) and state == "COMPLETE"  # the mean over seeds
    scores = iter([[0.5, 0.5, 0.5], [0.9, 0.8, 0.7]])
    while isinstance(config := tune.next(), dict):
        batch = [config] + [tune.next() for _ in range(2)]
        for c, objective in zip(batch, next(scores), strict=True):
            tune.finish(c["trial"], objective)
    assert config == Searcher.FINISHED
    ledger = SearchLedger.read(tmp_path / "sweep" / LEDGER)
    assert [r.index for r in ledger.settings] == [1, 2, 3]
    assert len({json.dumps(r.values) for r in ledger.settings}) == 3  # no setting twice
    assert [r.objective for r in ledger.settings] == pytest.approx([0.7, 0.5, 0.8])
    assert ledger.best("digits/coreset", "max").index == 3
    assert len(inner_values(searcher)) == 3
    outcome = search_outcome(searcher.sweep, ledger)
    assert outcome["groups"]["digits/coreset"]["best"]["index"] == 3
    assert outcome["groups"]["digits/coreset"]["settings_tried"] == 3
    assert len(ledger_trials(searcher.sweep, expand_trials(searcher.sweep), ledger)) == 6 + 9


def test_minimising_picks_the_smallest(tmp_path: Path) -> None:
    block = LOG_ALPHA.replace(
        "space:", "objective: {metric: selection_seconds, summary: final, mode: min}, space:"
    )
    searcher = new_searcher(tmp_path, block, seeds="[0]", heuristics="[coreset]")
    tune = Driver(searcher)
    tune.next()  # the reference
    scores = iter([3.0, 1.0, 2.0])
    while isinstance(config := tune.next(), dict):
        tune.finish(config["trial"], next(scores))
    assert searcher.ledger.best("digits/coreset", "min").index == 2


def test_a_repeated_proposal_is_answered_from_its_result_and_a_used_up_space_ends(tmp_path: Path) -> None:
    searcher = new_searcher(
        tmp_path, "{settings: 5, space: {alpha: {choices: [0.5, 2]}}}", seeds="[0]", heuristics="[coreset]"
    )
    tune = Driver(searcher)
    assert tune.next()["trial"] == "digits/coreset/0/0"
    tried = []
    while isinstance(config := tune.next(), dict):
        tried.append(config["search"]["values"]["alpha"])
        tune.finish(config["trial"], 0.9 if tried[-1] == 2 else 0.4)
    assert config == Searcher.FINISHED
    assert sorted(tried) == [0.5, 2.0]  # two settings exist; none ran twice
    assert (
        searcher.ledger.exhausted == ["digits/coreset"] and searcher.ledger.duplicates["digits/coreset"] > 0
    )
    repeats = [v for p, v, s in inner_values(searcher) if s == "COMPLETE"]
    assert len(repeats) > 2 and set(repeats) == {0.4, 0.9}  # repeats told the known results


def test_restore_hands_out_again_what_tune_had_not_saved_and_proposes_nothing_twice(tmp_path: Path) -> None:
    searcher = new_searcher(tmp_path, seeds="[0, 1]", heuristics="[coreset]")
    as_pickled_at_start = pickle.dumps(searcher)  # what Tune's tuner.pkl holds
    tune = Driver(searcher)
    for _ in range(2):
        tune.next()  # references
    setting_1 = [tune.next(), tune.next()]
    tune.finish(setting_1[0]["trial"], 0.5)
    snapshot = tmp_path / "searcher-state.json"
    searcher.save(str(snapshot))  # Tune's experiment checkpoint
    tune.finish(setting_1[1]["trial"], 0.6)  # completes setting 1 after the snapshot
    setting_2_seed_0 = tune.next()  # handed out after the snapshot; the driver dies here
    assert setting_2_seed_0["search"]["setting"] == 2

    restored = pickle.loads(as_pickled_at_start)
    restored.restore(str(snapshot))
    again = Driver(restored)
    reissued = again.next()
    assert reissued == setting_2_seed_0  # same key, same values: it reattaches to its MLflow run
    seed_1 = again.next()
    assert seed_1["trial"] == setting_2_seed_0["trial"].removesuffix("/0") + "/1"
    # setting 1 is settled from the ledger; only setting 1's seed that Tune's state holds reruns there
    assert restored.ledger.settings[0].status == "complete" and restored.ledger.settings[
        0
    ].objective == pytest.approx(0.55)
    assert again.next() is None
    for c, objective in [(reissued, 0.7), (seed_1, 0.9)]:
        again.finish(c["trial"], objective)
    rest = []
    while isinstance(config := again.next(), dict):
        rest.append(config)
        again.finish(config["trial"], 0.1)
    assert config == Searcher.FINISHED
    alphas = [r.values["alpha"] for r in restored.ledger.settings]
    assert len(alphas) == len(set(alphas)) == 3 and len(rest) == 2
    # the restored inner searcher learnt settings 1 and 2 from the ledger and the completion
    assert sorted(v for _, v, s in inner_values(restored) if s == "COMPLETE") == pytest.approx(
        [0.1, 0.55, 0.8]
    )


def test_recover_hands_out_every_trial_of_the_ledger_again(tmp_path: Path) -> None:
    searcher = new_searcher(tmp_path, seeds="[0, 1]", heuristics="[coreset]")
    tune = Driver(searcher)
    handed = [tune.next()["trial"] for _ in range(4)]
    fresh = PairedSeedSearch(
        searcher.sweep, expand_trials(searcher.sweep), searcher.ledger_path, recover=True
    )
    assert [Driver(fresh).next()["trial"] for _ in range(4)] == handed


# ---------------------------------------------------------------------------------------------
# Early stopping per setting
# ---------------------------------------------------------------------------------------------


def test_median_stopping_stops_a_setting_behind_the_median_with_all_its_seeds(tmp_path: Path) -> None:
    block = LOG_ALPHA.replace("settings: 3", "settings: 6").replace(
        "max_concurrent_settings: 1",
        "max_concurrent_settings: 6, early_stopping: {grace_rounds: 1, min_settings: 2}",
    )
    searcher = new_searcher(tmp_path, block, seeds="[0, 1]", heuristics="[coreset]")
    scheduler = SettingMedianStopping(searcher)
    tune = Driver(searcher)
    configs = {}
    while isinstance(config := tune.next(), dict):
        configs[config["trial"]] = config
    trials = {key: SimpleNamespace(config=config) for key, config in configs.items()}
    by_setting = {}
    for key, config in configs.items():
        if "search" in config:
            by_setting.setdefault(config["search"]["setting"], []).append(key)

    def report(key: str, round_index: int, objective: float) -> str:
        result = {"objective": objective, "round": round_index, "rounds": 5}
        decision = scheduler.on_trial_result(None, trials[key], result)
        if decision != TrialScheduler.STOP:
            searcher.on_trial_result(tune.ids[key], result)
        return decision

    assert report("digits/coreset/0/0", 1, 0.0) == TrialScheduler.CONTINUE  # references always run
    for setting, level in [(1, 0.6), (2, 0.7), (3, 0.8)]:
        for key in by_setting[setting]:
            assert report(key, 0, level) == TrialScheduler.CONTINUE  # grace round
            assert (
                report(key, 1, level) == TrialScheduler.CONTINUE
            )  # fewer than min_settings others, or ahead
    slow_seed, fast_seed = by_setting[4]
    assert report(fast_seed, 1, 0.5) == TrialScheduler.CONTINUE  # the setting's other seed is not there yet
    assert report(fast_seed, 2, 0.5) == TrialScheduler.CONTINUE
    # both seeds at round 1: mean 0.55 is behind the median (0.7) of settings 1-3 at round 1
    assert report(slow_seed, 1, 0.6) == TrialScheduler.STOP
    assert report(fast_seed, 3, 0.5) == TrialScheduler.STOP  # the seed ahead stops at its next report
    assert report(by_setting[4][1], 4, 0.5) == TrialScheduler.CONTINUE  # a last round finishes its run
    searcher.on_trial_complete(tune.ids[slow_seed], {"objective": 0.6, "round": 1, "rounds": 5})
    searcher.on_trial_complete(tune.ids[fast_seed], {"objective": 0.5, "round": 2, "rounds": 5})
    record = searcher.ledger.setting("digits/coreset", 4)
    assert record.status == "stopped" and record.stop_round == 1 and record.objective == pytest.approx(0.55)
    assert record.stopped == {slow_seed: 1, fast_seed: 2}
    assert [s for _, _, s in inner_values(searcher)].count("PRUNED") == 1
    # ahead of the median: runs on
    for key in by_setting[5]:
        report(key, 0, 0.9)
    assert [report(key, 1, 0.9) for key in by_setting[5]] == [TrialScheduler.CONTINUE] * 2


def test_searcher_and_scheduler_share_the_ledger_after_unpickling(tmp_path: Path) -> None:
    block = LOG_ALPHA.replace("max_concurrent_settings: 1", "max_concurrent_settings: 1, early_stopping: {}")
    searcher = new_searcher(tmp_path, block)
    scheduler = SettingMedianStopping(searcher)
    searcher_again, scheduler_again = pickle.loads(
        pickle.dumps((searcher, scheduler))
    )  # as tuner.pkl holds both
    assert scheduler_again.searcher is searcher_again


def test_alpha_search_is_the_alpha_sweep_as_a_search_within_its_budget() -> None:
    grid = load_sweep_config(REPO / "configs" / "alpha_sweep.yaml")
    searched = load_sweep_config(REPO / "configs" / "alpha_search.yaml")
    assert planned_trial_count(searched) <= len(expand_trials(grid))
    assert planned_trial_count(searched) == 15 + 3 * 5 * 5
    same = {"experiment", "sweep"}
    assert {k: v for k, v in searched.model_dump().items() if k not in same} == {
        k: v for k, v in grid.model_dump().items() if k not in same
    }
    assert searched.sweep.model_dump(exclude={"alphas", "search"}) == grid.sweep.model_dump(
        exclude={"alphas", "search"}
    )
    space = searched.sweep.search.space["alpha"]
    assert (space.low, space.high, space.scale) == (0.02, 20, "log")


def test_a_setting_without_a_finite_objective_is_told_as_failed_and_the_search_goes_on(
    tmp_path: Path,
) -> None:
    searcher = new_searcher(tmp_path, seeds="[0]", heuristics="[coreset]")
    tune = Driver(searcher)
    tune.next()  # the reference
    first = tune.next()
    tune.finish(first["trial"], float("nan"))  # e.g. a metric this heuristic never logs
    assert [s for _, _, s in inner_values(searcher)] == ["FAIL"]
    assert searcher.ledger.best("digits/coreset", "max") is None
    second = tune.next()
    assert second["search"]["setting"] == 2


def test_dry_run_prints_the_references_and_the_plan(tmp_path: Path) -> None:
    config = write_sweep(tmp_path, LOG_ALPHA.replace("space:", "early_stopping: {}, space:"))
    # The default schedule (3,000 initial labels) does not fit the digits pool: --dry-run says so.
    config.write_text(
        config.read_text() + "schedule: {initial_labels: 100, labels_per_round: 100, rounds: 2}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "raysweep.launch", str(config), "--dry-run"],
        cwd=tmp_path,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "6 trials" in out and "digits/coreset/0/2" in out and "digits/random/0/0" in out
    assert "search (optuna, seed 0): 3 settings per group x 3 seeds, at most 1 in flight per group" in out
    assert "alpha in [0.05, 5] log" in out and "groups: digits/coreset" in out
    assert "early stopping: median" in out and "at most 15 trials in all" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["search.yaml"]


def test_a_trial_ended_by_a_stopped_sweep_is_owed_and_handed_out_again(tmp_path: Path) -> None:
    searcher = new_searcher(tmp_path, seeds="[0, 1]", heuristics="[coreset]")
    as_pickled_at_start = pickle.dumps(searcher)
    tune = Driver(searcher)
    references = [tune.next(), tune.next()]
    tune.finish(references[0]["trial"], 0.5)
    setting = [tune.next(), tune.next()]
    tune.finish(setting[0]["trial"], 0.6)
    # Ctrl-C: Tune ends the running trials before their last round, with no early-stopping decision
    tune.finish(setting[1]["trial"], 0.2, last_round=0)
    tune.finish(references[1]["trial"], 0.1, last_round=1)
    record = searcher.ledger.settings[0]
    assert record.status == "running" and not record.accounted(setting[1]["trial"])
    assert not searcher.ledger.references[references[1]["trial"]]["done"]
    snapshot = tmp_path / "searcher-state.json"
    searcher.save(str(snapshot))
    restored = pickle.loads(as_pickled_at_start)
    restored.restore(str(snapshot))
    again = Driver(restored)
    assert [again.next()["trial"], again.next()["trial"]] == [references[1]["trial"], setting[1]["trial"]]
