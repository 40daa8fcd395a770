"""Typed, frozen configuration for one active-learning trajectory.

Every model rejects unknown keys (``extra="forbid"``) and is immutable, so a config that loaded is
the config that runs. Defaults are the paper's settings; where the paper is silent the value comes
from the reference implementations listed in ``shared/REFERENCE.md`` and the field says so.

``load_trial_config(path)`` reads YAML and turns every validation problem into one
:class:`ConfigError` that names the file and the dotted field path.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigError(ValueError):
    """A config file or value is wrong. The message names the file and the field path."""


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# --------------------------------------------------------------------------------------------
# Components
# --------------------------------------------------------------------------------------------


class DatasetConfig(Frozen):
    name: str = "digits"
    """Registry name: ``digits``, ``mnist``, ``medmnist:<flag>`` or ``npz:<path>``."""
    root: Path = Path("data")
    """Folder the loaders read from (MNIST's ``MNIST/raw``, medmnist's ``<flag>.npz``)."""
    download: bool = False
    """Let torchvision/medmnist download missing files (needs internet)."""
    pool_size: int | None = Field(default=None, gt=0)
    """Unlabeled pool drawn from the train split with ``pool_seed``. None: the dataset's default
    (paper: MNIST 25,000, ChestMNIST 30,000; others the whole train split)."""
    pool_seed: int = 0
    """Seed of the pool subset; shared by every trial of a sweep so all see one pool."""
    eval_split: Literal["test", "val"] = "test"
    """Split the per-round metrics are computed on."""
    eval_size: int | None = Field(default=None, gt=0)
    """Optional cap on the eval split (a fixed random subset drawn with ``pool_seed``)."""

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("dataset name must not be empty")
        return value.strip()


class ModelConfig(Frozen):
    pretrained: bool = True
    """Start from ImageNet weights (paper). Needs ``weights_path`` or torch's hub cache offline."""
    weights_path: Path | None = None
    """Local ``resnet18`` ImageNet state dict; None looks in torch's hub cache."""
    stem: Literal["repeat", "conv1x1"] = "repeat"
    """How 1-channel 28x28 input meets the 3-channel stem (REFERENCE.md): repeat the channel, or
    learn a 1x1 convolution in front. Both keep the pretrained stem."""


class TrainingConfig(Frozen):
    lr: float = Field(default=1e-3, gt=0)
    """SGD learning rate (paper)."""
    momentum: float = Field(default=0.9, ge=0, lt=1)
    """SGD momentum (paper)."""
    weight_decay: float = Field(default=0.0, ge=0)
    """SGD weight decay; the paper names none."""
    batch_size: int = Field(default=128, gt=0)
    """Training batch size; not in the paper, 128 as in the loss-prediction reference (REFERENCE.md)."""
    eval_batch_size: int = Field(default=1024, gt=0)
    """Batch size for evaluation and pool inference (no effect on results)."""
    initial_epochs: int = Field(default=10, gt=0)
    """Epochs on the initial labels (paper)."""
    epochs_per_round: int = Field(default=5, ge=0)
    """Extra epochs after each labeling round (paper: stands for training to >99% train accuracy)."""
    amp_bf16: bool = False
    """bf16 autocast for training and inference (GPU switch; off by default)."""
    channels_last: bool = False
    """channels_last memory format (GPU switch; off by default)."""
    recalibrate_batchnorm: bool = False
    """After a round's training, recompute BatchNorm's running statistics in one forward pass over the
    labeled points (precise BN). With a few dozen SGD steps the running averages still describe an
    earlier network and eval-mode accuracy collapses (digits, 100 labels, 20 steps: 0.30 -> 0.73); at
    the paper's budgets they have converged. Neither the paper nor the reference code does it: off."""


class ScheduleConfig(Frozen):
    initial_labels: int = Field(default=3000, gt=0)
    """Random initial labels (paper)."""
    labels_per_round: int = Field(default=3000, gt=0)
    """Labels added per AL round (paper)."""
    rounds: int | None = Field(default=None, ge=0)
    """Selection rounds. None: keep going until ``max_labels`` or the pool is used up."""
    max_labels: int | None = Field(default=None, gt=0)
    """Stop once this many labels are reached (the last round may be smaller)."""


class RandomHeuristicConfig(Frozen):
    name: Literal["random"] = "random"


class EntropyHeuristicConfig(Frozen):
    name: Literal["entropy"] = "entropy"


class CoresetHeuristicConfig(Frozen):
    name: Literal["coreset"] = "coreset"


class MedalHeuristicConfig(Frozen):
    name: Literal["medal"] = "medal"


