"""Reading images: the shared ``.npz`` samples and the official dataset files.

Every reader returns ``(x, y)``: ``x`` uint8 N×H×W×3 (channels last, 0-255)
and ``y`` int64 labels.  Sources:

* ``.npz`` files with arrays ``x`` and ``y``, such as the shared samples;
* the CIFAR-10/100 python batches (``cifar-10-batches-py``,
  ``cifar-100-python``), which ``download_cifar`` can fetch;
* the ImageNet16 batches (``train_data_batch_1..10``, ``val_data``) of the
  downsampled ImageNet from image-net.org, which the user places in a
  directory (they cannot be downloaded without an ImageNet account).

Every problem with the data raises ``DataError`` with a one-line message that
names the file, where it was looked for and how to get it.
"""

from __future__ import annotations

import codecs
import hashlib
import math
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zcnas.data.datasets import DatasetSpec, get_spec
from zcnas.errors import ConfigError, DataError

#: Where the official CIFAR tarballs live; read at call time so tests can patch it.
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/"

SPLITS = ("train", "test")


@dataclass(frozen=True)
class CifarFiles:
    """The official distribution of one CIFAR dataset."""

    title: str
    folder: str  # what the tarball extracts to
    archive: str
    md5: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    label_key: str


CIFAR_FILES = {
    "cifar10": CifarFiles(
        "CIFAR-10", "cifar-10-batches-py", "cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
        tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",), "labels",
    ),
    "cifar100": CifarFiles(
        "CIFAR-100", "cifar-100-python", "cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85",
        ("train",), ("test",), "fine_labels",
    ),
}

IMAGENET16_FILES = {
    "train": tuple(f"train_data_batch_{i}" for i in range(1, 11)),
    "test": ("val_data",),  # NATS-Bench tests ImageNet16-120 on the validation batch
}
IMAGENET16_HOW_TO = (
    "download the 16x16 downsampled ImageNet (Imagenet16_train, Imagenet16_val) from "
    "the ImageNet website (image-net.org) and place its batch files "
    "(train_data_batch_1..10, val_data) there, or pass "
    "dataset.data_path=/path/to/imagenet16_120_sample.npz"
)

# What a corrupt or truncated file can raise while numpy or pickle parse it.
_CORRUPT = (
    OSError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
    pickle.UnpicklingError, zipfile.BadZipFile, zlib.error,
)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    return split


def _check_arrays(x: np.ndarray, y: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] != 3:
        raise DataError(
            f"{source}: x must be uint8 N×H×W×3 (channels last), got {x.dtype} {x.shape}"
        )
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{source}: y must be a 1-D integer array, got {y.dtype} {y.shape}")
    if len(x) != len(y):
        raise DataError(f"{source}: {len(x)} images but {len(y)} labels")
    return x, y.astype(np.int64)


# --- .npz ------------------------------------------------------------------------


def read_npz_arrays(path: str | os.PathLike, required: tuple[str, ...] = ("x", "y"),
                    optional: tuple[str, ...] = (), key: str = "dataset.data_path") -> dict[str, np.ndarray]:
    """The arrays ``required`` (and those of ``optional`` it has) of an ``.npz`` file, unchecked;
    ``key``: the setting that names the file, for the message when it is missing."""
    path = Path(path)
    if not path.is_file():
        where = ("or a directory holding the official dataset files" if key == "dataset.data_path"
                 else "(arrays x, y and optionally x_test, y_test)")
        raise DataError(f"image file {path} not found; pass {key}=/path/to/<file>.npz {where}")
    try:
        # Our own file handle: np.load leaks its handle when the zip is corrupt.
        # allow_pickle=False: an .npz of plain arrays never needs to run code.
        with open(path, "rb") as f:
            # Checked first: for other files numpy's errors talk about pickles.
            if not zipfile.is_zipfile(f):
                raise DataError(
                    f"{path} is not an .npz (zip) archive, or it is truncated; replace it with a good copy"
                )
            f.seek(0)
            with np.load(f, allow_pickle=False) as archive:
                missing = [key for key in required if key not in archive.files]
                if missing:
                    raise DataError(
                        f"{path} lacks array(s) {', '.join(missing)}; it has {', '.join(archive.files) or 'none'}"
                    )
                return {key: archive[key] for key in (*required, *optional) if key in archive.files}
    except _CORRUPT as exc:
        raise DataError(
            f"{path} is corrupt or not an .npz file ({_one_line(exc)}); replace it with a good copy"
        ) from exc


