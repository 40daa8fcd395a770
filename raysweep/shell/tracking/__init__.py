"""MLflow tracking: every MLflow call raysweep makes goes through this package.

- ``patience``: wait out an unreachable store (``--tracking-outage-limit``), fail fast on the rest
  (a refusal, authentication, permission or host, fails at once and says what to fix);
- ``access``: the credential variables and how they reach the trials;
- ``access_check``: the check before a sweep starts that the server lets the launcher in;
- ``trial_run``: a trial's child run, reattached on retry or resume, each step logged exactly once;
- ``sweep_run``: the sweep's parent run (created, resumed, finished; the encoders' seconds, a search's
  outcome) and the trial runs as the driver sees them (found, marked KILLED, read back for a summary);
- ``uris``: the default tracking URI and the command that opens the UI on a sweep.

The names every run carries are ``raysweep.schema``'s. Importing this package itself loads no mlflow.
"""

DEFAULT_OUTAGE_LIMIT_S = 600.0
"""How long tracking calls wait out an unreachable store before the trial fails (``--tracking-outage-limit``)."""