class LLossHeuristicConfig(Frozen):
    name: Literal["lloss"] = "lloss"
    margin: float = Field(default=1.0, ge=0)
    """Pair-loss margin xi (Yoo & Kweon reference code: 1.0)."""
    weight: float = Field(default=1.0, ge=0)
    """Weight lambda of the loss-module term (reference: 1.0)."""
    detach_epoch: int | None = Field(default=None, ge=0)
    """Epoch after which the loss module's inputs are detached from the backbone. None: 60% of the
    round's epochs, the reference's 120 of 200."""
    subset_size: int = Field(default=10_000, gt=0)
    """Random unlabeled subset scored at selection (reference: 10,000)."""
    hidden_dim: int = Field(default=128, gt=0)
    """Units per stage in the loss module (reference: 128)."""


class MarginHeuristicConfig(Frozen):
    name: Literal["margin"] = "margin"


class LeastConfidenceHeuristicConfig(Frozen):
    name: Literal["least_confidence"] = "least_confidence"


class BaldHeuristicConfig(Frozen):
    name: Literal["bald"] = "bald"
    dropout: float = Field(default=0.5, gt=0, lt=1)
    """Dropout rate before the classifier, in training and in the MC passes (ResNet-18 has none of its
    own). 0.5: the usual rate for a hidden layer (Srivastava et al. 2014). Only BALD trials get the
    dropout layer, so every other heuristic trains the model it always did."""
    mc_passes: int = Field(default=20, ge=2)
    """Stochastic passes T over the classifier (more: a less noisy estimate of the mutual information)."""


class BadgeHeuristicConfig(Frozen):
    name: Literal["badge"] = "badge"


class TypiclustHeuristicConfig(Frozen):
    name: Literal["typiclust"] = "typiclust"
    max_clusters: int = Field(default=500, gt=0)
    """k-means clusters: |labeled| + budget, capped here (reference code: 500)."""
    min_cluster_size: int = Field(default=5, ge=0)
    """Clusters of at most this many points come last (reference code: 5, where they are dropped)."""
    neighbours: int = Field(default=20, gt=0)
    """Typicality: inverse mean squared distance to this many nearest neighbours in the cluster, fewer
    (half the cluster's remaining points) in small clusters (reference code: 20)."""
    kmeans_iterations: int = Field(default=100, gt=0)
    """Cap on Lloyd iterations after k-means++ seeding; they stop earlier once no point changes
    cluster (scikit-learn's MiniBatchKMeans, which the reference calls, caps at 100)."""


HeuristicConfig = Annotated[
    RandomHeuristicConfig
    | EntropyHeuristicConfig
    | CoresetHeuristicConfig
    | MedalHeuristicConfig
    | LLossHeuristicConfig
    | MarginHeuristicConfig
    | LeastConfidenceHeuristicConfig
    | BaldHeuristicConfig
    | BadgeHeuristicConfig
    | TypiclustHeuristicConfig,
    Field(discriminator="name"),
]


class VAEConfig(Frozen):
    latent_dim: int = Field(default=32, gt=0)
    """Latent size; not in the paper (REFERENCE.md suggests 32)."""
    epochs: int = Field(default=20, gt=0)
    """Training epochs (paper)."""
    lr: float = Field(default=1e-3, gt=0)
    """Adam learning rate (paper)."""
    weight_decay: float = Field(default=5e-3, ge=0)
    """Adam weight decay (paper)."""
    batch_size: int = Field(default=128, gt=0)
    """Batch size; not in the paper."""
    seed: int = 0
    """Seed of the VAE's init and batch order; one VAE per (dataset, VAE config) in a sweep."""


class VAEEncoderConfig(Frozen):
    """The paper's VAE: a standard-normal prior, trained once per (dataset, ``vae`` block)."""

    name: Literal["vae"] = "vae"


class GMVAEEncoderConfig(Frozen):
    """The VAE with a mixture-of-Gaussians prior (the paper's proposed multimodal prior), trained
    once per (dataset, ``vae`` block, these fields); ``raysweep/encoders/gmvae.py``."""

    name: Literal["gmvae"] = "gmvae"
    components: int = Field(default=10, ge=1)
    """Mixture components K of the prior; not in the paper (10: MNIST's number of classes)."""


class CVAEEncoderConfig(Frozen):
    """The class-conditional VAE (the paper's other proposal), retrained inside the trial every
    round on the labels bought so far; ``raysweep/encoders/cvae.py``."""

    name: Literal["cvae"] = "cvae"


EncoderConfig = Annotated[
    VAEEncoderConfig | GMVAEEncoderConfig | CVAEEncoderConfig,
    Field(discriminator="name"),
]
"""Where V(x) comes from. Every encoder shares the ``vae`` block (latent size, epochs, optimiser,
batch size) and the paper's encoder/decoder, so encoders differ only in their prior and training data."""


DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")

AlphaScaling = Literal["raw", "balanced"]
VAE_ONLY_NAMES = ("vae_only", "inf")
"""Ways to write the task-agnostic end of the alpha axis in a config besides YAML's ``.inf``."""


def parse_alpha(value: Any) -> Any:
    """``vae_only`` / ``inf`` (any case) -> float inf; everything else is left to the float check."""
    if isinstance(value, str) and value.strip().lower() in VAE_ONLY_NAMES:
        return math.inf
    return value


