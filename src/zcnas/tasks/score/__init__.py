"""The ``task=score`` job: score a set of architectures into a roster, for one metric or several.

What is scored (``selection``): the whole space, a seeded random sample of ``sample`` cells, or an
explicit ``indices`` list; then the shard ``shard`` of ``num_shards``.  In a space without an
integer index (NAS-Bench-101) rows are named by their canonical architecture string; its "whole
space" is the architectures of its ground-truth table, and a sample is drawn with the space's own
sampler.

Progress is checkpointed as small chunk files (``chunks``), each written atomically; a killed job
leaves at most the rows of one unfinished chunk unwritten, never a partial row, and a relaunch of
the same job resumes from the chunks.  An interrupted job (SIGINT, or SIGTERM through the runner)
first saves every row it computed.

With ``share_isomorphic=true`` each isomorphism class is scored once, on its lowest-index member in
the selection, and the other members get that score with ``source=shared`` and zero seconds: exact
for metrics whose value depends only on the function a cell computes (val12 does not; see README).
Shards then split whole classes, so no class is scored twice.

One metric (the ``metric`` group; ``metrics`` null, the default) is scored by its own engine into
``roster.parquet``.  Several (``metrics=[hook_logdet,snip,...]``) are scored together by
``zcnas.metrics.fused.FusedScorer`` (``scorers``), each into its own roster,
``roster_<metric>.parquet``, with the metadata a single-metric job of that metric records.  Each
metric's settings are those of ``conf/metric/<metric>.yaml`` (the ``metric`` group is not used),
overridden by ``+metric_settings.<metric>.<key>=<value>`` (e.g. ``+metric_settings.zen.repeat=2``).
Each row's ``seconds`` is that metric's share of the architecture's scoring time (the shares of a
computed architecture add up to its wall time; ``FusedScorer``'s docstring says how it is split).
The job itself, one path for both, is ``job`` (``ScoreTask``).
"""

from zcnas.tasks.score.job import ScoreTask, outputs_problem, summarize_score
from zcnas.tasks.score.scorers import metric_settings
from zcnas.tasks.score.selection import select_indices

__all__ = ["ScoreTask", "metric_settings", "outputs_problem", "select_indices", "summarize_score"]
