"""A sweep config: the shared trial settings, the axes, resources and where results go.

Pure (no Ray, no MLflow): the launcher validates a file with :func:`load_sweep_config`, shrinks it
with :func:`smoke` when asked, and expands it into the list of valid trials with :func:`expand_trials`.
The trial list is not the blind product of the axes: heuristics that take no VAE features (random,
entropy) appear once per dataset and seed, at alpha 0; and alpha-0 trials, which read no embeddings,
appear once, not once per encoder.

With a ``sweep.search`` block (:mod:`raysweep.search`) the trial list holds only the reference arms
(every heuristic at alpha 0, every seed); the settings come from the search algorithm while the sweep
runs, each on every seed, in one group per (dataset, VAE-capable heuristic): :func:`search_groups`,
:func:`setting_trial`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter, field_validator

from raysweep.config import (
    VAE_HEURISTICS,
    VAE_ONLY_HEURISTICS,
    AlphaScaling,
    ConfigError,
    DatasetConfig,
    EncoderConfig,
    Frozen,
    HeuristicConfig,
    ModelConfig,
    ScheduleConfig,
    TrainingConfig,
    TrialConfig,
    VAEConfig,
    VAEEncoderConfig,
    check_alpha,
    parse_alpha,
    read_yaml,
    validate_config,
)
from raysweep.search import SearchConfig, apply_setting, check_search, key_suffix

HEURISTIC_ADAPTER: TypeAdapter[HeuristicConfig] = TypeAdapter(HeuristicConfig)

DEFAULT_ENCODER = VAEEncoderConfig()
"""The paper's VAE. Trials with it keep the keys they had before encoders existed."""


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

    @field_validator("datasets", "seeds", "alphas")
    @classmethod
    def _no_duplicates(cls, value: list) -> list:
        if len(set(value)) != len(value):
            raise ValueError(f"axis has duplicate entries: {value}")
        return value


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
    vae: VAEConfig = VAEConfig()
    alpha_scaling: AlphaScaling = "balanced"
    """How alpha weighs the VAE block against the task block: ``balanced`` or ``raw`` (TrialConfig)."""
    device: str = "auto"
    resources: Resources = Resources()
    max_failures: int = Field(default=2, ge=0)
    """Tune's FailureConfig: retries of a crashed trial (each resumes from its last round)."""
    storage: Path = Path("raysweep_runs")
    """Ray Tune storage path (checkpoints, cached VAE embeddings). Shared across nodes on a cluster."""
    tracking_uri: str | None = None
    """MLflow tracking URI; None: ``sqlite:///mlflow.db`` in the working directory."""

    @field_validator("device")
    @classmethod
    def _device_form(cls, value: str) -> str:
        return TrialConfig.model_validate({"device": value}).device


@dataclass(frozen=True)
class Trial:
    key: str
    """``dataset/heuristic/alpha/seed``, plus ``/encoder`` when the encoder is not the default ``vae``:
    the trial's identity in MLflow and in Tune."""
    config: TrialConfig

    @property
    def dataset(self) -> str:
        return self.config.dataset.name

    @property
    def heuristic(self) -> str:
        return self.config.heuristic.name

    @property
    def encoder(self) -> str | None:
        """The encoder's name where the trial reads embeddings (alpha > 0), else None."""
        return self.config.encoder.name if self.config.uses_vae else None


def format_alpha(alpha: float) -> str:
    return f"{alpha:g}"


def trial_key(
    dataset: str, heuristic: str, alpha: float, seed: int, encoder: str = DEFAULT_ENCODER.name
) -> str:
    """``dataset/heuristic/alpha/seed``; a non-default encoder is appended (``.../seed/gmvae``), so the
    keys of ``vae`` trials stay what they were before encoders existed and old sweeps still resume."""
    key = f"{dataset}/{heuristic}/{format_alpha(alpha)}/{seed}"
    return key if encoder == DEFAULT_ENCODER.name else f"{key}/{encoder}"


