"""Runtime: compute and wall seconds per (dataset, heuristic) and per sweep, as the paper reports them,
each shared VAE's training seconds split over the trials that used it."""

from __future__ import annotations

from analysis import plots
from analysis.render import Heading, Paragraph, Table, format_table
from analysis.sections.base import Section, Study


def runtime(study: Study) -> Section:
    tables = study.runtime
    by_heuristic = tables["by_heuristic"]
    sentences = [
        f"{plots.dataset_name(r.dataset)} {plots.heuristic_name(r.heuristic)}: {r.wall_seconds:,.0f} s wall "
        f"({r.compute_seconds:,.0f} s train + selection + evaluation"
        + (f" + {r.vae_seconds:,.0f} s VAE training" if r.vae_trials else "")
        + f") over {r.trials} trials"
        for r in by_heuristic.itertuples()
        if r.variants > 1
    ]
    unknown = by_heuristic[by_heuristic["vae_seconds_unknown"] > 0]
    blocks = [
        Heading("Runtime"),
        Paragraph(
            "Summed over all variants and seeds of a heuristic, as the paper reports it (paper, 4 x RTX "
            "2080: MNIST core-set 5,113 s, loss prediction 4,955 s; ChestMNIST core-set 7,085 s, loss "
            "prediction 7,209 s; each total includes the VAE its augmented variant used). Wall time is "
            "each trial run's end - start; compute is the logged train_seconds + selection_seconds + "
            "eval_seconds (the test-set evaluation after each round; 0 for runs logged before it was). "
            "A VAE is trained once per dataset and VAE config and shared: its training seconds (logged "
            "by the sweep, kept by the VAE cache when a later sweep reuses it) are split evenly over "
            "the trials that used it, and 'VAE s' is the heuristic's share; 'total s' = compute + "
            "VAE, the paper's total. 'diagnostics s' is the extra alpha = 0 selection behind "
            "plain_overlap, which the method itself does not spend. "
            + (
                "The tables per heuristic count the selection's trials (the sweeps that chose); the "
                "per-sweep table lists the confirmation too. "
                if not study.confirmation.empty
                else ""
            )
            + ("; ".join(sentences) + "." if sentences else "")
            + (
                " VAE seconds unknown (sweep logged none) for "
                + ", ".join(
                    f"{r.vae_seconds_unknown} {r.heuristic} trials on {r.dataset}"
                    for r in unknown.itertuples()
                )
                + ": no total for those."
                if len(unknown)
                else ""
            )
        ),
        Table(
            format_table(
                by_heuristic,
                {
                    "dataset": "dataset",
                    "heuristic": "heuristic",
                    "trials": "trials",
                    "variants": "variants",
                    "seeds": "seeds",
                    "train_seconds": "train s",
                    "selection_seconds": "selection s",
                    "eval_seconds": "eval s",
                    "compute_seconds": "compute s",
                    "vae_trials": "VAE trials",
                    "vae_seconds": "VAE s",
                    "total_seconds": "total s",
                    "diagnostics_seconds": "diagnostics s",
                    "wall_seconds": "wall s (sum)",
                    "mean_trial_wall_seconds": "wall s per trial",
                },
            )
        ),
        Paragraph(
            "Per sweep (wall = parent run end - start; VAE trainings and seconds as logged by the sweep):"
        ),
        Table(
            format_table(
                tables["per_sweep"],
                {
                    "sweep_id": "sweep",
                    "trials": "trials",
                    "compute_seconds": "compute s",
                    "wall_seconds": "wall s",
                    "sweep_seconds": "sweep s (logged)",
                    "vae_trainings": "VAE trainings",
                    "vae_seconds": "VAE s",
                },
            )
        ),
    ]
    return Section(
        tables={
            "runtime_per_trial": tables["per_trial"],
            "runtime_by_heuristic": by_heuristic,
            "runtime_per_sweep": tables["per_sweep"],
        },
        blocks=blocks,
    )
