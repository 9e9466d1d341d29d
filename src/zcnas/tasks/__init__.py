"""The tasks ``run.py`` dispatches to (``task=<name>``): thin adapters from the config to the core
modules, and from their results to files.

Each task is a class, named by its option's ``task_class._target_`` (``conf/task/<name>.yaml``;
docs/plugins.md): ``search``, ``score``, ``rosters`` (merge, import), ``build_table``,
``convert_nb101``, ``train`` and ``export`` here; the studies' tasks (``correlate``, ``ensembles``,
``aggregate``, ``hw_study``) each in their study's package (``zcnas.studies.<study>.task``).
``inputs`` reads the rosters a study names.

``Task`` gives a task class what it may leave out: it is not resumable, and its outputs need no
check.  A class need not derive from it; what the runner requires is ``run`` and ``summarize``.
"""

from __future__ import annotations

from pathlib import Path


class Task:
    """What a job of ``task=<name>`` runs: ``run(cfg, output_dir) -> dict``, the result (written as
    ``result.json``), and ``summarize(result) -> str``, the lines printed for it; both are defined by
    each subclass."""

    #: a finished ``ok`` result of the same job is reused on relaunch (``force=true`` reruns it);
    #: a task that is not resumable (merge, import, the reports) runs every time
    resumable = False

    def outputs_problem(self, output_dir: Path, result: dict) -> str | None:
        """Why a finished job's files cannot be trusted (missing, truncated), or None: asked before a
        resumable job is skipped as done; a problem makes it run again."""
        return None


__all__ = ["Task"]
