"""The paired statistics on the tidy frame from :mod:`analysis.load` (scipy.stats): intervals across
seeds, paired tests, Holm.

- :func:`t_interval`, :func:`holm`, :func:`paired_test`: a mean with its t-based 95% CI, Holm step-down
  adjusted p-values, and one paired t-test and Wilcoxon signed-rank; every ``*_stats`` module tests with
  these.
- :func:`curve_summary`: per (dataset, heuristic, alpha, n_labels) mean, std, n and a t-based 95%
  confidence interval across seeds.
- :func:`paired_tests`: every VAE variant (alpha > 0, inf included) against its plain partner (same
  dataset and heuristic, alpha 0), paired by seed at every label count: paired t-test and Wilcoxon
  signed-rank, Holm-corrected in two families: ``*_holm`` across the label counts of one comparison,
  ``*_holm_all`` across every (alpha, label count) test of the (dataset, heuristic); ``significant``
  (the figures' markers) uses the latter. Pairs whose initial-label hashes differ are refused
  (:class:`UnpairedError`): shared seeds are the design. :func:`significance_summary`: one row per
  comparison.

Degenerate cases never crash: n < 2 pairs gives p = NaN, all-zero differences give p = 1, a constant
non-zero difference (zero variance) gives a t-test p of NaN (all with a note). With 5 seeds the exact
two-sided Wilcoxon p-value cannot go below 2/2^5 = 0.0625, so significance markers use the
Holm-corrected paired t-test and the Wilcoxon column is a robustness check.

The areas and the alpha choice are :mod:`analysis.alpha_stats`, the pick diagnostics and the training
fit :mod:`analysis.diagnostic_stats`, the runtime tables :mod:`analysis.runtime_stats`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from analysis.load import AnalysisError
from raysweep import schema

ALPHA_LEVEL = 0.05
GROUP = ["dataset", "heuristic", "alpha"]
PAIRED_RESULT_COLUMNS = [
    "mean_diff",
    "diff_ci_low",
    "diff_ci_high",
    "t_stat",
    "p_t",
    "p_t_holm",
    "p_t_holm_all",
    "w_stat",
    "p_wilcoxon",
    "p_wilcoxon_holm",
    "p_wilcoxon_holm_all",
    "significant",
    "note",
]
"""The columns that end every per-label-count table of paired tests (:func:`paired_tests`,
:func:`analysis.encoder_stats.encoder_tests`), after its keys, ``n_pairs`` and the two means: the
:func:`paired_test` result with the p-values Holm-corrected in both families, and ``significant``."""


class UnpairedError(AnalysisError):
    """A variant and its alpha-0 partner did not start from the same initial labels."""


def t_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, std, ci_low, ci_high) of ``values``; the interval is NaN when fewer than 2 values."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = len(values)
    if n == 0:
        return (np.nan,) * 4
    mean = float(values.mean())
    if n < 2:
        return mean, np.nan, np.nan, np.nan
    std = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * std / np.sqrt(n))
    return mean, std, mean - half, mean + half


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values; NaNs stay NaN and do not count as tests."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    if m == 0:
        return adjusted
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def paired_test(variant: np.ndarray, plain: np.ndarray) -> dict:
    """Paired t-test and Wilcoxon signed-rank of ``variant - plain``; never raises.

    Returns n_pairs, mean_diff, diff_ci_low/high, t_stat, p_t, w_stat, p_wilcoxon and a note.
    """
    diff = np.asarray(variant, dtype=float) - np.asarray(plain, dtype=float)
    diff = diff[np.isfinite(diff)]
    mean, _, low, high = t_interval(diff)
    out = {
        "n_pairs": len(diff),
        "mean_diff": mean,
        "diff_ci_low": low,
        "diff_ci_high": high,
        "t_stat": np.nan,
        "p_t": np.nan,
        "w_stat": np.nan,
        "p_wilcoxon": np.nan,
        "note": "",
    }
    if len(diff) < 2:
        out["note"] = f"n={len(diff)} pairs: no test"
        return out
    # Metrics arrive as float32 values widened to float64: treat differences within float32
    # rounding as equal, or a quantised metric's "constant" difference looks like signal.
    if np.allclose(diff, 0.0, rtol=0.0, atol=1e-9):
        out.update(t_stat=0.0, p_t=1.0, w_stat=np.nan, p_wilcoxon=1.0, note="identical curves: p set to 1")
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if np.ptp(diff) <= 1e-5 * np.abs(diff).max():
            # A constant non-zero difference has zero variance: t is infinite and p formally 0. With
            # quantised metrics (accuracy on a small eval split) and few seeds this happens by chance,
            # so no p-value rather than a spurious "significant"; Wilcoxon still reports its exact p.
            out.update(t_stat=float(np.sign(diff[0]) * np.inf), note="constant difference: t-test undefined")
        else:
            t = stats.ttest_rel(variant, plain, nan_policy="omit")
            out.update(t_stat=float(t.statistic), p_t=float(t.pvalue))
        try:
            w = stats.wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
            out.update(w_stat=float(w.statistic), p_wilcoxon=float(w.pvalue))
        except ValueError as err:  # e.g. every difference is zero after dropping ties
            out["note"] = (out["note"] + "; " if out["note"] else "") + f"wilcoxon: {err}"
    return out


def metric_rows(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The rows of the tidy ``frame`` that hold ``metric``; an :class:`AnalysisError` naming the
    logged metrics when there are none."""
    data = frame[frame["metric"] == metric]
    if data.empty:
        known = ", ".join(sorted(frame["metric"].unique()))
        raise AnalysisError(f"metric {metric!r} was not logged by these runs; logged metrics: {known}")
    return data


