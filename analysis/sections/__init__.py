"""The report's sections, one module each, in the report's order (:data:`analysis.report.SECTIONS`).

Every section is a function of one shape, ``section(study: Study) -> Section`` (:mod:`.base`):

- ``overview``: the title and what was read (sweeps, trials, metric, alpha scaling, notes);
- ``significance``: each VAE variant against its plain partner, paired tests at every label count;
- ``alpha``: which alpha, by the normalised area under the learning curve; incomplete trials;
- ``picks``: did each alpha arm pick anything else than the plain heuristic (plain_overlap, vae_share);
- ``runtime``: compute and wall seconds per heuristic and per sweep, shared VAEs split over their trials;
- ``figures``: the curves, alpha-sweep and runtime figures with their captions;
- ``search``: a search's settings in the searcher's order and the best one against alpha 0 (none for a grid);
- ``encoders``: every encoder's arms against alpha 0 and against ``vae`` (only with encoders besides ``vae``).
"""
