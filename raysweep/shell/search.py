"""A search on Tune's machinery: settings proposed by OptunaSearch, each run on every seed.

:class:`PairedSeedSearch` is the Tune ``Searcher`` of a sweep with a ``sweep.search`` block. It does
what Tune's ``Repeater`` does (every proposal runs ``len(seeds)`` times, the inner searcher sees the
mean of the objective) and what a Repeater cannot:

- the seeds of a setting are the sweep's seeds, not repeat indices, so each seed trial shares its
  initial labels with the alpha-0 arm of that seed, which the searcher hands out first, once per
  seed, as the reference;
- one inner searcher per (dataset, heuristic) group, so the best alpha of core-set is not loss
  prediction's;
- settings in flight are capped per group (``max_concurrent_settings``): a ``ConcurrencyLimiter``
  counts trials and could leave a setting with half its seeds waiting;
- a proposal that repeats a setting already tried is not run again: the inner searcher is told the
  known result and asked again;
- its state is a JSON ledger in the sweep folder (``search/ledger.json``), written at every change. After a killed driver,
  ``Tuner.restore`` hands back the searcher as Tune saved it with its experiment state; the searcher
  then reads the ledger, re-issues (same trial keys) the trials it handed out after Tune's last save,
  and rebuilds its inner searchers from the settings' results. No setting is proposed twice, and a
  re-issued trial reattaches to its MLflow run, so no step is logged twice.

Early stopping (:class:`SettingMedianStopping`) decides per setting, over all its seeds at once.
Tune's docs advise against a scheduler beside a ``Repeater``: a per-trial scheduler stops single
seeds (the paired design loses them) and the Repeater then averages a stopped seed's partial
objective with finished ones. Here the whole setting stops when its mean over seeds at round r is
behind the median of its group's settings at round r; its trials are tagged
``raysweep.stopped_early`` in MLflow and the searcher records it as pruned.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from raysweep.labels import derive_seed
from raysweep.registry import Registry
from raysweep.search import (
    MAX_DUPLICATE_PROPOSALS,
    SearchConfig,
    behind_median,
    is_better,
    mean_objective,
    normalise_setting,
    setting_label,
    space_kinds,
)
from raysweep.sweep import SearchGroup, SweepConfig, Trial, expand_trials, search_groups, setting_trial

LEDGER = Path("search") / "ledger.json"
"""The ledger's place in the sweep folder. Not at its top level: on ``Tuner.restore`` Tune copies every
top-level .json/.pkl file of the experiment folder into its staging folder and from then on copies
those back over the originals at each of its checkpoints, which would bring back a stale ledger."""
OBJECTIVE = "objective"
"""The metric every trial of a search reports each round (its objective over the curve so far)."""

INNER_SEARCHERS: Registry[Any] = Registry("search algorithm")


def optuna_space(search: SearchConfig, kinds: dict[str, type]) -> dict[str, Any]:
    """The search space as Optuna distributions (integer ranges for int fields)."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a study per group: no line per study

    space = {}
    for path, dimension in search.space.items():
        if dimension.choices is not None:
            space[path] = CategoricalDistribution([kinds[path](c) for c in dimension.choices])
        elif kinds[path] is int:
            space[path] = IntDistribution(int(dimension.low), int(dimension.high), log=dimension.is_log)
        else:
            space[path] = FloatDistribution(float(dimension.low), float(dimension.high), log=dimension.is_log)
    return space


@INNER_SEARCHERS.register("optuna")
def optuna_tpe(search: SearchConfig, kinds: dict[str, type], seed: int) -> Any:
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    sampler = optuna.samplers.TPESampler(
        seed=seed,
        n_startup_trials=search.random_startup_settings,
        # Settings still running count as bad ones while TPE proposes the next: concurrent settings
        # spread out instead of piling onto the current best guess.
        constant_liar=True,
    )
    return OptunaSearch(
        space=optuna_space(search, kinds), metric=OBJECTIVE, mode=search.objective.mode, sampler=sampler
    )


@INNER_SEARCHERS.register("random")
def optuna_random(search: SearchConfig, kinds: dict[str, type], seed: int) -> Any:
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    return OptunaSearch(
        space=optuna_space(search, kinds),
        metric=OBJECTIVE,
        mode=search.objective.mode,
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )


# ---------------------------------------------------------------------------------------------
# The ledger: everything the search decided, in a JSON file beside Tune's state
# ---------------------------------------------------------------------------------------------


