"""The numbers of the encoders side by side (issue 15): per-encoder curves, paired tests against alpha 0
and against ``vae``.

A sweep with an ``encoders`` axis holds, per (dataset, heuristic), one plain arm (alpha 0, encoder
``none``: it reads no VAE features and runs once for all encoders) and one arm per (encoder, alpha > 0).
This module compares those arms. When a sweep has encoders other than ``vae``
(:func:`has_encoders`) the report adds its encoders section (:mod:`analysis.sections.encoders`) and
runs its alpha sections on the ``vae`` arms (:func:`reference_rows`), whose tables would otherwise
average different encoders at one alpha.

- :func:`encoder_curves`: per (dataset, heuristic, alpha, encoder, n_labels) mean, std, n, 95% CI.
- :func:`encoder_tests`: every (encoder, alpha) arm against the plain arm, and every encoder other
  than ``vae`` against ``vae`` at the same alpha; paired by seed at each label count (the initial
  labels are checked to be shared), paired t-test and Wilcoxon (:func:`analysis.stats.paired_test`).
  Holm in two families: ``*_holm`` across the label counts of one comparison, ``*_holm_all`` across
  every comparison x label count of the (dataset, heuristic), the family one figure shows at once;
  ``significant`` (the figure's markers) uses the latter.
- :func:`encoder_summary`: one row per comparison, with the paired gain in normalised area under the
  curve and its tests, the area p-values Holm-corrected across the comparisons of the (dataset,
  heuristic).
- :func:`encoder_seconds`: what the encoders cost per round and per trial (metric ``encoder_seconds``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import alpha_stats, stats
from raysweep import schema

PLAIN = "none"
"""The ``encoder`` of trials that read no VAE features (alpha 0)."""
REFERENCE = "vae"
ARM = ["dataset", "heuristic", "alpha", "encoder"]
TEST_COLUMNS = [
    *ARM,
    "baseline",
    "n_labels",
    "n_pairs",
    "mean_baseline",
    "mean_variant",
    *stats.PAIRED_RESULT_COLUMNS,
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


def encoder_curves(frame: pd.DataFrame, metric: str = schema.TEST_METRIC) -> pd.DataFrame:
    """Per (dataset, heuristic, alpha, encoder, n_labels): mean, std, n, ci_low, ci_high across seeds."""
    data = stats.metric_rows(frame, metric)
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


def encoder_tests(frame: pd.DataFrame, metric: str = schema.TEST_METRIC) -> pd.DataFrame:
    """Every encoder arm against alpha 0 and against ``vae`` (same alpha), paired by seed per label count;
    Holm across the label counts of a comparison and across every comparison x label count of the
    (dataset, heuristic) (the module's docstring)."""
    data = stats.metric_rows(frame, metric)
    stats.check_pairing(data)
    tables = []
    for (dataset, heuristic), block in data.groupby(["dataset", "heuristic"]):
        family = []
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
            family.append(table)
        if family:
            family_table = pd.concat(family, ignore_index=True)
            family_table["p_t_holm_all"] = stats.holm(family_table["p_t"].to_numpy())
            family_table["p_wilcoxon_holm_all"] = stats.holm(family_table["p_wilcoxon"].to_numpy())
            tables.append(family_table)
    if not tables:
        return pd.DataFrame(columns=TEST_COLUMNS)
    out = pd.concat(tables, ignore_index=True)
    out["significant"] = out["p_t_holm_all"] < stats.ALPHA_LEVEL
    return out[TEST_COLUMNS]


def encoder_areas(frame: pd.DataFrame, metric: str = schema.TEST_METRIC) -> pd.DataFrame:
    """:func:`analysis.alpha_stats.trial_areas` with each trial's encoder."""
    areas = alpha_stats.trial_areas(frame, metric)
    encoders = frame.drop_duplicates("trial_key").set_index("trial_key")["encoder"]
    areas["encoder"] = areas["trial_key"].map(encoders)
    return areas


def encoder_summary(tests: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """One row per comparison: label counts tested, how many significant, the smallest Holm p (over the
    comparison's label counts, and over every comparison x label count of the (dataset, heuristic):
    ``min_p_t_holm_all``, which ``n_significant`` follows), and the paired gain in normalised area
    (complete trials only) with its t-test and Wilcoxon p, and the t-test p Holm-corrected across the
    comparisons of the (dataset, heuristic) (``area_p_t_holm``)."""
    complete = areas[areas["complete"]]
    rows = []
    for (dataset, heuristic, alpha, encoder, baseline), group in tests.groupby([*ARM, "baseline"], sort=True):
        best = group.loc[group["p_t_holm_all"].idxmin()] if group["p_t_holm_all"].notna().any() else None
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
                "min_p_t_holm": float(group["p_t_holm"].min()),
                "min_p_t_holm_all": float(best["p_t_holm_all"]) if best is not None else np.nan,
                "min_p_at": int(best["n_labels"]) if best is not None else None,
                "area_gain": area.get("mean_diff", np.nan),
                "area_gain_ci_low": area.get("diff_ci_low", np.nan),
                "area_gain_ci_high": area.get("diff_ci_high", np.nan),
                "area_p_t": area.get("p_t", np.nan),
                "area_p_wilcoxon": area.get("p_wilcoxon", np.nan),
            }
        )
    summary = pd.DataFrame(rows)
    if summary.empty:
        return summary
    # the area tests of one (dataset, heuristic) are one family too: one row per comparison
    summary["area_p_t_holm"] = np.nan
    for _, group in summary.groupby(["dataset", "heuristic"]):
        summary.loc[group.index, "area_p_t_holm"] = stats.holm(group["area_p_t"].to_numpy())
    return summary


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
    seconds = frame[frame["metric"] == schema.ENCODER_SECONDS]
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
