"""Write an image folder in the layout ``dataset=folder`` reads, from arrays ``x``/``y`` in an .npz.

The README's "your own data" walk-through uses it to make a small stand-in for a user's images
(the CIFAR-10 sample, resized), so that every figure there can be reproduced:

    python examples/image_folder.py ../shared/data/samples/cifar10_sample.npz /tmp/mydata --size 48

Writes ``<out>/train/<class>/<n>.png`` and ``<out>/test/<class>/<n>.png``: the last
``--test-fraction`` of each class's images (in file order) are its test images.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def write_folder(npz: Path, out: Path, size: int, test_fraction: float, classes: int | None) -> dict:
    with np.load(npz) as data:
        x, y = data["x"], data["y"]
    counts = {"train": 0, "test": 0}
    for label in sorted(set(int(v) for v in y))[:classes]:
        images = x[y == label]
        n_test = max(1, round(len(images) * test_fraction))
        for i, image in enumerate(images):
            split = "test" if i >= len(images) - n_test else "train"
            folder = out / split / f"class_{label:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            picture = Image.fromarray(image)
            if picture.size != (size, size):
                picture = picture.resize((size, size), Image.BILINEAR)
            picture.save(folder / f"{i:05d}.png")
            counts[split] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("npz", type=Path, help="an .npz with x (N x H x W x 3 uint8) and y (labels)")
    parser.add_argument("out", type=Path, help="the folder to write (its train/ and test/)")
    parser.add_argument("--size", type=int, default=48, help="side of the written images in pixels")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="share of each class held out")
    parser.add_argument("--classes", type=int, default=None, help="keep only the first N classes")
    args = parser.parse_args()
    counts = write_folder(args.npz, args.out, args.size, args.test_fraction, args.classes)
    print(f"wrote {counts['train']} training and {counts['test']} test images to {args.out}")


if __name__ == "__main__":
    main()
