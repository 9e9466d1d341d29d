"""A fingerprint of the data a job reads, and where computed dataset facts are cached.

``fingerprint(path)`` is what makes the data part of a job's identity: every dataset option sets
``fingerprint: ${zcnas_data_fingerprint:<its path>}``, so the resolved config a finished job
recorded differs from the one of a relaunch when the data changed (``zcnas.jobs.config_changes``).

* a file (an ``.npz``): a hash of its bytes;
* a folder (images, official batches): a hash of its files' relative paths, sizes and modification
  times, so a folder of a million images is fingerprinted without reading them;
* ``none`` where no path is set, ``missing`` where nothing is there yet (a download to come).

A path is fingerprinted once per process: the value is that of the data as the job first saw it.

Plain Python: no numpy, no torch (the resolver runs whenever a config is resolved).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: resolved path -> fingerprint, the first time this process looked
_SEEN: dict[str, str] = {}


def fingerprint(path: str | os.PathLike | None) -> str:
    """A short hex digest of the data at ``path`` (see the module docstring), ``none`` or ``missing``."""
    if path is None or str(path) in ("", "None"):
        return "none"
    where = Path(str(path)).expanduser()
    if not where.exists():
        return "missing"  # not remembered: it may be downloaded later in this process
    key = str(where.resolve())
    if key not in _SEEN:
        digest = hashlib.sha256()
        if where.is_file():
            digest.update(b"file\0")
            with open(where, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
        else:
            digest.update(b"folder\0")
            for dirpath, dirs, files in os.walk(where, followlinks=True):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(f for f in files if not f.startswith(".")):
                    file = Path(dirpath) / name
                    try:
                        stat = file.stat()
                        entry = f"{file.relative_to(where).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n"
                    except OSError:
                        entry = f"{file.relative_to(where).as_posix()}\0unreadable\n"
                    digest.update(entry.encode())
        _SEEN[key] = digest.hexdigest()[:16]
    return _SEEN[key]


def cache_dir() -> Path:
    """Where computed dataset facts are cached: ``$ZCNAS_CACHE_DIR``, else ``$XDG_CACHE_HOME/zcnas``
    (``~/.cache/zcnas``).  Never beside the user's data."""
    if os.environ.get("ZCNAS_CACHE_DIR"):
        return Path(os.environ["ZCNAS_CACHE_DIR"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "zcnas"
