"""The tasks ``run.py`` dispatches to (``task=<name>``, ``zcnas.runner.TASKS``): thin adapters from the
config to the core modules, and from their results to files.

Each module has ``run_<task>_job(cfg, output_dir) -> dict`` (the job's result) and
``summarize_<task>(result) -> str``: ``search``, ``score``, ``rosters`` (merge, import), ``build_table``,
``convert_nb101``, ``train`` and ``export``.  The studies' tasks (``correlate``, ``ensembles``,
``aggregate``, ``hw_study``) are each in their study's package (``zcnas.studies.<study>.task``).
``inputs`` reads the rosters a study names.
"""
