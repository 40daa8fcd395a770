"""Encoders side by side (issue 15): per-encoder curves, paired tests against alpha 0 and against ``vae``.

A sweep with an ``encoders`` axis holds, per (dataset, heuristic), one plain arm (alpha 0, encoder
``none``: it reads no VAE features and runs once for all encoders) and one arm per (encoder, alpha > 0).
This module compares those arms; :mod:`analysis.report` adds its section when a sweep has encoders
other than ``vae``, and runs its alpha sections on the ``vae`` arms (:func:`reference_rows`), whose
tables would otherwise average different encoders at one alpha.

- :func:`encoder_curves`: per (dataset, heuristic, alpha, encoder, n_labels) mean, std, n, 95% CI.
- :func:`encoder_tests`: every (encoder, alpha) arm against the plain arm, and every encoder other
  than ``vae`` against ``vae`` at the same alpha; paired by seed at each label count (the initial
  labels are checked to be shared), paired t-test and Wilcoxon, Holm-corrected across the label
  counts of each comparison (:func:`analysis.stats.paired_test`, as the alpha sections do).
- :func:`encoder_summary`: one row per comparison, with the paired gain in normalised area under the
  curve and its tests.
- :func:`encoder_seconds`: what the encoders cost per round and per trial (metric ``encoder_seconds``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis import plots, stats
from analysis.load import AnalysisError, SweepData

PLAIN = "none"
"""The ``encoder`` of trials that read no VAE features (alpha 0)."""
REFERENCE = "vae"
ARM = ["dataset", "heuristic", "alpha", "encoder"]
ENCODER_COLOURS = {"vae": "tab:blue", "gmvae": "tab:green", "cvae": "tab:red"}
TEST_COLUMNS = [
    *ARM,
    "baseline",
    "n_labels",
    "n_pairs",
    "mean_baseline",
    "mean_variant",
    "mean_diff",
    "diff_ci_low",
    "diff_ci_high",
    "t_stat",
    "p_t",
    "p_t_holm",
    "w_stat",
    "p_wilcoxon",
    "p_wilcoxon_holm",
    "significant",
    "note",
]


def has_encoders(frame: pd.DataFrame) -> bool:
    """True when some trial read VAE features from an encoder other than ``vae``."""
    used = frame.loc[frame["encoder"] != PLAIN, "encoder"]
    return bool((used != REFERENCE).any())


def reference_encoder(frame: pd.DataFrame) -> str | None:
    """``vae`` when the runs have it, else the first encoder by name; None without VAE arms."""
    used = sorted(set(frame.loc[frame["encoder"] != PLAIN, "encoder"]))
    if not used:
        return None
    return REFERENCE if REFERENCE in used else used[0]


def reference_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The plain arms and the reference encoder's arms: one arm per alpha again, for the alpha sections."""
    reference = reference_encoder(frame)
    return frame[(frame["encoder"] == PLAIN) | (frame["encoder"] == reference)].reset_index(drop=True)


