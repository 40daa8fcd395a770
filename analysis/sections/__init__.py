"""The report's sections, one module each, in the report's order (:data:`analysis.report.SECTIONS`).

The sections describe the selection (the sweeps' own trials, the seeds that chose), except
``confirmed`` (the confirmation's fresh seeds), ``training`` (both, each row labelled) and the
runtime's per-sweep table (every sweep).

Every section is a function of one shape, ``section(study: Study) -> Section`` (:mod:`.base`):

- ``overview``: the title and what was read (sweeps, trials, metric, which split each number comes
  from, encoder draws, alpha scaling, notes);
- ``confirmed``: the headline, only with a confirmation: the alpha chosen on validation against alpha
  0 on fresh seeds, Holm across the confirmed comparisons, the random floor;
- ``significance``: each VAE variant against its plain partner, paired tests at every label count;
- ``alpha``: which alpha, chosen on validation, its gain on test, by the normalised area under the
  learning curve; incomplete trials;
- ``picks``: did each alpha arm pick anything else than the plain heuristic (plain_overlap against
  its baseline, vae_share, vae_share_of_pick_distances);
- ``training``: the rounds whose training did not fit its labels (train_accuracy under 0.99);
- ``runtime``: compute and wall seconds per heuristic and per sweep, shared VAEs split over their trials;
- ``figures``: the curves, alpha-sweep and runtime figures with their captions;
- ``search``: a search's settings in the searcher's order and the best one against alpha 0 (none for a grid);
- ``encoders``: every encoder's arms against alpha 0 and against ``vae`` (only with encoders besides ``vae``).
"""
