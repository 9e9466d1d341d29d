"""An exclusive lock file next to a file that several processes may rewrite (a merged roster).

``<path>.lock`` is created with ``O_CREAT | O_EXCL``: of several processes, on
one machine or on several sharing an NFS folder, exactly one creates it.  We
do not use ``fcntl``/``flock``: those are unreliable or unsupported on NFS.
The file records the holder's host, pid and start time, so that a process
that finds it can say who holds it.  Nobody waits: a held lock is an error
that says to retry.

A lock whose holder ran on this host and is no longer alive is stale (the
holder was killed before it could remove it) and is taken over.  So is a lock
held by this very SLURM job (same job and array task id): SLURM runs one instance
of a job at a time, so a requeued job finding its own earlier lock knows that
holder is gone, on whichever node it ran.  Any other lock from another host
cannot be checked from here; it stays held until its holder removes it, or a
person deletes it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from zcnas.errors import DataError


class LockHeld(DataError):
    """Another process holds the lock."""


def lock_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".lock")


def _slurm_job() -> str | None:
    """This process's SLURM job (``<job id>_<array task id>``), or None outside SLURM."""
    job = os.environ.get("SLURM_ARRAY_JOB_ID") or os.environ.get("SLURM_JOB_ID")
    if not job:
        return None
    return f"{job}_{os.environ.get('SLURM_ARRAY_TASK_ID', '')}"


def _holder() -> dict:
    me = {"host": socket.gethostname(), "pid": os.getpid(), "time": time.time()}
    if _slurm_job():
        me["slurm_job"] = _slurm_job()
    return me


def _read(path: Path) -> dict | None:
    """The holder recorded in a lock file; None if it is unreadable (e.g. being written right now)."""
    try:
        info = json.loads(path.read_text())
        return info if isinstance(info, dict) else None
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def is_stale(info: dict | None) -> bool:
    """True for a lock of this host whose process is gone, or of an earlier run of this SLURM job;
    other hosts' locks cannot be checked."""
    if info and info.get("slurm_job") and info.get("slurm_job") == _slurm_job() \
            and info.get("pid") != os.getpid():
        return True
    if not info or info.get("host") != socket.gethostname():
        return False
    pid = info.get("pid")
    return isinstance(pid, int) and not _alive(pid)


def _create(lock: Path, me: dict) -> bool:
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump(me, f)
        f.flush()
        os.fsync(f.fileno())
    return True


def _remove_stale(lock: Path, seen: dict) -> None:
    """Move a stale lock aside and delete it; a lock taken by someone else meanwhile is put back."""
    aside = lock.with_name(f"{lock.name}.stale.{socket.gethostname()}.{os.getpid()}")
    try:
        os.rename(lock, aside)  # atomic: of several processes taking it over, one moves this file
    except FileNotFoundError:
        return  # another process removed it first
    if _read(aside) != seen:  # between our read and the rename, another process took the lock over
        try:
            os.link(aside, lock)  # put it back unless a newer lock exists already
        except FileExistsError:
            pass
    os.unlink(aside)


def _describe(info: dict | None) -> str:
    if not info:
        return "an unknown process (the lock file is unreadable)"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info.get("time", 0))))
    return f"process {info.get('pid')} on host {info.get('host')} since {since}"


def acquire(path: str | Path, doing: str = "another merge is writing it") -> dict:
    """Take the lock of ``path`` or raise LockHeld (whose message says the holder is ``doing`` so);
    returns what the lock file records."""
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    me = _holder()
    for _ in range(3):  # a stale lock is removed, then we try again
        if _create(lock, me):
            return me
        info = _read(lock)
        if not is_stale(info):
            raise LockHeld(f"{path} is locked by {_describe(info)} ({doing}); retry when "
                           f"it has finished, or delete {lock} if that process is gone")
        _remove_stale(lock, info)
    raise LockHeld(f"could not take the lock {lock} (other processes keep taking it over); retry")


def release(path: str | Path, me: dict) -> None:
    """Remove the lock of ``path`` if it is still ours."""
    lock = lock_path(path)
    if _read(lock) == me:
        lock.unlink()


@contextmanager
def locked(path: str | Path, doing: str = "another merge is writing it") -> Iterator[None]:
    me = acquire(path, doing)
    try:
        yield
    finally:
        release(path, me)