def encoder_curves(frame: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Per (dataset, heuristic, alpha, encoder, n_labels): mean, std, n, ci_low, ci_high across seeds."""
    data = _metric(frame, metric)
    rows = []
    for key, group in data.groupby([*ARM, "n_labels"], sort=True):
        mean, std, low, high = stats.t_interval(group["value"].to_numpy())
        rows.append((*key, mean, std, len(group), low, high))
    return pd.DataFrame(rows, columns=[*ARM, "n_labels", "mean", "std", "n", "ci_low", "ci_high"])


def comparisons(columns: list[tuple[float, str]]) -> list[tuple[tuple[float, str], str, tuple[float, str]]]:
    """(variant arm, baseline name, baseline arm) for the (alpha, encoder) arms of one heuristic."""
    out = []
    for alpha, encoder in sorted(c for c in columns if c[1] != PLAIN):
        if (0.0, PLAIN) in columns:
            out.append(((alpha, encoder), "alpha 0", (0.0, PLAIN)))
        if encoder != REFERENCE and (alpha, REFERENCE) in columns:
            out.append(((alpha, encoder), REFERENCE, (alpha, REFERENCE)))
    return out


def encoder_tests(frame: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Every encoder arm against alpha 0 and against ``vae`` (same alpha), paired by seed per label count."""
    data = _metric(frame, metric)
    stats.check_pairing(data)
    tables = []
    for (dataset, heuristic), block in data.groupby(["dataset", "heuristic"]):
        wide = block.pivot_table(index=["n_labels", "seed"], columns=["alpha", "encoder"], values="value")
        for variant, baseline_name, baseline in comparisons(list(wide.columns)):
            rows = []
            for n_labels, at_n in wide.groupby(level="n_labels"):
                both = at_n[[baseline, variant]].dropna()
                rows.append(
                    {
                        "dataset": dataset,
                        "heuristic": heuristic,
                        "alpha": variant[0],
                        "encoder": variant[1],
                        "baseline": baseline_name,
                        "n_labels": int(n_labels),
                        "mean_baseline": float(both[baseline].mean()) if len(both) else np.nan,
                        "mean_variant": float(both[variant].mean()) if len(both) else np.nan,
                        **stats.paired_test(both[variant].to_numpy(), both[baseline].to_numpy()),
                    }
                )
            table = pd.DataFrame(rows)
            table["p_t_holm"] = stats.holm(table["p_t"].to_numpy())
            table["p_wilcoxon_holm"] = stats.holm(table["p_wilcoxon"].to_numpy())
            tables.append(table)
    if not tables:
        return pd.DataFrame(columns=TEST_COLUMNS)
    out = pd.concat(tables, ignore_index=True)
    out["significant"] = out["p_t_holm"] < stats.ALPHA_LEVEL
    return out[TEST_COLUMNS]


def encoder_areas(frame: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """:func:`analysis.stats.trial_areas` with each trial's encoder."""
    areas = stats.trial_areas(frame, metric)
    encoders = frame.drop_duplicates("trial_key").set_index("trial_key")["encoder"]
    areas["encoder"] = areas["trial_key"].map(encoders)
    return areas


def encoder_summary(tests: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """One row per comparison: label counts tested, how many significant, the smallest Holm p, and the
    paired gain in normalised area (complete trials only) with its t-test and Wilcoxon p."""
    complete = areas[areas["complete"]]
    rows = []
    for (dataset, heuristic, alpha, encoder, baseline), group in tests.groupby([*ARM, "baseline"], sort=True):
        best = group.loc[group["p_t_holm"].idxmin()] if group["p_t_holm"].notna().any() else None
        significant = group[group["significant"]]
        arms = complete[(complete["dataset"] == dataset) & (complete["heuristic"] == heuristic)]
        wide = arms.pivot_table(index="seed", columns=["alpha", "encoder"], values="area")
        base_arm = (0.0, PLAIN) if baseline == "alpha 0" else (alpha, REFERENCE)
        area = {}
        if base_arm in wide and (alpha, encoder) in wide:
            both = wide[[base_arm, (alpha, encoder)]].dropna()
            area = stats.paired_test(both[(alpha, encoder)].to_numpy(), both[base_arm].to_numpy())
        rows.append(
            {
                "dataset": dataset,
                "heuristic": heuristic,
                "alpha": alpha,
                "encoder": encoder,
                "baseline": baseline,
                "label_counts": len(group),
                "n_pairs": int(group["n_pairs"].max()),
                "mean_diff_avg": float(group["mean_diff"].mean()),
                "n_significant": len(significant),
                "significant_at": ", ".join(str(n) for n in significant["n_labels"]),
                "min_p_t_holm": float(best["p_t_holm"]) if best is not None else np.nan,
                "min_p_at": int(best["n_labels"]) if best is not None else None,
                "area_gain": area.get("mean_diff", np.nan),
                "area_gain_ci_low": area.get("diff_ci_low", np.nan),
                "area_gain_ci_high": area.get("diff_ci_high", np.nan),
                "area_p_t": area.get("p_t", np.nan),
                "area_p_wilcoxon": area.get("p_wilcoxon", np.nan),
            }
        )
    return pd.DataFrame(rows)


def encoder_seconds(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, heuristic, encoder): rounds that read features, mean seconds per such round and per
    trial (a cvae round is a training; a vae/gmvae round is the wait for the sweep's shared array)."""
    columns = [
        "dataset",
        "heuristic",
        "encoder",
        "trials",
        "rounds",
        "seconds_per_round",
        "seconds_per_trial",
    ]
    seconds = frame[frame["metric"] == "encoder_seconds"]
    if seconds.empty:
        return pd.DataFrame(columns=columns)
    per_trial = seconds.groupby(["dataset", "heuristic", "encoder", "trial_key"])["value"].agg(
        ["sum", "count"]
    )
    out = (
        per_trial.groupby(["dataset", "heuristic", "encoder"])
        .agg(trials=("sum", "size"), rounds=("count", "sum"), seconds_per_trial=("sum", "mean"))
        .reset_index()
    )
    out["seconds_per_round"] = out["seconds_per_trial"] * out["trials"] / out["rounds"]
    return out[columns]


# ------------------------------------------------------------------------------------------------
# Figures


def encoder_figure(
    curves: pd.DataFrame, tests: pd.DataFrame, dataset: str, heuristic: str, metric: str = "accuracy"
) -> tuple[plt.Figure, pd.DataFrame]:
    """Left: the plain arm and every (encoder, alpha) arm, mean over seeds with a 95% CI band. Right: each
    arm minus alpha 0, paired by seed, 95% CI, filled where the Holm-corrected paired t-test p < 0.05."""
    mine = curves[(curves["dataset"] == dataset) & (curves["heuristic"] == heuristic)]
    diffs = tests[
        (tests["dataset"] == dataset) & (tests["heuristic"] == heuristic) & (tests["baseline"] == "alpha 0")
    ]
    arms = sorted({(a, e) for a, e in zip(mine["alpha"], mine["encoder"], strict=True) if e != PLAIN})
    alphas = sorted({a for a, _ in arms})
    styles = dict(zip(alphas, ["-", "--", ":", "-."] * len(alphas), strict=False))
    bounded = bool(mine["mean"].between(0.0, 1.0).all())
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.3))
    ax = axes[0]
    for alpha, encoder in [(0.0, PLAIN), *arms]:
        c = mine[(mine["alpha"] == alpha) & (mine["encoder"] == encoder)].sort_values("n_labels")
        if c.empty:
            continue
        colour = plots.PLAIN_COLOUR if encoder == PLAIN else ENCODER_COLOURS.get(encoder, "tab:purple")
        label = "plain (α = 0)" if encoder == PLAIN else f"{encoder}, α = {alpha:g}"
        ax.plot(
            c["n_labels"],
            c["mean"],
            marker="o",
            ms=3.5,
            lw=1.6,
            color=colour,
            ls=styles.get(alpha, "-"),
            label=label,
        )
        low, high = c["ci_low"], c["ci_high"]
        if bounded:
            low, high = low.clip(lower=0.0), high.clip(upper=1.0)
        ax.fill_between(c["n_labels"], low, high, color=colour, alpha=0.15, lw=0)
    ax.set_xlabel("number of labels")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} (mean of {int(mine['n'].max())} seeds, 95% CI)", fontsize=10)
    ax.grid(alpha=0.3)
    plots._legend_below(ax)

    ax = axes[1]
    ax.axhline(0.0, color=plots.PLAIN_COLOUR, lw=1, ls="--")
    offsets = plots._dodge(sorted(diffs["n_labels"].unique()), len(arms)) if len(diffs) else []
    for i, (alpha, encoder) in enumerate(arms):
        d = diffs[(diffs["alpha"] == alpha) & (diffs["encoder"] == encoder)].sort_values("n_labels")
        if d.empty:
            continue
        colour = ENCODER_COLOURS.get(encoder, "tab:purple")
        x = d["n_labels"].to_numpy() + offsets[i]
        y = d["mean_diff"].to_numpy()
        err = np.vstack([y - d["diff_ci_low"].to_numpy(), d["diff_ci_high"].to_numpy() - y])
        ax.errorbar(
            x,
            y,
            yerr=err,
            color=colour,
            lw=1.3,
            capsize=2.5,
            ls=styles[alpha],
            label=f"{encoder}, α = {alpha:g}",
        )
        sig = d["significant"].to_numpy(dtype=bool)
        ax.scatter(x[~sig], y[~sig], facecolors="white", edgecolors=colour, s=22, zorder=4)
        ax.scatter(x[sig], y[sig], color=colour, s=26, zorder=4)
    ax.set_xlabel("number of labels")
    ax.set_ylabel(f"{metric} difference (encoder arm − plain)")
    ax.set_title("paired difference by seed, 95% CI; filled: p < 0.05 (Holm)", fontsize=10)
    ax.grid(alpha=0.3)
    plots._legend_below(ax, ncol=3)
    fig.suptitle(
        f"{plots.dataset_name(dataset)}: {plots.heuristic_name(heuristic)} with features of each encoder",
        fontsize=12,
    )
    fig.tight_layout()
    return fig, mine


# ------------------------------------------------------------------------------------------------
# The report's section


@dataclass
class EncoderSection:
    """What :func:`analyse` wrote: tables (name -> CSV path), figures (stem -> paths), report blocks."""

    tables: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, list[Path]] = field(default_factory=dict)
    blocks: list[tuple[str, object]] = field(default_factory=list)
    note: str = ""
    """For the report's header: which arms the alpha sections kept."""


