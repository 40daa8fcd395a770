"""A sweep config: the shared trial settings, the axes, resources and where results go.

Pure (no Ray, no MLflow): the launcher validates a file with :func:`load_sweep_config` (overrides
from ``--set`` applied), shrinks it with ``raysweep.sweep.smoke`` when asked, and expands it into its
trials with ``raysweep.sweep.trials``. With a ``sweep.search`` block (``raysweep.search``) the trial
list holds only the reference arms (every heuristic at alpha 0, every seed); the settings come from
the search algorithm while the sweep runs (``raysweep.search.groups``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from raysweep.config import (
    DatasetConfig,
    EncoderConfig,
    ModelConfig,
    ScheduleConfig,
    SweepVAEConfig,
    TrainingConfig,
    TrialConfig,
    check_alpha,
    parse_alpha,
)
from raysweep.heuristics import HeuristicConfig
from raysweep.heuristics.weighting import AlphaScaling
from raysweep.search.config import SearchConfig
from raysweep.search.space import check_search
from raysweep.sweep.trials import DEFAULT_ENCODER, expand_trials
from raysweep.typed_config import ConfigError, Frozen, read_yaml, validate_config


def _heuristic_entry(value: Any) -> Any:
    """Axis entries may be a bare name (``coreset``) or a mapping with the component's fields."""
    return {"name": value} if isinstance(value, str) else value


class SweepAxes(Frozen):
    datasets: list[str] = Field(min_length=1)
    """Dataset registry names; the other dataset fields come from the top-level ``dataset`` block."""
    heuristics: list[Annotated[HeuristicConfig, Field()]] = Field(min_length=1)
    alphas: list[Annotated[float, BeforeValidator(parse_alpha), AfterValidator(check_alpha), Field(ge=0)]] = (
        Field(default=[0.0], min_length=1)
    )
    """Applied to VAE-capable heuristics (coreset, medal, lloss); 0 is the plain heuristic, ``vae_only``
    (or ``.inf``) the VAE features alone (core-set and MedAL; loss prediction skips it)."""
    seeds: list[int] = Field(min_length=1)
    encoders: list[Annotated[EncoderConfig, Field()]] = Field(default=[DEFAULT_ENCODER], min_length=1)
    """Where V(x) comes from for alpha > 0: ``vae`` (default), ``gmvae``, ``cvae``; bare names or
    mappings with the encoder's fields (``{name: gmvae, components: 20}``), each name once."""
    search: SearchConfig | None = None
    """None: the grid of ``alphas``. A search block: settings proposed from the results so far, each on
    every seed, with the alpha-0 arms as the reference (``raysweep.search``)."""

    @field_validator("heuristics", "encoders", mode="before")
    @classmethod
    def _names_to_mappings(cls, value: Any) -> Any:
        return [_heuristic_entry(v) for v in value] if isinstance(value, list) else value

    @field_validator("encoders")
    @classmethod
    def _one_entry_per_encoder(cls, value: list) -> list:
        names = [encoder.name for encoder in value]
        if len(set(names)) != len(names):
            raise ValueError(f"axis lists an encoder twice: {names}; give each encoder once per sweep")
        return value

    confirm_seeds: list[int] | None = None
    """Seeds a confirmation (``--confirm``) reruns the chosen settings on: seeds the choice never
    saw. None: as many as ``seeds``, the integers after the largest of them."""

    @field_validator("datasets", "seeds", "alphas", "confirm_seeds")
    @classmethod
    def _no_duplicates(cls, value: list | None) -> list | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError(f"axis has duplicate entries: {value}")
        return value

    @model_validator(mode="after")
    def _confirmation_on_fresh_seeds(self) -> SweepAxes:
        if self.confirm_seeds is not None:
            shared = sorted(set(self.confirm_seeds) & set(self.seeds))
            if shared:
                raise ValueError(
                    f"confirm_seeds must be seeds the choice never saw; {shared} are also in seeds"
                )
            if not self.confirm_seeds:
                raise ValueError("confirm_seeds is empty: leave it out for as many fresh seeds as seeds")
        return self

    @property
    def confirmation_seeds(self) -> list[int]:
        """The seeds of a confirmation: ``confirm_seeds``, or as many as ``seeds`` after the largest."""
        if self.confirm_seeds is not None:
            return list(self.confirm_seeds)
        start = max(self.seeds) + 1
        return list(range(start, start + len(self.seeds)))


