"""How a report names the files it was made from, the same in whichever folder the project is
checked out, so that a report regenerated from another clone is byte-identical to the committed one.

- a file under the project root: its path relative to the root (``results/rosters/synflow_cifar10.parquet``);
- under the shared data folder (``paths.shared_data``, wherever it points): ``../shared/data/<path in it>``,
  the folder's place beside the project;
- anywhere else: its name and the start of its content's SHA-256 (``r.parquet (sha256 1a2b3c4d5e6f)``),
  which tells which file it was without telling where it lay.

Plain Python: no torch, no Hydra.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: how a report writes the shared data folder
SHARED_DATA = "../shared/data"


def _forms(path: str | Path) -> list[Path]:
    """The path as written (made absolute, ``..`` folded) and with its symlinks resolved."""
    plain = Path(os.path.normpath(os.path.abspath(os.path.expanduser(str(path)))))
    return list(dict.fromkeys([plain, plain.resolve()]))


def content_hash(path: Path, digits: int = 12) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:digits]


class PathNames:
    """Names paths for reports relative to ``root`` (the project root) and ``shared_data``."""

    def __init__(self, root: str | Path, shared_data: str | Path | None = None):
        self._folders = [(f, "") for f in _forms(root)]
        if shared_data is not None:
            self._folders += [(f, SHARED_DATA) for f in _forms(shared_data)]

    @classmethod
    def of(cls, paths) -> "PathNames":
        """From a job's ``paths`` config (``root_dir``, ``shared_data``)."""
        shared = paths.get("shared_data")
        return cls(str(paths.root_dir), None if shared is None else str(shared))

    def name(self, path: str | Path) -> str:
        for form in _forms(path):
            for folder, prefix in self._folders:
                if form == folder or folder in form.parents:
                    inside = form.relative_to(folder).as_posix()
                    if inside == ".":
                        return prefix or "."
                    return f"{prefix}/{inside}" if prefix else inside
        plain = _forms(path)[0]
        if plain.is_file():
            return f"{plain.name} (sha256 {content_hash(plain)})"
        return plain.name

    def names(self, paths) -> list[str]:
        return [self.name(p) for p in paths]

    def describe(self, benchmark) -> str:
        """A benchmark's description (e.g. ``table <path>``) with its path named as above."""
        text = str(benchmark.description)
        path = getattr(benchmark, "path", None)
        if path is not None and str(path) in text:
            text = text.replace(str(path), self.name(path))
        return text
