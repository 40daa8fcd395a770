"""Who a sweep is to its MLflow tracking server: the credential variables and how they reach the trials
(the one check before anything starts that the server lets the launcher in is ``access_check``).

MLflow's REST client reads its credentials from the environment: ``MLFLOW_TRACKING_USERNAME`` and
``MLFLOW_TRACKING_PASSWORD`` (HTTP basic auth, what ``mlflow server --app-name basic-auth`` asks for)
or ``MLFLOW_TRACKING_TOKEN`` (a bearer token), and a few variables for TLS and custom auth. raysweep
reads the same variables, named once here (:data:`CREDENTIAL_VARIABLES`), and adds none of its own.

How they reach the trials: a local Ray's workers inherit the launcher's environment, but a trial on a
node started with ``ray start`` runs in that node's environment. So the launcher hands the variables it
has set to every trial in the sweep's context (``tune.with_parameters``, which puts it in Ray's object
store; Tune saves no copy of it in the sweep folder) and the trial sets them in its own process before
its first MLflow call (:meth:`TrackingCredentials.apply`): each sweep runs as the user who launched it,
whatever the nodes have exported. Not through Ray's ``runtime_env``: at Ray 2.60 the runtime-env agent
writes a job's ``env_vars`` verbatim into ``runtime_env_agent.log`` on every node that starts a worker.
Never as params or tags, never in the sweep folder, never printed: :class:`TrackingCredentials` prints
as the variables' names only, and messages name the user, never a password or token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

USERNAME_VARIABLE = "MLFLOW_TRACKING_USERNAME"
PASSWORD_VARIABLE = "MLFLOW_TRACKING_PASSWORD"
TOKEN_VARIABLE = "MLFLOW_TRACKING_TOKEN"
CREDENTIAL_VARIABLES = (
    USERNAME_VARIABLE,
    PASSWORD_VARIABLE,
    TOKEN_VARIABLE,
    "MLFLOW_TRACKING_AUTH",  # the name of an auth provider plugin, where a server needs one
    "MLFLOW_TRACKING_INSECURE_TLS",
    "MLFLOW_TRACKING_SERVER_CERT_PATH",  # paths: the file must exist at that path on every node
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
)
"""The environment variables MLflow's client authenticates with, which trials get from the launcher."""
SECRET_VARIABLES = (PASSWORD_VARIABLE, TOKEN_VARIABLE)

CREDENTIALS_HINT = (
    f"set {USERNAME_VARIABLE} and {PASSWORD_VARIABLE} (or {TOKEN_VARIABLE}) in the launcher's environment "
    "to credentials the server accepts, then start the sweep again (or --resume it)"
)


@dataclass(frozen=True, repr=False)
class TrackingCredentials:
    """The launcher's credential variables that are set, to be set again in each trial's process."""

    values: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] | None = None) -> TrackingCredentials:
        environment = os.environ if environment is None else environment
        return cls(tuple((name, environment[name]) for name in CREDENTIAL_VARIABLES if environment.get(name)))

    def apply(self) -> None:
        """Set them in this process's environment, where MLflow's client reads them on every request."""
        os.environ.update(dict(self.values))

    def __repr__(self) -> str:  # the names only: a context's repr may end up in a log
        return f"TrackingCredentials({', '.join(name for name, _ in self.values) or 'none'})"


def credentials_in_use(environment: Mapping[str, str] | None = None) -> str:
    """Which credentials this process sends, for an error message: the user's name, never a secret."""
    environment = os.environ if environment is None else environment
    user = environment.get(USERNAME_VARIABLE)
    if user:
        missing = "" if environment.get(PASSWORD_VARIABLE) else f", {PASSWORD_VARIABLE} unset"
        return f"user {user!r} from {USERNAME_VARIABLE}{missing}"
    if environment.get(TOKEN_VARIABLE):
        return f"a token from {TOKEN_VARIABLE}"
    return f"none: neither {USERNAME_VARIABLE} nor {TOKEN_VARIABLE} is set"


def uri_credentials_problem(tracking_uri: str) -> str | None:
    """Why an HTTP(S) tracking URI that carries a user or password is refused, or None.

    The tracking URI is printed at the start and end of every sweep and kept in the sweep folder
    (``raysweep.json``), so credentials must not travel in it.
    """
    parts = urlsplit(tracking_uri)
    if parts.scheme in ("http", "https") and (parts.username or parts.password):
        return (
            f"the tracking URI carries credentials (user:password@{parts.hostname}); raysweep prints the "
            f"URI and keeps it in the sweep folder: put them in {USERNAME_VARIABLE} and "
            f"{PASSWORD_VARIABLE} instead"
        )
    return None
