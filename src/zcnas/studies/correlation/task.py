"""``task=correlate``: the paper's Tables I and II from rosters and the benchmark.

Reads every roster named by ``rosters`` (paths or glob patterns), groups them
by the (dataset, metric) their metadata state, merges each group (an error if
their seed, batch size or settings differ), and runs the correlation study
(``zcnas.studies.correlation.statistics``): every roster's metric, ``val12`` over
the benchmark's whole table, and ``combined`` from the hook_logdet and
synflow rosters of a dataset under every normalization, plus the paper's
alpha sweep.  A roster whose metric is ``val12`` or ``combined`` is shown as
``<metric> (roster)`` so it does not collide with these.

In another search space (``space=nas_bench_macro`` ...; the rosters must be of that space) the
study correlates each roster with the space's ground truth over the architectures both hold,
without val12 and combined (NATS-Bench records), and writes ``correlation.md``,
``correlations.csv`` and ``scatter_<dataset>.png``.

Writes to ``report_dir`` (unset: the job's own folder): ``table1.md`` (Tables I and II beside
the paper's values, the combined comparisons), ``correlations.csv`` (tidy, signed values),
``alpha_sweep.csv`` and ``scatter_<dataset>.png``.  A report already there that holds a
correlation this run lacks, or one over more architectures, is kept (``overwrite=true`` replaces
it; ``zcnas.studies.kept``).  The reports name the rosters and the ground truth relative to the
project root (``zcnas.studies.portable``), so a clone at any path writes the same files.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from omegaconf import DictConfig, ListConfig

from zcnas.errors import ConfigError
from zcnas.io import atomic_write_bytes, write_table
from zcnas.names import DATASET_NAMES
from zcnas.studies.correlation.report import fmt, render_markdown, render_space_markdown, scatter_png
from zcnas.studies.correlation.statistics import PAPER_TABLE1, Settings, space_study, spearman_tables, study
from zcnas.studies.kept import check_overwrite, check_report_kept, report_folder
from zcnas.studies.normalization import NORMALIZATIONS, check_alpha, check_normalization
from zcnas.studies.portable import PathNames
from zcnas.studies.rank_correlation import check_non_finite, check_top_fraction
from zcnas.tasks import Task
from zcnas.tasks.inputs import benchmark_with_accuracies, expand_rosters, group_rosters, job_space, read_rosters


def settings(cfg: DictConfig) -> Settings:
    alphas = cfg.alphas
    if not isinstance(alphas, (list, tuple, ListConfig)) or not alphas:
        raise ConfigError(f"alphas must be a non-empty list of numbers in [0, 1], got {alphas!r}")
    normalization = check_normalization(str(cfg.combined_normalization), "combined_normalization")
    return Settings(
        non_finite=check_non_finite(str(cfg.non_finite)),
        top_fraction=check_top_fraction(cfg.top_fraction),
        alpha=check_alpha(cfg.alpha, "alpha"),
        alphas=tuple(check_alpha(a, "alphas") for a in alphas),
        normalization=normalization,
        normalizations=NORMALIZATIONS,
    )


def run_correlate_job(cfg: DictConfig, output_dir: Path) -> dict:
    s = settings(cfg)
    out = report_folder(cfg.get("report_dir"), output_dir)
    overwrite = check_overwrite(cfg.get("overwrite", False))
    paths = expand_rosters(cfg.get("rosters"))
    named = read_rosters(paths)
    space = job_space(cfg, named, "correlate")
    groups = group_rosters(named)
    benchmark = benchmark_with_accuracies(cfg, "correlate")
    # the reports name their sources relative to the project, so they read the same from any clone
    names = PathNames.of(cfg.paths)
    shown = [replace(g, paths=names.names(g.paths)) for g in groups]
    source = names.describe(benchmark)
    if not space.benchmark_group:  # Table 1 and the alpha sweep need NATS-Bench's val12 (the benchmark group)
        return _space_job(groups, shown, benchmark, source, s, space.name, out, paths, overwrite)
    tidy, sweep, panels = study(shown, benchmark, s, source)
    keep_report(out, tidy, overwrite)

    files = [out / "table1.md", out / "correlations.csv", out / "alpha_sweep.csv"]
    atomic_write_bytes(files[0], render_markdown(tidy, sweep, s, source).encode())
    write_table(files[1], tidy)
    write_table(files[2], sweep)
    for ds, ps in panels.items():
        files.append(out / f"scatter_{ds}.png")
        atomic_write_bytes(files[-1], scatter_png(ds, ps))
    return {
        "task": "correlate",
        "rosters": paths,
        "groups": [{"dataset": g.dataset, "metric": g.label, "rows": len(g.roster),
                    "non_finite": int((~g.roster.rows["finite"]).sum()), "rosters": g.paths} for g in groups],
        "non_finite": s.non_finite, "top_fraction": s.top_fraction, "alpha": s.alpha,
        "combined_normalization": s.normalization,
        **spearman_tables(tidy, s),
        "rows": tidy.to_dict("records"),
        "report_dir": str(out),
        "files": [str(f) for f in files],
    }


#: a correlation report's rows: one per (dataset, metric[, normalization, alpha], subset), each over n architectures
KEY = ["dataset", "metric", "normalization", "alpha", "subset"]


def keep_report(out: Path, tidy, overwrite: bool) -> None:
    check_report_kept(out, "correlations.csv", tidy, KEY, size="n", what="correlations", overwrite=overwrite)


def _space_job(groups, shown, benchmark, source: str, s: Settings, space: str, out: Path, paths: list[str],
               overwrite: bool) -> dict:
    """``shown``: the groups with their paths as the report names them; ``source``: the ground truth's."""
    datasets = sorted({g.dataset for g in groups})
    for ds in datasets:
        if not benchmark.covers(ds):
            raise ConfigError(f"space {space}'s ground truth ({benchmark.description}) has no {ds} accuracies; "
                              f"it has {', '.join(benchmark.datasets)}")
    parse = benchmark.space.parse
    tidy, panels = space_study(shown, lambda ds, arch: benchmark.accuracy_of(parse(arch), ds), s, source)
    keep_report(out, tidy, overwrite)
    files = [out / "correlation.md", out / "correlations.csv"]
    atomic_write_bytes(files[0], render_space_markdown(tidy, s, space, benchmark.accuracy_label, source).encode())
    write_table(files[1], tidy)
    for ds, ps in panels.items():
        files.append(out / f"scatter_{ds}.png")
        atomic_write_bytes(files[-1], scatter_png(ds, ps))
    return {
        "task": "correlate", "space": space, "rosters": paths,
        "groups": [{"dataset": g.dataset, "metric": g.label, "rows": len(g.roster),
                    "non_finite": int((~g.roster.rows["finite"]).sum()), "rosters": g.paths} for g in groups],
        "non_finite": s.non_finite, "top_fraction": s.top_fraction,
        "rows": tidy.to_dict("records"), "report_dir": str(out), "files": [str(f) for f in files],
    }