def analyse(data: SweepData, out_dir: Path, metric: str = "accuracy") -> EncoderSection:
    """Tables, figures and report blocks of the encoder comparison, written into ``out_dir``."""
    frame = data.frame
    curves = encoder_curves(frame, metric)
    tests = encoder_tests(frame, metric)
    summary = encoder_summary(tests, encoder_areas(frame, metric))
    seconds = encoder_seconds(frame)
    section = EncoderSection(
        note=f"several encoders: the alpha sections compare `{reference_encoder(frame)}` arms with "
        "alpha 0; the encoders section compares every encoder"
    )
    for name, table in {
        "encoder_curves": curves,
        "encoder_tests": tests,
        "encoder_summary": summary,
        "encoder_seconds": seconds,
    }.items():
        section.tables[name] = out_dir / f"{name}.csv"
        table.to_csv(section.tables[name], index=False)
    for (dataset, heuristic), group in curves.groupby(["dataset", "heuristic"]):
        if (group["encoder"] == PLAIN).all():
            continue  # random, entropy: no encoder arm
        fig, numbers = encoder_figure(curves, tests, dataset, heuristic, metric)
        stem = f"encoders_{plots.slug(dataset)}_{plots.slug(heuristic)}"
        section.figures[stem] = plots.save(fig, numbers, out_dir, stem)
    section.blocks = _blocks(summary, seconds, section.figures, metric)
    return section


