"""A sweep's trials: the valid (dataset, heuristic, alpha, encoder, seed) combinations, each with its
key and its whole trial config.

Pure (no Ray, no MLflow). The trial list is not the blind product of the axes: heuristics that take
no VAE features (random, entropy, ...) appear once per dataset and seed, at alpha 0; and alpha-0
trials, which read no embeddings, appear once, not once per encoder. A search's settings become
trials in ``raysweep.search.groups``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from raysweep.config import EncoderConfig, TrialConfig, VAEEncoderConfig
from raysweep.heuristics import HeuristicConfig, heuristic_class
from raysweep.typed_config import ConfigError

if TYPE_CHECKING:
    from raysweep.sweep.config import SweepConfig

DEFAULT_ENCODER = VAEEncoderConfig()
"""The paper's VAE. Trials with it keep the keys they had before encoders existed."""


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

    @property
    def arm(self) -> str:
        """The key with the seed left out (``digits/coreset/1/*``): every seed of one setting."""
        head, tail = self._split_key()
        return f"{head}/*{tail}"

    def with_seed(self, seed: int, sweep: SweepConfig) -> Trial:
        """The same arm on another seed: the key's seed, the trial's seed and its VAE seed (when the
        sweep derives it from the trial's) replaced."""
        head, tail = self._split_key()
        config = self.config.model_copy(update={"seed": seed, "vae": sweep.vae.for_trial(seed)})
        return Trial(f"{head}/{seed}{tail}", config)

    def _split_key(self) -> tuple[str, str]:
        """(``dataset/heuristic/alpha``, what follows the seed): the dataset name may hold slashes
        (``npz:/a/b.npz``), so the key is cut where this trial's own fields put the seed."""
        head = f"{self.dataset}/{self.heuristic}/{format_alpha(self.config.alpha)}"
        prefix = f"{head}/{self.config.seed}"
        if not self.key.startswith(prefix):
            raise ValueError(f"trial key {self.key!r} does not start with {prefix!r}")
        return head, self.key[len(prefix) :]


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
        vae=sweep.vae.for_trial(seed),
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
            capabilities = heuristic_class(heuristic.name)
            alphas = sweep.sweep.alphas if capabilities.supports_vae else [0.0]
            if not capabilities.supports_vae_only:
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
