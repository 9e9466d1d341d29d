"""The ``task=build_table`` job: the fast accuracy table, built from the official NATS-Bench files.

It reads each architecture of the user's ``NATS-tss-v1_0-3ffb9-simple``
directory once, through the ``nats_bench`` backend (so the files are
unpickled with the restricted loader and the numbers are exactly what
``benchmark=nats_bench`` returns), and writes one row per architecture in the
schema of ``nats_tss_benchmark.csv``.  Searches then read that table
(``benchmark=table benchmark.path=<it>``) instead of opening official files.

Missing records: the official release has a file for each of the 15,625
architectures, so a directory lacking some (an interrupted extraction, say)
is refused.  With ``table.allow_missing=true`` their value cells are left
empty instead: the table loads, and looking one of them up is a one-line
error, as with ``benchmark=nats_bench`` on the same directory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from zcnas.benchmark.base import DATASETS
from zcnas.benchmark.nats_api import BENCH_NAME, NatsBenchBenchmark
from zcnas.benchmark.table import COLUMNS
from zcnas.errors import BenchmarkError, ConfigError
from zcnas.io import write_table
from zcnas.progress import progress_bar
from zcnas.spaces.nats_tss.cells import NUM_CELLS, all_cells, format_arch
from zcnas.tasks import Task

TABLE_NAME = "nats_tss_benchmark.parquet"


def _output_path(params: dict, output_dir) -> Path:
    output = Path(str(params["output"])).expanduser() if params.get("output") else Path(output_dir) / TABLE_NAME
    if output.suffix not in (".parquet", ".csv"):
        raise ConfigError(f"table.output must end in .parquet or .csv, got {output}")
    return output


def _check_order(bench: NatsBenchBenchmark) -> None:
    """The table's rows are in our index order: the directory must list the same order."""
    for index, arch in enumerate(format_arch(c) for c in all_cells()):
        if bench.arch(index) != arch:
            raise BenchmarkError(
                f"nats_bench benchmark {bench.path} lists {bench.arch(index)} as architecture {index}, "
                f"not NATS-Bench's {arch}; is it the official {BENCH_NAME} directory?"
            )


def _missing(bench: NatsBenchBenchmark, allow_missing: bool) -> list[int]:
    missing = [i for i in range(NUM_CELLS) if not bench.has_record(i)]
    if missing and not allow_missing:
        raise BenchmarkError(
            f"nats_bench benchmark {bench.path} has no file for {len(missing)} of {NUM_CELLS} "
            f"architectures (first: {missing[0]}); the official release has all of them: extract "
            "NATS-tss-v1_0-3ffb9-simple.tar again, or set table.allow_missing=true to leave them empty"
        )
    return missing


def official_table(bench: NatsBenchBenchmark, missing: list[int], show_progress: bool = True) -> pd.DataFrame:
    """One row per architecture, ``COLUMNS``; the cells of ``missing`` architectures are empty (NaN)."""
    values = {c: np.full(NUM_CELLS, np.nan) for c in COLUMNS[2:]}
    skip = set(missing)
    with progress_bar(NUM_CELLS - len(skip), "build_table", show_progress) as bar:
        for index in range(NUM_CELLS):
            if index in skip:
                continue
            for ds in DATASETS:
                test, acc, seconds = bench.record(index, ds)
                values[f"{ds}_test_acc"][index] = test
                values[f"{ds}_val12_acc"][index] = acc
                values[f"{ds}_val12_time"][index] = seconds
            bar.update(1)
    archs = [format_arch(c) for c in all_cells()]
    return pd.DataFrame({"index": np.arange(NUM_CELLS), "arch": archs, **values})[COLUMNS]


def run_build_table_job(cfg: DictConfig, output_dir) -> dict:
    params = cfg.get("table") or {}
    output = _output_path(params, output_dir)
    source = params.get("source")
    bench = NatsBenchBenchmark(str(source) if source else None)
    _check_order(bench)
    missing = _missing(bench, bool(params.get("allow_missing", False)))
    frame = official_table(bench, missing, cfg.progress)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_table(output, frame)
    return {"task": "build_table", "source": bench.path, "output": str(output), "rows": len(frame),
            "records": NUM_CELLS - len(missing), "missing": len(missing), "first_missing": missing[:10]}


def summarize_build_table(result: dict) -> str:
    lines = [f"accuracy table of {result['records']} of {result['rows']} architectures from "
             f"{result['source']} -> {result['output']}"]
    if result["missing"]:
        first = ", ".join(str(i) for i in result["first_missing"])
        lines.append(f"  {result['missing']} architectures had no file; their cells are empty (first: {first})")
    lines.append(f"  use it with: benchmark=table benchmark.path={result['output']}")
    return "\n".join(lines)


class BuildTableTask(Task):
    """``task=build_table``: the fast accuracy table from the official NATS-Bench files (``run_build_table_job``)."""

    def run(self, cfg: DictConfig, output_dir) -> dict:
        return run_build_table_job(cfg, output_dir)

    def summarize(self, result: dict) -> str:
        return summarize_build_table(result)
