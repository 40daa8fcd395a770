"""raysweep's analysis package: a sweep's MLflow runs -> the statistics, figures and report of a paper.

Usage::

    python -m analysis report --tracking-uri sqlite:///mlflow.db --experiment NAME [--sweep ID] \\
        [--metric accuracy] --out DIR
    python -m analysis tsne --dataset medmnist:chestmnist --root data --out DIR \\
        [--alpha 1] [--alpha-scaling balanced|raw]

Modules:

- ``load``: MLflow -> one tidy pandas DataFrame, one row per (trial, step, metric), with the
  deduplication of resumed/retried trials (kept: the latest point; dropped points counted) and the
  sweep selection (``--sweep``, or every sweep of the experiment if they share one budget; mixed
  budgets or alpha scalings are refused); the parent runs' VAE training seconds.
  ``AnalysisError`` is the error for bad input.
- ``stats``: per label count mean/std/95% t-CI across seeds; VAE variant vs its alpha-0 partner paired
  by seed (paired t-test and Wilcoxon, Holm across label counts and across alphas x label counts,
  refuses differing initial-label hashes); normalised area under the curve per complete trial (every
  label count the schedule names; gaps listed); best alpha per (dataset, heuristic) with a paired test on the areas, Holm across alphas;
  per-arm ``plain_overlap`` / ``vae_share`` with the arms that picked what plain picks flagged;
  runtime tables (train + selection + eval seconds) with each shared VAE's seconds split over its trials.
- ``plots``: figures 1-4 (curves with CI bands and significance marks, paired differences), the
  alpha sweep (area, gain, plain_overlap, vae_share; the VAE-only end past an axis break), the
  runtime bars; PNG + PDF + the CSV behind each (matplotlib Agg); intervals clipped to the
  quantity's range, none drawn from fewer than 3 seeds.
- ``report``: ``report.md`` and ``report.html`` with all tables and figures; logs the output folder
  to the sweep's parent run as artifacts (``analysis/``).
- ``tsne``: the t-SNE study of figures 5-6 (core-set picks with and without VAE features, balanced
  alpha 1 by default so the panels differ; the overlap of the two selections printed); uses the
  core library (``raysweep.data``, ``raysweep.models``, ``raysweep.heuristics``, ``raysweep.train``).
- ``__main__``: the command line; bad input -> one line on stderr, exit 2.

The package imports mlflow, pandas, scipy, matplotlib and scikit-learn, never ray.
"""