@dataclass
class SettingRecord:
    group: str
    index: int
    """1-based order in which the group's settings were proposed."""
    values: dict[str, Any]
    keys: list[str]
    """Trial key per seed, in the sweep's seed order."""
    objectives: dict[str, float] = field(default_factory=dict)
    """Finished trials' objectives."""
    stopped: dict[str, int] = field(default_factory=dict)
    """Trials stopped early -> their last round (-1: stopped before they ran)."""
    failed: list[str] = field(default_factory=list)
    stop_round: int | None = None
    """The round after which early stopping stopped the setting."""
    status: str = "running"
    """running, complete, stopped, failed."""
    objective: float | None = None
    """Mean over seeds once complete (the value at the stop round when stopped)."""

    @property
    def label(self) -> str:
        return setting_label(self.values)

    def accounted(self, key: str) -> bool:
        """Whether this seed's trial has ended for the search (finished, stopped early or failed)."""
        return key in self.objectives or key in self.stopped or key in self.failed

    def settled(self) -> bool:
        return all(self.accounted(k) for k in self.keys)


@dataclass
class SearchLedger:
    references: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Reference trial key -> {done, objective}."""
    settings: list[SettingRecord] = field(default_factory=list)
    trial_ids: dict[str, str] = field(default_factory=dict)
    """Tune trial id -> trial key, for every trial handed out (a re-issued key has two ids)."""
    rounds: dict[str, dict[str, float]] = field(default_factory=dict)
    """Trial key -> round -> objective over the curve up to that round."""
    exhausted: list[str] = field(default_factory=list)
    """Groups whose space gave nothing new in MAX_DUPLICATE_PROPOSALS proposals."""
    duplicates: dict[str, int] = field(default_factory=dict)
    """Group -> proposals that repeated a setting already tried (answered from its result)."""
    completed_ids: list[str] = field(default_factory=list)
    """Tune trial ids whose completion the searcher saw: Tune does not run them again on a resume."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SearchLedger:
        return cls(
            references=data["references"],
            settings=[SettingRecord(**record) for record in data["settings"]],
            trial_ids=data["trial_ids"],
            rounds=data["rounds"],
            exhausted=data["exhausted"],
            duplicates=data["duplicates"],
            completed_ids=data["completed_ids"],
        )

    def write(self, path: Path) -> None:
        """Atomically (a temp file renamed over it): a killed driver never leaves half a ledger."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(self.to_json(), out)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def read(cls, path: Path) -> SearchLedger:
        return cls.from_json(json.loads(Path(path).read_text()))

    def group_settings(self, group: str) -> list[SettingRecord]:
        return [record for record in self.settings if record.group == group]

    def setting(self, group: str, index: int) -> SettingRecord | None:
        return next((r for r in self.settings if r.group == group and r.index == index), None)

    def setting_of_key(self, key: str) -> SettingRecord | None:
        return next((r for r in self.settings if key in r.keys), None)

    def record_round(self, key: str, round_index: int, value: float) -> None:
        self.rounds.setdefault(key, {})[str(int(round_index))] = float(value)

    def round_mean(self, record: SettingRecord, round_index: int) -> float | None:
        """The setting's mean objective at a round, once every seed has reported it."""
        values = [self.rounds.get(key, {}).get(str(round_index)) for key in record.keys]
        if any(v is None for v in values):
            return None
        return mean_objective(values)

    def best(self, group: str, mode: str) -> SettingRecord | None:
        best = None
        for record in self.group_settings(group):
            if record.status != "complete" or record.objective is None or not math.isfinite(record.objective):
                continue
            if best is None or is_better(record.objective, best.objective, mode):
                best = record
        return best


# ---------------------------------------------------------------------------------------------
# The searcher
# ---------------------------------------------------------------------------------------------


