"""Waiting out an unreachable MLflow store, and telling that apart from errors waiting cannot fix.

An unreachable store (connection refused, timeouts, 5xx, a locked database) is waited out up to the
outage limit (:class:`TrackingUnavailable` past it). A store that answers and refuses, because the
credentials are wrong, the user lacks permission or the server's ``--allowed-hosts`` does not know
the host name the client used, is not an outage: waiting would only burn the limit, so the call fails
at once with :class:`TrackingRefused`, whose message says what to fix.
"""

from __future__ import annotations

import os
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from mlflow.exceptions import MlflowException

from raysweep.shell.tracking import DEFAULT_OUTAGE_LIMIT_S
from raysweep.shell.tracking.access import CREDENTIALS_HINT, credentials_in_use

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


class TrackingError(RuntimeError):
    """A tracking call that raysweep gave up on; the message names the tracking URI and the reason."""


class TrackingUnavailable(TrackingError):
    """The tracking store stayed unreachable for longer than the outage limit."""


class TrackingRefused(TrackingError):
    """The tracking store answered and refused the request: authentication, permission or host.

    ``refused`` is which of the three (:data:`REFUSALS`); the message says what to change.
    """

    def __init__(self, message: str, refused: str) -> None:
        super().__init__(message)
        self.refused = refused

    def __reduce__(self) -> tuple:
        # Ray sends a trial's error to the driver pickled; the default rebuilds it from args alone.
        return type(self), (str(self), self.refused)


HTTP_UNAUTHORIZED, HTTP_FORBIDDEN = 401, 403
REFUSED_AUTHENTICATION, REFUSED_PERMISSION, REFUSED_HOST = "authentication", "permission", "host"
REFUSALS = (REFUSED_AUTHENTICATION, REFUSED_PERMISSION, REFUSED_HOST)
REFUSAL_ERROR_CODES = {
    "UNAUTHENTICATED": REFUSED_AUTHENTICATION,  # MLflow's name for a 401 (basic-auth, a bad token)
    "CUSTOMER_UNAUTHORIZED": REFUSED_AUTHENTICATION,
    "PERMISSION_DENIED": REFUSED_PERMISSION,  # a 403, unless the body says the Host header was refused
}
INVALID_HOST_REPLY = "Invalid Host header"
"""How ``mlflow server``'s host check (``--allowed-hosts``) answers, with a 403, at 3.17."""


def short_mlflow_http_attempts() -> None:
    for name, value in MLFLOW_HTTP_ATTEMPT_ENV.items():
        os.environ.setdefault(name, value)


def refusal(exc: BaseException) -> str | None:
    """What the store refused (one of :data:`REFUSALS`), or None when ``exc`` is no refusal.

    MLflow's REST client turns a 401 / 403 into an ``MlflowException`` with error code
    ``UNAUTHENTICATED`` / ``PERMISSION_DENIED`` (the basic-auth app and the host check answer in
    plain text, so the code comes from the status); artifact uploads through the server's proxy raise
    ``requests``' ``HTTPError`` with the response. The host check's 403 says so in its body.
    """
    if isinstance(exc, MlflowException):
        refused = REFUSAL_ERROR_CODES.get(exc.error_code)
    elif isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        refused = {HTTP_UNAUTHORIZED: REFUSED_AUTHENTICATION, HTTP_FORBIDDEN: REFUSED_PERMISSION}.get(
            exc.response.status_code
        )
        if refused is not None and INVALID_HOST_REPLY in (exc.response.text or ""):
            return REFUSED_HOST
    else:
        return None
    if refused == REFUSED_PERMISSION and INVALID_HOST_REPLY in str(exc):
        return REFUSED_HOST
    return refused


def refused_error(tracking_uri: str, exc: BaseException, refused: str) -> TrackingRefused:
    """The error a refusal becomes: the URI, what was refused, what to change (one line)."""
    if refused == REFUSED_AUTHENTICATION:
        fix = f"the credentials ({credentials_in_use()}) were not accepted; {CREDENTIALS_HINT}"
    elif refused == REFUSED_PERMISSION:
        fix = (
            f"the user ({credentials_in_use()}) may not do this ({endpoint_of(exc)}); ask the server's "
            "admin for EDIT permission on the sweep's experiment, or use an experiment of your own"
        )
    else:
        host = urlsplit(tracking_uri).netloc.rpartition("@")[2]
        fix = (
            f"its host check does not allow the host name {host!r}; add it to the server's "
            "--allowed-hosts (or MLFLOW_SERVER_ALLOWED_HOSTS), or use a tracking URI with a host it allows"
        )
    return TrackingRefused(
        f"MLflow tracking store {tracking_uri} refused {refused} (HTTP {status_of(exc)}): {fix}", refused
    )


def status_of(exc: BaseException) -> int:
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return exc.response.status_code
    return HTTP_UNAUTHORIZED if refusal(exc) == REFUSED_AUTHENTICATION else HTTP_FORBIDDEN


def endpoint_of(exc: BaseException) -> str:
    """The REST endpoint the refused call went to, as MLflow's message names it."""
    found = re.search(r"endpoint (\S+)", str(exc))
    return found.group(1) if found else first_line(exc)[:120]


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
                refused = refusal(exc)
                if refused is not None:  # the store answered: no outage to wait out
                    raise refused_error(self.tracking_uri, exc, refused) from exc
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
