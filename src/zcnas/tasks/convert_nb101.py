"""The ``task=convert_nb101`` job: NAS-Bench-101's official data file -> the table the space reads.

``source`` is the official ``nasbench_only108.tfrecord`` (or ``nasbench_full.tfrecord``), read
by ``zcnas.spaces.nas_bench_101.tfrecord`` without TensorFlow and without unpickling anything; or a
CSV/parquet export with columns ``matrix``, ``ops``, ``val_accuracy`` (optionally
``test_accuracy``, ``params``), which is checked and normalized the same way.  The output has one
row per cell (NAS-Bench-101's module hash): ``hash, matrix, ops, val_accuracy, test_accuracy,
params, training_time, runs``, accuracies in %, each the mean over the cell's runs.  Then::

    python run.py space=nas_bench_101 benchmark.path=<output> metric=synflow

ranks against all of its cells (by validation accuracy, ``conf/space/nas_bench_101.yaml``;
``space.table.accuracy.cifar10=test_accuracy`` ranks by test accuracy).  An existing output is
never overwritten unless ``replace=true``, as with ``task=import``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from zcnas.spaces.nas_bench_101.tfrecord import COLUMNS, OFFICIAL_FILE, convert
from zcnas.errors import ArchError, ConfigError, DataError
from zcnas.filelock import locked
from zcnas.io import write_table
from zcnas.progress import progress_bar
from zcnas.spaces.nas_bench_101.space import NasBench101, graph_hash
from zcnas.tasks import Task

TABLE_SUFFIXES = (".csv", ".parquet")
NEEDED = ("matrix", "ops", "val_accuracy")
OPTIONAL = ("test_accuracy", "params")


def _settings(cfg: DictConfig) -> tuple[Path, Path, int, bool]:
    if OmegaConf.is_missing(cfg, "source") or not cfg.get("source"):
        raise ConfigError(f"task=convert_nb101 needs source=/path/to/{OFFICIAL_FILE} (or a CSV/parquet with "
                          "columns matrix, ops, val_accuracy)")
    source = Path(str(cfg.source)).expanduser()
    if not source.is_file():
        raise DataError(f"source {source} is not a file; give the path of NAS-Bench-101's {OFFICIAL_FILE}")
    if OmegaConf.is_missing(cfg, "output") or not cfg.get("output"):
        raise ConfigError("output must be the path of the table to write (.parquet or .csv)")
    output = Path(str(cfg.output)).expanduser()
    if output.suffix not in TABLE_SUFFIXES:
        raise ConfigError(f"output must end in .parquet or .csv, got {output}")
    epochs = cfg.get("epochs")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"epochs must be a positive integer (108 in {OFFICIAL_FILE}), got {epochs!r}")
    replace = cfg.get("replace")
    if not isinstance(replace, bool):
        raise ConfigError(f"replace must be true or false, got {replace!r}")
    return source, output, epochs, replace


def _refuse_existing(output: Path, replace: bool) -> None:
    if output.exists() and not replace:
        raise ConfigError(f"{output} already exists; convert into another output=..., or set replace=true to "
                          "overwrite it")


def _read_table(path: Path) -> pd.DataFrame:
    try:  # every column as text, as the space's table reader does
        return (pd.read_parquet(path).astype(str) if path.suffix == ".parquet"
                else pd.read_csv(path, dtype=str, keep_default_na=False))
    except Exception as exc:  # pandas/pyarrow raise many types for a damaged file
        raise DataError(f"table {path} could not be read ({type(exc).__name__}: {exc})") from None


def _numbers(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise DataError(f"table {path}, data row {bad[0] + 1}: {column} is {frame[column].iloc[bad[0]]!r}, "
                        "not a finite number")
    return values


def _percent(values: np.ndarray, column: str, path: Path) -> tuple[np.ndarray, bool]:
    """Accuracies in %: a column whose values all lie in 0..1 holds fractions (NAS-Bench-101's own
    scale) and is multiplied by 100."""
    fractions = bool(values.size) and values.min() >= 0 and values.max() <= 1
    if fractions:
        values = values * 100.0
    bad = np.flatnonzero((values < 0) | (values > 100))
    if bad.size:
        raise DataError(f"table {path}, data row {bad[0] + 1}: {column} is {values[bad[0]]!r}, not an accuracy "
                        "in % (0..100) or a fraction (0..1)")
    return values, fractions


def normalize_table(path: Path) -> tuple[pd.DataFrame, dict]:
    """A CSV/parquet export, checked (each row parses in the space, its numbers parse) and
    brought into ``COLUMNS`` (those it has): one row per module hash, the mean of its rows."""
    frame = _read_table(path)
    missing = [c for c in NEEDED if c not in frame.columns]
    if missing:
        raise DataError(f"table {path} lacks columns {missing} (has {', '.join(frame.columns)}); a table to convert "
                        "has matrix, ops, val_accuracy and optionally test_accuracy, params")
    if frame.empty:
        raise DataError(f"table {path} has no rows")
    space, hashes = NasBench101(), []
    for row, (matrix, ops) in enumerate(zip(frame["matrix"], frame["ops"])):
        try:
            hashes.append(graph_hash(space.parse(f"{matrix.strip()}:{ops.strip()}")))
        except ArchError as exc:
            raise DataError(f"table {path}, data row {row + 1}: {exc}") from None
    values, scaled = {}, []
    for column in ("val_accuracy", "test_accuracy"):
        if column in frame.columns:
            values[column], fractions = _percent(_numbers(frame, column, path), column, path)
            if fractions:
                scaled.append(column)
    if "params" in frame.columns:
        params = _numbers(frame, "params", path)
        bad = np.flatnonzero((params != np.round(params)) | (params < 0))
        if bad.size:
            raise DataError(f"table {path}, data row {bad[0] + 1}: params is {frame['params'].iloc[bad[0]]!r}, not a "
                            "whole number >= 0")
        values["params"] = params.astype(np.int64)
    rows = pd.DataFrame({"hash": hashes, "matrix": frame["matrix"].str.strip(), "ops": frame["ops"].str.strip(),
                         **values})
    grouped = rows.groupby("hash", sort=False)
    table = grouped.first()[["matrix", "ops"]]
    for column in values:
        table[column] = grouped[column].first() if column == "params" else grouped[column].mean()
    table["runs"] = grouped.size().astype(np.int64)
    table = table.reset_index()
    return table[[c for c in COLUMNS if c in table.columns]], {"rows_read": len(frame), "scaled_to_percent": scaled}


def run_convert_nb101_job(cfg: DictConfig, output_dir: Path) -> dict:
    source, output, epochs, replace = _settings(cfg)
    _refuse_existing(output, replace)  # before reading 500 MB; checked again under the lock
    result = {"task": "convert_nb101", "source": str(source), "output": str(output)}
    if source.suffix in TABLE_SUFFIXES:
        table, report = normalize_table(source)
        result.update(format=source.suffix[1:], **report)
    else:
        with progress_bar(None, "convert_nb101 records", bool(cfg.progress)) as bar:
            done = convert(source, epochs, on_record=bar.update)
        if done.used == 0:
            others = ", ".join(f"{n} at {e}" for e, n in sorted(done.other_epochs.items())) or "none"
            raise DataError(f"{source} holds no record of {epochs}-epoch training ({done.records} records: "
                            f"{others}); set epochs= to one it has")
        table = done.table
        result.update(format="tfrecord", epochs=epochs, records=done.records, records_used=done.used,
                      other_epochs={str(e): n for e, n in sorted(done.other_epochs.items())},
                      hash_mismatches=done.hash_mismatches, first_hash_mismatch=done.first_mismatch,
                      params_differ=done.params_differ)
    with locked(output):
        _refuse_existing(output, replace)
        replaced = output.exists()
        write_table(output, table)
    runs = table["runs"].value_counts().sort_index()
    result.update(cells=len(table), runs={str(k): int(v) for k, v in runs.items()}, replaced=replaced,
                  columns=list(table.columns),
                  best_val_accuracy=float(table["val_accuracy"].max()))
    return result


def summarize_convert_nb101(result: dict) -> str:
    counts = result["runs"]
    if len(counts) <= 4:
        runs = ", ".join(f"{n} with {k} run{'s' if k != '1' else ''}" for k, n in counts.items())
    else:
        runs = f"{min(map(int, counts))} to {max(map(int, counts))} runs each"
    if result["format"] == "tfrecord":
        skipped = sum(result["other_epochs"].values())
        read = (f"{result['records']} records of {result['source']} ({result['records_used']} at "
                f"{result['epochs']} epochs, {skipped} of other budgets skipped)")
    else:
        read = f"{result['rows_read']} rows of {result['source']}"
    lines = [f"converted {read} into {result['cells']} cells ({runs})"
             f"{', replacing the old table' if result['replaced'] else ''} -> {result['output']}"]
    for column in result.get("scaled_to_percent") or []:
        lines.append(f"  {column} held fractions (0..1): written in %")
    if result.get("hash_mismatches"):
        lines.append(f"  warning: {result['hash_mismatches']} cells' hashes differ from zcnas's graph hash of "
                     f"their matrix and ops (first: {result['first_hash_mismatch']}); their rows are kept")
    if result.get("params_differ"):
        lines.append(f"  note: {result['params_differ']} runs record another parameter count than their cell's "
                     "first run (the first is kept)")
    lines.append(f"  best validation accuracy {result['best_val_accuracy']:.2f}%; rank against it with:")
    lines.append(f"  python run.py space=nas_bench_101 benchmark.path={result['output']} metric=<name>")
    if "test_accuracy" in result.get("columns", COLUMNS):
        lines.append("  (by validation accuracy; add space.table.accuracy.cifar10=test_accuracy for test accuracy)")
    return "\n".join(lines)


class ConvertNb101Task(Task):
    """``task=convert_nb101``: NAS-Bench-101's data file -> its table (``run_convert_nb101_job``)."""

    def run(self, cfg: DictConfig, output_dir: Path) -> dict:
        return run_convert_nb101_job(cfg, output_dir)

    def summarize(self, result: dict) -> str:
        return summarize_convert_nb101(result)
