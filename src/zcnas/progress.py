"""Progress bars (tqdm) that can be switched off for tests and batch jobs."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress_bar(total: int, description: str, enabled: bool = True) -> tqdm:
    return tqdm(total=total, desc=description, disable=not enabled, file=sys.stderr, dynamic_ncols=True, leave=False)
