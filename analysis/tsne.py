"""The t-SNE study of core-set picks with and without VAE features (paper figures 5 and 6).

Paper: train the ResNet-18 on 1,000 random initial labels of ChestMNIST, draw a random 5% of the
unlabeled pool as candidates, let core-set pick 100 of them (the labeled points are the initial
centers), once on the task features T_f(x) and once on [T_f(x) ⁀ alpha V(x)]; show t-SNE maps of the
labeled points, the candidates and the picks, one panel per feature space. Those sizes are the
defaults.

Weighting: by default the VAE panel uses ``balanced`` scaling at alpha = 1
(``raysweep.heuristics.weighting.weigh_features``), the weighting of ``configs/paper.yaml``'s VAE
arm: each block divided by its pool spread, so both carry half of the squared distances, the
midpoint between the task-only and the VAE-only ends; on real MNIST it keeps 0.594 of core-set's
plain picks (benchmarks/alpha_effect.py --full: pool 25,000, 3,000 labels + 3,000). Under the paper's
literal ``raw`` scaling at alpha = 1 the VAE block carries ~3% of the distances on real MNIST (a
trained ResNet-18's features spread ~30x more) and ~93% of core-set's picks equal the plain ones, so the two panels would show
the same selection, unlike the paper's figures 5 and 6 (issue 10). ``--alpha`` and
``--alpha-scaling`` choose another weighting; the study prints the overlap of the two selections and
the VAE block's share.

A selection that is most of the candidate set cannot differ between the panels: two selections of
``select`` from ``candidates`` points share at least 2 x select - candidates picks, and two unrelated
ones share select / candidates of them by chance. The study refuses (exit 2) more than
:data:`MAX_SELECT_SHARE` of the candidates.

Everything comes from the core library, so the study sees what a sweep's trial sees:
``raysweep.data.load_dataset``, the trial's initial labels (``raysweep.labels``), the task model at
its seeded initial weights (``raysweep.loop.build_models``) trained by ``raysweep.train.train_round``
for ``initial_epochs``, features by ``raysweep.train.infer``, the VAE by
``raysweep.models.vae.train_vae`` and the picks by ``raysweep.heuristics.coreset.greedy_k_center``
on the features ``raysweep.heuristics.weighting.weigh_features`` gives the heuristic.

Outputs in the folder: ``tsne.png``/``tsne.pdf`` (two panels), ``tsne.csv`` (panel, pool_index,
role, x, y) and ``tsne_summary.csv`` (per panel: counts, overlap of the two pick sets, the VAE
block's share of the distances, how far the picks lie from the centre of the feature space compared
with the candidates).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.load import AnalysisError

log = logging.getLogger(__name__)

MAX_SELECT_SHARE = 0.25
"""Largest share of the candidates the study may select: at 0.25 two unrelated selections already
share a quarter of their picks by chance (the paper: 100 of 1,556, 6%)."""
DEFAULT_ALPHA = 1.0
DEFAULT_SCALING = "balanced"

ROLE_STYLE = {
    # role: (label, colour, marker size, marker, zorder)
    "labeled": ("labeled (initial set)", "tab:blue", 6, "o", 1),
    "candidate": ("unlabeled candidates", "0.7", 6, "o", 0),
    "selected": ("selected by core-set", "tab:red", 28, "X", 3),
}


@dataclass(frozen=True)
class TsneStudy:
    """Sizes and settings of the study; the sizes default to the paper's (1,000 labels, 5% of the
    unlabeled pool as candidates, 100 picks), the weighting to one whose picks differ (module doc)."""

    dataset: str
    root: Path = Path("data")
    pool_size: int | None = None
    initial_labels: int = 1000
    candidate_fraction: float = 0.05
    select: int = 100
    alpha: float = DEFAULT_ALPHA
    alpha_scaling: str = DEFAULT_SCALING
    seed: int = 0
    epochs: int | None = None
    """Task-model epochs; None: the paper's 10 (TrainingConfig.initial_epochs)."""
    vae_epochs: int | None = None
    """VAE epochs; None: the paper's 20 (VAEConfig.epochs)."""
    pretrained: bool = True
    weights_path: Path | None = None
    device: str = "auto"
    perplexity: float = 30.0


@dataclass
class TsneResult:
    pool_indices: np.ndarray
    """(n_labeled + n_candidates,) pool indices of the embedded points: labeled first."""
    roles: dict[str, np.ndarray]
    """panel -> (n,) role per embedded point ('labeled', 'candidate', 'selected')."""
    picks: dict[str, np.ndarray]
    """panel -> (select,) picked pool indices in pick order."""
    coords: dict[str, np.ndarray]
    """panel -> (n, 2) t-SNE coordinates."""
    summary: pd.DataFrame


