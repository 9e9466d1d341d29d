"""Nothing is taken that the user did not mean, and no mistake ends in a traceback: unknown keys,
values of another type than their default, out-of-range seeds and threads, a broken custom space,
devices and clusters that are not there, paths that do not exist, two launches of one job at once.
Each case goes through the real CLI, with the crafted files built here."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from cli import ROOT, one_line_error, run_cli
from zcnas.errors import ConfigError
from zcnas.schema import check_against_defaults

FAST = ["benchmark=none", "search.n=3", "hardware.threads=1"]
EXAMPLES = ROOT / "examples"


# --- the rule, on any config group -------------------------------------------------------------------

def test_a_leaf_takes_the_type_of_its_default_in_any_group():
    """A group no code knows of (here ``train``) is checked as its defaults declare."""
    defaults = OmegaConf.create({"seed": 0, "train": {"epochs": 200, "lr": 0.1, "nesterov": True, "name": "x",
                                                      "milestones": [1, 2], "extra": None},
                                 "space": {"options": {}}})

    def check(**changes):
        cfg = OmegaConf.merge(defaults, OmegaConf.create(changes))
        check_against_defaults(cfg, defaults)

    check(train={"epochs": 3, "lr": 1, "nesterov": False, "name": 5, "extra": [1]}, space={"options": {"w": 1}})
    for changes, expected in [
        ({"train": {"epochs": 1.5}}, "train.epochs must be an integer (default 200), got 1.5"),
        ({"train": {"epochs": True}}, "train.epochs must be an integer (default 200), got True"),
        ({"train": {"nesterov": "maybe"}}, "train.nesterov must be true or false, got 'maybe'"),
        ({"train": {"nesterov": None}}, "train.nesterov must be true or false, got None"),
        ({"train": {"lr": "fast"}}, "train.lr must be a number"),
        ({"train": {"milestones": 3}}, "train.milestones must be a list"),
        ({"train": 3}, "train is a group of settings"),
        ({"train": {"epoch": 3}}, "unknown setting train.epoch"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(expected)):
            check(**changes)


# --- section: unknown keys and types ------------------------------------------------------------------

@pytest.mark.integration
def test_an_unknown_key_is_refused_and_leaves_no_folder(tmp_path):
    line = one_line_error(run_cli(tmp_path, *FAST, "+nonexistent_key=1", check=False))
    assert "unknown setting nonexistent_key" in line and "seed" in line  # lists the keys there are
    assert not (tmp_path / "outputs").exists() or not list((tmp_path / "outputs").rglob("*.hydra"))


@pytest.mark.integration
@pytest.mark.parametrize("args, expected", [
    (["task=score", "metric=params", "indices=[0,1]", "share_isomorphic=maybe"],
     "share_isomorphic must be true or false, got 'maybe'"),
    (["task=aggregate", "overwrite=perhaps"], "overwrite must be true or false, got 'perhaps'"),
    (["task=build_table", "table.allow_missing=sure"], "table.allow_missing must be true or false, got 'sure'"),
    (["search=aging", "search.zero_cost_move=1"], "search.zero_cost_move must be true or false, got 1"),
    (["search.n=1.5"], "search.n must be an integer (default 500), got 1.5"),
    (["search.n=true"], "search.n must be an integer (default 500), got True"),
    (["hardware.threads=1.5"], "hardware.threads must be a positive integer or auto, got 1.5"),
    (["+hardware.foo=1"], "unknown setting hardware.foo"),
    (["+space.options.widths=[16,32]"], "unknown setting space.options"),  # options are a custom space's
    (["search.max_cost=5"], "search.max_cost is a group of settings"),
    (["seed=99999999999999999999999"], "seed must be an integer in [0, 4294967295]"),
])
def test_values_are_of_their_defaults_type(tmp_path, args, expected):
    base = [a for a in FAST if "search=aging" not in args or not a.startswith("search.n=")]  # aging has no n
    line = one_line_error(run_cli(tmp_path, *base, *args, check=False))
    assert expected in line, line


@pytest.mark.integration
@pytest.mark.parametrize("args, expected", [
    # the dataset group is structured: OmegaConf would read YAML-1.1 words as booleans
    (["dataset.download=yes"], "dataset.download must be true or false, got 'yes'"),
    (["dataset.download=off"], "dataset.download must be true or false, got 'off'"),
    (["dataset.download=1"], "dataset.download must be true or false, got 1"),
    (["task=score", "metric=params", "indices=[0]", "+metric_settings.params.foo=1"],
     "metric_settings configures the metrics of task=score metrics=[...]"),
    (["task=score", "metrics=[params,flops]", "indices=[0]", "+metric_settings.params.foo=1"],
     "unknown setting metric_settings.params.foo: params has name, roster"),
    (["task=score", "metrics=[zen,flops]", "indices=[0]", "+metric_settings.zen.repeat=x"],
     "metric_settings.zen.repeat must be an integer (default 1), got 'x'"),
    (["task=score", "metric=params", "indices=[1,1,2]"], "indices names the architecture 1 more than once"),
    (["task=score", "metric=params",
      "indices=[1,'|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|']"],
     "more than once (as 1 and '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|"),
])
def test_values_are_checked_as_typed(tmp_path, args, expected):
    base = [a for a in FAST if not (a.startswith("search.") and "task=score" in args)]
    line = one_line_error(run_cli(tmp_path, *base, *args, check=False))
    assert expected in line, line
    assert not list((tmp_path / "outputs").rglob("roster.parquet"))


@pytest.mark.integration
def test_a_data_path_is_read_only_by_a_job_that_reads_images(tmp_path):
    """``dataset.data_path=5`` is a legal relative path: a data-free job ignores it, one that reads
    images names it."""
    run_cli(tmp_path, "metric=synflow", *FAST, "dataset.data_path=5")
    line = one_line_error(run_cli(tmp_path, "task=score", "metric=hook_logdet", "indices=[0]", "benchmark=none",
                                  "hardware.threads=1", "dataset.data_path=5", check=False))
    assert "5" in line and "not found" in line, line


@pytest.mark.integration
def test_declared_optional_keys_are_still_taken(tmp_path):
    """``+metric.layout`` (the engine) and ``+metric_settings`` (several metrics) are read although no YAML sets them."""
    run_cli(tmp_path, "task=score", "metric=snip", "+metric.layout=channels_last", "indices=[0]", "benchmark=none",
            "hardware.threads=1")
    run_cli(tmp_path, "task=score", "metrics=[params,flops]", "+metric_settings.params.name=params",
            "indices=[0]", "benchmark=none", "hardware.threads=1")


# --- section: two launches of one job -----------------------------------------------------------------

@pytest.mark.integration
def test_a_job_running_elsewhere_is_not_run_twice(tmp_path):
    """Launch A holds the job folder's lock (stopped with SIGSTOP so that it still runs), launch B of the
    same job says so in one line; A then finishes, and a third launch finds the job done."""
    args = ["task=score", "metric=synflow", "sample=20", "benchmark=none", "hardware.threads=1"]
    cmd = [sys.executable, str(ROOT / "run.py"), f"paths.output_dir={tmp_path}/outputs",
           f"paths.multirun_dir={tmp_path}/multirun", "progress=false", *args]
    first = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "HYDRA_FULL_ERROR": "0"})
    try:
        deadline = time.time() + 120
        while not list((tmp_path / "outputs").rglob("result.json.lock")):
            assert first.poll() is None and time.time() < deadline, first.communicate()
            time.sleep(0.05)
        first.send_signal(signal.SIGSTOP)
        line = one_line_error(run_cli(tmp_path, *args, check=False))
        assert f"process {first.pid} on host" in line and "the same job is running there" in line, line
    finally:
        first.send_signal(signal.SIGCONT)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert "already done" in run_cli(tmp_path, *args).stdout
    assert not list((tmp_path / "outputs").rglob("result.json.lock"))


# --- section: no traceback for a user's mistake --------------------------------------------------------

BROKEN_SPACE = '''
from width_space import WidthSpace


class Broken(WidthSpace):
    name = "broken"

    def __init__(self, where="", **options):
        if where == "init":
            raise ValueError("no widths today")
        super().__init__(**options)
        self.where = where

    def sample(self, rng):
        if self.where == "sample":
            raise ValueError("cannot sample")
        return super().sample(rng)

    def build_network(self, *args, **kwargs):
        if self.where == "build":
            raise RuntimeError("cannot build")
        if self.where == "not_a_network":
            return 42
        return super().build_network(*args, **kwargs)
'''


@pytest.fixture
def broken_space(tmp_path, monkeypatch):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "broken_space.py").write_text(BROKEN_SPACE)
    monkeypatch.setenv("PYTHONPATH", f"{EXAMPLES}{os.pathsep}{tmp_path / 'mods'}")
    return ["space=custom", "space._target_=broken_space.Broken", "metric=synflow", *FAST]


@pytest.mark.integration
@pytest.mark.parametrize("where, method, error", [
    ("init", "__init__", "ValueError: no widths today"),
    ("sample", "sample", "ValueError: cannot sample"),
    ("build", "build_network", "RuntimeError: cannot build"),
])
def test_a_custom_space_that_raises_is_one_line_naming_class_and_method(tmp_path, broken_space, where, method, error):
    line = one_line_error(run_cli(tmp_path, *broken_space, f"+space.options.where={where}", check=False))
    assert f"custom space broken_space.Broken: {method}() raised {error}" in line, line
    assert "ZCNAS_DEBUG=1" in line


@pytest.mark.integration
def test_a_custom_space_whose_network_is_not_a_module_is_one_line(tmp_path, broken_space):
    line = one_line_error(run_cli(tmp_path, *broken_space, "+space.options.where=not_a_network", check=False))
    assert "custom space broken_space.Broken: build_network() returned int, not a torch.nn.Module" in line, line


def test_a_benchmark_path_typed_as_a_number_is_read_as_a_path(tmp_path):
    line = one_line_error(run_cli(tmp_path, "metric=synflow", *FAST, "benchmark=table", "benchmark.path=5", check=False))
    assert "benchmark table not found: 5" in line, line


@pytest.mark.integration
@pytest.mark.parametrize("switch", ["env", "hydra.verbose"])
def test_the_debug_switch_shows_the_traceback(tmp_path, broken_space, monkeypatch, switch):
    extra = []
    if switch == "env":
        monkeypatch.setenv("ZCNAS_DEBUG", "1")
    else:
        extra = ["hydra.verbose=true"]
    proc = run_cli(tmp_path, *broken_space, "+space.options.where=build", *extra, check=False)
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr and 'raise RuntimeError("cannot build")' in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: custom space broken_space.Broken")


@pytest.mark.integration
def test_a_finished_looking_result_without_its_best_is_run_again(tmp_path):
    run_cli(tmp_path, *FAST)
    (path,) = (tmp_path / "outputs").rglob("result.json")
    result = json.loads(path.read_text())
    del result["best"]
    path.write_text(json.dumps(result))
    again = run_cli(tmp_path, *FAST)
    assert "is incomplete (KeyError: 'best')" in again.stdout and "running again" in again.stdout
    assert "best" in json.loads(path.read_text())
    assert len(list(path.parent.glob("result.superseded-*.json"))) == 1


@pytest.mark.integration
@pytest.mark.parametrize("device, expected", [
    ("tpu", "hardware.device must be cpu, cuda or cuda:<n>, got 'tpu'"),
    ("cuda:x", "hardware.device must be cpu, cuda or cuda:<n>"),
])
def test_an_unknown_device_is_one_line(tmp_path, device, expected):
    line = one_line_error(run_cli(tmp_path, *FAST, f"hardware.device={device}", check=False))
    assert expected in line, line


@pytest.mark.integration
def test_slurm_without_a_sweep_is_refused(tmp_path):
    line = one_line_error(run_cli(tmp_path, *FAST, "hardware=slurm", check=False))
    assert "hardware=slurm submits -m sweeps to SLURM; add -m" in line, line
    assert not (tmp_path / "outputs").exists()


@pytest.mark.integration
def test_a_cluster_that_does_not_answer_is_one_line(tmp_path):
    """sbatch is installed but the controller is unreachable (a fake sbatch that fails as the real one does)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sbatch", "srun", "squeue", "sacct", "scancel"):
        (bin_dir / tool).write_text("#!/bin/sh\necho 'sbatch: error: Batch job submission failed: "
                                    "Unable to contact slurm controller (connect failure)' >&2\nexit 1\n")
        (bin_dir / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HYDRA_FULL_ERROR": "0"}
    cmd = [sys.executable, str(ROOT / "run.py"), f"paths.multirun_dir={tmp_path}/m", "-m", "hardware=slurm",
           "seed=0", *FAST]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    # sbatch's own message is not echoed: our line, which quotes it, is the only one
    line = one_line_error(proc)
    assert line.startswith("error: SLURM did not take the sweep's jobs"), line
    assert "Unable to contact slurm controller" in line and "hardware=submitit_local" in line


# --- section: errors that name the right thing ---------------------------------------------------------

@pytest.mark.integration
def test_too_many_threads_is_an_error_on_the_threads(tmp_path):
    line = one_line_error(run_cli(tmp_path, *FAST, "hardware.threads=100000", check=False))
    assert "hardware.threads=100000 is more than 4 per CPU" in line and f"at most {4 * os.cpu_count()}" in line


@pytest.mark.integration
@pytest.mark.parametrize("key", ["shared_data", "root_dir"])
def test_a_missing_data_folder_is_named(tmp_path, key):
    missing = tmp_path / "nonexistent"
    line = one_line_error(run_cli(tmp_path, *FAST, f"paths.{key}={missing}", check=False))
    assert f"paths.{key}={missing} is not a folder" in line, line


@pytest.mark.integration
def test_a_sweep_says_a_failed_job_once(tmp_path, benchmark_csv):
    proc = run_cli(tmp_path, "-m", "metric=val12", "benchmark=table", f"benchmark.path={benchmark_csv}",
                   "hardware.threads=1", "search.n=3,0,4", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    said = [line for line in (proc.stdout + proc.stderr).splitlines() if "search.n must be a positive integer" in line]
    assert len(said) == 1 and said[0].startswith("[zcnas]   FAILED metric=val12,search.n=0: "), said
    assert "2 ok, 0 skipped (already done), 1 failed" in proc.stdout


@pytest.mark.integration
@pytest.mark.parametrize("name, args", [
    ("result.json", FAST),
    ("roster.parquet", ["task=score", "metric=params", "indices=[0,1]", "benchmark=none", "hardware.threads=1"]),
])
def test_a_folder_where_an_output_file_goes_is_named(tmp_path, name, args):
    run_cli(tmp_path, *args)
    (job,) = {p.parent for p in (tmp_path / "outputs").rglob("result.json")}
    (job / name).unlink()
    (job / name).mkdir()
    line = one_line_error(run_cli(tmp_path, *args, "force=true", check=False))
    assert "cannot write" in line and f"{job / name}: a folder" in line and ".tmp" not in line, line


@pytest.mark.integration
def test_a_finished_job_still_checks_its_hardware_settings(tmp_path):
    run_cli(tmp_path, "metric=synflow", *FAST)
    for bad, expected in (("hardware.device=tpu", "hardware.device must be cpu, cuda or cuda:<n>"),
                          ("hardware.threads=0", "hardware.threads")):
        line = one_line_error(run_cli(tmp_path, "metric=synflow", *FAST, bad, check=False))
        assert expected in line, line


# --- section: your own data, and the result files train and export read ------------------------------------

SCORE = ["task=score", "metric=hook_logdet", "indices=[1,2]", "batch_size=4", "benchmark=none", "hardware.threads=1"]


def _npz(path: Path, y, x=None):
    import numpy as np

    x = np.random.default_rng(0).integers(0, 255, (len(y), 8, 8, 3), dtype=np.uint8) if x is None else x
    np.savez(path, x=x, y=np.asarray(y))
    return path


@pytest.mark.integration
@pytest.mark.parametrize("labels, settings, expected", [
    ([0] * 8, [], "has 1 class; classifying needs at least two"),
    ([0, 10**9] * 4, [], "has labels up to 1000000000: labels are class numbers 0..K-1"),
    ([0, 1] * 4, ["dataset.mean=[nan,0.5,0.5]"], "dataset.mean must be three numbers"),
    ([0, 1] * 4, ["dataset.resolution=100000"], "dataset.resolution must be an integer in 1..1024, got 100000"),
])
def test_data_that_cannot_be_classified_is_one_line(tmp_path, labels, settings, expected):
    data = _npz(tmp_path / "d.npz", labels)
    line = one_line_error(run_cli(tmp_path, *SCORE, "dataset=npz", f"dataset.path={data}", *settings, check=False))
    assert expected in line, line


@pytest.fixture
def train_result(tmp_path):
    """A real train job's folder (tiny network, 1 epoch)."""
    import numpy as np

    x = np.random.default_rng(0).integers(0, 255, (16, 8, 8, 3), dtype=np.uint8)
    y = np.array([0, 1] * 8)
    np.savez(tmp_path / "t.npz", x=x, y=y, x_test=x[:4], y_test=y[:4])
    run_cli(tmp_path, "task=train", "arch=3", "dataset=npz", f"dataset.path={tmp_path / 't.npz'}", "train.epochs=1",
            "train.batch_size=8", "C=4", "N=1", "hardware.threads=1")
    (result,) = (tmp_path / "outputs").rglob("result.json")
    return result.parent


@pytest.mark.integration
def test_a_crafted_train_result_is_one_line(tmp_path, train_result):
    """Every field export reads from a train result is checked; an empty weights file is named."""
    good = json.loads((train_result / "result.json").read_text())
    for change, expected in [
        (lambda r: r["network"].update(num_classes="abc"), "its network.num_classes must be an integer >= 2"),
        (lambda r: r["network"].update(resolution=-4), "its network.resolution must be an integer >= 1"),
        (lambda r: r["network"].update(options={"C": -1, "evil": 1}), "are not sizes of space nats_tss"),
        (lambda r: r["network"].update(mean="abc"), "its network.mean must be 3 finite numbers"),
        (lambda r: r.update(config=[1]), "its config is not a mapping"),
        (lambda r: (r.update(task="search", best=[1])), "the search result names no best architecture"),
    ]:
        result = json.loads(json.dumps(good))
        change(result)
        (train_result / "result.json").write_text(json.dumps(result))
        line = one_line_error(run_cli(tmp_path, "task=export", f"from_result={train_result}", "formats=[state_dict]",
                                      "hardware.threads=1", check=False))
        assert expected in line, line
    (train_result / "result.json").write_text(json.dumps(good))
    (train_result / "weights.pt").write_bytes(b"")
    line = one_line_error(run_cli(tmp_path, "task=export", f"from_result={train_result}", "formats=[state_dict]",
                                  "hardware.threads=1", check=False))
    assert "weights.pt: not the weights of this network (EOFError)" in line, line


@pytest.mark.integration
@pytest.mark.parametrize("formats, expected", [
    ("formats=[]", "formats must list the files to write"),
    ("formats=null", "formats must list the files to write"),
    ("formats=[state_dict,state_dict]", "formats lists state_dict more than once"),
])
def test_export_formats_name_what_to_write(tmp_path, formats, expected):
    line = one_line_error(run_cli(tmp_path, "task=export", "arch=3", "C=4", "N=1", formats, "hardware.threads=1",
                                  check=False))
    assert expected in line, line
