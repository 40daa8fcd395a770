"""A small digits sweep for the fault tests, sized like ``--smoke`` but with more rounds so that a
fault lands mid-trajectory, and what a fault test reads of it on disk (checkpoints, the printed
resume command)."""

from __future__ import annotations

from pathlib import Path

FAULT_EXPERIMENT = "raysweep-faults"


def write_fault_sweep(
    folder: Path,
    rounds: int = 5,
    heuristics: str = "random",
    alphas: str = "0",
    seeds: str = "0, 1",
    cpu: float = 1.0,
    max_failures: int = 2,
    experiment: str = FAULT_EXPERIMENT,
) -> Path:
    """``folder/faults.yaml``: 40 initial labels, then 40 per round for ``rounds`` rounds."""
    path = folder / "faults.yaml"
    path.write_text(
        f"experiment: {experiment}\n"
        f"sweep: {{datasets: [digits], heuristics: [{heuristics}], alphas: [{alphas}], seeds: [{seeds}]}}\n"
        "dataset: {pool_size: 400, eval_size: 300}\n"
        "model: {pretrained: false}\n"
        "training: {lr: 0.01, batch_size: 32, initial_epochs: 2, epochs_per_round: 1}\n"
        f"schedule: {{initial_labels: 40, labels_per_round: 40, rounds: {rounds}}}\n"
        "vae: {latent_dim: 16, epochs: 2}\n"
        f"resources: {{cpu: {cpu}, gpu: 0}}\n"
        f"max_failures: {max_failures}\n"
    )
    return path


def fault_sweep_steps(rounds: int = 5) -> list[int]:
    """The label counts every trial of the fault sweep logs: its curve's steps."""
    return [40 * (r + 1) for r in range(rounds + 1)]


def checkpoint_dirs(storage: Path) -> list[Path]:
    """Every trial's ``checkpoint_*`` folder under the storage path."""
    return sorted(storage.glob("*/*/*/checkpoint_*"))


def resume_command_in(output: str) -> str:
    """The ``--resume`` command line the launcher printed (the line after its resume hint)."""
    lines = output.splitlines()
    for index, line in enumerate(lines[:-1]):
        if line.startswith("Resume the sweep"):
            return lines[index + 1].strip()
    raise AssertionError(f"no resume command printed:\n{output[-3000:]}")


def truncate(path: Path) -> None:
    """Cut a file to half its length, as a copy cut short by a full disk or a lost node leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
