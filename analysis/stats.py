"""Statistics on the tidy frame from :mod:`analysis.load` (scipy.stats).

- :func:`curve_summary`: per (dataset, heuristic, alpha, n_labels) mean, std, n and a t-based 95%
  confidence interval across seeds.
- :func:`paired_tests`: every VAE variant (alpha > 0, inf included) against its plain partner (same
  dataset and heuristic, alpha 0), paired by seed at every label count: paired t-test and Wilcoxon
  signed-rank, Holm-corrected in two families: ``*_holm`` across the label counts of one comparison,
  ``*_holm_all`` across every (alpha, label count) test of the (dataset, heuristic); ``significant``
  (the figures' markers) uses the latter. Pairs whose initial-label hashes differ are refused
  (:class:`UnpairedError`): shared seeds are the design.
- :func:`trial_areas` / :func:`choose_alphas` / :func:`alpha_summary`: normalised area under each
  learning curve (trapezoid over n_labels divided by the label range, so it is in accuracy units),
  and per (dataset, heuristic) the alpha chosen by :mod:`raysweep.choice` on the validation areas
  with its gain over alpha 0 and paired tests on the test areas, Holm across the alphas. A trial is
  complete only with every label count of its dataset's grid; a gap leaves it out of the areas and
  is listed (:func:`label_gaps`), never interpolated over.
- :func:`trial_diagnostics` / :func:`arm_diagnostics`: did an alpha arm pick anything else than the
  plain heuristic? ``plain_overlap`` (against ``plain_overlap_baseline``, the plain heuristic
  against itself under another selection seed), ``vae_share`` and ``vae_share_of_pick_distances``
  per trial, then per arm with 95% CIs; an arm with mean overlap >= :data:`SAME_PICKS_OVERLAP` x
  its mean baseline is flagged.
- :func:`training_fit`: per arm, the rounds whose ``train_accuracy`` is under :data:`TRAIN_FIT`.
- :func:`runtime_tables`: compute and wall time per trial, per (dataset, heuristic) and per sweep,
  with each shared VAE's training seconds split over the trials that used it.

Degenerate cases never crash: n < 2 pairs gives p = NaN, all-zero differences give p = 1, a constant
non-zero difference (zero variance) gives a t-test p of NaN (all with a note). With 5 seeds the exact two-sided Wilcoxon p-value cannot go below 2/2^5 = 0.0625, so
significance markers use the Holm-corrected paired t-test and the Wilcoxon column is a robustness
check.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.load import AnalysisError
from raysweep import schema
from raysweep.choice import ArmScores, choose_arms
from raysweep.curves import normalised_area
from raysweep.schema import (
    PLAIN_OVERLAP,
    PLAIN_OVERLAP_BASELINE,
    TRAIN_ACCURACY,
    VAE_SHARE_OF_PICK_DISTANCES,
)

ALPHA_LEVEL = 0.05
GROUP = ["dataset", "heuristic", "alpha"]
SAME_PICKS_OVERLAP = 0.99
"""An arm whose picks overlap the plain heuristic's this much, relative to how much the plain heuristic
overlaps itself (``plain_overlap_baseline``: 1 for a deterministic heuristic), is not a different
experiment."""
SAME_PICKS_TEXT = "picks equal to the plain heuristic's; this arm is not a different experiment"
ARM_COLUMNS = [
    *GROUP,
    "n",
    "vae_share",
    "vae_share_ci_low",
    "vae_share_ci_high",
    "plain_overlap",
    "plain_overlap_ci_low",
    "plain_overlap_ci_high",
    "n_overlap",
    "plain_overlap_baseline",
    "overlap_ratio",
    "vae_share_of_pick_distances",
    "same_picks_as_plain",
]
"""Columns of :func:`arm_diagnostics`."""
TRAIN_FIT = 0.99
"""The paper trains each round "until >99% train accuracy": a round whose ``train_accuracy`` is under
this did not fit its labels."""
TRAINING_COLUMNS = [
    *GROUP,
    "encoder",
    "confirms",
    "trials",
    "rounds",
    "rounds_under",
    "trials_under",
    "min_train_accuracy",
    "under_at",
    "fits",
]
"""Columns of :func:`training_fit`."""


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
    columns = [
        *GROUP,
        "n_labels",
        "n_pairs",
        "mean_plain",
        "mean_variant",
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


def trial_areas(
    frame: pd.DataFrame, metric: str = schema.TEST_METRIC, grids: Mapping[str, Sequence[int]] | None = None
) -> pd.DataFrame:
    """Normalised area under each trial's curve.

    Columns: dataset, heuristic, alpha, seed, trial_key, initial_labels_sha256, area, n_points,
    first_n, last_n, missing_n_labels, complete.
    The grid of a dataset is every label count any of its trials logged, and every count its
    sweeps' schedules name (``grids``, :attr:`analysis.load.SweepData.grids`): a sweep stopped before
    its last round leaves every trial short of it. A trial is ``complete``
    only when it has every one of them (``missing_n_labels`` lists the gaps, e.g. a round whose
    metrics never arrived); only complete trials enter area comparisons: a curve with a gap or a
    shorter range is not comparable, and a gap is not interpolated over.
    """
    data = metric_rows(frame, metric)
    scheduled = grids or {}
    grids = {
        d: np.union1d(g.to_numpy(), np.asarray(scheduled.get(d, []), dtype=g.dtype))
        for d, g in data.groupby("dataset")["n_labels"]
    }
    rows = []
    for (dataset, heuristic, alpha, seed, key), group in data.groupby([*GROUP, "seed", "trial_key"]):
        n, v = group["n_labels"].to_numpy(), group["value"].to_numpy()
        sha = group["initial_labels_sha256"].iloc[-1]
        missing = np.setdiff1d(grids[dataset], n)
        rows.append(
            (
                dataset,
                heuristic,
                alpha,
                seed,
                key,
                sha,
                normalised_area(n, v),
                len(n),
                n.min(),
                n.max(),
                ", ".join(str(int(m)) for m in missing),
            )
        )
    columns = [
        *GROUP,
        "seed",
        "trial_key",
        "initial_labels_sha256",
        "area",
        "n_points",
        "first_n",
        "last_n",
        "missing_n_labels",
    ]
    areas = pd.DataFrame(rows, columns=columns)
    areas["complete"] = areas["missing_n_labels"] == ""
    return areas


def label_gaps(areas: pd.DataFrame) -> pd.DataFrame:
    """The incomplete trials of :func:`trial_areas` and the label counts each lacks."""
    gaps = areas.loc[~areas["complete"], ["trial_key", *GROUP, "seed", "n_points", "missing_n_labels"]]
    return gaps.sort_values(["dataset", "heuristic", "alpha", "seed"]).reset_index(drop=True)


def alpha_curve(areas: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, heuristic, alpha): mean normalised area with CI, and the paired gain over alpha 0.

    The gain is the mean over seeds of (area at alpha - area at alpha 0) with its t-based 95% CI;
    seed-to-seed variation cancels in it, so its interval is much narrower than the area's.
    """
    complete = areas[areas["complete"]]
    plain = complete[complete["alpha"] == 0.0].set_index(["dataset", "heuristic", "seed"])["area"]
    rows = []
    for key, group in complete.groupby(GROUP):
        mean, std, low, high = t_interval(group["area"].to_numpy())
        paired = group.set_index(["dataset", "heuristic", "seed"])["area"]
        gains = (paired - plain.reindex(paired.index)).dropna().to_numpy()
        gain, _, gain_low, gain_high = t_interval(gains)
        rows.append((*key, mean, std, len(group), low, high, gain, gain_low, gain_high, len(gains)))
    columns = [
        *GROUP,
        "mean_area",
        "std",
        "n",
        "ci_low",
        "ci_high",
        "mean_gain",
        "gain_ci_low",
        "gain_ci_high",
        "n_pairs",
    ]
    return pd.DataFrame(rows, columns=columns)


