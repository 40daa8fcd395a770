"""analysis.encoder_plots on a small hand-made comparison: what each panel draws and the numbers behind it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection

from analysis import encoder_plots

ARMS = [(0.0, "none"), (1.0, "vae"), (1.0, "gmvae")]


def curves_and_tests() -> tuple[pd.DataFrame, pd.DataFrame]:
    curves = pd.DataFrame(
        [("d", "coreset", a, e, n, 0.8 + 0.01 * i, 0.01, 5, 0.78 + 0.01 * i, 0.82 + 0.01 * i)
         for i, (a, e) in enumerate(ARMS) for n in (100, 200)],
        columns=["dataset", "heuristic", "alpha", "encoder", "n_labels", "mean", "std", "n", "ci_low", "ci_high"],
    )  # fmt: skip
    tests = pd.DataFrame(
        [("d", "coreset", 1.0, e, b, n, 0.01, 0.0, 0.02, e == "gmvae")
         for e in ("vae", "gmvae") for b in ("alpha 0", "vae") if e != b for n in (100, 200)],
        columns=["dataset", "heuristic", "alpha", "encoder", "baseline", "n_labels", "mean_diff",
                 "diff_ci_low", "diff_ci_high", "significant"],
    )  # fmt: skip
    return curves, tests


def test_encoder_figure_draws_every_arm_and_its_difference_to_alpha_zero() -> None:
    curves, tests = curves_and_tests()
    other = curves.assign(dataset="other")  # another dataset's rows are not this figure's
    fig, numbers = encoder_plots.encoder_figure(pd.concat([curves, other]), tests, "d", "coreset")
    curves_ax, diff_ax = fig.axes[:2]
    labels = [line.get_label() for line in curves_ax.get_lines()]
    assert labels == ["plain (α = 0)", "gmvae, α = 1", "vae, α = 1"]  # arms by (alpha, encoder)
    assert len([c for c in curves_ax.collections if isinstance(c, PolyCollection)]) == 3  # one band per arm
    assert [t.get_text() for t in diff_ax.get_legend().get_texts()] == ["gmvae, α = 1", "vae, α = 1"]
    np.testing.assert_array_equal(numbers["dataset"].unique(), ["d"])
    assert len(numbers) == len(curves)
    assert "encoder arm − plain" in diff_ax.get_ylabel()
