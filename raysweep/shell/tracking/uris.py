"""Where tracking goes by default, and how a user opens the MLflow UI on a sweep."""

from __future__ import annotations

from pathlib import Path


def default_tracking_uri(cwd: Path | None = None) -> str:
    return f"sqlite:///{((cwd or Path.cwd()) / 'mlflow.db').resolve()}"


def ui_command(tracking_uri: str, experiment_id: str, port: int = 5000) -> str:
    """What to run to compare the runs, and the link that opens the runs table (not the GenAI view)."""
    link = f"/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
    if tracking_uri.startswith(("http://", "https://")):
        return f"open {tracking_uri.rstrip('/')}{link}"
    return f"mlflow ui --backend-store-uri {tracking_uri} --port {port}   # then open http://127.0.0.1:{port}{link}"