def choose_alphas(choice_areas: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, heuristic): the alpha :func:`raysweep.choice.choose_arms` chooses from these areas.

    ``choice_areas``: :func:`trial_areas` of the metric the choice reads (the validation accuracy).
    An arm is a (dataset, heuristic, alpha); its scores are its complete trials' areas by seed; it
    must have one on every seed any VAE arm of its (dataset, heuristic) ran (the launcher's rule).
    Columns: dataset, heuristic, alpha (NaN: nothing chosen), choice_area (the chosen arm's mean),
    choice_area_alpha0 (alpha 0's mean over its complete trials).
    """
    rows = []
    for (dataset, heuristic), group in choice_areas.groupby(["dataset", "heuristic"]):
        seeds = sorted(set(group.loc[group["alpha"] > 0, "seed"]))
        complete = group[group["complete"]]
        name = f"{dataset}/{heuristic}"
        arms = [
            ArmScores(
                name, f"{name}/{alpha:g}/*", float(alpha), dict(zip(arm["seed"], arm["area"], strict=True))
            )
            for alpha, arm in complete.groupby("alpha")
        ]
        chosen = choose_arms(arms, seeds).get(name)
        plain = complete.loc[complete["alpha"] == 0.0, "area"]
        rows.append(
            (
                dataset,
                heuristic,
                chosen.alpha if chosen else np.nan,
                chosen.mean_over(seeds) if chosen else np.nan,
                float(plain.mean()) if len(plain) else np.nan,
            )
        )
    return pd.DataFrame(rows, columns=["dataset", "heuristic", "alpha", "choice_area", "choice_area_alpha0"])


def alpha_summary(areas: pd.DataFrame, choice_areas: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per (dataset, heuristic): the chosen alpha and its paired gain over alpha 0 on ``areas``.

    The choice (:func:`choose_alphas`, the rule of :mod:`raysweep.choice`) reads ``choice_areas``, the
    validation areas, so that the gain measured on ``areas`` (the test split) is not the maximum of
    noisy estimates it was chosen by; ``chosen_on`` says ``validation``. Without ``choice_areas``
    (runs that logged no validation metric) it reads ``areas`` itself and says ``test``: then the
    gain is biased upward. ``best_alpha`` is the chosen alpha, ``best_area`` its mean area on
    ``areas``, ``choice_area`` its mean on the areas it was chosen by.

    The gain is tested with a paired t-test and Wilcoxon over seeds on the areas. Choosing one of k
    alphas and then testing it inflates false positives even across splits (the seeds are shared),
    so ``p_t_holm`` also Holm-corrects the t-test across all k alpha > 0 comparisons of that
    heuristic (use it to claim significance).
    """
    check_pairing(areas)
    curve = alpha_curve(areas)
    chosen_on = "test" if choice_areas is None else "validation"
    choices = choose_alphas(areas if choice_areas is None else choice_areas).set_index(
        ["dataset", "heuristic"]
    )
    complete = areas[areas["complete"]]
    rows = []
    for (dataset, heuristic), group in curve.groupby(["dataset", "heuristic"]):
        choice = choices.loc[(dataset, heuristic)] if (dataset, heuristic) in choices.index else None
        best_alpha = float(choice["alpha"]) if choice is not None else np.nan
        base = {
            "dataset": dataset,
            "heuristic": heuristic,
            "alphas": ", ".join(f"{a:g}" for a in group["alpha"]),
            "area_alpha0": _value_at(group, 0.0),
            "best_alpha": best_alpha,
            "best_area": _value_at(group, best_alpha),
            "chosen_on": chosen_on,
            "choice_area": float(choice["choice_area"]) if choice is not None else np.nan,
            "choice_area_alpha0": float(choice["choice_area_alpha0"]) if choice is not None else np.nan,
        }
        trials = complete[(complete["dataset"] == dataset) & (complete["heuristic"] == heuristic)]
        wide = trials.pivot_table(index="seed", columns="alpha", values="area")
        if 0.0 not in wide.columns or not (group["alpha"] > 0).any():
            rows.append({**base, "note": "no alpha-0 partner" if 0.0 not in wide else "no VAE variants"})
            continue
        if np.isnan(best_alpha):
            rows.append(
                {**base, "note": f"no VAE arm has a complete {chosen_on} curve on every seed: nothing chosen"}
            )
            continue
        tests = {}
        for a in (a for a in wide.columns if a > 0):
            both = wide[[0.0, a]].dropna()  # pair only the seeds both alphas ran
            tests[float(a)] = paired_test(both[a].to_numpy(), both[0.0].to_numpy())
        alphas = list(tests)
        adjusted = dict(zip(alphas, holm(np.array([tests[a]["p_t"] for a in alphas])), strict=True))
        test = tests.get(best_alpha, paired_test(np.array([]), np.array([])))
        note = test["note"]
        if base["choice_area_alpha0"] > base["choice_area"]:
            note = f"alpha 0 (no VAE) has the larger {chosen_on} area" + (f"; {note}" if note else "")
        rows.append(
            {
                **base,
                "gain": test["mean_diff"],
                "gain_ci_low": test["diff_ci_low"],
                "gain_ci_high": test["diff_ci_high"],
                "n_pairs": test["n_pairs"],
                "p_t": test["p_t"],
                "p_t_holm": adjusted.get(best_alpha, np.nan),
                "p_wilcoxon": test["p_wilcoxon"],
                "note": note,
            }
        )
    columns = [
        "dataset",
        "heuristic",
        "alphas",
        "area_alpha0",
        "best_alpha",
        "best_area",
        "chosen_on",
        "choice_area",
        "choice_area_alpha0",
        "gain",
        "gain_ci_low",
        "gain_ci_high",
        "n_pairs",
        "p_t",
        "p_t_holm",
        "p_wilcoxon",
        "note",
    ]
    out = pd.DataFrame(rows).reindex(columns=columns)
    out["significant"] = out["p_t_holm"] < ALPHA_LEVEL
    return out


def trial_diagnostics(frame: pd.DataFrame) -> pd.DataFrame:
    """Per trial that logged pick diagnostics: how much the VAE block weighed and what it changed.

    ``vae_share``: mean over the trial's selection rounds of the VAE block's share of the squared
    distances; ``vae_share_of_pick_distances`` the same for the distances that decided the picks
    (core-set, MedAL). ``plain_overlap``: the fraction of all the trial's picks that the same
    heuristic at alpha 0 also picked on the same trained model (each round's overlap weighted by the
    labels the round bought: the step to the trial's next label count); NaN where the heuristic's
    model depends on alpha (loss prediction logs no overlap). ``plain_overlap_baseline``: the same
    weighted mean of the plain heuristic's overlap with itself under another selection seed (logged
    by heuristics that draw at random); 1 for a trial that logs an overlap but no baseline (a
    deterministic heuristic picks the same points again).
    """
    columns = [
        *GROUP,
        "seed",
        "trial_key",
        "rounds",
        "vae_share",
        "plain_overlap",
        "plain_overlap_baseline",
        "vae_share_of_pick_distances",
    ]
    names = [
        schema.VAE_SHARE,
        PLAIN_OVERLAP,
        PLAIN_OVERLAP_BASELINE,
        VAE_SHARE_OF_PICK_DISTANCES,
    ]
    diag = frame[frame["metric"].isin(names)]
    if diag.empty:
        return pd.DataFrame(columns=columns)
    steps = {k: np.unique(g.to_numpy()) for k, g in frame.groupby("trial_key")["n_labels"]}
    rows = []
    for (dataset, heuristic, alpha, seed, key), group in diag.groupby([*GROUP, "seed", "trial_key"]):
        rounds = {name: group[group["metric"] == name].sort_values("n_labels") for name in names}
        overlap, baseline = (
            _pick_weighted(rounds[name]["n_labels"].to_numpy(), rounds[name]["value"].to_numpy(), steps[key])
            for name in (PLAIN_OVERLAP, PLAIN_OVERLAP_BASELINE)
        )
        if np.isnan(baseline) and np.isfinite(overlap):
            baseline = 1.0
        rows.append(
            (
                dataset,
                heuristic,
                alpha,
                seed,
                key,
                int(group["n_labels"].nunique()),
                _mean(rounds["vae_share"]["value"]),
                overlap,
                baseline,
                _mean(rounds[VAE_SHARE_OF_PICK_DISTANCES]["value"]),
            )
        )
    return pd.DataFrame(rows, columns=columns)


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else np.nan


def _pick_weighted(n_labels: np.ndarray, values: np.ndarray, trial_steps: np.ndarray) -> float:
    """Mean of per-round ``values`` weighted by the labels each round bought (its next step - its step)."""
    if len(values) == 0:
        return np.nan
    following = np.searchsorted(trial_steps, n_labels, side="right")
    if (following >= len(trial_steps)).any():  # a round without a next step: weigh the rounds equally
        return float(np.mean(values))
    return float(np.average(values, weights=trial_steps[following] - n_labels))


def arm_diagnostics(diagnostics: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, heuristic, alpha): mean and 95% CI over seeds of ``vae_share`` and ``plain_overlap``;
    the mean ``plain_overlap_baseline``, ``overlap_ratio`` (mean overlap / mean baseline) and the mean
    ``vae_share_of_pick_distances``.

    ``same_picks_as_plain``: mean plain_overlap >= :data:`SAME_PICKS_OVERLAP` x its mean baseline: the
    arm bought (nearly) the labels the plain heuristic buys, as much as the plain heuristic agrees with
    itself, so its curve cannot differ from the plain one by construction. For a deterministic
    heuristic (baseline 1) that is an overlap of 0.99 or more.
    """
    if diagnostics.empty:
        return pd.DataFrame(columns=ARM_COLUMNS)
    rows = []
    for key, group in diagnostics.groupby(GROUP, sort=True):
        share = t_interval(group["vae_share"].to_numpy())
        overlap = t_interval(group["plain_overlap"].to_numpy())
        baseline = t_interval(group["plain_overlap_baseline"].to_numpy())[0]
        rows.append(
            (
                *key,
                int(group["seed"].nunique()),
                share[0],
                share[2],
                share[3],
                overlap[0],
                overlap[2],
                overlap[3],
                int(np.isfinite(group["plain_overlap"]).sum()),
                baseline,
                overlap[0] / baseline if baseline > 0 else np.nan,
                t_interval(group["vae_share_of_pick_distances"].to_numpy())[0],
            )
        )
    arms = pd.DataFrame(rows, columns=ARM_COLUMNS[:-1])
    # 990 of 1,000 picks is 0.99 even when averaging lands a rounding error below it
    arms["same_picks_as_plain"] = (
        arms["plain_overlap"] >= SAME_PICKS_OVERLAP * arms["plain_overlap_baseline"] - 1e-9
    )
    return arms


def training_fit(frame: pd.DataFrame) -> pd.DataFrame:
    """Per arm (dataset, heuristic, alpha, encoder; a confirmation's arms apart): did each round's
    training fit its labels? The paper trains "until >99% train accuracy" (:data:`TRAIN_FIT`).

    From ``train_accuracy`` (accuracy on the labeled set after the round's training): ``rounds`` the
    rounds that logged it (all trials), ``rounds_under`` and ``trials_under`` those under
    :data:`TRAIN_FIT` and the trials they belong to, ``min_train_accuracy``, ``under_at`` the label
    counts where some trial was under it, ``fits`` none was. Empty when no run logged it.
    """
    data = frame[frame["metric"] == TRAIN_ACCURACY]
    if data.empty:
        return pd.DataFrame(columns=TRAINING_COLUMNS)
    rows = []
    for key, group in data.groupby([*GROUP, "encoder", "confirms"], sort=True):
        under = group[group["value"] < TRAIN_FIT - 1e-9]  # a float32 0.99 is 0.99
        rows.append(
            (
                *key,
                int(group["trial_key"].nunique()),
                len(group),
                len(under),
                int(under["trial_key"].nunique()),
                float(group["value"].min()),
                ", ".join(str(int(n)) for n in sorted(under["n_labels"].unique())),
                under.empty,
            )
        )
    return pd.DataFrame(rows, columns=TRAINING_COLUMNS)


def vae_seconds_per_trial(vaes: pd.DataFrame) -> pd.Series:
    """trial key -> its share of the training seconds of the VAE it used (NaN where unknown).

    A VAE is one cache key (or one dataset of one sweep for rows without a key); its seconds are
    split evenly over every trial that used it in any of the loaded sweeps, so a VAE trained once
    and read from the cache by a later sweep is counted once.
    """
    if vaes is None or vaes.empty:
        return pd.Series(dtype=float)
    identity = vaes["cache_key"].where(vaes["cache_key"].notna(), vaes["sweep_id"] + "|" + vaes["dataset"])
    shares: dict[str, float] = {}
    for _, group in vaes.groupby(identity):
        seconds = group["seconds"].dropna()
        users = sorted({key for keys in group["trials"] for key in keys})
        share = float(seconds.iloc[0]) / len(users) if len(seconds) and users else np.nan
        for key in users:
            shares[key] = shares.get(key, 0.0) + share
    return pd.Series(shares, dtype=float)


def runtime_tables(
    frame: pd.DataFrame, trials: pd.DataFrame, sweeps: pd.DataFrame, vaes: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """Runtime per trial, per (dataset, heuristic) and per sweep, like the paper's runtime paragraph.

    ``compute_seconds`` = train + selection + eval seconds summed over the trial's rounds (eval: the
    test-set evaluation after each round, 0 for runs logged before it was); ``vae_seconds``
    = the trial's share of its VAE's training (:func:`vae_seconds_per_trial`; 0 for trials without
    VAE features, NaN where the sweep did not log it); ``total_seconds`` = compute + VAE, what the
    paper's totals cover. ``diagnostics_seconds`` (the extra alpha-0 selection behind
    ``plain_overlap``) is listed apart: the paper's method does not spend it. ``wall_seconds`` = run
    end - start of the run(s) that hold the trial's points. The paper reports per dataset and
    heuristic the total over both variants and all runs: ``by_heuristic`` sums the same way.
    """
    # the metrics' names are the per-trial table's columns
    parts = [schema.TRAIN_SECONDS, schema.SELECTION_SECONDS, schema.EVAL_SECONDS, schema.DIAGNOSTICS_SECONDS]
    seconds = frame[frame["metric"].isin(parts)]
    per_trial = seconds.pivot_table(
        index=["trial_key", *GROUP, "seed", "uses_vae"],
        columns="metric",
        values="value",
        aggfunc="sum",
        fill_value=0.0,
    ).reset_index()
    for column in parts:
        if column not in per_trial:
            per_trial[column] = 0.0
    per_trial["compute_seconds"] = (
        per_trial["train_seconds"] + per_trial["selection_seconds"] + per_trial["eval_seconds"]
    )
    shares = vae_seconds_per_trial(vaes)
    per_trial["vae_seconds"] = np.where(
        per_trial["uses_vae"], per_trial["trial_key"].map(shares).astype(float), 0.0
    )
    per_trial["total_seconds"] = per_trial["compute_seconds"] + per_trial["vae_seconds"]
    wall = trials.groupby("trial_key")["wall_seconds"].sum(min_count=1)
    per_trial["wall_seconds"] = per_trial["trial_key"].map(wall)
    per_trial.columns.name = None

    by_heuristic = (
        per_trial.assign(vae_unknown=per_trial["uses_vae"] & per_trial["vae_seconds"].isna())
        .groupby(["dataset", "heuristic"])
        .agg(
            trials=("trial_key", "count"),
            variants=("alpha", "nunique"),
            seeds=("seed", "nunique"),
            train_seconds=("train_seconds", "sum"),
            selection_seconds=("selection_seconds", "sum"),
            eval_seconds=("eval_seconds", "sum"),
            compute_seconds=("compute_seconds", "sum"),
            vae_trials=("uses_vae", "sum"),
            vae_seconds=("vae_seconds", "sum"),
            vae_seconds_unknown=("vae_unknown", "sum"),
            total_seconds=("total_seconds", "sum"),
            diagnostics_seconds=("diagnostics_seconds", "sum"),
            wall_seconds=("wall_seconds", "sum"),
            mean_trial_wall_seconds=("wall_seconds", "mean"),
        )
        .reset_index()
    )
    # a total that misses a VAE's seconds is not the paper's total: no number rather than a low one
    by_heuristic.loc[by_heuristic["vae_seconds_unknown"] > 0, "total_seconds"] = np.nan

    sweep_trials = trials.groupby("sweep_id").agg(trials=("trial_key", "nunique")).reset_index()
    compute = per_trial.merge(
        trials.drop_duplicates("trial_key", keep="last")[["trial_key", "sweep_id"]], on="trial_key"
    )
    compute = (
        compute.groupby("sweep_id")[["train_seconds", "selection_seconds", "eval_seconds", "compute_seconds"]]
        .sum()
        .reset_index()
    )
    cols = [
        c
        for c in ["sweep_id", "wall_seconds", "sweep_seconds", "vae_trainings", "vae_seconds"]
        if c in sweeps
    ]
    per_sweep = sweep_trials.merge(compute, on="sweep_id", how="left").merge(
        sweeps[cols], on="sweep_id", how="left"
    )
    return {"per_trial": per_trial, "by_heuristic": by_heuristic, "per_sweep": per_sweep}


def _value_at(group: pd.DataFrame, alpha: float) -> float:
    match = group.loc[group["alpha"] == alpha, "mean_area"]
    return float(match.iloc[0]) if len(match) else np.nan