class PairedSeedSearch(Searcher):
    """Tune Searcher: reference arms first, then each group's proposals, every one on every seed.

    ``recover``: start from the ledger of an earlier driver of this sweep whose Tune state is gone
    (every trial it handed out is handed out again under its key, finished ones report and end).
    """

    def __init__(
        self, sweep: SweepConfig, references: list[Trial], ledger_path: str | Path, recover: bool = False
    ) -> None:
        search = sweep.sweep.search
        if search is None:
            raise ValueError("PairedSeedSearch needs a sweep with a search block")
        super().__init__(metric=OBJECTIVE, mode=search.objective.mode)
        self.sweep = sweep
        self.search = search
        self.groups = search_groups(sweep)
        self.kinds = space_kinds(search, sweep.sweep.heuristics)
        self.ledger_path = Path(ledger_path)
        self.reference_keys = [trial.key for trial in references]
        self._transient()
        if recover and self.ledger_path.is_file():
            self.ledger = SearchLedger.read(self.ledger_path)
            self._requeue(known_trial_ids=set())
        else:
            self.ledger = SearchLedger(
                references={key: {"done": False, "objective": None} for key in self.reference_keys}
            )
            self._queue = [(key, {"trial": key}) for key in self.reference_keys]

    def _transient(self) -> None:
        """State rebuilt from the ledger in every process: the inner searchers and what they asked."""
        self._queue: list[tuple[str, dict[str, Any]]] = []
        self._inner: dict[str, Any] = {}
        self._inner_ids: dict[tuple[str, int], str] = {}
        self._echoes: dict[tuple[str, int], list[str]] = {}
        self._blocked: set[str] = set()
        self._asks = 0
        self._next_group = 0

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in ("_inner", "_inner_ids", "_echoes"):
            state[name] = type(state[name])()  # rebuilt from the ledger after unpickling
        return state

    # -- Tune's Searcher interface ------------------------------------------------------------

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True  # metric, mode and space come from the sweep's search block

    def suggest(self, trial_id: str) -> dict | str | None:
        if not self._queue:
            self._propose()
        if not self._queue:
            return Searcher.FINISHED if self._done_proposing() else None
        key, config = self._queue.pop(0)
        self.ledger.trial_ids[trial_id] = key
        self._save()
        return config

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        key = self.ledger.trial_ids.get(trial_id)
        if key is not None and OBJECTIVE in result and "round" in result:
            self.ledger.record_round(key, result["round"], result[OBJECTIVE])
            self._save()

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        key = self.ledger.trial_ids.get(trial_id)
        if key is None:
            return
        self.ledger.completed_ids.append(trial_id)
        finished = bool(result) and "round" in result and result["round"] + 1 >= result.get("rounds", 0)
        if key in self.ledger.references:
            reference = self.ledger.references[key]
            if not reference["done"] and (finished or error):
                reference.update(done=True, objective=(result or {}).get(OBJECTIVE), error=error)
            self._save()
            return
        record = self.ledger.setting_of_key(key)
        if record is None or record.status != "running" or record.accounted(key):
            self._save()
            return  # a re-issued trial of a setting already settled, or a second completion
        if error:
            record.failed.append(key)
        elif finished:
            record.objectives[key] = float(result[OBJECTIVE])
            self.ledger.record_round(key, result["round"], result[OBJECTIVE])
        elif record.stop_round is not None:
            last = int(result["round"]) if result and "round" in result else -1
            record.stopped[key] = last
            if last >= 0:
                self.ledger.record_round(key, last, result[OBJECTIVE])
        else:
            # Ended before its last round with no early-stopping decision: the sweep was stopped
            # (Ctrl-C, SIGTERM). The seed is still owed; a --resume runs it again (see _requeue).
            self._save()
            return
        if record.settled():
            self._settle(record)
        self._save()

    def save(self, checkpoint_path: str) -> None:
        """Tune's snapshot, taken with its experiment state: the trials Tune knows, and the ledger."""
        Path(checkpoint_path).write_text(
            json.dumps({"issued": sorted(self.ledger.trial_ids), "ledger": self.ledger.to_json()})
        )

    def restore(self, checkpoint_path: str) -> None:
        """After Tuner.restore: the newest ledger, and the trials Tune's state does not hold again."""
        snapshot = json.loads(Path(checkpoint_path).read_text())
        self._transient()
        self.ledger = (
            SearchLedger.read(self.ledger_path)
            if self.ledger_path.is_file()
            else SearchLedger.from_json(snapshot["ledger"])
        )
        self._requeue(known_trial_ids=set(snapshot["issued"]))

    # -- proposals ----------------------------------------------------------------------------

    def _group(self, name: str) -> SearchGroup:
        return next(group for group in self.groups if group.name == name)

    def _proposing(self, group: SearchGroup) -> bool:
        return group.name not in self.ledger.exhausted and len(self.ledger.group_settings(group.name)) < (
            self.search.settings
        )

    def _done_proposing(self) -> bool:
        return not self._queue and not any(self._proposing(group) for group in self.groups)

    def _propose(self) -> None:
        """Ask the next group (round robin) that may have another setting in flight."""
        for offset in range(len(self.groups)):
            group = self.groups[(self._next_group + offset) % len(self.groups)]
            running = [r for r in self.ledger.group_settings(group.name) if r.status == "running"]
            if not self._proposing(group) or group.name in self._blocked:
                continue
            if len(running) >= self.search.concurrent_settings:
                continue
            asked = self._ask(group, running)
            if asked is None:
                continue
            values, inner_id = asked
            index = len(self.ledger.group_settings(group.name)) + 1
            trials = [setting_trial(self.sweep, group, values, seed) for seed in self.sweep.sweep.seeds]
            self.ledger.settings.append(SettingRecord(group.name, index, values, [t.key for t in trials]))
            self._inner_ids[(group.name, index)] = inner_id
            self._queue.extend((t.key, self._trial_config(group, index, values, t)) for t in trials)
            self._next_group = (self._next_group + offset + 1) % len(self.groups)
            print(
                f"search {group.name}: setting {index} of {self.search.settings}: {setting_label(values)}",
                flush=True,
            )
            self._save()
            return

    def _ask(self, group: SearchGroup, running: list[SettingRecord]) -> tuple[dict[str, Any], str] | None:
        """A setting the group has not tried and the inner trial that proposed it, or None (the space
        is used up, or it only repeats settings still running)."""
        inner = self._inner_searcher(group)
        for _ in range(MAX_DUPLICATE_PROPOSALS):
            inner_id = f"{group.name}#{self._asks}"
            self._asks += 1
            values = normalise_setting(self.search, inner.suggest(inner_id), self.kinds)
            same = next((r for r in self.ledger.group_settings(group.name) if r.values == values), None)
            if same is None:
                return values, inner_id
            self.ledger.duplicates[group.name] = self.ledger.duplicates.get(group.name, 0) + 1
            if same.status == "running":
                self._echoes.setdefault((group.name, same.index), []).append(inner_id)
            else:
                self._tell(inner, inner_id, same)
        if running:
            self._blocked.add(group.name)  # try again once one of the running settings settles
        else:
            self.ledger.exhausted.append(group.name)
            print(
                f"search {group.name}: the space holds no untried setting; stopping at {len(self.ledger.group_settings(group.name))}",
                flush=True,
            )
        return None

    def _trial_config(self, group: SearchGroup, index: int, values: dict[str, Any], trial: Trial) -> dict:
        return {
            "trial": trial.key,
            "search": {"group": group.name, "setting": index, "seed": trial.config.seed, "values": values},
        }

    def _inner_searcher(self, group: SearchGroup) -> Any:
        """The group's inner searcher, rebuilt from the ledger's results in a new process."""
        if group.name not in self._inner:
            known = self.ledger.group_settings(group.name)
            # A fresh sampler seeded anew after each restart: a restored search does not replay the
            # random proposals it already made.
            seed = derive_seed("search", self.search.seed, group.name, len(known)) % 2**32
            inner = INNER_SEARCHERS.get(self.search.algorithm)(self.search, self.kinds, seed)
            for record in known:
                if record.status != "running":
                    self._replay(inner, record)
            self._inner[group.name] = inner
        return self._inner[group.name]

    @staticmethod
    def _told_as(record: SettingRecord) -> str:
        """How the inner searcher learns a settled setting: complete (its value), pruned (its value
        at the stop round) or failed (no usable value: errors, or a metric that was never finite)."""
        known = record.objective is not None and math.isfinite(record.objective)
        if record.status == "complete" and known:
            return "complete"
        if record.status == "stopped" and known:
            return "pruned"
        return "failed"

    def _replay(self, inner: Any, record: SettingRecord) -> None:
        """A settled setting told to a fresh inner searcher."""
        told = self._told_as(record)
        try:
            if told == "complete":
                inner.add_evaluated_point(record.values, record.objective)
            elif told == "pruned":
                inner.add_evaluated_point(
                    record.values, record.objective, pruned=True, intermediate_values=[record.objective]
                )
            else:
                inner.add_evaluated_point(record.values, 0.0, error=True)
        except ValueError as exc:  # a value outside the space (bounds given with more than 6 digits)
            print(f"search {record.group}: setting {record.index} not replayed ({exc})", flush=True)

    def _tell(self, inner: Any, inner_id: str, record: SettingRecord) -> None:
        """Tell an asked inner trial the result of ``record``'s setting."""
        told = self._told_as(record)
        if told == "complete":
            inner.on_trial_complete(inner_id, {OBJECTIVE: record.objective})
        elif told == "pruned":
            step = record.stop_round or 0
            inner.on_trial_result(inner_id, {OBJECTIVE: record.objective, "training_iteration": step})
            inner.on_trial_complete(inner_id, None)  # no final value: Optuna records it as pruned
        else:
            inner.on_trial_complete(inner_id, None, error=True)

    def _settle(self, record: SettingRecord) -> None:
        """All seeds of a setting are in: its objective, told to the inner searcher."""
        mode = self.search.objective.mode
        if record.stopped:
            record.status = "stopped"
            rounds = [r for r in [record.stop_round, *record.stopped.values()] if r is not None and r >= 0]
            at = min(rounds) if rounds else None
            record.objective = self.ledger.round_mean(record, at) if at is not None else None
            record.stop_round = at
        elif len(record.failed) == len(record.keys):
            record.status = "failed"
        else:
            record.status = "complete"
            record.objective = mean_objective(
                [record.objectives[k] for k in record.keys if k in record.objectives]
            )
        existed = record.group in self._inner
        inner = self._inner_searcher(self._group(record.group))  # a new one replays every settled setting
        live = self._inner_ids.pop((record.group, record.index), None)
        for inner_id in [*([live] if live else []), *self._echoes.pop((record.group, record.index), [])]:
            self._tell(inner, inner_id, record)
        if existed and live is None:
            self._replay(inner, record)  # proposed by an earlier driver: this one's inner learns it here
        self._blocked.discard(record.group)
        best = self.ledger.best(record.group, mode)
        shown = "n/a" if record.objective is None else f"{record.objective:.4f}"
        print(
            f"search {record.group}: setting {record.index} {record.status}, objective {shown}"
            + (f"; best so far: setting {best.index} ({best.label}, {best.objective:.4f})" if best else ""),
            flush=True,
        )

    # -- resume ------------------------------------------------------------------------------

    def _requeue(self, known_trial_ids: set[str]) -> None:
        """Hand out again every trial whose Tune trial the restored Tune state does not hold."""
        # Tune runs again what its saved state holds unfinished; a trial whose completion the searcher
        # saw is finished for Tune, so one that ended without a result the search can use (a stopped
        # sweep) is handed out again here.
        ended = set(self.ledger.completed_ids)
        held = {
            key
            for trial_id, key in self.ledger.trial_ids.items()
            if trial_id in known_trial_ids and (trial_id not in ended or self._accounted(key))
        }
        self._queue = [(key, {"trial": key}) for key in self.reference_keys if key not in held]
        for record in self.ledger.settings:
            group = self._group(record.group)
            for key, seed in zip(record.keys, self.sweep.sweep.seeds, strict=True):
                if key in held:
                    continue
                trial = setting_trial(self.sweep, group, record.values, seed)
                self._queue.append((key, self._trial_config(group, record.index, record.values, trial)))
        if self._queue:
            print(
                f"search: handing out again {len(self._queue)} trial(s) Tune's saved state does not hold",
                flush=True,
            )

    def _accounted(self, key: str) -> bool:
        if key in self.ledger.references:
            return bool(self.ledger.references[key]["done"])
        record = self.ledger.setting_of_key(key)
        return record is not None and record.accounted(key)

    def _save(self) -> None:
        self.ledger.write(self.ledger_path)


