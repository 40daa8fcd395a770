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

Early stopping is ``raysweep.shell.search.stopping``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ray.tune.search import Searcher

from raysweep.labels import derive_seed
from raysweep.schema import (
    PROPOSAL_CONFIG_KEY,
    RESULT_OBJECTIVE,
    RESULT_ROUND,
    RESULT_ROUNDS,
    TRIAL_CONFIG_KEY,
)
from raysweep.search.groups import SearchGroup, search_groups, setting_trial
from raysweep.search.ledger import SearchLedger, SettingRecord
from raysweep.search.objective import mean_objective
from raysweep.search.space import normalise_setting, setting_label, space_kinds
from raysweep.shell.search.algorithms import inner_searcher
from raysweep.storage import StoragePath, location
from raysweep.sweep.config import SweepConfig
from raysweep.sweep.trials import Trial

MAX_DUPLICATE_PROPOSALS = 50
"""Proposals in a row that repeat a setting already tried before a group counts its space as used up."""


class PairedSeedSearch(Searcher):
    """Tune Searcher: reference arms first, then each group's proposals, every one on every seed.

    ``recover``: start from the ledger of an earlier driver of this sweep whose Tune state is gone
    (every trial it handed out is handed out again under its key, finished ones report and end).
    """

    def __init__(
        self,
        sweep: SweepConfig,
        references: list[Trial],
        ledger_path: StoragePath | str | Path,
        recover: bool = False,
    ) -> None:
        search = sweep.sweep.search
        if search is None:
            raise ValueError("PairedSeedSearch needs a sweep with a search block")
        super().__init__(metric=RESULT_OBJECTIVE, mode=search.objective.mode)
        self.sweep = sweep
        self.search = search
        self.groups = search_groups(sweep)
        self.kinds = space_kinds(search, sweep.sweep.heuristics)
        self.ledger_path = location(ledger_path)
        self.reference_keys = [trial.key for trial in references]
        self._transient()
        if recover and self.ledger_path.is_file():
            self.ledger = SearchLedger.read(self.ledger_path)
            self._requeue(known_trial_ids=set())
        else:
            self.ledger = SearchLedger(
                references={key: {"done": False, "objective": None} for key in self.reference_keys},
                path=self.ledger_path,
            )
            self._queue = [(key, {TRIAL_CONFIG_KEY: key}) for key in self.reference_keys]

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
        self.ledger.save()
        return config

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        key = self.ledger.trial_ids.get(trial_id)
        if key is not None and RESULT_OBJECTIVE in result and RESULT_ROUND in result:
            self.ledger.record_round(key, result[RESULT_ROUND], result[RESULT_OBJECTIVE])
            self.ledger.save()

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        key = self.ledger.trial_ids.get(trial_id)
        if key is None:
            return
        self.ledger.completed_ids.append(trial_id)
        finished = (
            bool(result)
            and RESULT_ROUND in result
            and result[RESULT_ROUND] + 1 >= result.get(RESULT_ROUNDS, 0)
        )
        if key in self.ledger.references:
            reference = self.ledger.references[key]
            if not reference["done"] and (finished or error):
                reference.update(done=True, objective=(result or {}).get(RESULT_OBJECTIVE), error=error)
            self.ledger.save()
            return
        record = self.ledger.setting_of_key(key)
        if record is None or record.status != "running" or record.accounted(key):
            self.ledger.save()
            return  # a re-issued trial of a setting already settled, or a second completion
        if error:
            record.failed.append(key)
        elif finished:
            record.objectives[key] = float(result[RESULT_OBJECTIVE])
            self.ledger.record_round(key, result[RESULT_ROUND], result[RESULT_OBJECTIVE])
        elif record.stop_round is not None:
            last = int(result[RESULT_ROUND]) if result and RESULT_ROUND in result else -1
            record.stopped[key] = last
            if last >= 0:
                self.ledger.record_round(key, last, result[RESULT_OBJECTIVE])
        else:
            # Ended before its last round with no early-stopping decision: the sweep was stopped
            # (Ctrl-C, SIGTERM). The seed is still owed; a --resume runs it again (see _requeue).
            self.ledger.save()
            return
        if record.settled():
            self._settle(record)
        self.ledger.save()

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
            else SearchLedger.from_json(snapshot["ledger"], path=self.ledger_path)
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
            self.ledger.save()
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
            TRIAL_CONFIG_KEY: trial.key,
            PROPOSAL_CONFIG_KEY: {
                "group": group.name,
                "setting": index,
                "seed": trial.config.seed,
                "values": values,
            },
        }

    def _inner_searcher(self, group: SearchGroup) -> Any:
        """The group's inner searcher, rebuilt from the ledger's results in a new process."""
        if group.name not in self._inner:
            known = self.ledger.group_settings(group.name)
            # A fresh sampler seeded anew after each restart: a restored search does not replay the
            # random proposals it already made.
            seed = derive_seed("search", self.search.seed, group.name, len(known)) % 2**32
            inner = inner_searcher(self.search, self.kinds, seed)
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
            inner.on_trial_complete(inner_id, {RESULT_OBJECTIVE: record.objective})
        elif told == "pruned":
            step = record.stop_round or 0
            inner.on_trial_result(inner_id, {RESULT_OBJECTIVE: record.objective, "training_iteration": step})
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
        self._queue = [(key, {TRIAL_CONFIG_KEY: key}) for key in self.reference_keys if key not in held]
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