def with_note(data: SweepData, note: str) -> SweepData:
    return dataclasses.replace(data, notes=[*data.notes, note])


def _blocks(summary, seconds, figures, metric) -> list[tuple[str, object]]:
    from analysis.report import _format  # the report's cell formatting, imported late: report imports us

    blocks: list[tuple[str, object]] = [("h2", "Encoders: where the VAE features come from")]
    blocks.append(
        (
            "p",
            "Each encoder arm (features from `vae`, `gmvae` or `cvae` at an alpha > 0) against the plain "
            "heuristic (alpha = 0, shared by all encoders) and, for `gmvae` and `cvae`, against `vae` at "
            f"the same alpha: paired by seed at every label count ({metric}), paired t-test and Wilcoxon "
            "Holm-corrected across the label counts of each comparison; 'area gain' is the paired "
            "difference in normalised area under the curve with its t-test p. Full tables: "
            "`encoder_tests.csv`, `encoder_summary.csv`, `encoder_curves.csv`.",
        )
    )
    if summary.empty:
        blocks.append(
            ("p", "No encoder arm has a partner (alpha 0 or vae) in these runs: nothing to compare.")
        )
    else:
        blocks.append(
            (
                "table",
                _format(
                    summary,
                    {
                        "dataset": "dataset",
                        "heuristic": "heuristic",
                        "alpha": "alpha",
                        "encoder": "encoder",
                        "baseline": "against",
                        "n_pairs": "seeds",
                        "mean_diff_avg": f"mean diff ({metric})",
                        "n_significant": "significant",
                        "significant_at": "significant at (labels)",
                        "min_p_t_holm": "min p (t, Holm)",
                        "min_p_at": "at labels",
                        "area_gain": "area gain",
                        "area_gain_ci_low": "gain CI low",
                        "area_gain_ci_high": "gain CI high",
                        "area_p_t": "p area (t)",
                        "area_p_wilcoxon": "p area (Wilcoxon)",
                    },
                ),
            )
        )
    if not seconds.empty:
        blocks.append(
            (
                "p",
                "Encoder seconds per round that read VAE features: `cvae` retrains in the trial every such "
                "round; `vae` and `gmvae` train once per sweep (the parent run's `encoder_trainings`), so "
                "their rounds only wait for the shared array.",
            )
        )
        blocks.append(
            (
                "table",
                _format(
                    seconds,
                    {
                        "dataset": "dataset",
                        "heuristic": "heuristic",
                        "encoder": "encoder",
                        "trials": "trials",
                        "rounds": "rounds",
                        "seconds_per_round": "per-round s",
                        "seconds_per_trial": "per-trial s",
                    },
                ),
            )
        )
    for stem, paths in figures.items():
        blocks.append(
            (
                "img",
                (paths[0].name, f"{stem}: each encoder's arms and the plain heuristic, paired differences"),
            )
        )
    return blocks


def _metric(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    data = frame[frame["metric"] == metric]
    if data.empty:
        known = ", ".join(sorted(frame["metric"].unique()))
        raise AnalysisError(f"metric {metric!r} was not logged by these runs; logged metrics: {known}")
    return data