# ---------------------------------------------------------------------------------------------
# Early stopping per setting
# ---------------------------------------------------------------------------------------------


class SettingMedianStopping(FIFOScheduler):
    """The median stopping rule, decided per setting over all its seeds (see the module docstring).

    Shares the searcher's ledger (both are pickled together in Tune's tuner state, so they still
    share it after ``Tuner.restore``), which holds every trial's objective per round.
    """

    def __init__(self, searcher: PairedSeedSearch) -> None:
        super().__init__()
        self.searcher = searcher

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        payload = trial.config.get("search")
        stopping = self.searcher.search.early_stopping
        if payload is None or stopping is None or OBJECTIVE not in result:
            return TrialScheduler.CONTINUE  # reference arms always run to the end
        ledger = self.searcher.ledger
        record = ledger.setting(payload["group"], payload["setting"])
        if record is None:
            return TrialScheduler.CONTINUE
        round_index = int(result["round"])
        ledger.record_round(trial.config["trial"], round_index, result[OBJECTIVE])
        if round_index + 1 >= result.get("rounds", math.inf):
            return TrialScheduler.CONTINUE  # its last round is in: let it finish its run and artifacts
        if record.stop_round is not None:
            return TrialScheduler.STOP  # another seed of the setting already decided it
        if round_index < stopping.grace_rounds:
            return TrialScheduler.CONTINUE
        mean_here = ledger.round_mean(record, round_index)
        if mean_here is None:
            return TrialScheduler.CONTINUE  # not every seed has reached this round yet
        others = [ledger.round_mean(other, round_index) for other in ledger.group_settings(record.group)]
        others = [
            v
            for other, v in zip(ledger.group_settings(record.group), others, strict=True)
            if other is not record and v is not None
        ]
        if len(others) < stopping.min_settings or not behind_median(
            mean_here, others, self.searcher.search.objective.mode
        ):
            return TrialScheduler.CONTINUE
        record.stop_round = round_index
        self.searcher._save()
        print(
            f"search {record.group}: stopping setting {record.index} ({record.label}) after round {round_index}: "
            f"mean objective {mean_here:.4f} behind the median of {len(others)} settings",
            flush=True,
        )
        return TrialScheduler.STOP


