"""NatsBenchBenchmark against the real ``nats_bench`` package on a tiny on-disk benchmark."""

from __future__ import annotations

import bz2
import itertools
import os
import pickle
import random

import pytest

from zcnas.benchmark.nats_api import NatsBenchBenchmark
from zcnas.errors import BenchmarkError

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
SEEDS = (777, 888)
DECOY_ACC, DECOY_EPOCH_SECONDS, DECOY_EVAL_SECONDS = 10.0, 100.0, 0.5
# Seconds of one pass over each dataset's x-valid split: part of the val12 cost.
VALID_PASS_SECONDS = {"cifar10-valid": 1.5, "cifar100": 2.5, "ImageNet16-120": 3.5}
CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
# Which splits each NATS-Bench dataset evaluates on (as in the released files).
EVAL_SETS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}

# Known numbers per architecture index: (200-epoch test acc, 12-epoch valid acc, 12-epoch
# train seconds).  Chosen so that means over the two seeds are exact in binary floats.
# The val12 cost is the train seconds plus one x-valid pass (VALID_PASS_SECONDS).
RECORDS = {
    0: {
        "cifar10": (93.25, 71.5, 18.0),
        "cifar100": (70.75, 40.25, 30.0),
        "ImageNet16-120": (44.5, 20.75, 105.0),
    },
    7777: {
        "cifar10": (88.0, 65.0, 39.0),
        "cifar100": (61.5, 33.5, 42.0),
        "ImageNet16-120": (35.25, 15.5, 120.0),
    },
    15624: {
        "cifar10": (94.5, 75.25, 24.0),
        "cifar100": (73.0, 45.0, 36.0),
        "ImageNet16-120": (46.75, 25.0, 96.0),
    },
}


def nats_arch_strings() -> list[str]:
    """The 15,625 topology cells in NATS-Bench index order (enumerate, then seeded shuffle)."""
    archs = [
        "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)
        for ops in itertools.product(OPS, repeat=6)
    ]
    random.Random(88).shuffle(archs)  # same as random.seed(88); shuffle, without global state
    return archs


def _official_slots(record: dict) -> dict:
    """Where nats_bench keeps each known number: {(dataset, hp): {split or 'time': value}}."""
    slots = {}
    for ds, (test200, val12, time12) in record.items():
        test_split = "ori-test" if ds == "cifar10" else "x-test"
        valid_ds = "cifar10-valid" if ds == "cifar10" else ds  # CIFAR-10's valid split lives there
        slots.setdefault((ds, "200"), {})[test_split] = test200
        slots.setdefault((valid_ds, "12"), {}).update({"x-valid": val12, "time": time12})
    return slots


def _results_count(arch_str: str, ds: str, hp: str, seed_offset: float, known: dict) -> dict:
    """State dict of one trial (ResultsCount.__dict__); known values land on the last epoch."""
    epochs = int(hp)
    acc_keys = {f"{name}@{i}": DECOY_ACC for name in EVAL_SETS[ds] for i in range(epochs)}
    for name in EVAL_SETS[ds]:
        if name in known:  # seeds at known -/+ 0.5 average to exactly the known value
            acc_keys[f"{name}@{epochs - 1}"] = known[name] + seed_offset
    # Per-epoch train seconds summing to known['time'] over 12 epochs, the same for every seed:
    # the release's times are NATS-Bench's per-epoch estimates, shared by all seeds.
    epoch_seconds = known["time"] / epochs if "time" in known else DECOY_EPOCH_SECONDS
    valid_pass = VALID_PASS_SECONDS.get(ds, DECOY_EVAL_SECONDS)
    return {
        "name": ds,
        "net_state_dict": None,
        "train_acc1es": {i: 50.0 for i in range(epochs)},
        "train_acc5es": {i: 80.0 for i in range(epochs)},
        "train_losses": {i: 1.0 for i in range(epochs)},
        "train_times": {i: epoch_seconds for i in range(epochs)},
        "arch_config": {
            "channel": 16, "num_cells": 5, "arch_str": arch_str, "class_num": CLASSES[ds]
        },
        "params": 0.5,
        "flop": 80.0,
        "seed": None,
        "epochs": epochs,
        "latency": [0.01],
        "eval_names": list(EVAL_SETS[ds]),
        "eval_acc1es": acc_keys,
        "eval_losses": {key: 1.0 for key in acc_keys},
        "eval_times": {key: valid_pass if key.startswith("x-valid@") else DECOY_EVAL_SECONDS
                       for key in acc_keys},
    }


def _dump(obj, path) -> None:
    # nats_bench's own file format: a pickle (protocol 4) compressed with bz2.
    with bz2.BZ2File(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)