class CorrelateTask(Task):
    """``task=correlate``: the correlation study, the paper's Tables I and II (``run_correlate_job``)."""

    def run(self, cfg: DictConfig, output_dir: Path) -> dict:
        return run_correlate_job(cfg, output_dir)

    def summarize(self, result: dict) -> str:
        if "space" in result:
            lines = [f"correlation study in space {result['space']}: {len(result['rosters'])} rosters, "
                     "Spearman ρ with the space's ground truth:"]
            for r in result["rows"]:
                if r["subset"] == "all":
                    lines.append(f"    {r['dataset']} {r['metric']}: ρ {fmt(r['spearman'], 3)} over {r['n']} architectures")
            lines.append(f"  report: {Path(result['report_dir']) / 'correlation.md'}")
            return "\n".join(lines)
        lines = [f"correlation study: {len(result['rosters'])} rosters in {len(result['groups'])} (dataset, metric) "
                 f"groups; non-finite scores: {result['non_finite']}",
                 "  Table I, Spearman ρ with test accuracy (paper's value in brackets):"]
        for row in result["table1"]:
            ds = row["dataset"]
            cells = []
            for metric, rho in row.items():
                if metric == "dataset":
                    continue
                rho = float(rho) if isinstance(rho, (int, float)) else math.nan  # null (non-finite) or an old file's "nan"
                paper = PAPER_TABLE1.get(ds, {}).get(metric)
                cells.append(f"{metric} {fmt(rho, 3)}" + (f" [{paper:.3f}]" if paper else ""))
            lines.append(f"    {DATASET_NAMES.get(ds, ds)}: " + ", ".join(cells))
        lines.append(f"  report: {Path(result['report_dir']) / 'table1.md'} (+ correlations.csv, alpha_sweep.csv, "
                     "scatter_<dataset>.png)")
        return "\n".join(lines)
