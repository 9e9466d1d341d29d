"""What a running job shows people: progress, and numbers that may not be finite.

On a terminal, a tqdm bar on stderr.  When stderr is not a terminal (a log
file, a SLURM output, a pipe), a bar's redraws would fill the file with
carriage returns, so instead one plain line is printed every
``ZCNAS_STATUS_SECONDS`` seconds (default 60; 0 prints every update).
``progress=false`` shows nothing at all.

A job's own lines (``say``: what it did, its summary) are printed on stdout and logged to the
``zcnas`` logger, which Hydra's job logging (``conf/hydra/default.yaml``) sends to the job's
``run.log`` only, so the console shows them once and as printed.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from numbers import Real

from tqdm import tqdm


_log = logging.getLogger("zcnas")


def say(text: str) -> None:
    """A job's output: on stdout, and in its ``run.log`` when Hydra runs the job."""
    print(text, flush=True)
    _log.info(text)


def progress_bar(total: int | None, description: str, enabled: bool = True):
    """A bar (``update``, ``set_postfix_str``, a context manager); ``total=None`` shows no ETA."""
    if enabled and sys.stderr.isatty():
        return tqdm(total=total, desc=description, unit="cell", file=sys.stderr, dynamic_ncols=True, leave=False)
    if enabled:
        return StatusLines(total, description, float(os.environ.get("ZCNAS_STATUS_SECONDS", 60)))
    return tqdm(total=total, disable=True)


class StatusLines:
    """The bar's interface for logs: a line like ``[zcnas] score synflow cifar10: 120/500 (31 s)``."""

    def __init__(self, total: int | None, description: str, every: float):
        self.total, self.description, self.every = total, description, every
        self.n, self.postfix = 0, ""
        self.start = self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            count = f"{self.n}/{self.total}" if self.total is not None else str(self.n)
            extra = f", {self.postfix}" if self.postfix else ""
            print(f"[zcnas] {self.description}: {count} ({now - self.start:.0f} s{extra})", file=sys.stderr, flush=True)

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def __enter__(self) -> "StatusLines":
        return self

    def __exit__(self, *exc) -> None:
        pass


def number(value, spec: str = ".6g") -> str:
    """``format(value, spec)`` for finite numbers; anything else (inf, nan, "-inf", None) as is."""
    if isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value):
        return format(value, spec)
    return str(value)