def check_alpha(value: float) -> float:
    if math.isnan(value):
        raise ValueError("alpha must be a number >= 0, or vae_only (inf), not nan")
    return value


class TrialConfig(Frozen):
    """Everything one trajectory of Algorithm 1 depends on."""

    dataset: DatasetConfig = DatasetConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    heuristic: HeuristicConfig = Field(default_factory=RandomHeuristicConfig)
    vae: VAEConfig = VAEConfig()
    encoder: EncoderConfig = Field(default_factory=VAEEncoderConfig)
    """Which encoder's posterior means are V(x) (``vae``, ``gmvae``, ``cvae``); unused at alpha 0."""
    alpha: float = Field(default=0.0, ge=0)
    """Weight of the VAE features concatenated to the task features. 0: the plain heuristic;
    ``vae_only`` (inf): the VAE features alone, the task-agnostic end (core-set and MedAL only)."""
    alpha_scaling: AlphaScaling = "balanced"
    """How alpha weighs the blocks (``raysweep.heuristics.weighting``). ``balanced`` (default): each
    block is divided by its RMS spread over the pool in that round before alpha applies, so alpha is
    the VAE block's weight relative to the task block (1: equal spread, the VAE block holds half the
    squared distances), the same in every round and on every dataset. ``raw``: the paper's literal
    [T_f ⁀ alpha V], kept for exact reproduction; a trained ResNet-18's features spread ~20x more than
    the VAE's (in squared distance, real MNIST), so raw alphas up to ~1 change almost no pick."""
    seed: int = 0
    """Seeds the initial labels (with the pool seed), model init, batch order and selection."""
    device: str = "auto"
    """``auto`` (first CUDA device when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""

    @field_validator("device")
    @classmethod
    def _device_form(cls, value: str) -> str:
        if not DEVICE_PATTERN.match(value):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, not {value!r}")
        return value

    _parse_alpha = field_validator("alpha", mode="before")(parse_alpha)
    _check_alpha = field_validator("alpha")(check_alpha)

    @model_validator(mode="after")
    def _alpha_only_where_supported(self) -> TrialConfig:
        if self.alpha > 0 and self.heuristic.name not in VAE_HEURISTICS:
            raise ValueError(
                f"alpha={self.alpha} but heuristic {self.heuristic.name!r} takes no VAE features "
                f"(only {', '.join(sorted(VAE_HEURISTICS))} do); set alpha to 0"
            )
        if math.isinf(self.alpha) and self.heuristic.name not in VAE_ONLY_HEURISTICS:
            raise ValueError(
                f"alpha=vae_only (inf) means the VAE features alone, which heuristic {self.heuristic.name!r} "
                f"cannot use (only {', '.join(sorted(VAE_ONLY_HEURISTICS))} can); give a finite alpha"
            )
        return self

    @property
    def uses_vae(self) -> bool:
        """True when this trajectory needs the pool's VAE embeddings."""
        return self.alpha > 0 and self.heuristic.name in VAE_HEURISTICS


VAE_HEURISTICS = frozenset({"coreset", "medal", "lloss", "badge", "typiclust"})
"""Heuristics that accept alpha-scaled VAE features (paper, REFERENCE.md): the ones that select on a
feature space. Equal to the registry's ``supports_vae`` flags (a test keeps them so)."""
VAE_ONLY_HEURISTICS = frozenset({"coreset", "medal", "badge", "typiclust"})
"""Heuristics that also run on the VAE features alone (alpha = inf): they need only a feature space.
Loss prediction cannot: its loss module always reads the task model's stages."""


# --------------------------------------------------------------------------------------------
# Loading with errors that name the file and the field
# --------------------------------------------------------------------------------------------


def format_validation_error(error: ValidationError, source: str) -> str:
    """One readable message per problem: ``file: field.path: what is wrong``."""
    lines = [f"{source}: invalid config ({error.error_count()} problem(s))"]
    for problem in error.errors():
        path = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        elif problem["type"] == "union_tag_invalid":
            context = problem.get("ctx", {})
            message = f"unknown name {context.get('tag')!r}; known: {context.get('expected_tags')}"
        else:
            message = problem["msg"]
        lines.append(f"  {path}: {message}")
    return "\n".join(lines)


def read_yaml(path: Path | str) -> dict[str, Any]:
    """Read a YAML mapping; missing files and YAML syntax errors become ConfigError."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a config file")
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, not {type(data).__name__}")
    return data


def validate_config(model: type[ModelT], data: dict[str, Any], source: str) -> ModelT:
    """Validate ``data`` as ``model``, turning pydantic's error into a ConfigError for ``source``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def load_trial_config(path: Path | str) -> TrialConfig:
    """Load one trajectory's config from YAML."""
    return validate_config(TrialConfig, read_yaml(path), str(path))
