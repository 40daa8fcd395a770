"""What an MLflow server holds, read through its REST API with plain HTTP, as a remote user reads it."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any


class MlflowRest:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
        return json.loads(payload) if payload else {}

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", f"{path}?{urllib.parse.urlencode(params)}" if params else path)

    def experiment_id(self, name: str) -> str:
        return self.get("/api/2.0/mlflow/experiments/get-by-name", experiment_name=name)["experiment"][
            "experiment_id"
        ]

    def search_runs(self, experiment_id: str) -> list[dict]:
        runs, token = [], None
        while True:
            body = {"experiment_ids": [experiment_id], "max_results": 1000}
            if token:
                body["page_token"] = token
            page = self.request("POST", "/api/2.0/mlflow/runs/search", body)
            runs += page.get("runs", [])
            token = page.get("next_page_token")
            if not token:
                return runs

    def metric_history(self, run_id: str, key: str) -> list[dict]:
        return self.get("/api/2.0/mlflow/metrics/get-history", run_id=run_id, metric_key=key).get(
            "metrics", []
        )

    def artifacts(self, run_id: str, path: str = "") -> list[str]:
        params = {"run_id": run_id, **({"path": path} if path else {})}
        return [f["path"] for f in self.get("/api/2.0/mlflow/artifacts/list", **params).get("files", [])]

    def download(self, run_id: str, path: str) -> bytes:
        """An artifact through the server's proxied artifact endpoint (``--serve-artifacts``)."""
        url = f"{self.base}/get-artifact?{urllib.parse.urlencode({'run_id': run_id, 'path': path})}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.read()


def tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def metrics(run: dict) -> dict[str, float]:
    return {m["key"]: m["value"] for m in run["data"].get("metrics", [])}
