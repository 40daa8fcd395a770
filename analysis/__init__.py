"""raysweep's analysis package: a sweep's MLflow runs -> the statistics, figures and report of a paper.

Usage::

    python -m analysis report --tracking-uri sqlite:///mlflow.db --experiment NAME [--sweep ID] \\
        [--metric accuracy] --out DIR
    python -m analysis tsne --dataset medmnist:chestmnist --root data --out DIR \\
        [--alpha 1] [--alpha-scaling balanced|raw]

Modules, one job each:

- ``load``: MLflow -> one tidy pandas DataFrame, one row per (trial, step, metric), with the
  deduplication of resumed/retried trials (kept: the latest point; dropped points counted) and the
  sweep selection (``--sweep``, or every sweep of the experiment if they share one budget; mixed
  budgets or alpha scalings are refused; a confirmation is read with the sweep it confirms, and
  ``confirms`` tells their trials apart); per trial its encoder seed (``vae_seed``) and the split
  ``accuracy`` is measured on (``eval_split``); the parent runs' VAE training seconds; a search's
  trial tags and settings tried. ``AnalysisError`` is the error for bad input.
- ``stats``: the paired statistics on the tidy frame. Per label count mean/std/95% t-CI across seeds;
  VAE variant vs its alpha-0 partner paired by seed (paired t-test and Wilcoxon, Holm across label
  counts and across alphas x label counts, refuses differing initial-label hashes).
- ``alpha_stats``: normalised area under the curve per complete trial
  (``raysweep.curves.normalised_area``; every label count the schedule names; gaps listed); the best
  alpha per (dataset, heuristic) chosen by ``raysweep.choice`` on the validation areas (on test, said
  to be biased, for runs without ``val_accuracy``) with a paired test of its gain on the test areas,
  Holm across alphas.
- ``diagnostic_stats``: per-arm ``plain_overlap`` against its baseline (the plain heuristic against
  itself under another seed), ``vae_share`` and ``vae_share_of_pick_distances``, the arms that picked
  what plain picks flagged (0.99 of the baseline); the rounds under 0.99 train accuracy per arm.
- ``runtime_stats``: runtime tables (train + selection + eval seconds) with each shared VAE's seconds
  split over its trials.
- ``encoder_stats``: the numbers of a sweep with several encoders: per-encoder curves, every encoder
  arm against alpha 0 and against ``vae`` (Holm across every comparison x label count of a
  heuristic), area gains (Holm across its comparisons), encoder seconds; which arms the alpha
  sections read.
- ``search_stats``: the numbers of a search: every setting's area in the searcher's order, the best
  setting (chosen on validation) against alpha 0 on test (Bonferroni over the settings tried), the
  partial curves kept out of tests.
- ``confirm_stats``: the numbers of a confirmation (``--confirm``): which rows are the selection and
  which the confirmation; per (dataset, heuristic) the chosen arm's gain over alpha 0 on the fresh
  seeds with its 95% interval, Holm across the confirmed comparisons, the random floor, the same
  arm's selection gain; the confirmation's curves.
- ``plots``: figures 1-4 (curves with CI bands and significance marks, paired differences), the
  alpha sweep (area with the chosen alpha starred, gain, plain_overlap beside its baseline,
  vae_share; the VAE-only end past an axis break), the runtime bars; what every figure shares
  (names, colours, intervals clipped to the quantity's range and none drawn from fewer than 3 seeds,
  ``save``: PNG + PDF + the CSV behind each; matplotlib Agg).
- ``encoder_plots``, ``search_plots``, ``confirm_plots``: the figure of each encoder comparison, of
  each search group and of each confirmed group (chosen alpha, alpha 0 and random on fresh seeds).
- ``render``: the report's blocks (title, heading, paragraph, bullets, table, image), written as
  markdown and as HTML, and the one formatting of table cells.
- ``sections``: the report's sections, one module each, each a function ``section(Study) -> Section``
  (``sections.base``: the study every section reads, with the tables several of them share computed
  once, and which rows are the selection, the seeds that chose): ``overview`` (which split each
  number comes from, over which encoder draws), ``confirmed`` (the headline, with a confirmation),
  ``significance``, ``alpha``, ``picks``, ``training``, ``runtime``, ``figures``, ``search``,
  ``encoders``. Each builds its own tables, figures and text from ``stats`` and ``plots`` (and their
  encoder, search and confirmation counterparts).
- ``report``: builds the sections in order and writes their tables (CSV), ``report.md`` and
  ``report.html``; logs the output folder to the sweep's parent run as artifacts (``analysis/``).
- ``tsne``: the t-SNE study of figures 5-6 (core-set picks with and without VAE features, balanced
  alpha 1 by default so the panels differ; the overlap of the two selections printed); uses the
  core library (``raysweep.data``, ``raysweep.models``, ``raysweep.heuristics``, ``raysweep.train``).
- ``__main__``: the command line; bad input -> one line on stderr, exit 2.

Imports go one way: ``load`` <- ``stats`` <- (``alpha_stats``, ``diagnostic_stats``,
``runtime_stats``) <- (``encoder_stats`` <- ``confirm_stats``, ``search_stats``, ``plots`` <-
``encoder_plots``, ``search_plots``, ``confirm_plots``) <- ``sections`` <- ``report`` <- ``__main__``;
``render`` imports nothing of the package.

The package imports mlflow, pandas, scipy, matplotlib and scikit-learn, never ray.
"""
