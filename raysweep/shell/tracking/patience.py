"""Waiting out an unreachable MLflow store, and telling that apart from errors waiting cannot fix."""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests
from mlflow.exceptions import MlflowException

from raysweep.shell.tracking import DEFAULT_OUTAGE_LIMIT_S

T = TypeVar("T")

# MLflow's own HTTP retries (at 3.17: 7 retries, backoff factor 2, 120-s timeout) take about four
# minutes before one call gives up, far coarser than the outage limit. Each attempt is kept short
# here and TrackingPatience waits out the rest, so a limit of N seconds means about N seconds.
# Values a user exported win (setdefault); each attempt then takes as long as they say.
MLFLOW_HTTP_ATTEMPT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
TRANSIENT_ERROR_CODES = {
    "TEMPORARILY_UNAVAILABLE",  # the server's database is down or locked (SQLAlchemy OperationalError)
    "REQUEST_LIMIT_EXCEEDED",
    "RESOURCE_EXHAUSTED",
    "SERVICE_UNDER_MAINTENANCE",
    "DEADLINE_EXCEEDED",
}


class TrackingUnavailable(RuntimeError):
    """The tracking store stayed unreachable for longer than the outage limit."""


def short_mlflow_http_attempts() -> None:
    for name, value in MLFLOW_HTTP_ATTEMPT_ENV.items():
        os.environ.setdefault(name, value)


def is_transient(exc: BaseException) -> bool:
    """Errors that an unreachable or restarting store produces, which a later attempt can get past."""
    text = str(exc)
    if isinstance(exc, MlflowException):
        if exc.error_code in TRANSIENT_ERROR_CODES:
            return True
        # Connection refused, timeouts and 5xx once MLflow's own HTTP retries are spent.
        if text.startswith("API request to") and " failed with " in text:
            return True
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return True
    if isinstance(exc, requests.exceptions.HTTPError):  # artifact uploads through the server's proxy
        return exc.response is not None and exc.response.status_code >= 500
    if type(exc).__name__ == "OperationalError":  # SQLAlchemy, where a store surfaces it unwrapped
        return True
    lowered = text.lower()
    return "database is locked" in lowered or "database is busy" in lowered


@dataclass(frozen=True)
class TrackingPatience:
    """Runs tracking calls, waiting out an unreachable store for up to ``outage_limit_s`` seconds.

    Concurrent trials writing one SQLite file briefly see 'locked'; a restarted ``mlflow server``
    or its database refuses connections for a while. Calls are retried with capped backoff while
    the errors are transient; past the limit ``TrackingUnavailable`` names the tracking URI.
    Retrying is safe for every call raysweep makes: metric batches carry their own timestamps and
    the server drops exact duplicates, and tags, params and artifacts overwrite themselves.
    """

    tracking_uri: str
    outage_limit_s: float = DEFAULT_OUTAGE_LIMIT_S

    def call(self, fn: Callable[[], T]) -> T:
        first_failure = None
        attempt = 0
        while True:
            try:
                result = fn()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                now = time.monotonic()
                if first_failure is None:
                    first_failure = now
                    if "locked" not in str(exc).lower():
                        print(
                            f"MLflow at {self.tracking_uri} unreachable ({first_line(exc)}); "
                            f"retrying for up to {self.outage_limit_s:.0f}s",
                            file=sys.stderr,
                            flush=True,
                        )
                waited = now - first_failure
                if waited >= self.outage_limit_s:
                    raise TrackingUnavailable(
                        f"MLflow tracking store {self.tracking_uri} unreachable for {waited:.0f}s, "
                        f"past the outage limit of {self.outage_limit_s:.0f}s (--tracking-outage-limit): "
                        f"{first_line(exc)}"
                    ) from exc
                pause = min(0.2 * 2**attempt, 10.0) * (0.5 + random.random())
                time.sleep(min(pause, max(0.0, self.outage_limit_s - waited)) + 0.05)
                attempt += 1
                continue
            if first_failure is not None and time.monotonic() - first_failure > 5:
                print(
                    f"MLflow at {self.tracking_uri} reachable again after "
                    f"{time.monotonic() - first_failure:.0f}s",
                    file=sys.stderr,
                    flush=True,
                )
            return result


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
