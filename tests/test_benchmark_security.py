"""Official-format files are unpickled with a restricted loader: a crafted file cannot run code."""

from __future__ import annotations

import bz2
import builtins
import collections
import os
import pickle

import nats_bench.api_topology
import nats_bench.api_utils
import numpy as np
import pytest

from cli import run_cli
from test_benchmark_nats_api import RECORDS, write_tiny_nats_tss
from zcnas import plugins
from zcnas.benchmark.nats_api import BENCH_NAME, NatsBenchBenchmark
from zcnas.benchmark.safe_pickle import UnsafePickleError, load_pbz2, restricted_loading
from zcnas.errors import BenchmarkError


class RunsCode:
    """Unpickling this calls ``function(argument)``: what a crafted benchmark file would do."""

    def __init__(self, function, argument):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return self.function, (self.argument,)


def shell_touch(marker) -> RunsCode:
    return RunsCode(os.system, f"touch {marker}")


def eval_touch(marker) -> RunsCode:
    return RunsCode(builtins.eval, f"__import__('pathlib').Path({str(marker)!r}).touch()")


def dump(obj, path) -> None:
    with bz2.BZ2File(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)


def crafted_dir(parent, payload) -> str:
    """An official-looking directory whose meta file runs ``payload`` when unpickled."""
    directory = parent / BENCH_NAME
    directory.mkdir(parents=True)
    dump({"meta_archs": payload}, directory / "meta.pickle.pbz2")
    return str(directory)


def assert_one_line_refusal(proc, what: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: refusing to load"), proc.stderr
    assert what in lines[0] and "meta.pickle.pbz2" in lines[0]


def test_crafted_meta_is_refused_through_the_cli(tmp_path):
    marker = tmp_path / "pwned"
    crafted = crafted_dir(tmp_path, shell_touch(marker))
    proc = run_cli(tmp_path, "benchmark=nats_bench", f"benchmark.path={crafted}", "metric=val12", check=False)
    assert_one_line_refusal(proc, f"{os.system.__module__}.system")
    assert not marker.exists()


def test_auto_refuses_crafted_files_under_torch_home(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    crafted_dir(tmp_path / "torch_home", eval_touch(marker))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    proc = run_cli(tmp_path, "benchmark=auto", "benchmark.table_path=null", "metric=val12", check=False)
    assert_one_line_refusal(proc, "builtins.eval")
    assert not marker.exists()


@pytest.mark.parametrize("payload", [shell_touch, eval_touch])
def test_crafted_meta_is_refused(tmp_path, payload):
    marker = tmp_path / "pwned"
    crafted = crafted_dir(tmp_path, payload(marker))
    auto = plugins.load("benchmark", "auto")
    for make in (lambda: NatsBenchBenchmark(crafted),
                 lambda: auto(path=crafted, table_path=None, shipped_path=None)):
        with pytest.raises(BenchmarkError, match="refusing to load .*meta.pickle.pbz2") as err:
            make()
        assert "\n" not in str(err.value)
    assert not marker.exists()


def test_crafted_architecture_file_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    directory = tmp_path / BENCH_NAME
    write_tiny_nats_tss(str(directory), {})  # the meta file only
    dump({"12": eval_touch(marker)}, directory / "000042.pickle.pbz2")
    bench = NatsBenchBenchmark(str(directory))
    with pytest.raises(BenchmarkError, match=r"refusing to load .*000042.pickle.pbz2: it asks for builtins.eval"):
        bench.val12(42, "cifar10")
    assert not marker.exists()


def test_the_release_types_load(tmp_path):
    """What the official files hold: OrderedDicts, numpy floats (numpy 1 spelling too), sets."""
    data = {"hp": collections.OrderedDict([("12", {0: 1.5})]), "params": np.float64(0.25),
            "n": np.int64(3), "evaluated": {1, 2}, "key": ("cifar10", 777), "none": None}
    path = tmp_path / "ok.pickle.pbz2"
    dump(data, path)
    assert load_pbz2(path) == data
    assert load_pbz2(str(path)[: -len(".pbz2")]) == data  # nats_bench passes names without .pbz2
    numpy1 = pickle.dumps(np.float64(0.25), protocol=3).replace(
        b"numpy._core.multiarray\nscalar", b"numpy.core.multiarray\nscalar")
    dump_raw = tmp_path / "numpy1.pickle.pbz2"
    dump_raw.write_bytes(bz2.compress(numpy1))
    assert load_pbz2(dump_raw) == 0.25


@pytest.mark.parametrize("obj, what", [
    (np.dtype(object), r"numpy.dtype\('O8'\)"),
    (RunsCode(collections.Counter, "abc"), "collections.Counter"),
    (RunsCode(getattr, "x"), "builtins.getattr"),
])
def test_other_types_are_refused(tmp_path, obj, what):
    path = tmp_path / "bad.pickle.pbz2"
    dump(obj, path)
    with pytest.raises(UnsafePickleError, match=what):
        load_pbz2(path)


def test_nats_bench_loading_is_restored(tmp_path):
    originals = nats_bench.api_utils.pickle_load, nats_bench.api_topology.pickle_load
    with pytest.raises(BenchmarkError):
        NatsBenchBenchmark(crafted_dir(tmp_path, eval_touch(tmp_path / "pwned")))
    assert (nats_bench.api_utils.pickle_load, nats_bench.api_topology.pickle_load) == originals
    with restricted_loading():
        assert nats_bench.api_utils.pickle_load is load_pbz2 is nats_bench.api_topology.pickle_load


def test_real_records_still_load(tmp_path):
    directory = tmp_path / BENCH_NAME
    write_tiny_nats_tss(str(directory), {0: RECORDS[0]})
    assert NatsBenchBenchmark(str(directory)).test_accuracy(0, "cifar100") == RECORDS[0]["cifar100"][0]