# ---------------------------------------------------------------------------------------------
# Wiring for the launcher
# ---------------------------------------------------------------------------------------------


def allow_pending_trials(sweep: SweepConfig) -> None:
    """Let Tune start as many of the searcher's trials at once as it may have in flight.

    For a custom searcher Tune keeps one trial pending at a time (TUNE_MAX_PENDING_TRIALS_PG
    "auto" is 1 without a ConcurrencyLimiter), and a trial that waits for an actor counts as
    pending: the trials would run one after another whatever the cluster's size. A set value is kept.
    """
    search = sweep.sweep.search
    in_flight = len(expand_trials(sweep)) + len(search_groups(sweep)) * search.concurrent_settings * len(
        sweep.sweep.seeds
    )
    os.environ.setdefault("TUNE_MAX_PENDING_TRIALS_PG", str(in_flight))


def tune_search_options(
    sweep: SweepConfig, references: list[Trial], sweep_dir: Path, recover: bool = False
) -> dict[str, Any]:
    """TuneConfig arguments of a search: the searcher, the scheduler, the number of trials."""
    from raysweep.sweep import planned_trial_count

    searcher = PairedSeedSearch(sweep, references, Path(sweep_dir) / LEDGER, recover=recover)
    scheduler = SettingMedianStopping(searcher) if sweep.sweep.search.early_stopping else None
    return {"search_alg": searcher, "scheduler": scheduler, "num_samples": planned_trial_count(sweep)}


