"""Command line: ``python -m analysis report ...`` and ``python -m analysis tsne ...``.

Bad input (unknown experiment, no runs, mixed budgets, unknown metric, unpaired runs, a store that
does not exist) prints one message on stderr and exits 2, without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from analysis.load import AnalysisError
from analysis.tsne import DEFAULT_ALPHA, DEFAULT_SCALING
from raysweep.schema import ANALYSIS_ARTIFACT_DIR

log = logging.getLogger("analysis")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    report = commands.add_parser(
        "report", help="figures, tables and report.md for a sweep; logged to its parent run"
    )
    report.add_argument("--tracking-uri", required=True, help="MLflow tracking URI, e.g. sqlite:///mlflow.db")
    report.add_argument("--experiment", required=True, help="MLflow experiment name (the sweep config's)")
    report.add_argument(
        "--sweep",
        default=None,
        help="sweep id (tag raysweep.sweep_id); default: every sweep of the experiment if they share one budget",
    )
    report.add_argument(
        "--metric", default="accuracy", help="metric for curves, tests and areas (default accuracy)"
    )
    report.add_argument("--out", required=True, type=Path, help="output folder")
    report.add_argument(
        "--no-log", action="store_true", help="do not log the folder to the sweep's parent run"
    )

    tsne = commands.add_parser("tsne", help="the t-SNE study of core-set picks with and without VAE features")
    tsne.add_argument(
        "--dataset", required=True, help="dataset name: digits, mnist, medmnist:chestmnist, npz:PATH"
    )
    tsne.add_argument("--root", type=Path, default=Path("data"), help="data folder (default data)")
    tsne.add_argument("--pool-size", type=int, default=None, help="pool subset size (default: the dataset's)")
    tsne.add_argument("--initial-labels", type=int, default=1000, help="random initial labels (paper 1,000)")
    tsne.add_argument(
        "--candidate-fraction",
        type=float,
        default=0.05,
        help="share of the unlabeled pool drawn as candidates",
    )
    tsne.add_argument("--select", type=int, default=100, help="points core-set selects (paper 100)")
    tsne.add_argument(
        "--alpha",
        type=float,
        default=DEFAULT_ALPHA,
        help="weight of the VAE features in the augmented panel (default 1: under balanced scaling both "
        "blocks carry half the distances; inf: the VAE features alone)",
    )
    tsne.add_argument(
        "--alpha-scaling",
        choices=["balanced", "raw"],
        default=DEFAULT_SCALING,
        help="balanced (default): each block over its spread, alpha relative to the task block; raw: the "
        "paper's [T_f, alpha V], whose VAE block is ~4%% of the distances at alpha 1 on MNIST",
    )
    tsne.add_argument("--seed", type=int, default=0)
    tsne.add_argument("--epochs", type=int, default=None, help="task-model epochs (default: the paper's 10)")
    tsne.add_argument("--vae-epochs", type=int, default=None, help="VAE epochs (default: the paper's 20)")
    tsne.add_argument(
        "--no-pretrained", action="store_true", help="train the ResNet from scratch (no ImageNet file)"
    )
    tsne.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    tsne.add_argument("--out", required=True, type=Path, help="output folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("mlflow", "alembic", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # reading the parent run's vae_trainings.json would otherwise draw a download bar per sweep
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        if args.command == "report":
            return _report(args)
        return _tsne(args)
    except AnalysisError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        # mlflow's errors for an unreachable server or a bad URI are bad input too
        if type(err).__name__ == "MlflowException" or err.__class__.__module__.startswith("mlflow"):
            print(f"error: MLflow: {err}", file=sys.stderr)
            return 2
        raise


def _report(args: argparse.Namespace) -> int:
    from analysis.load import DEFAULT_METRICS, load_sweep
    from analysis.report import build_report, log_to_parent

    metrics = list(dict.fromkeys([*DEFAULT_METRICS, args.metric]))
    data = load_sweep(args.tracking_uri, args.experiment, args.sweep, metrics=metrics)
    for note in data.notes:
        log.info(note)
    report = build_report(data, args.out, metric=args.metric)
    if not args.no_log and log_to_parent(report, args.tracking_uri):
        log.info(
            "logged %s to parent run %s under '%s/'", args.out, report.parent_run_id, ANALYSIS_ARTIFACT_DIR
        )
    print(f"report: {report.markdown}")
    print(f"html:   {report.html}")
    print(f"figures: {len(report.figures)} ({', '.join(report.figures)})")
    return 0


def _tsne(args: argparse.Namespace) -> int:
    import pandas as pd

    from analysis.tsne import TsneStudy, run_tsne_study

    study = TsneStudy(
        dataset=args.dataset,
        root=args.root,
        pool_size=args.pool_size,
        initial_labels=args.initial_labels,
        candidate_fraction=args.candidate_fraction,
        select=args.select,
        alpha=args.alpha,
        alpha_scaling=args.alpha_scaling,
        seed=args.seed,
        epochs=args.epochs,
        vae_epochs=args.vae_epochs,
        pretrained=not args.no_pretrained,
        device=args.device,
    )
    paths = run_tsne_study(study, args.out)
    vae = pd.read_csv(args.out / "tsne_summary.csv").set_index("panel").loc["vae"]
    print(
        f"selections: {int(vae['picks_shared'])} of {int(vae['selected'])} picks shared by both panels "
        f"(overlap {vae['pick_overlap']:.2f}); VAE block's share of the distances {vae['vae_share']:.2f} "
        f"(alpha {study.alpha:g}, {study.alpha_scaling})"
    )
    print("t-SNE study: " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
