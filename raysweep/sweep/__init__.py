"""A sweep, pure (no Ray, no MLflow): ``config`` (the sweep file, its overrides and digest), ``trials``
(the valid combinations of the axes, each with its key and trial config) and ``smoke`` (the same
sweep shrunk to run in seconds)."""
