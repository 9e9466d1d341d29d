"""The sources of the user's own images: an image folder, an ``.npz`` of arrays, a torchvision dataset,
or arrays in memory that a dataset class of the user's read (``array_source``).

Each source lists its images and labels per split (``train``, ``test``) and decodes them to uint8
H×W×3 (grayscale and palette images become three channels; ``resolution`` resizes to a square).
Only the images asked for are decoded, so drawing a scoring batch from a large folder reads a
batch's worth of files.

Folder layouts (``ImageFolder``'s): ``<root>/train/<class>/<image>`` with an optional
``<root>/test/<class>/<image>``, or ``<root>/<class>/<image>``.  Classes are the folder names in
sorted order (label 0 is the first).  Where there is no test split, ``val_fraction`` holds out that
fraction of each class, the same images every time.

Every problem with the data is a ``DataError`` (one line: the file, what is wrong, what to do).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zcnas.data.readers import SPLITS, read_npz_arrays
from zcnas.errors import ConfigError, DataError

#: the fixed seed of the ``val_fraction`` hold-out: the job's seed must not move images between splits
HOLDOUT_SEED = 0


def _pil():
    from PIL import Image

    return Image


def image_suffixes() -> frozenset[str]:
    """File name endings of the formats Pillow reads (``.png``, ``.jpg``, ``.bmp``, ``.webp``, ...)."""
    image = _pil()
    return frozenset(ext.lower() for ext, fmt in image.registered_extensions().items() if fmt in image.OPEN)


def holdout(labels: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices: ``fraction`` of each class (at least one, never all) held out."""
    rng = np.random.default_rng(HOLDOUT_SEED)
    train, test = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n = min(len(members) - 1, max(1, round(fraction * len(members)))) if len(members) > 1 else 0
        test.extend(members[:n])
        train.extend(members[n:])
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(test, dtype=np.int64))


def to_rgb(x: np.ndarray, source: str) -> np.ndarray:
    """uint8 N×H×W (grayscale), N×H×W×1 or N×H×W×3 as N×H×W×3."""
    if x.dtype != np.uint8:
        raise DataError(f"{source}: images must be uint8 (0-255), got {x.dtype}; convert them with "
                        "x.astype(np.uint8) after scaling to 0-255")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise DataError(f"{source}: images must be N×H×W×3 or N×H×W (grayscale), got shape {x.shape}")
    return np.ascontiguousarray(np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x)


