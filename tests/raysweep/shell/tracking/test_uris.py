"""Where tracking goes by default, and the command that opens the MLflow UI on a sweep's runs table."""

from __future__ import annotations

from pathlib import Path

import pytest

from raysweep.shell.tracking.uris import default_tracking_uri, ui_command


def test_the_default_is_sqlite_in_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_tracking_uri(tmp_path / "a" / "..") == f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)
    assert default_tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_the_ui_command_opens_the_runs_table() -> None:
    link = "/#/experiments/7/runs?workflowType=machine_learning"
    assert ui_command("http://127.0.0.1:5000/", "7") == f"open http://127.0.0.1:5000{link}"
    assert ui_command("https://mlflow.example", "7") == f"open https://mlflow.example{link}"
    assert ui_command("sqlite:////x/mlflow.db", "7", port=5001) == (
        f"mlflow ui --backend-store-uri sqlite:////x/mlflow.db --port 5001   # then open http://127.0.0.1:5001{link}"
    )
