"""Tests of zcnas.data: the shared samples, batches, and the native dataset formats.

The native formats (CIFAR python batches, ImageNet16 batches) and the CIFAR
download are tested on tiny fake files in the official layout, served from
a ``file://`` URL or a local HTTP server: the real files are large and the
machines have no internet.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import pickle
import tarfile
import threading
import warnings

import numpy as np
import pytest
import torch
from shared_data import shared_data_dir

from zcnas.data import (
    CIFAR_FILES,
    DATASETS,
    DuplicateImagesWarning,
    download_cifar,
    get_spec,
    load_batch,
    load_images,
    make_batch,
    read_cifar,
    read_imagenet16,
    read_npz,
)
from zcnas.data import readers
from zcnas.errors import ConfigError, DataError

SAMPLES = {
    "cifar10": ("cifar10_sample.npz", 249),
    "cifar100": ("cifar100_sample.npz", 202),
    "ImageNet16-120": ("imagenet16_120_sample.npz", 820),
}


def random_images(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def write_batch(path, data, labels, label_key):
    # The official files are Python pickles; the tests write fakes the same way.
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": b"fake", b"data": data, label_key.encode(): list(labels)}, f, protocol=2)


def fake_cifar(parent, name="cifar10", n=4):
    """A tiny complete ``cifar-10-batches-py`` (or ``cifar-100-python``) under ``parent``."""
    files = CIFAR_FILES[name]
    folder = parent / files.folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    written = {}
    for fname in files.train + files.test:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, get_spec(name).num_classes, n)
        write_batch(folder / fname, data, labels, files.label_key)
        written[fname] = (data, labels)
    return folder, written


def md5_of(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def fake_cifar_tarball(tmp_path, name="cifar10"):
    """The fake CIFAR packed like the official tarball, in ``tmp_path/served``."""
    folder, written = fake_cifar(tmp_path / "build", name)
    served = tmp_path / "served"
    served.mkdir(exist_ok=True)  # the local_server fixture may have made it
    archive = served / CIFAR_FILES[name].archive
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive, written


# --- specs -------------------------------------------------------------------


def test_specs():
    assert DATASETS == ("cifar10", "cifar100", "ImageNet16-120")
    c10 = get_spec("cifar10")
    assert (c10.num_classes, c10.input_size) == (10, 32)
    assert c10.mean == pytest.approx((125.3 / 255, 123.0 / 255, 113.9 / 255))
    assert c10.std == pytest.approx((63.0 / 255, 62.1 / 255, 66.7 / 255))
    assert get_spec("cifar100").num_classes == 100
    inet = get_spec("ImageNet16-120")
    assert (inet.num_classes, inet.input_size) == (120, 16)
    assert inet.mean == pytest.approx((122.68 / 255, 116.66 / 255, 104.01 / 255))
    with pytest.raises(dataclasses.FrozenInstanceError):
        c10.num_classes = 5


def test_bad_name():
    with pytest.raises(ConfigError, match="cifar10, cifar100, ImageNet16-120"):
        get_spec("mnist")
    with pytest.raises(ConfigError, match="valid"):
        load_batch("svhn", "whatever.npz")


# --- the shared samples ----------------------------------------------------------


@pytest.mark.parametrize("name", DATASETS)
def test_shared_samples(name):
    fname, count = SAMPLES[name]
    path = shared_data_dir() / "samples" / fname
    spec = get_spec(name)
    x, y = load_images(name, path)
    assert x.shape == (count, spec.input_size, spec.input_size, 3) and x.dtype == np.uint8
    assert y.shape == (count,) and y.dtype == np.int64
    assert 0 <= y.min() and y.max() < spec.num_classes

    batch, labels = load_batch(name, path, batch_size=128, seed=0)
    assert batch.shape == (128, 3, spec.input_size, spec.input_size) and batch.dtype == torch.float32
    assert labels.shape == (128,) and labels.dtype == torch.int64
    assert len({image.numpy().tobytes() for image in batch}) == 128
    # Normalized with the dataset's own statistics: channels centred, unit spread.
    assert batch.mean(dim=(0, 2, 3)).abs().max() < 0.3
    assert ((batch.std(dim=(0, 2, 3)) - 1).abs() < 0.3).all()


def test_shared_sample_split_is_ignored():
    path = shared_data_dir() / "samples" / SAMPLES["cifar10"][0]
    train, _ = load_images("cifar10", path, split="train")
    test, _ = load_images("cifar10", path, split="test")
    assert np.array_equal(train, test)


def test_sample_of_wrong_dataset():
    path = shared_data_dir() / "samples" / SAMPLES["cifar10"][0]
    with pytest.raises(DataError, match="16×16×3"):
        load_images("ImageNet16-120", path)


# --- make_batch ------------------------------------------------------------------


def test_batch_is_deterministic():
    x, y = random_images(50), np.arange(50) % 10
    spec = get_spec("cifar10")
    a, la = make_batch(x, y, spec, batch_size=16, seed=3)
    b, lb = make_batch(x, y, spec, batch_size=16, seed=3)
    c, _ = make_batch(x, y, spec, batch_size=16, seed=4)
    assert torch.equal(a, b) and torch.equal(la, lb)
    assert not torch.equal(a, c)


def test_batch_images_are_distinct_and_normalized():
    # Image i is filled with value i, so the batch reveals which images it took.
    n = 40
    x = np.repeat(np.arange(n, dtype=np.uint8), 16 * 16 * 3).reshape(n, 16, 16, 3)
    spec = get_spec("ImageNet16-120")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # distinct images: no warning
        batch, labels = make_batch(x, np.arange(n), spec, batch_size=n, seed=0)
    mean, std = torch.tensor(spec.mean), torch.tensor(spec.std)
    values = batch[:, :, 0, 0] * std + mean  # back to the 0-1 scale
    taken = torch.round(values[:, 0] * 255).long()
    assert sorted(taken.tolist()) == list(range(n))
    assert torch.equal(taken, labels)
    assert torch.allclose(values, (taken.float() / 255)[:, None].expand(-1, 3), atol=1e-5)


def test_duplicate_images_warn():
    x = random_images(6)
    x[3] = x[1]  # byte-identical copy
    with pytest.warns(DuplicateImagesWarning, match="singular"):
        make_batch(x, np.zeros(6, dtype=np.int64), get_spec("cifar10"), batch_size=6)
    assert issubclass(DuplicateImagesWarning, UserWarning)


def test_batch_size_errors():
    x, y, spec = random_images(10), np.zeros(10, dtype=np.int64), get_spec("cifar10")
    # batch_size is a top-level key: the message names it as the user sets it (not dataset.batch_size)
    with pytest.raises(ConfigError, match=r"larger than the 10 images available; lower batch_size or"):
        make_batch(x, y, spec, batch_size=11)
    for bad in (0, -3):
        with pytest.raises(ConfigError, match="positive"):
            make_batch(x, y, spec, batch_size=bad)


def test_bad_split(tmp_path):
    with pytest.raises(ConfigError, match="train, test"):
        load_images("cifar10", tmp_path, split="validation")


# --- .npz --------------------------------------------------------------------


def test_npz_round_trip(tmp_path):
    path = tmp_path / "s.npz"
    x, y = random_images(5), np.arange(5, dtype=np.int32)
    np.savez(path, x=x, y=y)
    got_x, got_y = read_npz(path)
    assert np.array_equal(got_x, x) and np.array_equal(got_y, y) and got_y.dtype == np.int64


def test_corrupt_npz(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, x=random_images(20), y=np.zeros(20, dtype=np.int64))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataError, match=str(bad)) as info:
        load_images("cifar10", bad)
    assert "\n" not in str(info.value)


def test_npz_missing_or_malformed(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_images("cifar10", tmp_path / "absent.npz")
    no_y = tmp_path / "no_y.npz"
    np.savez(no_y, x=random_images(2))
    with pytest.raises(DataError, match="lacks array"):
        read_npz(no_y)
    floats = tmp_path / "floats.npz"
    np.savez(floats, x=random_images(2).astype(np.float32), y=np.zeros(2))
    with pytest.raises(DataError, match="uint8"):
        read_npz(floats)
    mismatch = tmp_path / "mismatch.npz"
    np.savez(mismatch, x=random_images(2), y=np.zeros(3, dtype=np.int64))
    with pytest.raises(DataError, match="2 images but 3 labels"):
        read_npz(mismatch)
    labels = tmp_path / "labels.npz"
    np.savez(labels, x=random_images(2), y=np.array([0, 10]))
    with pytest.raises(DataError, match="0..9"):
        load_images("cifar10", labels)


# --- CIFAR python batches --------------------------------------------------------


def test_cifar_native(tmp_path):
    folder, written = fake_cifar(tmp_path)
    x, y = load_images("cifar10", tmp_path, split="train")  # the root holding the folder
    assert x.shape == (20, 32, 32, 3) and y.shape == (20,)
    data, labels = written["data_batch_1"]
    assert np.array_equal(y[:4], labels)
    # Channel-major rows: channel c, row r, column k is at c*1024 + r*32 + k.
    for c, r, k in [(0, 0, 0), (1, 5, 7), (2, 31, 30)]:
        assert x[2, r, k, c] == data[2, c * 1024 + r * 32 + k]

    x_test, y_test = load_images("cifar10", folder, split="test")  # the folder itself
    test_data, test_labels = written["test_batch"]
    assert np.array_equal(x_test, test_data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    assert np.array_equal(y_test, test_labels)


def test_cifar100_native(tmp_path):
    fake_cifar(tmp_path, "cifar100")
    x, y = read_cifar("cifar100", tmp_path / "cifar-100-python", "test")
    assert x.shape == (4, 32, 32, 3) and y.max() < 100
    batch, _ = load_batch("cifar100", tmp_path, batch_size=4, split="train")
    assert batch.shape == (4, 3, 32, 32)


def test_cifar_missing(tmp_path):
    with pytest.raises(DataError, match="dataset.download=true") as info:
        load_images("cifar10", tmp_path / "nowhere")
    message = str(info.value)
    assert "data_batch_1" in message and "cifar-10-batches-py" in message and "\n" not in message


def test_cifar_incomplete_folder(tmp_path):
    folder, _ = fake_cifar(tmp_path)
    (folder / "data_batch_4").unlink()
    with pytest.raises(DataError, match="data_batch_4"):
        load_images("cifar10", tmp_path)


def test_cifar_corrupt_batch(tmp_path):
    folder, _ = fake_cifar(tmp_path)
    path = folder / "data_batch_2"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataError, match=str(path)) as info:
        load_images("cifar10", tmp_path)
    assert "\n" not in str(info.value)


def test_pickle_with_foreign_objects_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (len, ([],))  # harmless, but a global the reader must not resolve

    folder, _ = fake_cifar(tmp_path)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": Payload(), b"labels": []}, f)
    with pytest.raises(DataError, match="unexpected object builtins.len"):
        load_images("cifar10", folder, split="test")


# --- CIFAR download ------------------------------------------------------------


def test_download_file_url(tmp_path):
    archive, written = fake_cifar_tarball(tmp_path)
    root = tmp_path / "data"
    folder = download_cifar("cifar10", root, base_url=archive.parent.as_uri(), md5=md5_of(archive))
    assert folder == root / "cifar-10-batches-py"
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]
    x, y = read_cifar("cifar10", folder, "test")
    assert np.array_equal(y, written["test_batch"][1])
    # Complete already: nothing is fetched again (the URL is not even valid).
    assert download_cifar("cifar10", root, base_url="file:///nonexistent") == folder


def test_download_checksum_mismatch(tmp_path):
    archive, _ = fake_cifar_tarball(tmp_path)
    root = tmp_path / "data"
    with pytest.raises(DataError, match=r"checksum mismatch for cifar-10-python.tar.gz.*retry") as info:
        download_cifar("cifar10", root, base_url=archive.parent.as_uri(), md5="0" * 32)
    assert "\n" not in str(info.value)
    assert list(root.iterdir()) == []  # no archive, no folder, no temporary file


def test_download_unreachable(tmp_path):
    root = tmp_path / "data"
    with pytest.raises(DataError, match="could not download"):
        download_cifar("cifar10", root, base_url=(tmp_path / "empty").as_uri())
    assert list(root.iterdir()) == []


def test_existing_archive_with_bad_checksum(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / "cifar-10-python.tar.gz").write_bytes(b"half a download")
    with pytest.raises(DataError, match=r"cifar-10-python.tar.gz.*delete it and retry"):
        download_cifar("cifar10", root)
    assert not (root / "cifar-10-batches-py").exists()


def test_archive_without_folder(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    archive = served / "cifar-10-python.tar.gz"
    (tmp_path / "junk.txt").write_text("not cifar")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "junk.txt", arcname="junk.txt")
    root = tmp_path / "data"
    with pytest.raises(DataError, match="does not contain cifar-10-batches-py"):
        download_cifar("cifar10", root, base_url=served.as_uri(), md5=md5_of(archive))
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-python.tar.gz"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def local_server(tmp_path, monkeypatch):
    """An HTTP server on 127.0.0.1 serving ``tmp_path/served``; yields its URL."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    served = tmp_path / "served"
    served.mkdir(exist_ok=True)
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()
    thread.join()


