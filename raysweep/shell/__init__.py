"""The shell: the only modules that import Ray or MLflow.

Everything outside this package is the pure core (data, models, heuristics, training, the AL loop,
sweep expansion, the search's pure part) and can run in a notebook without a Ray cluster or a
tracking server. The shell wires the core to them, one job per module:

- ``cli``           the command line behind ``python -m raysweep.launch``, its exit codes (``exit_codes``)
- ``preflight``     every check of the input before Ray starts
- ``ray_cluster``   starting or joining Ray, and what the cluster offers trials
- ``capacity``      what the cluster offers a trial now and once its autoscaler has added nodes
- ``deployment``    one machine, a cluster or a Ray job: what each asks of storage and tracking
- ``storage_probe`` every node sees the storage, before anything trains
- ``sweep_record``  the sweep folder, ``raysweep.json``, whether Tune's state there can be restored
- ``sweep_lock``    one driver per sweep (flock on a filesystem, a lease in an object store)
- ``launch``        the orchestration of a sweep, start to end
- ``plan``          a grid or a search, behind one interface Tune is built from
- ``tuner``         the stores, the pool encoders and the Tuner
- ``stores``        DatasetStore and EmbeddingStore actors (one copy of each dataset, one encoder per pool)
- ``trainable``     the Ray Tune trainable: one trajectory per trial, a checkpoint per round
- ``checkpoints``   a trial's per-round checkpoint and which one a restarted trial resumes from
- ``summary``       the table, the failures and the exit code at a sweep's end
- ``stop_signals``  Ctrl-C and SIGTERM: a graceful stop, then an immediate one
- ``driver_watch``  a driver killed outright (SIGKILL, OOM) still leaves its runs KILLED
- ``tracking/``     every MLflow call: patience with outages, the trial runs, the parent run
- ``search/``       a search on Tune's machinery: the searcher, its algorithms, early stopping

Nothing here imports at package import time, so ``import raysweep.shell`` stays cheap.
"""
