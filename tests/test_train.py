"""task=train: the recipes, determinism, a killed run resumed to the very same weights, and its files."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from tests.cli import ROOT, one_line_error, run_cli
from zcnas.config import CONFIG_DIR
from zcnas.errors import ConfigError
from zcnas.io import read_json
from zcnas.training.loop import augment, epoch_generator
from zcnas.training.recipe import make_recipe

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"


def tiny_npz(tmp_path: Path, n: int = 60) -> Path:
    """CIFAR-shaped images (32x32x3, labels 0..9), learnable: each class a brightness."""
    rng = np.random.default_rng(0)
    y = np.arange(n) % 10
    x = rng.integers(0, 100, (n, 32, 32, 3)).astype(np.uint8) + (y * 15).astype(np.uint8)[:, None, None, None]
    path = tmp_path / "tiny.npz"
    np.savez(path, x=x, y=y)
    return path


def train_args(data: Path, *extra: str) -> list[str]:
    return ["task=train", f"arch='{ARCH}'", "C=4", "N=1", "train.epochs=3", "train.batch_size=16",
            f"dataset.data_path={data}", "hardware.threads=1", *extra]


def job_dir(tmp_path: Path, task: str = "train") -> Path:
    (folder,) = (tmp_path / "outputs" / task).iterdir()
    return folder


def test_nats_bench_recipe_is_the_cited_schedule():
    text = (CONFIG_DIR / "train" / "nats_bench.yaml").read_text()
    assert "200E.config" in text and "6effb6f127d9dfd6f7d3f0766c7cbf65ae246393" in text
    recipe = make_recipe(OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "train" / "nats_bench.yaml")))
    assert (recipe.epochs, recipe.batch_size, recipe.lr, recipe.momentum, recipe.nesterov, recipe.weight_decay,
            recipe.eta_min, recipe.flip) == (200, 256, 0.1, 0.9, True, 5e-4, 0.0, True)
    assert recipe.padding(32) == 4 and recipe.padding(16) == 2
    assert recipe.lr_at(0) == 0.1 and math.isclose(recipe.lr_at(100), 0.05)
    assert 0 < recipe.lr_at(199) < 1e-4  # cosine towards 0, constant within an epoch
    quick = make_recipe(OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "train" / "quick.yaml")))
    assert quick.epochs < 10 and quick.name == "quick"


@pytest.mark.parametrize("values, message", [
    ({"epochs": 0}, "train.epochs must be an integer >= 1"),
    ({"lr": -1}, "train.lr must be a number >= 0"),
    ({"nesterov": "yes"}, "train.nesterov must be true or false"),
    ({"momentum": 0.0}, "nesterov=true needs train.momentum > 0"),
    ({"warmup": 5}, "unknown training setting(s) train.warmup"),
])
def test_bad_recipes_are_one_line_errors(values, message):
    with pytest.raises(ConfigError) as info:
        make_recipe(values)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_augmentation_is_a_function_of_seed_and_epoch():
    images = torch.arange(4 * 8 * 8 * 3, dtype=torch.int64).remainder(251).to(torch.uint8).reshape(4, 8, 8, 3)
    a = augment(images, 1, True, epoch_generator(0, 3))
    assert torch.equal(a, augment(images, 1, True, epoch_generator(0, 3)))
    assert not torch.equal(a, augment(images, 1, True, epoch_generator(0, 4)))
    assert a.shape == images.shape and a.dtype == torch.uint8
    assert torch.equal(augment(images, 0, False, epoch_generator(0, 3)), images)


def test_train_job_writes_its_files_and_is_not_rerun(tmp_path):
    data = tiny_npz(tmp_path)
    proc = run_cli(tmp_path, *train_args(data))
    assert "test accuracy after 3 epochs" in proc.stdout
    folder = job_dir(tmp_path)
    result = read_json(folder / "result.json")
    assert result["status"] == "ok" and result["task"] == "train"
    assert result["network"]["arch"] == ARCH and result["network"]["options"] == {"C": 4, "N": 1}
    weights = torch.load(folder / "weights.pt", weights_only=True)
    assert result["parameters"] == sum(t.numel() for k, t in weights.items()
                                       if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    assert 1 <= result["best_epoch"] <= 3 and 0 <= result["test_accuracy"] <= 100
    assert result["training_seconds"] > 0 and result["wall_seconds"] > 0
    assert result["dataset"]["train_images"] == 54 and result["dataset"]["test_images"] == 6
    lines = (folder / "history.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,lr,train_loss") and len(lines) == 4
    assert float(lines[-1].split(",")[5]) == result["test_accuracy"]
    assert (folder / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    again = run_cli(tmp_path, *train_args(data))
    assert "job already done, skipping" in again.stdout


def test_a_killed_run_resumes_to_the_same_weights(tmp_path):
    data = tiny_npz(tmp_path, n=240)  # slow enough (a fraction of a second per epoch) to be killed mid-run
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run_cli(whole, *train_args(data))
    cmd = [sys.executable, str(ROOT / "run.py"), f"paths.output_dir={killed}/outputs", "progress=false",
           *train_args(data)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    outputs = killed / "outputs" / "train"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if any(outputs.glob("*/checkpoint.pt")):
                break
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    folder = job_dir(killed)
    state = torch.load(folder / "checkpoint.pt", weights_only=True)
    assert 1 <= state["epoch"] < 3 and not (folder / "result.json").exists(), "the run was not killed mid-way"
    resumed = run_cli(killed, *train_args(data))
    assert f"after epoch {state['epoch']}/3" in resumed.stdout
    a = torch.load(job_dir(whole) / "weights.pt", weights_only=True)
    b = torch.load(folder / "weights.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ra, rb = read_json(job_dir(whole) / "result.json"), read_json(folder / "result.json")
    assert rb["resumed_from_epoch"] == state["epoch"]
    for key in ("test_accuracy", "test_loss", "train_loss", "best_epoch"):
        assert ra[key] == rb[key], key


def test_a_checkpoint_of_another_run_is_set_aside(tmp_path):
    data = tiny_npz(tmp_path)
    run_cli(tmp_path, *train_args(data))
    folder = job_dir(tmp_path)
    (folder / "result.json").unlink()
    state = torch.load(folder / "checkpoint.pt", weights_only=True)
    state["identity"]["seed"] = 99
    torch.save(state, folder / "checkpoint.pt")
    proc = run_cli(tmp_path, *train_args(data))
    assert "is not a checkpoint of this run" in proc.stdout and "starting over" in proc.stdout
    assert list(folder.glob("checkpoint.superseded-*.pt"))


@pytest.mark.parametrize("args, message", [
    (["task=train", "C=4"], "name the network with arch="),
    (["task=train", "arch=nonsense"], "nonsense"),
    (["task=train", "from_result=/no/such/result.json"], "from_result=/no/such/result.json: no such result.json"),
    (["task=train", "arch=5", "C=0"], "C must be an integer >= 1"),
    (["task=train", "arch=5", "train.epochs=0"], "train.epochs must be an integer >= 1"),
    (["task=train", "arch=5", "train=nope"], "nope"),
])
def test_bad_input_is_one_line(tmp_path, args, message):
    proc = run_cli(tmp_path, *args, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], proc.stderr


def test_train_from_a_search_result(tmp_path):
    data = tiny_npz(tmp_path)
    run_cli(tmp_path, "task=search", "metric=synflow", "search=random", "search.n=5")
    search = read_json(job_dir(tmp_path, "search") / "result.json")
    proc = run_cli(tmp_path, "task=train", f"from_result={job_dir(tmp_path, 'search') / 'result.json'}", "C=4", "N=1",
                   "train.epochs=1", f"dataset.data_path={data}", "hardware.threads=1")
    assert search["best"]["arch"] in proc.stdout
    result = read_json(job_dir(tmp_path) / "result.json")
    assert result["network"]["arch"] == search["best"]["arch"] and result["epochs"] == 1


def test_a_finished_job_that_lost_its_weights_writes_them_again(tmp_path):
    data = tiny_npz(tmp_path)
    run_cli(tmp_path, *train_args(data))
    folder = job_dir(tmp_path)
    before = torch.load(folder / "weights.pt", weights_only=True)
    (folder / "weights.pt").unlink()
    proc = run_cli(tmp_path, *train_args(data))
    assert "has lost its trained weights" in proc.stdout and "after epoch 3/3" in proc.stdout
    after = torch.load(folder / "weights.pt", weights_only=True)
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("task", ["train", "export"])
def test_a_result_file_never_names_code_to_import(tmp_path, task):
    """from_result= of a crafted result.json whose space is a class path: nothing is imported."""
    import json
    import os

    marker = tmp_path / "imported"
    (tmp_path / "evil_space.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\nclass Space: pass\n")
    result = {"status": "ok", "task": "search", "best": {"arch": "1-2-3"},
              "config": {"space": {"name": "custom", "target": "evil_space.Space"}}}
    (tmp_path / "result.json").write_text(json.dumps(result))
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), f"paths.output_dir={tmp_path}/outputs",
                           f"task={task}", f"from_result={tmp_path / 'result.json'}", "progress=false"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 2, proc.stderr
    assert not marker.exists()
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "user's space ('evil_space.Space')" in lines[0] and "space._target_" in lines[0]


def test_a_train_job_whose_from_result_changed_runs_again(tmp_path):
    data = tiny_npz(tmp_path)
    source = tmp_path / "found.json"
    train = ["task=train", f"from_result={source}", "C=4", "N=1", "train.epochs=1", f"dataset.data_path={data}",
             "hardware.threads=1"]
    found = []
    for seed in (0, 3):  # two searches that find different cells
        run_cli(tmp_path, "task=search", "metric=synflow", "search=random", "search.n=5", f"seed={seed}")
        [path] = [p for p in (tmp_path / "outputs" / "search").glob("*/result.json")
                  if (f"seed={seed}," in p.parent.name) == bool(seed)]
        found.append(read_json(path)["best"]["arch"])
        source.write_bytes(path.read_bytes())
        proc = run_cli(tmp_path, *train)
        assert read_json(job_dir(tmp_path) / "result.json")["network"]["arch"] == found[-1]
    assert found[0] != found[1]
    assert "running again" in proc.stdout and "from_result_fingerprint" in proc.stdout
    # the fingerprint is computed, never typed
    refused = run_cli(tmp_path, *train, "from_result_fingerprint=abc", check=False)
    assert "from_result_fingerprint is computed" in one_line_error(refused)
