"""Areas under the learning curves and the alpha choice, on the tidy frame from :mod:`analysis.load`.

- :func:`trial_areas` / :func:`choose_alphas` / :func:`alpha_summary`: normalised area under each
  learning curve (trapezoid over n_labels divided by the label range, so it is in accuracy units),
  and per (dataset, heuristic) the alpha chosen by :mod:`raysweep.choice` on the validation areas
  with its gain over alpha 0 and paired tests on the test areas (:mod:`analysis.stats`), Holm across
  the alphas. A trial is complete only with every label count of its dataset's grid; a gap leaves it
  out of the areas and is listed (:func:`label_gaps`), never interpolated over.
- :func:`alpha_curve`: per (dataset, heuristic, alpha) the mean area and the paired gain over alpha 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.stats import ALPHA_LEVEL, GROUP, check_pairing, holm, metric_rows, paired_test, t_interval
from raysweep import schema
from raysweep.choice import ArmScores, choose_arms
from raysweep.curves import normalised_area


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


def _value_at(group: pd.DataFrame, alpha: float) -> float:
    match = group.loc[group["alpha"] == alpha, "mean_area"]
    return float(match.iloc[0]) if len(match) else np.nan