@dataclass(frozen=True)
class Selections:
    """Core-set's picks on the two feature spaces, and the VAE panel's space."""

    plain: np.ndarray
    """(budget,) int64 row positions in pick order, on T_f(x)."""
    vae: np.ndarray
    """(budget,) int64 row positions in pick order, on the weighted [T_f(x) ⁀ V(x)]."""
    vae_space: np.ndarray
    """(n, d) float32: the features the VAE panel's picks were made on (and its t-SNE map shows)."""
    vae_share: float
    """The VAE block's share of the squared distances in ``vae_space`` (0 at alpha = 0)."""

    @property
    def overlap(self) -> float:
        """Share of the VAE panel's picks that the plain panel also picked."""
        return float(np.isin(self.vae, self.plain).mean()) if len(self.vae) else 1.0


def select_both(
    task_features: np.ndarray,
    vae_features: np.ndarray,
    labeled_mask: np.ndarray,
    budget: int,
    alpha: float,
    scaling: str = DEFAULT_SCALING,
) -> Selections:
    """Core-set picks (positions into the given rows) on T_f(x) and on the weighted [T_f(x) ⁀ V(x)].

    task_features: (n, d_task); vae_features: (n, d_vae); labeled_mask: (n,) bool, the initial
    centers. The weighting is the heuristic's own (``weigh_features``, spreads over these rows).
    """
    import torch

    from raysweep.heuristics.coreset import greedy_k_center
    from raysweep.heuristics.weighting import weigh_features

    task = torch.as_tensor(task_features, dtype=torch.float32)
    mask = torch.as_tensor(labeled_mask, dtype=torch.bool)
    weighted = weigh_features(task, torch.as_tensor(vae_features, dtype=torch.float32), alpha, scaling)
    return Selections(
        plain=greedy_k_center(task, mask, budget).cpu().numpy(),
        vae=greedy_k_center(weighted.features, mask, budget).cpu().numpy(),
        vae_space=weighted.features.cpu().numpy(),
        vae_share=weighted.weights.vae_share if weighted.weights is not None else 0.0,
    )


def embed_2d(features: np.ndarray, seed: int, perplexity: float = 30.0) -> np.ndarray:
    """(n, d) -> (n, 2) t-SNE coordinates (scikit-learn, PCA init, fixed seed)."""
    from sklearn.manifold import TSNE

    perplexity = float(min(perplexity, max(2.0, (len(features) - 1) / 3)))
    # Barnes-Hut pays a per-iteration threading overhead that dominates on a few hundred points.
    method = "exact" if len(features) <= 1000 else "barnes_hut"
    tsne = TSNE(
        n_components=2,
        perplexity=perplexity,
        init="pca",
        random_state=seed,
        learning_rate="auto",
        method=method,
    )
    return tsne.fit_transform(np.asarray(features, dtype=np.float32))


def run_tsne_study(study: TsneStudy, out_dir: Path) -> list[Path]:
    """Run the study and write tsne.png/.pdf/.csv and tsne_summary.csv into ``out_dir``."""
    result = compute_tsne_study(study)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [
        pd.DataFrame(
            {
                "panel": panel,
                "pool_index": result.pool_indices,
                "role": result.roles[panel],
                "x": result.coords[panel][:, 0],
                "y": result.coords[panel][:, 1],
            }
        )
        for panel in ("plain", "vae")
    ]
    csv, summary_csv = out_dir / "tsne.csv", out_dir / "tsne_summary.csv"
    pd.concat(rows, ignore_index=True).to_csv(csv, index=False)
    result.summary.to_csv(summary_csv, index=False)
    png, pdf = tsne_figure(result, study, out_dir)
    return [png, pdf, csv, summary_csv]


