"""The studies: each one package, from rosters or a sweep's results to a report folder.

``correlation``    the paper's Tables I and II (``task=correlate``)
``ensembles``      single proxies against every small ensemble (``task=ensembles``)
``search_tables``  the paper's Tables III-V and Figure 2 from a sweep (``task=aggregate``)
``hardware``       accuracy-latency Pareto fronts and searches under latency budgets (``task=hw_study``)

Each study has ``statistics`` (numbers in, tidy tables out), ``report`` (those tables as markdown
and PNG; matplotlib imported only when a figure is drawn) and ``task`` (the job: the config in,
the files out).  What several studies share sits here beside them: ``rank_correlation`` (ρ, τ),
``normalization`` (also behind ``metric=ensemble`` and ``metric=combined``), ``kept`` (whether a
report may be replaced) and ``portable`` (how a report names its input files).

Everything here but the ``task`` modules is numpy, pandas and scipy only, never torch, Hydra or
OmegaConf; tests/test_layers.py checks it.
"""
