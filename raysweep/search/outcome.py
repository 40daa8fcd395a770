"""What a search found: per group the settings in the searcher's order, the alpha-0 reference and the
best setting; as a JSON-ready dict, as printed lines, and the search block as parent-run params.

Pure (no Ray, no MLflow); the shell prints the lines and logs the dict (``search.json``).
"""

from __future__ import annotations

import math
from typing import Any

from raysweep.schema import SEARCH_PARAM_PREFIX
from raysweep.search.config import SearchConfig
from raysweep.search.groups import search_groups
from raysweep.search.ledger import SearchLedger
from raysweep.search.objective import mean_objective
from raysweep.sweep.config import SweepConfig


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


def outcome_lines(outcome: dict[str, Any]) -> list[str]:
    """The outcome as the driver prints it after a search."""

    def shown(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"  # e.g. vae_share: alpha 0 logs none

    lines = [
        f"\nSearch ({outcome['algorithm']}, objective: {outcome['objective']}, mean over seeds {outcome['seeds']}):"
    ]
    for name, group in outcome["groups"].items():
        lines.append(
            f"  {name}: {group['settings_tried']} settings tried; "
            f"alpha 0 (reference): {shown(group['reference_objective'])}"
        )
        best = (group["best"] or {}).get("index")
        for s in group["settings"]:
            mark = "  <- best" if s["index"] == best else ""
            lines.append(
                f"    {s['index']:>3}  {s['setting']:<44} {s['status']:<9} {shown(s['objective'])}{mark}"
            )
    return lines


def finite_or_none(value: Any) -> Any:
    """JSON without NaN: NaN and infinities become null, in nested dicts and lists too."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    return value


def search_params(search: SearchConfig) -> dict[str, str]:
    """The search block as parent-run params (MLflow)."""
    space = {
        path: (
            {"choices": d.choices}
            if d.choices is not None
            else {"low": d.low, "high": d.high, "scale": d.scale or "linear"}
        )
        for path, d in search.space.items()
    }
    stopping = search.early_stopping
    params = {
        "algorithm": search.algorithm,
        "seed": str(search.seed),
        "settings": str(search.settings),
        "max_concurrent_settings": str(search.concurrent_settings),
        "startup_settings": str(search.random_startup_settings),
        "space": str(space),
        "objective": search.objective.label(),
        "early_stopping": (
            "none"
            if stopping is None
            else f"{stopping.rule} (grace {stopping.grace_rounds} rounds, min {stopping.min_settings} settings)"
        ),
    }
    return {SEARCH_PARAM_PREFIX + name: value for name, value in params.items()}