class Resources(Frozen):
    cpu: float = Field(default=1.0, gt=0)
    """CPUs per trial (also torch's thread count in the trial)."""
    gpu: float = Field(default=0.0, ge=0)
    """GPUs per trial; fractions pack trials onto one GPU (0.25: four per GPU)."""
    max_concurrent_trials: int | None = Field(default=None, gt=0)
    """Cap on trials running at once (None: as many as resources allow)."""


class SweepConfig(Frozen):
    experiment: str = Field(min_length=1)
    """MLflow experiment name (and the folder under the storage path)."""
    sweep: SweepAxes
    dataset: DatasetConfig = DatasetConfig()
    """Shared dataset fields (root, pool size, pool seed, eval split); ``name`` comes from the axis."""
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    vae: SweepVAEConfig = SweepVAEConfig()
    alpha_scaling: AlphaScaling = "balanced"
    """How alpha weighs the VAE block against the task block: ``balanced`` or ``raw`` (TrialConfig)."""
    device: str = "auto"
    resources: Resources = Resources()
    max_failures: int = Field(default=2, ge=0)
    """Tune's FailureConfig: retries of a crashed trial (each resumes from its last round)."""
    storage: str = "raysweep_runs"
    """Where the sweep's files go (Tune's checkpoints, the sweep record, cached VAE embeddings): a local
    path or a URI (``s3://bucket/runs``; ``raysweep.storage``). On a cluster every node must see it."""
    tracking_uri: str | None = None
    """MLflow tracking URI; None: ``sqlite:///mlflow.db`` in the working directory."""

    @field_validator("device")
    @classmethod
    def _device_form(cls, value: str) -> str:
        return TrialConfig.model_validate({"device": value}).device


def apply_overrides(data: dict[str, Any], overrides: list[str], source: str) -> dict[str, Any]:
    """Apply ``--set a.b=value`` overrides; values are parsed as YAML (``0.5``, ``[0, 1]``, ``true``)."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set training.lr=0.01")
        dotted, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {item!r}: value is not valid YAML: {exc}") from None
        node = data
        parts = dotted.strip().split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{source}: --set {dotted}: {part!r} is not a mapping")
            node = child
        node[parts[-1]] = value
    return data


def load_sweep_config(path: Path | str, overrides: list[str] | None = None) -> SweepConfig:
    """Read, override and validate a sweep file; every problem is one ConfigError naming the file."""
    data = apply_overrides(read_yaml(path), overrides or [], str(path))
    sweep = validate_config(SweepConfig, data, str(path))
    try:
        expand_trials(sweep)  # validates every combination as a TrialConfig
        if sweep.sweep.search is not None:
            check_search(sweep.sweep.search, sweep.sweep.heuristics, sweep.sweep.alphas)
            if len(sweep.sweep.encoders) > 1:
                names = [encoder.name for encoder in sweep.sweep.encoders]
                raise ConfigError(
                    f"sweep.encoders: a search runs its settings with one encoder, the sweep lists {names}; "
                    "search each encoder in a sweep of its own"
                )
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return sweep


def config_digest(sweep: SweepConfig) -> str:
    """Short hash of the resolved sweep, to tell sweeps apart and detect a changed config on resume.

    Axes added later are left out while they hold their default (the encoders axis only ``vae``, no
    search block), so the digest of a sweep that started before they existed is unchanged and
    ``--resume`` still finds it the same sweep.
    """
    data = sweep.model_dump(mode="json")
    if sweep.sweep.encoders == [DEFAULT_ENCODER]:
        del data["sweep"]["encoders"]
    if sweep.sweep.search is None:
        del data["sweep"]["search"]
    if sweep.sweep.confirm_seeds is None:
        del data["sweep"]["confirm_seeds"]
    payload = json.dumps(data, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]
