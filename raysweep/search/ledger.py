"""The search's ledger: everything it decided, saved as JSON in the sweep folder at every change.

Pure (no Ray, no MLflow). The ledger is the search's memory across drivers: after a killed driver
the searcher reads it back, hands out again the trials Tune's saved state does not hold, and
rebuilds its inner searchers from the settled settings; early stopping records its decisions in it.
It owns its saving (:meth:`SearchLedger.save`): whoever changes it saves it through it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from raysweep.search.objective import is_better, mean_objective
from raysweep.search.space import setting_label
from raysweep.storage import StoragePath, location

LEDGER = Path("search") / "ledger.json"
"""The ledger's place in the sweep folder. Not at its top level: on ``Tuner.restore`` Tune copies every
top-level .json/.pkl file of the experiment folder into its staging folder and from then on copies
those back over the originals at each of its checkpoints, which would bring back a stale ledger."""


def ledger_path(sweep_dir: StoragePath | Path | str) -> StoragePath:
    """The ledger of the sweep in ``sweep_dir`` (a local folder, or one on the sweep's storage)."""
    return location(sweep_dir) / LEDGER


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
    path: StoragePath | None = field(default=None, compare=False, repr=False)
    """Where :meth:`save` writes it (not part of the JSON: a ledger can be moved with its folder)."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["path"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], path: StoragePath | Path | None = None) -> SearchLedger:
        return cls(
            references=data["references"],
            settings=[SettingRecord(**record) for record in data["settings"]],
            trial_ids=data["trial_ids"],
            rounds=data["rounds"],
            exhausted=data["exhausted"],
            duplicates=data["duplicates"],
            completed_ids=data["completed_ids"],
            path=None if path is None else location(path),
        )

    def save(self) -> None:
        """Write the ledger to its path, whole or not at all (a killed driver never leaves half a ledger)."""
        if self.path is None:
            raise ValueError("this ledger has no path to be saved to")
        self.path.write_text(json.dumps(self.to_json()))  # StoragePath writes are atomic

    @classmethod
    def read(cls, path: StoragePath | Path | str) -> SearchLedger:
        path = location(path)
        return cls.from_json(json.loads(path.read_text()), path=path)

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

    def settings_behind_at(self, record: SettingRecord, round_index: int) -> list[float]:
        """The round means of the other settings of ``record``'s group that reached ``round_index``."""
        return [
            value
            for other in self.group_settings(record.group)
            if other is not record and (value := self.round_mean(other, round_index)) is not None
        ]

    def best(self, group: str, mode: str) -> SettingRecord | None:
        best = None
        for record in self.group_settings(group):
            if record.status != "complete" or record.objective is None or not math.isfinite(record.objective):
                continue
            if best is None or is_better(record.objective, best.objective, mode):
                best = record
        return best