def curve_summary(frame: pd.DataFrame, metric: str = schema.TEST_METRIC) -> pd.DataFrame:
    """Per (dataset, heuristic, alpha, n_labels): mean, std, n, ci_low, ci_high across seeds."""
    data = metric_rows(frame, metric)
    rows = []
    for key, group in data.groupby([*GROUP, "n_labels"], sort=True):
        mean, std, low, high = t_interval(group["value"].to_numpy())
        rows.append((*key, mean, std, len(group), low, high))
    return pd.DataFrame(rows, columns=[*GROUP, "n_labels", "mean", "std", "n", "ci_low", "ci_high"])


def check_pairing(frame: pd.DataFrame) -> None:
    """Raise :class:`UnpairedError` when a (dataset, seed) has more than one initial-label hash.

    Every method of a (dataset, seed) must start from the same initial labels; a differing hash
    means the runs cannot be paired by seed. Missing hashes are not checked.
    """
    hashes = frame.dropna(subset=["initial_labels_sha256"]).drop_duplicates(
        ["dataset", "seed", "heuristic", "alpha", "initial_labels_sha256"]
    )
    bad = hashes.groupby(["dataset", "seed"])["initial_labels_sha256"].nunique()
    bad = bad[bad > 1]
    if not bad.empty:
        examples = []
        for dataset, seed in bad.index[:3]:
            rows = hashes[(hashes["dataset"] == dataset) & (hashes["seed"] == seed)]
            who = ", ".join(
                f"{r.heuristic}/alpha={r.alpha:g}: {r.initial_labels_sha256[:10]}" for r in rows.itertuples()
            )
            examples.append(f"{dataset} seed {seed} ({who})")
        raise UnpairedError(
            "refusing to pair runs by seed: the initial-label hashes differ for "
            + "; ".join(examples)
            + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            + ". Runs compared by seed must start from the same initial labels."
        )


