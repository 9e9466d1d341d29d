"""The tasks ``run.py`` dispatches to (``task=<name>``, ``zcnas.runner.TASKS``): thin adapters from the
config to the core modules and the analysis layer, and from their results to files.

Each module has ``run_<task>_job(cfg, output_dir) -> dict`` (the job's result) and
``summarize_<task>(result) -> str``: ``search``, ``score``, ``rosters`` (merge, import), ``correlate``,
``ensembles``, ``aggregate`` and ``build_table``.  ``inputs`` reads the rosters a study names.
"""
