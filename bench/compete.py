"""CPU-bound busy loops that compete with a measurement: ``bench.py --compete N``, ``cpu_policy.py --compete N``.

Each loop is a child process spinning in plain Python (one core's worth of CPU-bound work, no
memory, no I/O).  They are started by :class:`BusyLoops` and always stopped by it: on leaving the
``with`` block, on an exception or KeyboardInterrupt (``stop`` in a ``finally``).  Should the
parent die without running its ``finally`` (SIGKILL), each loop notices within a few hundredths of a
second that its parent changed and exits by itself.  The loops ignore SIGINT, so that Ctrl-C at a
terminal (sent to the whole process group) leaves their stopping to the parent, without tracebacks.

    with BusyLoops(1) as busy:
        ...                       # measure; busy.pids are the loops' process ids
        busy.cpu_seconds()        # the CPU time they got so far (Linux: /proc/<pid>/stat)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

#: the loop each child runs: a plain spin, checking every ~10**6 iterations that its parent (argv[1],
#: given rather than read at start-up: the parent may already be gone by then) lives
LOOP = ("import os, signal, sys\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "parent = int(sys.argv[1])\n"
        "while os.getppid() == parent:\n"
        "    for _ in range(1000000):\n"
        "        pass\n")


class BusyLoops:
    """``n`` CPU-bound child processes, from ``start`` (or entering ``with``) to ``stop`` (or leaving it)."""

    def __init__(self, n: int):
        if n < 0:
            raise ValueError(f"the number of busy loops must be >= 0, got {n}")
        self.n = n
        self.procs: list[subprocess.Popen] = []
        self.started: float | None = None

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def start(self) -> "BusyLoops":
        self.started = time.monotonic()
        try:
            for _ in range(self.n):
                self.procs.append(subprocess.Popen([sys.executable, "-c", LOOP, str(os.getpid())],
                                                   stdin=subprocess.DEVNULL))
        except BaseException:
            self.stop()
            raise
        return self

    def elapsed(self) -> float | None:
        """Seconds since ``start``."""
        return None if self.started is None else time.monotonic() - self.started

    def running(self) -> int:
        return sum(p.poll() is None for p in self.procs)

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds the loops have had so far (None where /proc is not there)."""
        total = 0.0
        tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        for p in self.procs:
            try:
                with open(f"/proc/{p.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                return None
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime: fields 14, 15 of stat
        return total

    def stop(self) -> None:
        """Kill and reap every loop (idempotent)."""
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.kill()
                except ProcessLookupError:
                    pass
        for p in self.procs:
            p.wait()

    def __enter__(self) -> "BusyLoops":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