def write_tiny_nats_tss(directory, records: dict) -> None:
    """Write a benchmark directory in nats_bench's official fast_mode ("simple") tss format.

    This is the layout of the real NATS-tss-v1_0-3ffb9-simple download, so the tests run
    the real ``nats_bench`` API (create, reload, get_more_info), not a mock of it:

    * ``meta.pickle.pbz2``: ``{"meta_archs": [arch string of index 0, 1, ...]}`` (the only
      key ``NATStopology`` reads in fast mode); we list all 15,625 cells so indices are real;
    * ``{index:06d}.pickle.pbz2`` for each index in ``records`` only: ``{hp: state dict of
      ArchResults}`` for hp "12" and "200", each holding one ``ResultsCount`` state dict per
      (dataset, seed) for cifar10-valid, cifar10, cifar100 and ImageNet16-120.

    ``records`` maps index -> {dataset: (200-epoch test acc, 12-epoch valid acc, 12-epoch
    train seconds)}; every other number in the files is a decoy, so reading the wrong
    dataset, split, hp or epoch gives a visibly wrong answer.
    """
    os.makedirs(directory, exist_ok=True)
    archs = nats_arch_strings()
    _dump({"meta_archs": archs}, os.path.join(directory, "meta.pickle.pbz2"))
    for index, record in records.items():
        slots = _official_slots(record)
        per_hp = {}
        for hp in ("12", "200"):
            all_results, dataset_seed = {}, {}
            for ds in EVAL_SETS:
                dataset_seed[ds] = list(SEEDS)
                for seed, offset in zip(SEEDS, (-0.5, 0.5)):
                    trial = _results_count(archs[index], ds, hp, offset, slots.get((ds, hp), {}))
                    trial["seed"] = seed
                    all_results[(ds, seed)] = trial
            per_hp[hp] = {
                "arch_index": index,
                "arch_str": archs[index],
                "all_results": all_results,
                "dataset_seed": dataset_seed,
                "clear_net_done": True,
            }
        _dump(per_hp, os.path.join(directory, f"{index:06d}.pickle.pbz2"))


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("torch_home") / "NATS-tss-v1_0-3ffb9-simple"
    write_tiny_nats_tss(str(directory), RECORDS)
    return directory


def test_values_match_what_was_written(bench_dir):
    bench = NatsBenchBenchmark(str(bench_dir))
    assert bench.description == f"nats_bench {bench_dir}"
    for index, record in RECORDS.items():
        for ds, (test200, val12, time12) in record.items():
            assert bench.test_accuracy(index, ds) == test200
            assert bench.val12(index, ds) == (val12, time12 + VALID_PASS_SECONDS[valid_dataset(ds)])


def valid_dataset(ds: str) -> str:
    return "cifar10-valid" if ds == "cifar10" else ds


def test_val12_cost_is_what_simulate_train_eval_charges(bench_dir):
    """nats_bench's own simulation charges train-all-time + valid-per-time, cifar10 via cifar10-valid."""
    import nats_bench

    from zcnas.benchmark.safe_pickle import restricted_loading

    bench = NatsBenchBenchmark(str(bench_dir))
    with restricted_loading():
        api = nats_bench.create(str(bench_dir), "tss", fast_mode=True, verbose=False)
        for index, record in RECORDS.items():
            for ds, (_, val12, _) in record.items():
                acc, _, cost, _ = api.simulate_train_eval(index, ds, hp="12")
                assert cost == bench.val12(index, ds)[1]
                assert acc in (val12 - 0.5, val12 + 0.5)  # one seed's, where we take the mean


def test_files_are_released_after_reading(bench_dir):
    bench = NatsBenchBenchmark(str(bench_dir))
    bench.test_accuracy(7777, "cifar10")
    assert bench._api.arch2infos_dict == {}  # nats_bench would keep every file read in memory


def test_default_path_is_under_torch_home(bench_dir, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(bench_dir.parent))
    bench = NatsBenchBenchmark(path=None)
    assert bench.test_accuracy(0, "cifar10") == RECORDS[0]["cifar10"][0]


def test_lookups_are_memoized(bench_dir, monkeypatch):
    bench = NatsBenchBenchmark(str(bench_dir))
    calls = []
    real = bench._api.get_more_info
    counting = lambda *a, **k: calls.append(a) or real(*a, **k)  # noqa: E731
    monkeypatch.setattr(bench._api, "get_more_info", counting)
    first = bench.test_accuracy(7777, "cifar100"), bench.val12(7777, "cifar100")
    n = len(calls)
    assert (bench.test_accuracy(7777, "cifar100"), bench.val12(7777, "cifar100")) == first
    assert len(calls) == n


def test_missing_directory_names_path(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "NATS-tss-v1_0-3ffb9-simple"
    with pytest.raises(BenchmarkError, match="nowhere") as err:
        NatsBenchBenchmark(str(missing))
    assert str(missing) in str(err.value) and "\n" not in str(err.value)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    with pytest.raises(BenchmarkError) as err:
        NatsBenchBenchmark(path=None)
    assert str(tmp_path / "th" / "NATS-tss-v1_0-3ffb9-simple") in str(err.value)


def test_unusable_directories_give_benchmark_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BenchmarkError, match="empty"):
        NatsBenchBenchmark(str(empty))
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "meta.pickle.pbz2").write_bytes(b"not a bz2 pickle")
    with pytest.raises(BenchmarkError, match="corrupt") as err:
        NatsBenchBenchmark(str(corrupt))
    assert "\n" not in str(err.value)
    small = tmp_path / "small"
    small.mkdir()
    _dump({"meta_archs": nats_arch_strings()[:3]}, small / "meta.pickle.pbz2")
    with pytest.raises(BenchmarkError, match="3 architectures"):
        NatsBenchBenchmark(str(small))


def test_bad_queries_give_benchmark_error(bench_dir):
    bench = NatsBenchBenchmark(str(bench_dir))
    with pytest.raises(BenchmarkError, match="unknown dataset"):
        bench.test_accuracy(0, "cifar10-valid")
    with pytest.raises(BenchmarkError, match="unknown dataset"):
        bench.val12(0, "mnist")
    with pytest.raises(BenchmarkError, match="out of range"):
        bench.test_accuracy(15625, "cifar10")
    with pytest.raises(BenchmarkError, match="architecture 5 "):  # in the meta, no file on disk
        bench.val12(5, "cifar100")