def resize(images: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 N×H×W×3 resized (bilinear) to N×resolution×resolution×3."""
    if images.shape[1:3] == (resolution, resolution):
        return images
    image = _pil()
    return np.stack([np.asarray(image.fromarray(a).resize((resolution, resolution), image.Resampling.BILINEAR))
                     for a in images]) if len(images) else images[:, :0, :0]


class Source:
    """What every source gives: labels per split, and the images of chosen indices."""

    path: str
    class_names: tuple[str, ...] | None  # the folder names of the classes, where the data has them

    def labels(self, split: str) -> np.ndarray:
        raise NotImplementedError

    def images(self, split: str, index: np.ndarray, resolution: int | None) -> np.ndarray:
        raise NotImplementedError

    def has(self, split: str) -> bool:
        return len(self.labels(split)) > 0


# --- image folders -------------------------------------------------------------


@dataclass
class FolderSource(Source):
    """An ImageFolder-style tree: ``files[split]`` are (path, label) in sorted order."""

    path: str
    class_names: tuple[str, ...]
    files: dict[str, list[tuple[Path, int]]]

    @classmethod
    def scan(cls, root: str | os.PathLike, val_fraction: float | None) -> FolderSource:
        root = Path(root).expanduser()
        if not root.is_dir():
            what = "is a file, not a folder" if root.exists() else "not found"
            raise DataError(f"image folder {root} {what}; pass dataset.path=<folder> holding "
                            "train/<class>/<image> (and test/<class>/<image>), or <class>/<image>")
        suffixes = image_suffixes()
        if (root / "train").is_dir():
            classes = _class_folders(root / "train")
            files = {"train": _listing(root / "train", classes, suffixes)}
            if (root / "test").is_dir():
                if val_fraction is not None:
                    raise ConfigError(f"dataset.val_fraction splits a folder without a test split, but {root} "
                                      "has test/; drop dataset.val_fraction")
                extra = sorted(set(_class_folders(root / "test")) - set(classes))
                if extra:
                    raise DataError(f"{root / 'test'} has class folder(s) {', '.join(extra)} that "
                                    f"{root / 'train'} lacks; every test class must be a training class")
                files["test"] = _listing(root / "test", classes, suffixes, require=False)
        else:
            classes = _class_folders(root)
            files = {"train": _listing(root, classes, suffixes)}
        if "test" not in files and val_fraction is not None:
            everything = files["train"]
            train, test = holdout(np.array([label for _, label in everything]), val_fraction)
            files = {"train": [everything[i] for i in train], "test": [everything[i] for i in test]}
        return cls(str(root), tuple(classes), files)

    def labels(self, split: str) -> np.ndarray:
        return np.array([label for _, label in self.files.get(split, [])], dtype=np.int64)

    def first_size(self) -> tuple[int, int]:
        """(H, W) of the first training image, read from its header only."""
        path = self.files["train"][0][0]
        try:
            with _pil().open(path) as im:
                return im.size[1], im.size[0]
        except Exception as exc:  # Pillow raises several types for a file it cannot read
            raise _unreadable(path, exc) from exc

    def images(self, split: str, index: np.ndarray, resolution: int | None) -> np.ndarray:
        files = self.files.get(split, [])
        decoded = [decode(files[i][0], resolution) for i in index]
        shapes = {a.shape for a in decoded}
        if len(shapes) > 1:
            (h1, w1, _), (h2, w2, _) = sorted(shapes)[:2]
            raise DataError(f"the images of {self.path} differ in size ({h1}×{w1}, {h2}×{w2}, ...); "
                            "pass dataset.resolution=<pixels> to resize them all to one square size")
        return np.stack(decoded) if decoded else np.zeros((0, 0, 0, 3), np.uint8)


def _class_folders(folder: Path) -> list[str]:
    classes = sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise DataError(f"{folder} has no class folders; expected <folder>/<class>/<image> "
                        "(or train/<class>/<image> and test/<class>/<image>)")
    return classes


def _listing(folder: Path, classes: list[str], suffixes: frozenset[str],
             require: bool = True) -> list[tuple[Path, int]]:
    files = []
    for label, name in enumerate(classes):
        if not (folder / name).is_dir():
            continue  # a test split may lack a class
        found = sorted(Path(dirpath) / f for dirpath, dirs, names in os.walk(folder / name, followlinks=True)
                       for f in names if not f.startswith(".") and Path(f).suffix.lower() in suffixes)
        if not found and require:
            raise DataError(f"class folder {folder / name} holds no images (formats Pillow reads: "
                            ".png, .jpg, .bmp, .gif, .tif, .webp, ...); add images or remove the folder")
        files.extend((path, label) for path in found)
    return files


def _unreadable(path: Path, exc: BaseException) -> DataError:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return DataError(f"cannot read image {path} ({reason}); replace or remove it")


def decode(path: Path, resolution: int | None = None) -> np.ndarray:
    """One image file as uint8 H×W×3 (any mode Pillow reads, grayscale included), resized if asked."""
    image = _pil()
    try:
        with image.open(path) as im:
            im = im.convert("RGB")
            if resolution is not None and im.size != (resolution, resolution):
                im = im.resize((resolution, resolution), image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except Exception as exc:  # UnidentifiedImageError, OSError, DecompressionBombError, ...
        raise _unreadable(path, exc) from exc


# --- arrays: .npz files and torchvision ---------------------------------------------


@dataclass
class ArraySource(Source):
    """Images already in memory: ``arrays[split] = (x uint8 N×H×W×3, y int64)``."""

    path: str
    arrays: dict[str, tuple[np.ndarray, np.ndarray]]
    class_names: tuple[str, ...] | None = None

    def labels(self, split: str) -> np.ndarray:
        return self.arrays[split][1] if split in self.arrays else np.zeros(0, np.int64)

    def images(self, split: str, index: np.ndarray, resolution: int | None) -> np.ndarray:
        x = self.arrays[split][0][index]
        return resize(x, resolution) if resolution is not None else x

    def first_size(self) -> tuple[int, int]:
        return tuple(self.arrays["train"][0].shape[1:3])  # type: ignore[return-value]


def _labels(y: np.ndarray, n: int, source: str) -> np.ndarray:
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{source}: labels must be a 1-D integer array (0..classes-1), got {y.dtype} {y.shape}")
    if len(y) != n:
        raise DataError(f"{source}: {n} images but {len(y)} labels")
    if len(y) and y.min() < 0:
        raise DataError(f"{source}: labels must be 0..classes-1, got {y.min()}")
    return y.astype(np.int64)


def npz_source(path: str | os.PathLike, val_fraction: float | None) -> ArraySource:
    """``x`` and ``y`` (the training split) and, if the file has them, ``x_test`` and ``y_test``."""
    path = Path(path).expanduser()
    if path.is_dir() or (not path.exists() and path.suffix.lower() != ".npz"):
        raise DataError(f"{path} is not an .npz file; pass dataset.path=<file>.npz holding arrays x and y "
                        "(or dataset=folder for a folder of images)")
    found = read_npz_arrays(path, ("x", "y"), ("x_test", "y_test"), key="dataset.path")
    arrays = {}
    for split, (xk, yk) in NPZ_KEYS.items():
        if xk in found and yk in found:
            arrays[split] = (found[xk], found[yk])
        elif xk in found or yk in found:
            raise DataError(f"{path} has {xk if xk in found else yk} without {yk if xk in found else xk}")
    return array_source(path, arrays, val_fraction, keys=NPZ_KEYS)


#: the arrays of an .npz that hold each split's images and labels
NPZ_KEYS = {"train": ("x", "y"), "test": ("x_test", "y_test")}


def array_source(where: str | os.PathLike | None, arrays: dict[str, tuple[np.ndarray, np.ndarray]],
                 val_fraction: float | None, class_names: tuple[str, ...] | list[str] | None = None,
                 keys: dict[str, tuple[str, str]] | None = None) -> ArraySource:
    """A source of images in memory, checked: ``arrays`` maps ``train`` (and, if the data has one,
    ``test``) to ``(x, y)``, ``x`` uint8 N×H×W×3 (or N×H×W grayscale) and ``y`` the integer labels
    0..classes-1.  Without ``test``, ``val_fraction`` holds out that fraction of each class as the test
    split.  ``where`` names the data in messages; ``keys`` the arrays' names per split."""
    keys = keys or {split: (f"{split} images", f"{split} labels") for split in SPLITS}
    if set(arrays) - set(SPLITS) or "train" not in arrays:
        raise DataError(f"{where}: the splits of the data are train and, optionally, test; got "
                        f"{', '.join(map(str, arrays)) or 'none'}")
    checked = {}
    for split, (x, y) in arrays.items():
        xk, yk = keys[split]
        x = to_rgb(np.asarray(x), f"{where} ({xk})")
        checked[split] = (x, _labels(np.asarray(y), len(x), f"{where} ({yk})"))
    if "test" in checked and val_fraction is not None:
        raise ConfigError(f"dataset.val_fraction splits data without a test split, but {where} has {keys['test'][0]}; "
                          "drop dataset.val_fraction")
    if "test" not in checked and val_fraction is not None:
        x, y = checked["train"]
        train, test = holdout(y, val_fraction)
        checked = {"train": (x[train], y[train]), "test": (x[test], y[test])}
    return ArraySource(str(where), checked, tuple(map(str, class_names)) if class_names is not None else None)


def torchvision_source(name: str, root: str | os.PathLike, download: bool, resolution: int | None) -> ArraySource:
    """A torchvision dataset class by name (``FashionMNIST``, ``SVHN``, ...), both splits, as arrays."""
    try:
        import torchvision.datasets as tv
    except ImportError:
        raise ConfigError("dataset=torchvision needs the torchvision package, which is not installed "
                          "(pip install torchvision); or use dataset=folder or dataset=npz") from None
    import inspect

    cls = getattr(tv, str(name), None)
    if not isinstance(cls, type):
        raise ConfigError(f"torchvision has no dataset {name!r}; pass dataset.name=<class of torchvision.datasets>, "
                          "e.g. FashionMNIST, SVHN, CIFAR10")
    params = inspect.signature(cls).parameters
    root = Path(root).expanduser()
    arrays = {}
    for split in SPLITS:
        if "train" in params:
            kwargs = {"train": split == "train"}
        elif "split" in params:
            kwargs = {"split": split}
        else:
            raise ConfigError(f"torchvision's {name} has no train/test split argument; save it as an .npz "
                              "(x, y, x_test, y_test) and use dataset=npz")
        try:
            data = cls(str(root), download=download, **kwargs)
        except RuntimeError as exc:  # torchvision's "Dataset not found ... use download=True"
            raise DataError(f"torchvision {name} not found under {root} ({' '.join(str(exc).split())}); "
                            "pass dataset.download=true or dataset.path=<its folder>") from exc
        images, labels = [], []
        for image, label in data:  # PIL images (no transform given)
            image = image.convert("RGB")
            if resolution is not None:
                image = image.resize((resolution, resolution), _pil().Resampling.BILINEAR)
            images.append(np.asarray(image, dtype=np.uint8))
            labels.append(int(label))
        if len({a.shape for a in images}) > 1:
            raise DataError(f"torchvision {name}'s images differ in size; pass dataset.resolution=<pixels> "
                            "to resize them all to one square size")
        arrays[split] = (to_rgb(np.stack(images), f"torchvision {name}"), np.asarray(labels, dtype=np.int64))
    classes = getattr(data, "classes", None)
    return ArraySource(str(root), arrays, tuple(map(str, classes)) if classes else None)