def read_npz(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read ``x`` (uint8 N×H×W×3) and ``y`` (N labels) from an ``.npz`` file."""
    arrays = read_npz_arrays(path)
    return _check_arrays(arrays["x"], arrays["y"], str(path))


# --- official pickled batches -------------------------------------------------


def _safe_globals() -> dict[tuple[str, str], object]:
    # The callables numpy pickles arrays with, under the module names numpy 1.x
    # and 2.x write; resolved from live objects rather than private imports.
    reconstruct = np.zeros(1).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    scalar = np.uint8(0).__reduce__()[0]
    found: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,  # bytes in protocol-2 pickles
    }
    for prefix in ("numpy.core", "numpy._core"):
        found[(f"{prefix}.multiarray", "_reconstruct")] = reconstruct
        found[(f"{prefix}.multiarray", "scalar")] = scalar
        found[(f"{prefix}.numeric", "_frombuffer")] = frombuffer
    return found


_SAFE_GLOBALS = _safe_globals()


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts of numpy arrays, lists, numbers and strings, nothing else.

    The official batches are pickles; refusing every other global means a
    tampered file in a data directory cannot run code when it is read.
    """

    def find_class(self, module: str, name: str) -> object:
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name}") from None


def _load_batch_dict(path: Path, how_to: str) -> dict:
    try:
        with open(path, "rb") as f:
            # latin1 decodes the Python 2 strings of the original files and
            # keeps their numpy arrays' raw bytes intact.
            entry = _ArrayUnpickler(f, encoding="latin1").load()
    except _CORRUPT as exc:
        raise DataError(f"{path} is corrupt or not a dataset batch ({_one_line(exc)}); {how_to}") from exc
    if not isinstance(entry, dict):
        raise DataError(f"{path} holds a {type(entry).__name__}, not a dataset batch; {how_to}")
    # Keys are bytes or str depending on who pickled the file.
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}


def _read_batch(path: Path, label_key: str, size: int, how_to: str) -> tuple[np.ndarray, np.ndarray]:
    entry = _load_batch_dict(path, how_to)
    if "data" not in entry or label_key not in entry:
        raise DataError(f"{path} has no 'data' and '{label_key}' entries; {how_to}")
    data, labels = np.asarray(entry["data"]), np.asarray(entry[label_key])
    row = 3 * size * size
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != row:
        raise DataError(
            f"{path}: expected uint8 data of shape N×{row} ({size}×{size} images), "
            f"got {data.dtype} {data.shape}; {how_to}"
        )
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: expected {len(data)} integer labels, got {labels.dtype} {labels.shape}")
    # Rows are channel-major (all red, then green, then blue): make N×H×W×3.
    x = data.reshape(-1, 3, size, size).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(x), labels.astype(np.int64)


