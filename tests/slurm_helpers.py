"""Find a running SLURM cluster for integration tests.

Locally a missing cluster skips the test; in CI (CI=true) it fails instead, so a
CI job that forgot to start the cluster cannot pass by skipping everything.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

# Where `scripts/slurm-localhost.sh start` writes its config unless SLURM_DIR is set.
LOCALHOST_CONF = "/tmp/zcnas-slurm/slurm.conf"
# Node states that can run jobs; a suffix such as `*` (not responding) rules a node out.
USABLE_STATES = {"idle", "mixed", "allocated", "completing"}


# Cached per session: with the controller down, sinfo retries for ~MessageTimeout (10 s).
@functools.lru_cache(maxsize=None)
def _probe(conf: str | None) -> str | None:
    """Returns None if `sinfo` with this config sees a usable node, else why not."""
    env = dict(os.environ)
    if conf is None:
        env.pop("SLURM_CONF", None)  # sinfo falls back to its built-in /etc/slurm/slurm.conf
    else:
        env["SLURM_CONF"] = conf
    try:
        proc = subprocess.run(
            ["sinfo", "--noheader", "--format=%T"], env=env, capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return "sinfo timed out"
    if proc.returncode != 0:
        # The last line carries the cause; earlier ones are config-lookup noise.
        lines = proc.stderr.strip().splitlines()
        return f"sinfo failed: {lines[-1] if lines else f'exit {proc.returncode}'}"
    states = set(proc.stdout.split())
    if not states & USABLE_STATES:
        return f"no usable node (states: {sorted(states) or 'none'})"
    return None


def _unavailable(reason: str) -> None:
    message = f"no SLURM cluster reachable: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{message}. CI must start the cluster with `scripts/slurm-localhost.sh start` "
            "(and export the SLURM_CONF it prints) before running slurm tests.",
            pytrace=False,
        )
    pytest.skip(f"{message} (start one with `scripts/slurm-localhost.sh start`)")


def require_slurm() -> dict[str, str]:
    """Skips (or fails under CI=true) unless a SLURM cluster answers.

    Returns a copy of os.environ with SLURM_CONF set to the config that worked; tests
    should export that SLURM_CONF (monkeypatch.setenv) so submitit's sbatch sees it.
    """
    if shutil.which("sinfo") is None:
        _unavailable("`sinfo` is not on PATH")

    explicit = os.environ.get("SLURM_CONF")
    if explicit:
        # An explicit config is what the caller meant to test: no fallbacks.
        candidates: list[str | None] = [explicit]
    else:
        candidates = [None]
        if Path(LOCALHOST_CONF).is_file():
            candidates.append(LOCALHOST_CONF)

    reasons = []
    for conf in candidates:
        reason = _probe(conf)
        if reason is None:
            return dict(os.environ, SLURM_CONF=conf or "/etc/slurm/slurm.conf")
        reasons.append(f"{conf or 'default config'}: {reason}")
    _unavailable("; ".join(reasons))
    raise AssertionError("unreachable")  # skip/fail raise; keeps type checkers happy