def read_ledger(sweep_dir: Path) -> SearchLedger:
    return SearchLedger.read(Path(sweep_dir) / LEDGER)


def ledger_trials(sweep: SweepConfig, references: list[Trial], ledger: SearchLedger) -> list[Trial]:
    """Every trial the search handed out: the reference arms and each setting's seeds."""
    groups = {group.name: group for group in search_groups(sweep)}
    trials = list(references)
    for record in ledger.settings:
        trials.extend(
            setting_trial(sweep, groups[record.group], record.values, seed) for seed in sweep.sweep.seeds
        )
    return trials


def search_outcome(sweep: SweepConfig, ledger: SearchLedger) -> dict[str, Any]:
    """Per group: the settings in the searcher's order, the reference's objective, the best setting."""
    search = sweep.sweep.search
    groups = {}
    for group in search_groups(sweep):
        prefix = f"{group.name}/0/"
        reference = mean_objective(
            [
                float(entry["objective"])
                for key, entry in ledger.references.items()
                if key.startswith(prefix) and entry.get("objective") is not None
            ]
        )
        best = ledger.best(group.name, search.objective.mode)
        groups[group.name] = {
            "reference_objective": reference,
            "settings_tried": len(ledger.group_settings(group.name)),
            "duplicate_proposals": ledger.duplicates.get(group.name, 0),
            "best": None
            if best is None
            else {
                "index": best.index,
                "setting": best.label,
                "values": best.values,
                "objective": best.objective,
            },
            "settings": [
                {
                    "index": r.index,
                    "setting": r.label,
                    "values": r.values,
                    "status": r.status,
                    "objective": r.objective,
                    "seed_objectives": r.objectives,
                    "stopped_after_round": r.stop_round,
                    "trial_keys": r.keys,
                }
                for r in ledger.group_settings(group.name)
            ],
        }
    return {
        "algorithm": search.algorithm,
        "objective": search.objective.label(),
        "space": {path: d.model_dump(exclude_none=True) for path, d in search.space.items()},
        "seeds": sweep.sweep.seeds,
        "groups": groups,
    }