def trial_config(
    sweep: SweepConfig,
    dataset: str,
    heuristic: HeuristicConfig,
    alpha: float,
    seed: int,
    encoder: EncoderConfig = DEFAULT_ENCODER,
) -> TrialConfig:
    return TrialConfig(
        dataset=sweep.dataset.model_copy(update={"name": dataset}),
        model=sweep.model,
        training=sweep.training,
        schedule=sweep.schedule,
        heuristic=heuristic,
        vae=sweep.vae,
        encoder=encoder,
        alpha=alpha,
        alpha_scaling=sweep.alpha_scaling,
        seed=seed,
        device=sweep.device,
    )


def expand_trials(sweep: SweepConfig) -> list[Trial]:
    """Every valid (dataset, heuristic, alpha, encoder, seed) combination, in a stable order.

    At alpha 0 the trial reads no embeddings, so it runs once with the default encoder whatever
    the encoders axis holds: it is every encoder's plain partner.
    """
    trials = []
    for dataset in sweep.sweep.datasets:
        for heuristic in sweep.sweep.heuristics:
            alphas = sweep.sweep.alphas if heuristic.name in VAE_HEURISTICS else [0.0]
            if heuristic.name not in VAE_ONLY_HEURISTICS:
                alphas = [alpha for alpha in alphas if not math.isinf(alpha)]
            for alpha in sorted(set(alphas)):
                encoders = sweep.sweep.encoders if alpha > 0 else [DEFAULT_ENCODER]
                for encoder in encoders:
                    for seed in sweep.sweep.seeds:
                        config = trial_config(sweep, dataset, heuristic, alpha, seed, encoder)
                        key = trial_key(dataset, heuristic.name, alpha, seed, encoder.name)
                        trials.append(Trial(key, config))
    keys = [t.key for t in trials]
    if len(set(keys)) != len(keys):
        raise ConfigError("the sweep lists the same heuristic twice; give each heuristic once per sweep")
    return trials


@dataclass(frozen=True)
class SearchGroup:
    """The settings of one (dataset, heuristic) are searched together, against its alpha-0 arm."""

    dataset: str
    heuristic: HeuristicConfig

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.heuristic.name}"


def search_groups(sweep: SweepConfig) -> list[SearchGroup]:
    return [
        SearchGroup(dataset, heuristic)
        for dataset in sweep.sweep.datasets
        for heuristic in sweep.sweep.heuristics
        if heuristic.name in VAE_HEURISTICS
    ]


def setting_trial(sweep: SweepConfig, group: SearchGroup, values: dict[str, Any], seed: int) -> Trial:
    """One seed of a proposed setting: key ``dataset/heuristic/alpha/seed`` plus ``/field=value`` for
    every other searched field."""
    encoder = search_encoder(sweep)
    config = apply_setting(trial_config(sweep, group.dataset, group.heuristic, 0.0, seed, encoder), values)
    key = trial_key(group.dataset, group.heuristic.name, config.alpha, seed, encoder.name) + key_suffix(
        values
    )
    return Trial(key, config)


def search_encoder(sweep: SweepConfig) -> EncoderConfig:
    """The one encoder a search's settings use (``load_sweep_config`` refuses a search over several)."""
    return sweep.sweep.encoders[0]


def proposed_trial(sweep: SweepConfig, proposal: dict[str, Any]) -> Trial:
    """The trial of one seed of a searcher's proposal (``{group, setting, seed, values}``)."""
    group = next(g for g in search_groups(sweep) if g.name == proposal["group"])
    return setting_trial(sweep, group, proposal["values"], proposal["seed"])


def prewarm_trials(sweep: SweepConfig) -> list[Trial]:
    """For a search that leaves the VAE's fields alone: one trial per dataset with the VAE every
    setting shares, so the launcher trains it before the trials start (as it does for a grid)."""
    search = sweep.sweep.search
    if search is None or any(path.startswith("vae.") for path in search.space):
        return []
    groups = {group.dataset: group for group in search_groups(sweep)}
    return [
        Trial(
            "prewarm",
            trial_config(
                sweep, group.dataset, group.heuristic, 1.0, sweep.sweep.seeds[0], search_encoder(sweep)
            ),
        )
        for group in groups.values()
    ]


