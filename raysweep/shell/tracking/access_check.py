"""The one check before anything starts that an MLflow tracking server lets the launcher in, with the
credentials of ``access``; a refusal is what ``patience`` makes of one (:class:`TrackingRefused`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from raysweep.shell.tracking.patience import refusal, refused_error, short_mlflow_http_attempts


def check_access(tracking_uri: str, experiment: str) -> None:
    """Ask the tracking server once, with the launcher's credentials, for the sweep's experiment.

    Raises :class:`~raysweep.shell.tracking.patience.TrackingRefused` when the server refuses
    (authentication, permission to read the experiment, or the host name): the launcher stops with
    exit 2 before Ray starts. Only HTTP(S) stores have anything to check; a database or file store
    is left alone (a first call could create it). An unreachable server is not decided here: the
    sweep's own calls wait it out up to ``--tracking-outage-limit`` as before. Permission to write is
    checked by the first write, the sweep's parent run, which a refusal also stops with exit 2.
    """
    if urlsplit(tracking_uri).scheme not in ("http", "https"):
        return
    from mlflow.tracking import MlflowClient

    short_mlflow_http_attempts()
    try:
        MlflowClient(tracking_uri).get_experiment_by_name(experiment)
    except Exception as exc:
        refused = refusal(exc)
        if refused is not None:
            raise refused_error(tracking_uri, exc, refused) from None