def paired_tests(frame: pd.DataFrame, metric: str = schema.TEST_METRIC) -> pd.DataFrame:
    """Each VAE variant vs its alpha-0 partner, paired by seed, at every label count, Holm-corrected.

    Columns: dataset, heuristic, alpha, n_labels, n_pairs, mean_plain, mean_variant, mean_diff,
    diff_ci_low, diff_ci_high, t_stat, p_t, p_t_holm, p_t_holm_all, w_stat, p_wilcoxon,
    p_wilcoxon_holm, p_wilcoxon_holm_all, significant, note.

    Two Holm families: ``p_t_holm`` / ``p_wilcoxon_holm`` over the label counts of one (alpha vs 0)
    comparison; ``p_t_holm_all`` / ``p_wilcoxon_holm_all`` over every alpha and label count of the
    (dataset, heuristic), the family a figure shows at once. ``significant``: p_t_holm_all < 0.05.
    """
    data = metric_rows(frame, metric)
    check_pairing(data)
    wide = data.pivot_table(
        index=["dataset", "heuristic", "n_labels", "seed"], columns="alpha", values="value"
    )
    rows = []
    for (dataset, heuristic), block in wide.groupby(level=["dataset", "heuristic"]):
        alphas = [a for a in block.columns if a > 0 and block[a].notna().any()]
        if 0.0 not in block.columns or not alphas:
            continue
        family = []
        for alpha in alphas:
            comparison = []
            for n_labels, at_n in block.groupby(level="n_labels"):
                both = at_n[[0.0, alpha]].dropna()
                result = paired_test(both[alpha].to_numpy(), both[0.0].to_numpy())
                comparison.append(
                    {
                        "dataset": dataset,
                        "heuristic": heuristic,
                        "alpha": alpha,
                        "n_labels": int(n_labels),
                        "mean_plain": float(both[0.0].mean()) if len(both) else np.nan,
                        "mean_variant": float(both[alpha].mean()) if len(both) else np.nan,
                        **result,
                    }
                )
            table = pd.DataFrame(comparison)
            table["p_t_holm"] = holm(table["p_t"].to_numpy())
            table["p_wilcoxon_holm"] = holm(table["p_wilcoxon"].to_numpy())
            family.append(table)
        family_table = pd.concat(family, ignore_index=True)
        family_table["p_t_holm_all"] = holm(family_table["p_t"].to_numpy())
        family_table["p_wilcoxon_holm_all"] = holm(family_table["p_wilcoxon"].to_numpy())
        rows.append(family_table)
    columns = [*GROUP, "n_labels", "n_pairs", "mean_plain", "mean_variant", *PAIRED_RESULT_COLUMNS]
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.concat(rows, ignore_index=True)
    out["significant"] = out["p_t_holm_all"] < ALPHA_LEVEL
    return out[columns]


def significance_summary(tests: pd.DataFrame) -> pd.DataFrame:
    """One row per comparison: label counts tested, how many significant, the smallest Holm p.

    ``min_p_t_holm`` is corrected over the comparison's label counts, ``min_p_t_holm_all`` over every
    alpha and label count of its (dataset, heuristic); significance follows the latter.
    """
    rows = []
    for key, group in tests.groupby(GROUP, sort=True):
        best = group.loc[group["p_t_holm_all"].idxmin()] if group["p_t_holm_all"].notna().any() else None
        significant = group[group["significant"]]
        rows.append(
            {
                **dict(zip(GROUP, key, strict=True)),
                "label_counts": len(group),
                "n_pairs": int(group["n_pairs"].max()),
                "mean_diff_avg": float(group["mean_diff"].mean()),
                "n_significant": len(significant),
                "significant_at": ", ".join(str(n) for n in significant["n_labels"]),
                "min_p_t_holm": float(group["p_t_holm"].min()),
                "min_p_t_holm_all": float(best["p_t_holm_all"]) if best is not None else np.nan,
                "min_p_at": int(best["n_labels"]) if best is not None else None,
                "min_p_wilcoxon_holm": float(group["p_wilcoxon_holm"].min()),
            }
        )
    return pd.DataFrame(rows)