def _concat(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# --- CIFAR ------------------------------------------------------------------------


def _cifar_files(name: str) -> CifarFiles:
    spec = get_spec(name)
    if spec.name not in CIFAR_FILES:
        raise ConfigError(f"{spec.name} is not a CIFAR dataset; valid: {', '.join(CIFAR_FILES)}")
    return CIFAR_FILES[spec.name]


def _cifar_how_to(files: CifarFiles) -> str:
    return f"pass dataset.download=true or dataset.data_path=/path/to/{files.folder}"


def read_cifar(name: str, folder: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Read ``split`` of CIFAR ``name`` from ``folder`` (``cifar-10-batches-py`` or ``cifar-100-python``)."""
    files, folder = _cifar_files(name), Path(folder)
    parts = []
    for fname in getattr(files, _check_split(split)):
        path = folder / fname
        if not path.is_file():
            raise DataError(
                f"{files.title} batch {fname} not found in {folder}; the folder is incomplete: "
                f"delete it and pass dataset.download=true, or pass dataset.data_path=/path/to/a/complete/{files.folder}"
            )
        parts.append(_read_batch(path, files.label_key, 32, _cifar_how_to(files)))
    return _concat(parts)


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, dest: Path, md5: str) -> None:
    """Download ``url`` to ``dest``, moving it into place only once its MD5 matches."""
    # A hidden temporary file next to dest: an interrupted download leaves
    # nothing named like the archive, and the final rename is atomic.
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != md5:
            raise DataError(
                f"checksum mismatch for {dest.name} downloaded from {url} (MD5 {digest.hexdigest()}, "
                f"expected {md5}); the corrupt download was deleted: retry"
            )
        os.replace(tmp, dest)
    except OSError as exc:  # includes urllib's URLError and timeouts
        raise DataError(
            f"could not download {url} to {dest} ({_one_line(exc)}); check the network, or download "
            f"it by hand into {dest.parent}"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)


def _extract_all(tar: tarfile.TarFile, dest: Path) -> None:
    if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
        tar.extractall(dest, filter="data")
        return
    for member in tar.getmembers():
        # Older Pythons trust member names; refuse anything that could land outside dest.
        parts = Path(member.name).parts
        if member.name.startswith("/") or ".." in parts or not (member.isfile() or member.isdir()):
            raise tarfile.TarError(f"unsafe member {member.name!r}")
    tar.extractall(dest)


def _extract(archive: Path, folder: Path) -> None:
    """Extract ``archive`` (which must contain ``folder.name``/) to ``folder``."""
    # Extract beside the target, then rename: a half-extracted folder never
    # appears under the name that says "complete".
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".extract"))
    try:
        try:
            with tarfile.open(archive) as tar:
                _extract_all(tar, staging)
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{archive} could not be extracted ({_one_line(exc)}); delete it and retry") from exc
        if not (staging / folder.name).is_dir():
            raise DataError(f"{archive} does not contain {folder.name}/; delete it and retry")
        os.replace(staging / folder.name, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def download_cifar(
    name: str, root: str | os.PathLike, base_url: str | None = None, md5: str | None = None
) -> Path:
    """Download and extract CIFAR ``name`` under ``root``; return the batches folder.

    ``base_url`` defaults to ``CIFAR_URL`` and ``md5`` to the official checksum
    (tests pass their own).  The tarball is kept next to the folder.  Nothing is
    fetched when the folder is already complete.
    """
    files, root = _cifar_files(name), Path(root)
    folder, archive = root / files.folder, root / files.archive
    expected = md5 or files.md5
    missing = [f for f in files.train + files.test if not (folder / f).is_file()]
    if not missing:
        return folder
    if folder.exists():
        raise DataError(f"{folder} exists but is incomplete (no {missing[0]}); delete it and retry")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the data directory {root} ({_one_line(exc)})") from exc
    if archive.is_file():
        got = _md5(archive)
        if got != expected:
            raise DataError(
                f"checksum mismatch for {archive} (MD5 {got}, expected {expected}): it is corrupt "
                "or incomplete; delete it and retry"
            )
    else:
        _fetch((base_url or CIFAR_URL).rstrip("/") + "/" + files.archive, archive, expected)
    _extract(archive, folder)
    return folder


def _load_cifar(spec: DatasetSpec, root: Path, split: str, download: bool) -> tuple[np.ndarray, np.ndarray, str]:
    files = CIFAR_FILES[spec.name]
    first = getattr(files, split)[0]
    # Accept the root that contains the batches folder, or that folder itself.
    for folder in (root / files.folder, root):
        if (folder / first).is_file():
            break
    else:
        if not download:
            raise DataError(
                f"{files.title} batch {first} not found: looked in {root / files.folder} and {root}; "
                f"{_cifar_how_to(files)}"
            )
        folder = download_cifar(spec.name, root.parent if root.name == files.folder else root)
    return (*read_cifar(spec.name, folder, split), str(folder))


# --- ImageNet16 ---------------------------------------------------------------


def read_imagenet16(
    folder: str | os.PathLike, split: str = "train", num_classes: int = 120
) -> tuple[np.ndarray, np.ndarray]:
    """Read ``split`` of ImageNet16 from ``folder``, keeping classes 1..num_classes as 0..num_classes-1.

    The files number ImageNet's 1000 classes from 1; ImageNet16-120 is the
    subset of the first 120.
    """
    folder = Path(folder)
    parts = []
    for fname in IMAGENET16_FILES[_check_split(split)]:
        path = folder / fname
        if not path.is_file():
            raise DataError(f"ImageNet16 batch {fname} not found in {folder}; {IMAGENET16_HOW_TO}")
        x, y = _read_batch(path, "labels", 16, IMAGENET16_HOW_TO)
        if len(y) and (y.min() < 1 or y.max() > 1000):
            raise DataError(
                f"{path}: labels span {y.min()}..{y.max()}, but ImageNet16 labels are 1..1000; {IMAGENET16_HOW_TO}"
            )
        keep = y <= num_classes
        parts.append((x[keep], y[keep] - 1))
    return _concat(parts)


def _load_imagenet16(spec: DatasetSpec, root: Path, split: str, download: bool) -> tuple[np.ndarray, np.ndarray, str]:
    first = IMAGENET16_FILES[split][0]
    for folder in (root, root / "ImageNet16"):
        if (folder / first).is_file():
            return (*read_imagenet16(folder, split, spec.num_classes), str(folder))
    no_download = " (ImageNet16 cannot be downloaded automatically)" if download else ""
    raise DataError(
        f"ImageNet16 batch {first} not found: looked in {root} and {root / 'ImageNet16'}{no_download}; "
        f"{IMAGENET16_HOW_TO}"
    )


# --- entry point --------------------------------------------------------------


def load_images(
    name: str, data_path: str | os.PathLike, split: str = "train", download: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Load ``split`` of dataset ``name`` from ``data_path``, checked against its spec.

    ``data_path`` is either an ``.npz`` file (``x``, ``y``) — the shared samples
    have a single split, so ``split`` is then ignored — or a directory holding
    the official files: for CIFAR, the directory containing
    ``cifar-10-batches-py``/``cifar-100-python`` or that folder itself (fetched
    there when missing and ``download`` is true); for ImageNet16-120, the
    directory holding ``train_data_batch_1..10`` and ``val_data``.
    """
    spec = get_spec(name)
    _check_split(split)
    if data_path is None or str(data_path) == "":
        raise ConfigError(f"no data path for {spec.name}; pass dataset.data_path=/path/to/data")
    path = Path(data_path).expanduser()
    if path.suffix.lower() == ".npz":
        x, y = read_npz(path)
        source = str(path)
    elif path.is_file():
        raise DataError(
            f"{path} is a file but not an .npz; pass dataset.data_path=/path/to/sample.npz "
            f"or the directory holding the official {spec.name} files"
        )
    elif spec.name in CIFAR_FILES:
        x, y, source = _load_cifar(spec, path, split, download)
    else:
        x, y, source = _load_imagenet16(spec, path, split, download)
    return _check_against_spec(x, y, spec, source)


def _check_against_spec(x: np.ndarray, y: np.ndarray, spec: DatasetSpec, source: str) -> tuple[np.ndarray, np.ndarray]:
    size = spec.input_size
    if x.shape[1:] != (size, size, 3):
        raise DataError(
            f"{source}: images are {x.shape[1]}×{x.shape[2]}×{x.shape[3]} but {spec.name} images are "
            f"{size}×{size}×3; is dataset.data_path the {spec.name} data? "
            "(your own data: dataset=npz or dataset=folder)"
        )
    if len(y) == 0:
        raise DataError(f"{source} holds no {spec.name} images")
    if y.min() < 0 or y.max() >= spec.num_classes:
        raise DataError(
            f"{source}: labels span {y.min()}..{y.max()} but {spec.name} labels are "
            f"0..{spec.num_classes - 1}; is dataset.data_path the {spec.name} data? "
            "(your own data: dataset=npz or dataset=folder)"
        )
    present = len(np.unique(y))
    if too_few_classes(len(y), present, spec.num_classes):
        raise DataError(
            f"{source}: its {len(y)} labels cover only {present} of the {spec.num_classes} {spec.name} classes, "
            f"which a {spec.name} sample of this size all but surely would not; it is not the {spec.name} "
            "data, whose benchmark accuracies would not apply (your own data: dataset=npz or dataset=folder)"
        )
    return x, y


def too_few_classes(n: int, present: int, num_classes: int, chance: float = 1e-9) -> bool:
    """Whether ``n`` labels covering only ``present`` of ``num_classes`` balanced classes are implausible.

    Judged on files of at least 10 images per class: a uniform draw of ``n`` images misses some
    ``k`` classes with probability at most C(num_classes, k) (1 - k/num_classes)^n; below
    ``chance``, the data is not a sample of that dataset (e.g. five classes of one's own images,
    resized and labelled 0..4, given as CIFAR-10).
    """
    missing = num_classes - present
    if missing <= 0 or n < 10 * num_classes:
        return False
    log_bound = math.log(math.comb(num_classes, missing)) + n * math.log1p(-missing / num_classes)
    return log_bound < math.log(chance)
