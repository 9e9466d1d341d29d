"""What a job is: its identity, its folder name, its files, and whether it is done.

A job's *identity* is its command-line overrides minus the settings that do not
change its result (``NOT_IDENTITY``: where it runs, how it reports, where files
go).  The same list decides two things, so they cannot disagree:

* the job's folder name (``folder_name``), e.g. ``metric=synflow,search=random,seed=3``;
* whether a finished result still answers the job (``config_changes``).

``benchmark`` is outside it (``benchmark=...`` changes no folder name), but the ground truth a job reads is
compared by path and content hash (``zcnas.benchmark.identity``, recorded in ``result.json``): a
job whose result depends on it runs again when it changes, and one that only reports its
accuracies re-reads them.

Folder names are flat, readable and shell-safe: an override whose value holds
anything but letters, digits and ``._-`` (a path, a list, a quote) is written
as a slug of the value plus a short hash of it, e.g.
``metric.roster=synflow_cifar10.parquet-3f9a1c`` for
``metric.roster=/data/rosters/synflow_cifar10.parquet``.  So no override value
can nest folders or climb out of the output root; the full overrides are in the
job's ``result.json`` and ``.hydra/overrides.yaml``.  A name made only of simple
values is the one Hydra's ``override_dirname`` gives (``seed=3``), so folders Hydra named are found again.

Plain Python: no torch, no Hydra.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

RESULT_FILE = "result.json"
ROSTER_FILE = "roster.parquet"
CHUNK_DIR = "chunks"

#: settings that do not change a job's result: a top-level key stands for its whole subtree.
#: ``experiment`` only sets other keys, whose values are compared in ``config_changes``.
NOT_IDENTITY = ("hardware", "progress", "force", "checkpoint_every", "paths", "sweep_name", "report_dir",
                "sweep_dir", "benchmark", "cluster", "hydra", "experiment", "dataset.download", "overwrite",
                # the class that runs the task: the task is its name (renaming the class reruns nothing)
                "task_class")

#: settings compared as one value by ``config_changes``, not key by key, so that a key added to or
#: dropped from them is a change too: a custom space's keyword arguments (``{}`` and
#: ``{widths: [8, 16]}`` are two spaces)
WHOLE = ("space.options",)

_SIMPLE = re.compile(r"^[A-Za-z0-9._-]+$")
#: longest folder name we write (file systems allow 255 bytes)
MAX_NAME = 160


def excluded(key: str) -> bool:
    """Whether ``key`` (dotted, any ``+``/``~`` prefix) is outside a job's identity."""
    return _under(key, NOT_IDENTITY)


def _under(key: str, keys: tuple[str, ...]) -> bool:
    key = key.lstrip("+~")
    return any(key == k or key.startswith(k + ".") for k in keys)


def _digest(text: str, n: int = 6) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.")[:40]


def safe_part(text: str) -> str:
    """``text`` if it is simple, else a readable slug with a hash of the whole text (never empty)."""
    if _SIMPLE.match(text) and not text.startswith((".", "-")):
        return text
    last = text.rstrip("/").rsplit("/", 1)[-1]  # a path reads best by its last component
    slug = _slug(last) or "v"
    return f"{slug}-{_digest(text)}"


def folder_name(overrides: list[str]) -> str:
    """The job folder's name from its overrides (``key=value`` strings as typed)."""
    lines = []
    for line in overrides:
        key, sep, value = str(line).partition("=")
        if excluded(key):
            continue
        name = safe_part(key.lstrip("+~")) + ("=" + safe_part(value.strip()) if sep else "")
        lines.append((str(line), name))
    # sorted by the typed line, as Hydra's override_dirname sorts them, so folders Hydra named match
    name = ",".join(n for _, n in sorted(lines))
    if len(name) > MAX_NAME:
        name = f"{name[:MAX_NAME - 8]}~{_digest(name)}"
    return name or "default"


#: settings that say where and how a sweep runs, not which jobs it holds: the same sweep on another
#: launcher, or with progress bars, resumes in the same folder
NOT_SWEEP_IDENTITY = ("hardware", "progress", "force", "checkpoint_every", "paths", "sweep_name", "hydra")


def sweep_id(overrides: list[str]) -> str:
    """A short hash of a sweep's overrides as typed (order aside): two different ad-hoc sweeps get
    different folders, the same command relaunched gets the same one."""
    kept = sorted(str(line) for line in overrides if not _under(str(line).partition("=")[0], NOT_SWEEP_IDENTITY))
    return _digest("\n".join(kept), 8)


def safe_name(text: str, what: str) -> str:
    """A name used as one folder (``sweep_name``): simple, or a one-line error."""
    from zcnas.errors import ConfigError

    if not _SIMPLE.match(str(text)) or str(text).startswith((".", "-")):
        raise ConfigError(f"{what} must be a plain folder name (letters, digits, '._-'), got {text!r}")
    return str(text)


def config_changes(previous: dict, current: dict) -> list[str]:
    """Dotted keys in a job's identity whose values differ between two resolved job configs.

    Keys only one of them has are ignored (a setting added since keeps its old behaviour by default),
    except inside ``WHOLE``, whose values are compared whole (an option added to ``space.options``).
    """
    def flat(node, prefix=""):
        if isinstance(node, dict) and prefix[:-1] not in WHOLE:
            for key, value in node.items():
                dotted = f"{prefix}{key}"
                if not excluded(dotted):
                    yield from flat(value, dotted + ".")
        else:
            yield prefix[:-1], node

    old, new = dict(flat(previous)), dict(flat(current))
    return sorted(k for k in old.keys() & new.keys() if old[k] != new[k])


def job_folders(sweep_dir: Path, reports: tuple[str, ...] = ("rosters", "tables")) -> list[Path]:
    """Folders under ``sweep_dir`` that hold a job (a ``.hydra/`` record or a ``result.json``).

    Job folders are flat (see ``folder_name``), but older sweeps nested folders under path-valued
    overrides, so the walk goes down; the sweep's own report folders at its top are skipped.
    """
    import os

    found = []
    for root, dirs, files in os.walk(sweep_dir):
        here = Path(root)
        if (here / ".hydra" / "overrides.yaml").is_file() or RESULT_FILE in files:
            if here != sweep_dir:
                found.append(here)
        skip = {".submitit", ".hydra", CHUNK_DIR} | (set(reports) if here == sweep_dir else set())
        dirs[:] = sorted(d for d in dirs if d not in skip and not d.startswith(CHUNK_DIR + "."))
    return found
