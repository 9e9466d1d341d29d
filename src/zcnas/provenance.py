"""Which code produced a result: the package version and, in a git checkout, the commit and
whether the working tree differed from it (``dirty``).  Recorded in result.json and rosters."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

import zcnas

SOURCE_ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(SOURCE_ROOT), *args], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


@lru_cache(maxsize=1)
def code_version() -> dict:
    """``{"zcnas": "0.1.0", "commit": "<sha>" | None, "dirty": bool | None}`` (None outside git)."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"zcnas": zcnas.__version__, "commit": commit, "dirty": None if status is None else bool(status)}