def print_search_outcome(outcome: dict[str, Any]) -> None:
    def shown(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"  # e.g. vae_share: alpha 0 logs none

    print(
        f"\nSearch ({outcome['algorithm']}, objective: {outcome['objective']}, mean over seeds {outcome['seeds']}):"
    )
    for name, group in outcome["groups"].items():
        print(
            f"  {name}: {group['settings_tried']} settings tried; "
            f"alpha 0 (reference): {shown(group['reference_objective'])}"
        )
        best = (group["best"] or {}).get("index")
        for s in group["settings"]:
            mark = "  <- best" if s["index"] == best else ""
            print(f"    {s['index']:>3}  {s['setting']:<44} {s['status']:<9} {shown(s['objective'])}{mark}")


def finite_or_none(value: Any) -> Any:
    """JSON without NaN: NaN and infinities become null, in nested dicts and lists too."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    return value


def searched_trials(sweep: SweepConfig, references: list[Trial], sweep_dir: Path) -> list[Trial]:
    """Every trial the search has handed out so far (the reference arms alone before its ledger exists)."""
    ledger_path = Path(sweep_dir) / LEDGER
    if not ledger_path.is_file():
        return list(references)
    return ledger_trials(sweep, references, SearchLedger.read(ledger_path))


def finish_search(
    sweep: SweepConfig,
    references: list[Trial],
    sweep_dir: Path,
    record: Any,
    patience: Any,
    log: bool = True,
) -> list[Trial]:
    """After Tune: print the search's outcome, log it to the parent run, tag the trials stopped early.

    ``record`` is the sweep's SweepRecord (tracking URI, experiment, sweep and parent run ids) and
    ``patience`` the TrackingPatience its calls go through. ``log=False`` (a stopped sweep) prints
    the outcome so far and logs nothing: the parent run gets the outcome once, when the search ends.
    Returns every trial the search handed out, for the sweep's summary.
    """
    from mlflow.tracking import MlflowClient

    from raysweep.shell.tracking import find_run

    if not (Path(sweep_dir) / LEDGER).is_file():
        return list(references)  # stopped before the searcher handed out anything
    ledger = read_ledger(sweep_dir)
    outcome = finite_or_none(search_outcome(sweep, ledger))
    print_search_outcome(outcome)
    if not log:
        return ledger_trials(sweep, references, ledger)
    client = MlflowClient(record.tracking_uri)
    run_id = record.parent_run_id
    metrics = {"search_settings_tried": float(len(ledger.settings))}
    tags = {}
    for name, group in outcome["groups"].items():
        metrics[f"search_settings_tried.{name}"] = float(group["settings_tried"])
        if group["reference_objective"] is not None:
            metrics[f"search_reference_objective.{name}"] = group["reference_objective"]
        if group["best"] is not None:
            metrics[f"search_best_objective.{name}"] = group["best"]["objective"]
            tags[f"raysweep.search.best.{name}"] = group["best"]["setting"]
    for name, value in metrics.items():
        patience.call(lambda n=name, v=value: client.log_metric(run_id, n, v))
    for name, value in tags.items():
        patience.call(lambda n=name, v=value: client.set_tag(run_id, n, v))
    patience.call(lambda: client.log_text(run_id, json.dumps(outcome, indent=2), "search.json"))
    for setting in ledger.settings:
        for key, last_round in setting.stopped.items():
            trial_run = find_run(
                client,
                record.experiment_id,
                {"raysweep.sweep_id": record.sweep_id, "raysweep.trial_key": key},
                patience,
            )
            if trial_run is None:
                continue
            patience.call(
                lambda r=trial_run, n=last_round: client.set_tag(r, "raysweep.stopped_early", str(n))
            )
            patience.call(lambda r=trial_run: client.set_terminated(r, status="KILLED"))
    return ledger_trials(sweep, references, ledger)
