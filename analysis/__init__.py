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
  budgets or alpha scalings are refused); the parent runs' VAE training seconds; a search's trial
  tags and settings tried.
  ``AnalysisError`` is the error for bad input.
- ``stats``: numbers from the tidy frame. Per label count mean/std/95% t-CI across seeds; VAE variant
  vs its alpha-0 partner paired by seed (paired t-test and Wilcoxon, Holm across label counts and
  across alphas x label counts, refuses differing initial-label hashes); normalised area under the
  curve per complete trial (``raysweep.curves.normalised_area``; every label count the schedule names;
  gaps listed); best alpha per (dataset, heuristic) with a paired test on the areas, Holm across
  alphas; per-arm ``plain_overlap`` / ``vae_share`` with the arms that picked what plain picks
  flagged; runtime tables (train + selection + eval seconds) with each shared VAE's seconds split
  over its trials.
- ``encoder_stats``: the numbers of a sweep with several encoders: per-encoder curves, every encoder
  arm against alpha 0 and against ``vae``, area gains, encoder seconds; which arms the alpha
  sections read.
- ``search_stats``: the numbers of a search: every setting's area in the searcher's order, the best
  setting against alpha 0 (Bonferroni over the settings tried), the partial curves kept out of tests.
- ``plots``: figures 1-4 (curves with CI bands and significance marks, paired differences), the
  alpha sweep (area, gain, plain_overlap, vae_share; the VAE-only end past an axis break), the
  runtime bars; what every figure shares (names, colours, intervals clipped to the quantity's range
  and none drawn from fewer than 3 seeds, ``save``: PNG + PDF + the CSV behind each; matplotlib Agg).
- ``encoder_plots``, ``search_plots``: the figure of each encoder comparison and of each search group.
- ``render``: the report's blocks (title, heading, paragraph, bullets, table, image), written as
  markdown and as HTML, and the one formatting of table cells.
- ``sections``: the report's sections, one module each, each a function ``section(Study) -> Section``
  (``sections.base``: the study every section reads, with the tables several of them share computed
  once): ``overview``, ``significance``, ``alpha``, ``picks``, ``runtime``, ``figures``, ``search``,
  ``encoders``. Each builds its own tables, figures and text from ``stats`` and ``plots`` (and their
  encoder and search counterparts).
- ``report``: builds the sections in order and writes their tables (CSV), ``report.md`` and
  ``report.html``; logs the output folder to the sweep's parent run as artifacts (``analysis/``).
- ``tsne``: the t-SNE study of figures 5-6 (core-set picks with and without VAE features, balanced
  alpha 1 by default so the panels differ; the overlap of the two selections printed); uses the
  core library (``raysweep.data``, ``raysweep.models``, ``raysweep.heuristics``, ``raysweep.train``).
- ``__main__``: the command line; bad input -> one line on stderr, exit 2.

Imports go one way: ``load`` <- ``stats`` <- (``encoder_stats``, ``search_stats``, ``plots`` <-
``encoder_plots``, ``search_plots``) <- ``sections`` <- ``report`` <- ``__main__``; ``render`` imports
nothing of the package.

The package imports mlflow, pandas, scipy, matplotlib and scikit-learn, never ray.
"""