def compute_tsne_study(study: TsneStudy) -> TsneResult:
    """Train, select and embed; see the module docstring. Bad input raises :class:`AnalysisError`."""
    import torch

    from raysweep.config import (
        DatasetConfig,
        ModelConfig,
        TrainingConfig,
        TrialConfig,
        VAEConfig,
    )
    from raysweep.data import load_dataset
    from raysweep.heuristics import build_heuristic
    from raysweep.heuristics.coreset import CoresetHeuristicConfig
    from raysweep.labels import derive_seed, initial_label_indices
    from raysweep.loop import build_models, deterministic_torch, seeded_generator
    from raysweep.models.vae import train_vae
    from raysweep.train import DeviceData, infer, resolve_device, train_round

    _check_sizes(study)
    try:
        config = TrialConfig(
            dataset=DatasetConfig(name=study.dataset, root=study.root, pool_size=study.pool_size),
            model=ModelConfig(pretrained=study.pretrained, weights_path=study.weights_path),
            training=TrainingConfig(**({"initial_epochs": study.epochs} if study.epochs else {})),
            heuristic=CoresetHeuristicConfig(),
            vae=VAEConfig(**({"epochs": study.vae_epochs} if study.vae_epochs else {})),
            alpha=study.alpha,
            alpha_scaling=study.alpha_scaling,
            seed=study.seed,
            device=study.device,
        )
        device = resolve_device(config.device)
        dataset = load_dataset(config.dataset)
    except (ValueError, KeyError, OSError, RuntimeError) as err:  # config, data and device errors
        raise AnalysisError(str(err).strip("'\"")) from None

    n_pool = dataset.n_pool
    if study.initial_labels >= n_pool:
        raise AnalysisError(
            f"--initial-labels {study.initial_labels} must be smaller than the pool ({n_pool:,} points)"
        )
    # The same initial labels a sweep trial with this seed starts from.
    labeled = initial_label_indices(
        dataset.name, n_pool, config.dataset.pool_seed, study.seed, study.initial_labels
    )
    unlabeled = np.setdiff1d(np.arange(n_pool), labeled)
    n_candidates = round(study.candidate_fraction * len(unlabeled))
    if n_candidates < study.select:
        raise AnalysisError(
            f"{study.candidate_fraction:g} of the {len(unlabeled):,} unlabeled points gives {n_candidates} "
            f"candidates, fewer than --select {study.select}; raise --candidate-fraction or lower --select"
        )
    if study.select > MAX_SELECT_SHARE * n_candidates:
        raise AnalysisError(
            f"--select {study.select} of {n_candidates} candidates ({study.candidate_fraction:g} of the "
            f"{len(unlabeled):,} unlabeled points) is {study.select / n_candidates:.0%} of them: the two "
            f"panels must share at least {max(0, 2 * study.select - n_candidates)} picks and share "
            f"{study.select / n_candidates:.0%} by chance, so their difference would say nothing. Select at "
            f"most {MAX_SELECT_SHARE:.0%} of the candidates (the paper: 100 of 1,556): raise "
            "--candidate-fraction or --pool-size, or lower --select"
        )
    rng = np.random.default_rng(derive_seed("tsne-candidates", study.seed))
    candidates = np.sort(rng.choice(unlabeled, size=n_candidates, replace=False))
    points = np.concatenate([labeled, candidates])
    log.info(
        "t-SNE study on %s: pool %d, %d labeled, %d candidates, select %d, alpha %g (%s), device %s",
        dataset.name, n_pool, len(labeled), n_candidates, study.select, study.alpha, study.alpha_scaling,
        device,
    )  # fmt: skip

    started = time.perf_counter()
    with deterministic_torch():
        try:
            model, _ = build_models(config, dataset, device, build_heuristic(config.heuristic), vae_dim=0)
        except OSError as err:  # missing ImageNet weights: the message says what to do
            raise AnalysisError(f"{err} (or pass --no-pretrained)") from None
        data = DeviceData(dataset, device)
        train_round(
            model,
            data,
            torch.as_tensor(labeled, device=device),
            config.training,
            epochs=config.training.initial_epochs,
            generator=seeded_generator("train", study.seed, 0),
        )
        task_features = (
            infer(
                model,
                data,
                data.pool_images,
                torch.as_tensor(points, device=device),
                config.training.eval_batch_size,
            )
            .features.cpu()
            .numpy()
        )
    log.info(
        "task model trained (%d epochs) in %.1f s",
        config.training.initial_epochs,
        time.perf_counter() - started,
    )
    started = time.perf_counter()
    vae_features = train_vae(dataset, config.vae, device)[points]
    log.info("VAE trained (%d epochs) in %.1f s", config.vae.epochs, time.perf_counter() - started)

    labeled_mask = np.zeros(len(points), dtype=bool)
    labeled_mask[: len(labeled)] = True
    selections = select_both(
        task_features, vae_features, labeled_mask, study.select, study.alpha, study.alpha_scaling
    )
    picks = {"plain": selections.plain, "vae": selections.vae}
    spaces = {"plain": task_features, "vae": selections.vae_space}

    roles, coords = {}, {}
    for panel, rows in picks.items():
        role = np.where(labeled_mask, "labeled", "candidate").astype(object)
        role[rows] = "selected"
        roles[panel] = role
        coords[panel] = embed_2d(spaces[panel], study.seed, study.perplexity)
    summary = _summary(spaces, coords, roles, picks, selections.vae_share)
    return TsneResult(
        pool_indices=points,
        roles=roles,
        picks={panel: points[rows] for panel, rows in picks.items()},
        coords=coords,
        summary=summary,
    )


