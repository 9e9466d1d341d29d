"""Where the tests find the shared development data (``../shared/data``).

The data lives outside the repository (it may not be copied into it).  Set
``ZCNAS_SHARED_DATA`` to use another copy.  Tests that need it skip when it is
missing, except on CI (``CI=true``), where a missing copy is a failure: CI
must never pass by skipping everything.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_data_dir() -> Path:
    """The shared ``data`` directory; skips the calling test (fails on CI) when absent."""
    override = os.environ.get("ZCNAS_SHARED_DATA")
    path = Path(override) if override else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not path.is_dir():
        message = f"shared data directory {path} not found (set ZCNAS_SHARED_DATA to its location)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path