def describe_search(sweep: SweepConfig) -> list[str]:
    """The search plan in a few lines (``--dry-run`` and the start of a sweep)."""
    search = sweep.sweep.search
    if search is None:
        return []
    space = ", ".join(
        f"{path} in {d.choices}"
        if d.choices is not None
        else f"{path} in [{d.low:g}, {d.high:g}] {d.scale or 'linear'}"
        for path, d in search.space.items()
    )
    groups = search_groups(sweep)
    return [
        f"search ({search.algorithm}, seed {search.seed}): {search.settings} settings per group x "
        f"{len(sweep.sweep.seeds)} seeds, at most {search.concurrent_settings} in flight per group, "
        f"objective: {search.objective.label()} (mean over seeds)",
        f"  space: {space}",
        f"  groups: {', '.join(g.name for g in groups)} (each against its alpha-0 arm above)",
        f"  early stopping: {'none' if search.early_stopping is None else search.early_stopping.rule}",
        f"  at most {planned_trial_count(sweep)} trials in all",
    ]


def planned_trial_count(sweep: SweepConfig) -> int:
    """Trials of the sweep: the grid's, or a search's reference arms plus every setting on every seed."""
    trials = len(expand_trials(sweep))
    if sweep.sweep.search is not None:
        trials += len(search_groups(sweep)) * sweep.sweep.search.settings * len(sweep.sweep.seeds)
    return trials


SMOKE_POOL, SMOKE_EVAL = 400, 300
SMOKE_LABELS, SMOKE_ROUNDS = 40, 2
"""40 -> 80 -> 120 labels: three points per curve."""
SMOKE_BATCH_SIZE, SMOKE_EPOCHS = 32, 6
"""At most 32 per batch and 6 epochs per round: 12, 18 and 24 SGD steps at 40, 80 and 120 labels,
after which a ResNet-18 from scratch is clearly above chance (with the BatchNorm statistics
recomputed) on 8x8 digits and on 28x28 MNIST alike; 2 epochs of 128 left MNIST at chance."""


def smoke(sweep: SweepConfig) -> SweepConfig:
    """The same sweep, shrunk to run in seconds per trial: every axis kept, sizes cut, still learning.

    Pool, eval split, budgets, rounds and epochs shrink and seeds keep their first two entries; the
    batch size shrinks so that the few epochs left still take a few dozen steps, and BatchNorm
    statistics are recomputed after each round's training, so the few steps still learn (real MNIST
    at the paper's lr 0.001: 0.59-0.71 accuracy at 120 labels, chance 0.1). Used by ``--smoke`` and
    by the tests, so the tested path is the one users run, and its accuracy means something. A search
    tries at most 3 settings per group.
    """
    pool = min(sweep.dataset.pool_size or SMOKE_POOL, SMOKE_POOL)
    search = sweep.sweep.search
    if search is not None:
        search = search.model_copy(update={"settings": min(search.settings, 3)})
    schedule = ScheduleConfig(
        initial_labels=min(sweep.schedule.initial_labels, SMOKE_LABELS),
        labels_per_round=min(sweep.schedule.labels_per_round, SMOKE_LABELS),
        rounds=min(
            sweep.schedule.rounds if sweep.schedule.rounds is not None else SMOKE_ROUNDS, SMOKE_ROUNDS
        ),
    )
    training = sweep.training
    return sweep.model_copy(
        update={
            "dataset": sweep.dataset.model_copy(
                update={
                    "pool_size": pool,
                    "eval_size": min(sweep.dataset.eval_size or SMOKE_EVAL, SMOKE_EVAL),
                }
            ),
            "schedule": schedule,
            "training": training.model_copy(
                update={
                    "batch_size": min(training.batch_size, SMOKE_BATCH_SIZE),
                    "initial_epochs": min(training.initial_epochs, SMOKE_EPOCHS),
                    # Every round gets the same epochs: more labels already mean more steps.
                    "epochs_per_round": 0,
                    "recalibrate_batchnorm": True,
                }
            ),
            "vae": sweep.vae.model_copy(update={"epochs": min(sweep.vae.epochs, 2)}),
            "sweep": sweep.sweep.model_copy(update={"seeds": sweep.sweep.seeds[:2], "search": search}),
        }
    )


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
    payload = json.dumps(data, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]