def tsne_figure(result: TsneResult, study: TsneStudy, out_dir: Path) -> tuple[Path, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.plots import DPI, dataset_name

    share = float(result.summary.set_index("panel").loc["vae", "vae_share"])
    alpha = "∞ (VAE features only)" if np.isinf(study.alpha) else f"{study.alpha:g}"
    titles = {
        "plain": "core-set on ResNet features T_f(x)",
        "vae": f"core-set on [T_f(x), α·V(x)], α = {alpha} ({study.alpha_scaling}): "
        f"VAE share of distances {share:.0%}",
    }
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 5.4))
    for ax, panel in zip(axes, ("plain", "vae"), strict=True):
        xy, role = result.coords[panel], result.roles[panel]
        for name in ("candidate", "labeled", "selected"):
            label, colour, size, marker, z = ROLE_STYLE[name]
            keep = role == name
            edge = {"edgecolors": "black", "linewidths": 0.4} if name == "selected" else {"linewidths": 0}
            ax.scatter(
                xy[keep, 0], xy[keep, 1], s=size, c=colour, marker=marker, zorder=z,
                alpha=0.9 if name == "selected" else 0.6, label=f"{label} ({keep.sum():,})", **edge,
            )  # fmt: skip
        ax.set_title(titles[panel], fontsize=10)
        ax.set_xlabel("t-SNE 1 (arbitrary units)")
        ax.set_ylabel("t-SNE 2 (arbitrary units)")
        ax.set_xticks([])
        ax.set_yticks([])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=3,
        fontsize=9,
        frameon=False,
        markerscale=2,
        bbox_to_anchor=(0.5, -0.01),
    )
    overlap = int(result.summary["picks_shared"].iloc[0])
    fig.suptitle(
        f"{dataset_name(study.dataset)}: t-SNE of core-set picks, {study.initial_labels:,} labels, "
        f"{study.select} picked from {int((result.roles['plain'] != 'labeled').sum()):,} candidates "
        f"({overlap} of {study.select} picks the same in both panels)",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    png, pdf = out_dir / "tsne.png", out_dir / "tsne.pdf"
    fig.savefig(png, dpi=DPI, bbox_inches="tight")
    fig.savefig(pdf, bbox_inches="tight")
    plt.close(fig)
    return png, pdf


def _summary(spaces, coords, roles, picks, vae_share: float) -> pd.DataFrame:
    """Per panel: counts, shared picks, the VAE block's share of the distances (0 for the plain
    panel), and the picks' distance from the centre relative to candidates.

    ``pick_centre_distance_ratio``: median distance of the picks to the mean of all embedded points
    in that feature space, divided by the candidates' median distance (> 1: picks lie further out,
    the paper's reading of figure 6). ``pick_tsne_spread``: mean pairwise t-SNE distance of the picks
    over that of the candidates (how spread out they look in the panel).
    """
    shared = len(set(picks["plain"]) & set(picks["vae"]))
    rows = []
    for panel, features in spaces.items():
        role = roles[panel]
        centre = np.linalg.norm(features - features.mean(axis=0), axis=1)
        candidates = role != "labeled"
        rows.append(
            {
                "panel": panel,
                "feature_dim": features.shape[1],
                "labeled": int((role == "labeled").sum()),
                "candidates": int(candidates.sum()),
                "selected": int((role == "selected").sum()),
                "picks_shared": shared,
                "pick_overlap": shared / max(len(picks["vae"]), 1),
                "vae_share": vae_share if panel == "vae" else 0.0,
                "pick_centre_distance_ratio": float(
                    np.median(centre[role == "selected"]) / np.median(centre[candidates])
                ),
                "pick_tsne_spread": _mean_pairwise(coords[panel][role == "selected"])
                / _mean_pairwise(coords[panel][candidates]),
            }
        )
    return pd.DataFrame(rows)


def _mean_pairwise(xy: np.ndarray, limit: int = 2000) -> float:
    xy = xy[:limit]
    if len(xy) < 2:
        return float("nan")
    d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    return float(d.sum() / (len(xy) * (len(xy) - 1)))


def _check_sizes(study: TsneStudy) -> None:
    if study.initial_labels <= 0 or study.select <= 0:
        raise AnalysisError("--initial-labels and --select must be positive")
    if not 0 < study.candidate_fraction <= 1:
        raise AnalysisError(f"--candidate-fraction must be in (0, 1], got {study.candidate_fraction}")
    if not study.alpha >= 0:
        raise AnalysisError(f"--alpha must be >= 0 (inf: the VAE features alone), got {study.alpha}")
    if study.alpha_scaling not in ("balanced", "raw"):
        raise AnalysisError(f"--alpha-scaling must be balanced or raw, got {study.alpha_scaling!r}")
