"""Typed, frozen configuration for one active-learning trajectory.

Every model rejects unknown keys (``extra="forbid"``) and is immutable, so a config that loaded is
the config that runs (``raysweep.typed_config``). Defaults are the paper's settings; where the paper
is silent the value comes from the reference implementations listed in ``shared/REFERENCE.md`` and
the field says so. Each heuristic's own fields live with the heuristic (``raysweep.heuristics``),
which also says what it can do (VAE features, the VAE features alone, a loss module, dropout).

``load_trial_config(path)`` reads YAML and turns every validation problem into one
:class:`ConfigError` that names the file and the dotted field path.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from raysweep.heuristics import HeuristicConfig, heuristic_class, names_where
from raysweep.heuristics.random import RandomHeuristicConfig
from raysweep.heuristics.weighting import AlphaScaling
from raysweep.typed_config import Frozen, read_yaml, validate_config

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
    """Split of the per-round ``accuracy``/``auc``: ``test``, the held-out split results are reported
    on (every shipped config). ``val`` makes them validation numbers, which choosing and reporting on
    one split mixes up; ``val_accuracy``/``val_auc`` are logged on the validation split either way."""
    eval_size: int | None = Field(default=None, gt=0)
    """Optional cap on the eval split (a fixed random subset drawn with ``pool_seed``)."""
    val_size: int | None = Field(default=None, gt=0)
    """Size of the validation split (``val_accuracy``, ``val_auc``; what a search and the report
    choose by). A dataset with its own val split (digits, MedMNIST, npz files that carry one) uses it,
    capped at ``val_size`` (a fixed subset drawn with ``pool_seed``); one without (MNIST) holds out
    ``val_size`` train points outside the pool (None: the smaller of 5,000 and a tenth of the train
    split), drawn with ``pool_seed``, so the pool is the same whatever this field says."""

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
    dropout: float = Field(default=0.0, ge=0, lt=1)
    """Dropout before the classifier, in every arm of a sweep alike (MC-dropout BALD needs it, and an
    arm compared with BALD must train the same network: ``configs/strategies.yaml`` sets 0.5 for all).
    ResNet-18 has none of its own; 0 leaves the network as it was, bit for bit."""
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
    """bf16 autocast for training and inference on CUDA (off by default); a CPU trial trains in float32
    and warns (``raysweep.train.BF16_AUTOCAST_DEVICES`` says why)."""
    channels_last: bool = False
    """channels_last memory format (GPU switch; off by default)."""
    until_train_accuracy: float | None = Field(default=None, gt=0, le=1)
    """Train each round until the task model's accuracy on the labeled set reaches this (checked after
    every epoch once the round's epochs above are done), as the paper intends ("until >99% train
    accuracy"), up to ``max_epochs``. None: the epochs above, the paper's stand-in (every round logs
    ``train_accuracy`` either way, so the report can tell whether they fit the labels)."""
    max_epochs: int = Field(default=100, gt=0)
    """Cap on a round's epochs when training until a train accuracy."""
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
    """Seed of the VAE's init and batch order (a trial's: its sweep's ``vae.seed``, resolved)."""


class SweepVAEConfig(VAEConfig):
    """A sweep's ``vae`` block: the trials' VAE settings, with the encoder's seed left to each trial."""

    seed: int | Literal["trial"] = "trial"
    """``trial`` (default): each trial's pool encoder is seeded by the trial's seed, so the encoder is
    trained once per (dataset, encoder config, seed), every arm of a seed shares it (pairing kept), and
    the paired tests' intervals include the variance of training the encoder, the thing the study
    varies. An integer: one encoder draw for every seed (the earlier behaviour); the tests are then
    conditional on that draw."""

    def for_trial(self, trial_seed: int) -> VAEConfig:
        """The trial's VAE config: this block with the seed resolved."""
        seed = trial_seed if self.seed == "trial" else self.seed
        return VAEConfig(**{**self.model_dump(), "seed": seed})


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
        capabilities = heuristic_class(self.heuristic.name)
        if self.alpha > 0 and not capabilities.supports_vae:
            raise ValueError(
                f"alpha={self.alpha} but heuristic {self.heuristic.name!r} takes no VAE features "
                f"(only {', '.join(names_where('supports_vae'))} do); set alpha to 0"
            )
        if capabilities.needs_model_dropout and self.model.dropout <= 0:
            raise ValueError(
                f"heuristic {self.heuristic.name!r} samples the model with MC dropout, but model.dropout is 0; "
                "set model.dropout (e.g. 0.5) for every arm of the sweep, so the arms it is compared with "
                "train the same network"
            )
        if math.isinf(self.alpha) and not capabilities.supports_vae_only:
            raise ValueError(
                f"alpha=vae_only (inf) means the VAE features alone, which heuristic {self.heuristic.name!r} "
                f"cannot use (only {', '.join(names_where('supports_vae_only'))} can); give a finite alpha"
            )
        return self

    @property
    def uses_vae(self) -> bool:
        """True when this trajectory needs the pool's VAE embeddings."""
        return self.alpha > 0 and heuristic_class(self.heuristic.name).supports_vae


def load_trial_config(path: Path | str) -> TrialConfig:
    """Load one trajectory's config from YAML."""
    return validate_config(TrialConfig, read_yaml(path), str(path))
