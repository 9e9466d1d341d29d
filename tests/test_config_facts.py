"""Each config fact has one home.

A dataset's classes, image size and normalization live in ``zcnas.data.datasets`` only; the
dataset group (``conf/dataset/*.yaml``, typed by ``zcnas.schema.DatasetConfig``) says which data
and where it is.  A config that tries to set a fact is refused in one line.  The top-level keys
every task shares are checked in one place, ``zcnas.schema.check_settings``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra.errors import ConfigCompositionException

from cli import run_cli
from zcnas.build import build_context
from zcnas.config import CONFIG_DIR, group_options
from zcnas.data import DATASETS, get_spec
from zcnas.errors import ConfigError
from zcnas.schema import SETTINGS, check_settings


def test_the_dataset_options_are_the_specs_and_hold_no_facts(compose_cfg):
    # the benchmark datasets, and the kinds of the user's own data
    assert group_options("dataset") == sorted((*DATASETS, "folder", "npz", "torchvision", "custom"))
    for name in DATASETS:
        ds = compose_cfg(f"dataset={name}").dataset
        assert ds.name == get_spec(name).name == name and ds._target_ == "zcnas.data.benchmark.BenchmarkDataset"
        assert tuple(ds) == SETTINGS  # the user-data settings are null: a benchmark's facts are fixed
        assert all(ds[key] is None for key in ("num_classes", "mean", "std", "resolution"))
        assert "num_classes" not in (CONFIG_DIR / "dataset" / f"{name}.yaml").read_text()


@pytest.mark.parametrize("name", DATASETS)
def test_the_scoring_context_and_its_batch_use_the_specs_facts(compose_cfg, tmp_path, name):
    spec = get_spec(name)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (8, spec.input_size, spec.input_size, 3), dtype=np.uint8)
    y = rng.integers(0, spec.num_classes, 8)
    np.savez(tmp_path / "sample.npz", x=x, y=y)
    cfg = compose_cfg(f"dataset={name}", f"dataset.data_path={tmp_path}/sample.npz", "batch_size=4")

    context = build_context(cfg, None, "cpu")
    assert (context.dataset, context.num_classes, context.input_size) == (name, spec.num_classes, spec.input_size)

    batch, labels = context.batch_loader()
    images = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255
    mean, std = torch.tensor(spec.mean).view(1, 3, 1, 1), torch.tensor(spec.std).view(1, 3, 1, 1)
    normalized = (images - mean) / std  # every image, normalized with the spec's mean and std
    for image, label in zip(batch, labels):
        match = [i for i in range(len(x)) if torch.allclose(normalized[i], image, atol=1e-6)]
        assert len(match) == 1 and y[match[0]] == label


def test_a_dataset_fact_cannot_be_set(compose_cfg):
    # a setting of the user's own data, fixed for a benchmark dataset: refused where it would be ignored
    cfg = compose_cfg("dataset.num_classes=7")
    with pytest.raises(ConfigError, match=r"^dataset.num_classes cannot be set for cifar10: .* normalization are fixed") as info:
        build_context(cfg, None, "cpu")
    assert "\n" not in str(info.value)
    cfg = compose_cfg("+dataset.classes=7")  # `+` adds a key past the schema
    with pytest.raises(ConfigError, match=r"^dataset.classes cannot be set: the settings of dataset are name, data_path"):
        build_context(cfg, None, "cpu")


def test_dataset_settings_are_typed_when_composed(compose_cfg):
    assert compose_cfg("dataset.download=no").dataset.download is False  # a YAML bool, not the string "no"
    assert compose_cfg("dataset.download=true").dataset.download is True
    with pytest.raises(ConfigCompositionException, match="dataset.download=maybe"):
        compose_cfg("dataset.download=maybe")


@pytest.mark.parametrize("override, message", [
    ("seed=abc", "seed must be an integer >= 0, got 'abc'"),
    ("seed=-1", "seed must be an integer >= 0, got -1"),
    ("batch_size=0", "batch_size must be an integer >= 1, got 0"),
    ("batch_size=true", "batch_size must be an integer >= 1, got True"),
    ("force=no", "force must be true or false, got 'no'"),
    ("progress=1", "progress must be true or false, got 1"),
])
def test_shared_settings_are_checked_in_one_place(compose_cfg, override, message):
    check_settings(compose_cfg())  # the defaults pass
    with pytest.raises(ConfigError) as info:
        check_settings(compose_cfg(override))
    assert str(info.value) == message


@pytest.mark.integration
@pytest.mark.parametrize("override, message", [
    ("dataset.classes=7", "error: unknown setting dataset.classes (valid keys of dataset: "
                          "_target_, batch_seed, data_path, download, fingerprint, mean, name, num_classes, path, resolution,"),
    ("dataset.mean=[0,0,0]", "error: dataset.mean cannot be set for cifar10: a benchmark dataset's classes, "
                             "image size and normalization are fixed"),
])
def test_setting_a_dataset_fact_on_the_command_line_is_one_line(tmp_path, override, message):
    proc = run_cli(tmp_path, "benchmark=none", "search.n=3", "hardware.threads=1", override, check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(message), lines[0]
