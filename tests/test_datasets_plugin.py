"""Datasets are plug-ins: the user's own images (a folder, an .npz, torchvision) behind the same
interface as the benchmark datasets, with their facts from the data, their identity in the job's,
and never a benchmark's accuracy."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
from PIL import Image

from cli import run_cli
from zcnas.data import fingerprint as fingerprint_module
from zcnas.data.dataset import dataset_identity, dataset_settings, load_dataset
from zcnas.errors import ConfigError, DataError

SIZE = 48


def write_folder(root, classes=5, train=6, test=2, size=(SIZE, SIZE), seed=0):
    """``root/train/<class>/*.png`` and ``root/test/<class>/*.png``: each class its own tint, one image grayscale."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", train), ("test", test)):
        for c in range(classes):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
                image[..., c % 3] //= 2
                Image.fromarray(image).save(folder / f"{i}.png")
    gray = rng.integers(0, 256, size, dtype=np.uint8)
    Image.fromarray(gray, mode="L").save(root / "train" / "class0" / "gray.png")
    return root


def folder_cfg(root, **settings):
    """``dataset=folder dataset.name=mine dataset.path=<root>`` and ``settings``, as a dict."""
    return dataset_settings("folder", **{"name": "mine", "path": str(root), **settings})


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """The facts cache under tmp_path, for this process and the CLI it starts."""
    monkeypatch.setenv("ZCNAS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def one_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def result_of(tmp_path) -> dict:
    (path,) = (tmp_path / "outputs").rglob("result.json")
    return json.loads(path.read_text())


FAST = ("metric=hook_logdet", "search=random", "search.n=3", "hardware.threads=1")


# --- through the CLI ------------------------------------------------------------------------


@pytest.mark.integration
def test_a_search_on_an_image_folder_runs_with_the_datas_facts_and_no_accuracy(tmp_path, cache):
    root = write_folder(tmp_path / "imgs")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    proc = run_cli(tmp_path, "dataset=folder", f"dataset.path={root}", "batch_size=20", *FAST)
    result = result_of(tmp_path)
    data = result["data"]
    assert data["benchmark"] is None and data["kind"] == "folder"
    assert (data["num_classes"], data["image_size"], data["counts"]) == (5, [SIZE, SIZE], {"train": 31, "test": 10})
    assert data["class_names"] == [f"class{c}" for c in range(5)]
    assert "test_accuracy" not in result["best"] and "rank" not in result["best"]
    assert "test accuracy: none (your own data" in proc.stdout
    # the fingerprint of the data is in the job's resolved config, so part of its identity
    assert result["config"]["dataset"]["fingerprint"] == data["fingerprint"] not in ("none", "missing")
    assert len(list((cache / "datasets").glob("*.json"))) == 1  # the facts, cached outside the data
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # nothing written beside the data

    again = run_cli(tmp_path, "dataset=folder", f"dataset.path={root}", "batch_size=20", *FAST)
    assert "job already done" in again.stdout
    Image.fromarray(np.zeros((SIZE, SIZE, 3), np.uint8)).save(root / "train" / "class1" / "new.png")
    changed = run_cli(tmp_path, "dataset=folder", f"dataset.path={root}", "batch_size=20", *FAST)
    assert "dataset.fingerprint differs" in changed.stdout, changed.stdout
    assert result_of(tmp_path)["data"]["counts"]["train"] == 32


@pytest.mark.integration
def test_a_search_on_an_npz_of_grayscale_images_resized(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (40, 40, 40), dtype=np.uint8)  # N×H×W: grayscale
    np.savez(tmp_path / "mine.npz", x=x, y=np.arange(40) % 4)
    run_cli(tmp_path, "dataset=npz", f"dataset.path={tmp_path}/mine.npz", "dataset.name=gray",
            "dataset.resolution=24", "dataset.val_fraction=0.3", "batch_size=16", *FAST)
    result = result_of(tmp_path)
    assert result["dataset"] == "gray" and "test_accuracy" not in result["best"]
    data = result["data"]
    assert (data["num_classes"], data["image_size"], data["counts"]) == (4, [24, 24], {"train": 28, "test": 12})
    assert data["mean"][0] == data["mean"][1] == data["mean"][2]  # gray in three equal channels


@pytest.mark.integration
@pytest.mark.parametrize("shape, labels, expected", [
    ((200, 32, 32, 3), np.arange(200) % 5, "labels cover only 5 of the 10 cifar10 classes"),
    ((20, 48, 48, 3), np.arange(20) % 10, "images are 48×48×3 but cifar10 images are 32×32×3"),
])
def test_a_file_that_contradicts_cifar10_is_refused_in_one_line(tmp_path, shape, labels, expected):
    x = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    np.savez(tmp_path / "fake.npz", x=x, y=labels)
    proc = run_cli(tmp_path, "dataset=cifar10", f"dataset.data_path={tmp_path}/fake.npz", "batch_size=8", *FAST,
                   check=False)
    line = one_line(proc)
    assert expected in line and "dataset=npz" in line, line


@pytest.mark.integration
def test_too_few_images_for_the_batch_says_how_many_are_needed(tmp_path):
    root = write_folder(tmp_path / "imgs", classes=2, train=3, test=1)
    line = one_line(run_cli(tmp_path, "dataset=folder", f"dataset.path={root}", *FAST, check=False))
    assert "batch_size=128 needs 128 distinct images but folder" in line and "has 7 in its train split" in line
    assert "batch_size=7 or less" in line


# --- the interface --------------------------------------------------------------------------


def test_the_folder_dataset_reads_every_split_with_facts_from_the_data(tmp_path):
    root = write_folder(tmp_path / "imgs")
    data = load_dataset(folder_cfg(root))
    x, y = data.train_arrays()
    assert x.dtype == np.uint8 and x.shape == (31, SIZE, SIZE, 3) and y.dtype == np.int64
    gray = x[y == 0][-1]  # gray.png sorts after 0.png ... 5.png in class0
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 1], gray[..., 2])
    assert data.test_arrays()[0].shape == (10, SIZE, SIZE, 3)
    assert (data.num_classes, data.image_size, data.benchmark) == (5, (SIZE, SIZE), None)
    pixels = x.reshape(-1, 3) / 255
    assert np.allclose(data.mean, pixels.mean(0)) and np.allclose(data.std, pixels.std(0))


def test_the_scoring_batch_is_class_balanced_distinct_and_seeded(tmp_path):
    root = write_folder(tmp_path / "imgs", classes=3, train=10)
    data = load_dataset(folder_cfg(root))
    batch, labels = data.scoring_batch(batch_size=12, seed=0)
    assert batch.shape == (12, 3, SIZE, SIZE)
    assert np.bincount(labels.numpy()).tolist() == [4, 4, 4]
    assert len({image.numpy().tobytes() for image in batch}) == 12
    again, _ = data.scoring_batch(batch_size=12, seed=0)
    other, _ = data.scoring_batch(batch_size=12, seed=1)
    assert np.array_equal(batch.numpy(), again.numpy()) and not np.array_equal(batch.numpy(), other.numpy())
    # a small class gives what it has and the others fill the batch, never repeating an image
    small = write_folder(tmp_path / "small", classes=3, train=10)
    for image in sorted((small / "train" / "class2").iterdir())[2:]:
        image.unlink()
    _, labels = load_dataset(folder_cfg(small)).scoring_batch(batch_size=12, seed=0)
    assert np.bincount(labels.numpy()).tolist() == [5, 5, 2]


def test_the_facts_are_computed_once_and_given_facts_win(tmp_path, cache, monkeypatch):
    root = write_folder(tmp_path / "imgs", classes=2, train=3, test=1)
    first = load_dataset(folder_cfg(root))
    assert first.num_classes == 2
    from zcnas.data.user import UserDataset

    def no_recompute(self):
        raise AssertionError("computed again")

    monkeypatch.setattr(UserDataset, "_compute", no_recompute)
    cached = load_dataset(folder_cfg(root, name="other"))  # another object, the same data: from the cache
    assert cached.mean == first.mean and cached.image_size == first.image_size
    given = load_dataset(folder_cfg(root, name="given", num_classes=10, mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25]))
    assert (given.num_classes, given.mean, given.std) == (10, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    with pytest.raises(ConfigError, match=r"dataset.num_classes=1 but mine has labels up to 1 \(2 classes\)"):
        load_dataset(folder_cfg(root, num_classes=1)).num_classes


def test_images_of_several_sizes_need_a_resolution(tmp_path):
    root = write_folder(tmp_path / "imgs", classes=2, train=3, test=0)
    Image.fromarray(np.zeros((30, 20, 3), np.uint8)).save(root / "train" / "class1" / "odd.png")
    with pytest.raises(DataError, match=r"differ in size .* pass dataset.resolution=<pixels>"):
        load_dataset(folder_cfg(root)).mean
    data = load_dataset(folder_cfg(root, resolution=32))
    assert data.train_arrays()[0].shape == (8, 32, 32, 3) and data.input_size == 32


def test_one_folder_of_classes_is_split_by_val_fraction(tmp_path):
    root = write_folder(tmp_path / "imgs", classes=3, train=10, test=0)
    flat = tmp_path / "flat"
    (root / "train").rename(flat)
    data = load_dataset(folder_cfg(flat, val_fraction=0.2))
    (_, train), (_, test) = data.train_arrays(), data.test_arrays()
    assert np.bincount(test).tolist() == [2, 2, 2] and len(train) == 25
    with pytest.raises(DataError, match="no test split: add <path>/test/<class>/<image>, or pass dataset.val_fraction"):
        load_dataset(folder_cfg(flat)).test_arrays()


@pytest.mark.parametrize("settings, message", [
    ({"name": "cifar10"}, "dataset.name=cifar10 is a benchmark dataset's name"),
    ({"path": None}, "dataset=folder needs dataset.path=<folder of images>"),
    ({"data_path": "/x"}, "dataset=folder reads dataset.path, not dataset.data_path"),
    ({"val_fraction": 1.5}, "dataset.val_fraction must be a number between 0 and 1"),
    ({"mean": [0.5, 0.5]}, "dataset.mean must be three numbers"),
    ({"fingerprint": "abc"}, "dataset.fingerprint is computed from the data"),
])
def test_bad_settings_of_ones_own_data_are_one_line(tmp_path, settings, message):
    root = write_folder(tmp_path / "imgs", classes=2, train=2, test=0)
    with pytest.raises(ConfigError, match=message) as info:
        load_dataset(folder_cfg(root, **settings))
    assert "\n" not in str(info.value)


def test_missing_or_broken_data_is_one_line(tmp_path):
    with pytest.raises(DataError, match=r"image folder .*nowhere not found; pass dataset.path="):
        load_dataset(folder_cfg(tmp_path / "nowhere"))
    root = write_folder(tmp_path / "imgs", classes=2, train=2, test=0)
    (root / "train" / "class1" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"cannot read image .*broken.png .*replace or remove it"):
        load_dataset(folder_cfg(root)).mean
    with pytest.raises(DataError, match="is not an .npz file"):
        load_dataset("npz", name="n", path=str(root))


def test_a_benchmark_datasets_identity_reads_no_images(tmp_path):
    cfg = {"dataset": dataset_settings("cifar10", data_path=str(tmp_path / "absent.npz"))}
    assert dataset_identity(cfg) == {"name": "cifar10", "kind": "benchmark", "path": str(tmp_path / "absent.npz"),
                                     "fingerprint": "missing", "benchmark": "cifar10"}
    root = write_folder(tmp_path / "imgs", classes=2, train=2, test=0)
    mine = dataset_identity({"dataset": folder_cfg(root)})
    assert mine["benchmark"] is None and mine["num_classes"] == 2 and mine["fingerprint"] not in ("none", "missing")


def test_the_fingerprint_follows_the_data(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros((2, 4, 4, 3), np.uint8), y=np.arange(2))
    first = fingerprint_module.fingerprint(tmp_path / "a.npz")
    fingerprint_module._SEEN.clear()  # a new process
    assert fingerprint_module.fingerprint(tmp_path / "a.npz") == first
    np.savez(tmp_path / "a.npz", x=np.ones((2, 4, 4, 3), np.uint8), y=np.arange(2))
    fingerprint_module._SEEN.clear()
    assert fingerprint_module.fingerprint(tmp_path / "a.npz") != first
    assert fingerprint_module.fingerprint(None) == "none"
    assert fingerprint_module.fingerprint(tmp_path / "nothing") == "missing"


def test_the_options_resolve_the_fingerprint(compose_cfg, tmp_path):
    root = write_folder(tmp_path / "imgs", classes=2, train=2, test=0)
    ds = compose_cfg("dataset=folder", f"dataset.path={root}").dataset
    assert ds._target_ == "zcnas.data.user.FolderDataset" and ds.fingerprint == fingerprint_module.fingerprint(root)
    assert load_dataset(ds).num_classes == 2 and load_dataset(ds).kind == "folder"


def test_torchvision_is_optional_and_read_by_class_name(tmp_path, monkeypatch):
    cfg = dataset_settings("torchvision", name="Fake", path=str(tmp_path))
    monkeypatch.setitem(sys.modules, "torchvision", None)  # not installed
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    with pytest.raises(ConfigError, match="dataset=torchvision needs the torchvision package"):
        load_dataset(cfg).num_classes

    class Fake:  # torchvision's interface: (root, train=, download=), items (PIL image, label)
        classes = ["a", "b", "c"]

        def __init__(self, root, train=True, download=False):
            n = 9 if train else 3
            self.items = [(Image.fromarray(np.full((28, 28), 10 * i, np.uint8), mode="L"), i % 3) for i in range(n)]

        def __iter__(self):
            return iter(self.items)

    fake = types.ModuleType("torchvision.datasets")
    fake.Fake = Fake
    monkeypatch.setitem(sys.modules, "torchvision", types.ModuleType("torchvision"))
    monkeypatch.setitem(sys.modules, "torchvision.datasets", fake)
    data = load_dataset({**cfg, "name": "Fake", "resolution": 16})
    x, y = data.train_arrays()
    assert x.shape == (9, 16, 16, 3) and y.tolist() == [0, 1, 2] * 3 and data.class_names == ("a", "b", "c")
    assert data.test_arrays()[0].shape == (3, 16, 16, 3) and data.benchmark is None


def test_val12_on_your_own_data_says_why_there_is_no_accuracy(tmp_path):
    from tests.cli import one_line_error, run_cli

    x = np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    np.savez(tmp_path / "mine.npz", x=x, y=np.array([0, 1, 0, 1, 0, 1]))
    proc = run_cli(tmp_path, "metric=val12", "dataset=npz", f"dataset.path={tmp_path / 'mine.npz'}", "search.n=3",
                   check=False)
    line = one_line_error(proc)
    assert "unknown dataset 'npz' for the benchmark" in line and "zero-cost metric" in line


def test_a_missing_npz_names_the_key_that_points_at_it(tmp_path):
    from tests.cli import one_line_error, run_cli

    proc = run_cli(tmp_path, "metric=hook_logdet", "dataset=npz", f"dataset.path={tmp_path / 'none.npz'}",
                   "search.n=3", check=False)
    assert "pass dataset.path=" in one_line_error(proc)