def test_load_images_downloads_over_http(tmp_path, local_server, monkeypatch):
    archive, written = fake_cifar_tarball(tmp_path, "cifar100")
    monkeypatch.setattr(readers, "CIFAR_URL", local_server)
    monkeypatch.setitem(
        readers.CIFAR_FILES, "cifar100", dataclasses.replace(CIFAR_FILES["cifar100"], md5=md5_of(archive))
    )
    # data_path names the batches folder itself: it is created beside it.
    target = tmp_path / "data" / "cifar-100-python"
    x, y = load_images("cifar100", target, split="train", download=True)
    assert np.array_equal(y, written["train"][1])
    assert (tmp_path / "data" / "cifar-100-python.tar.gz").is_file()


# --- ImageNet16 --------------------------------------------------------------------


def test_imagenet16_native(tmp_path):
    rng = np.random.default_rng(2)
    kept_x, kept_y = [], []
    for fname in [f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]:
        # Labels 1..1000 with several of the first 120 classes in every batch.
        labels = np.concatenate([[1, 120, 121, 1000], rng.integers(1, 1001, 6)])
        data = rng.integers(0, 256, (len(labels), 768), dtype=np.uint8)
        write_batch(tmp_path / fname, data, labels, "labels")
        if fname != "val_data":
            keep = labels <= 120
            kept_x.append(data[keep].reshape(-1, 3, 16, 16).transpose(0, 2, 3, 1))
            kept_y.append(labels[keep] - 1)

    x, y = load_images("ImageNet16-120", tmp_path, split="train")
    assert np.array_equal(x, np.concatenate(kept_x))
    assert np.array_equal(y, np.concatenate(kept_y))
    assert y.min() == 0 and y.max() == 119

    x_val, y_val = read_imagenet16(tmp_path, "test")
    assert x_val.shape[1:] == (16, 16, 3) and set(y_val) >= {0, 119} and y_val.max() < 120


def test_imagenet16_missing_and_bad_labels(tmp_path):
    with pytest.raises(DataError, match=r"val_data not found.*image-net.org") as info:
        load_images("ImageNet16-120", tmp_path, split="test", download=True)
    assert "cannot be downloaded" in str(info.value) and "\n" not in str(info.value)

    write_batch(tmp_path / "val_data", np.zeros((2, 768), np.uint8), [0, 5], "labels")
    with pytest.raises(DataError, match="1..1000"):
        load_images("ImageNet16-120", tmp_path, split="test")
