"""How many CPU threads a job uses: 1 by default, so that its scores never depend on the load.

Scores of several metrics differ between 1 and 2 torch threads (a sum split over threads is
rounded in another order, and some metrics amplify that: zico by up to 1.4 %, plain 0.9 %, grasp
5e-4, snip 6e-8 relative; docs/performance.md, ``bench/thread_repro.py``).  A thread count read
from the machine's load would make the same command write other rosters on a busy and on an idle
machine, so:

* the default (``hardware.threads: 1`` in ``hardware=local``, ``gpu`` and ``submitit_local``; null,
  as ``hardware=slurm`` has outside a SLURM job) is a fixed count, :data:`DEFAULT_THREADS`: the
  same scores at any load;
* a number is used as given (``hardware=slurm``: the CPUs SLURM gave the job), fixed by the
  request, not by the load;
* ``hardware.threads=auto`` is the load-aware option, for speed: the CPUs this process may run on
  (its affinity mask, capped by a cgroup CPU quota), minus those other processes keep busy (the
  1-minute load average or the number of processes running right now -- the median of five
  readings 0.05 s apart --, whichever is higher, scaled to this process's share of the machine),
  at least 1.  torch's OpenMP threads wait for each other at the end of every operation, so on a
  machine where other processes compete for the cores one descheduled thread stalls the rest:
  with one other CPU-bound process on 2 cores, scoring 60 synflow cells took 9.2 s with 2 threads
  against 3.2 s with 1, and at load 3-7 41-55 s against 2.9-4.0 s.  ``auto`` gives an idle
  machine's cores all to the job and a loaded one 1 thread.  ``OMP_NUM_THREADS``, when set, wins
  over ``auto`` and null.
* OpenMP's wait policy is left as it is (spinning, unless you set ``OMP_WAIT_POLICY``).
  ``PASSIVE`` rescues 2 threads on a loaded machine, but costs 2x at idle: on 2 idle cores,
  synflow on 30 cells took 0.42-0.55 s with 2 spinning threads, 0.92-1.24 s with 2 passive ones
  and 0.54-0.67 s with 1 (``results/bench/cpu_policy_idle.out``).

No torch import here: plain Python, testable without torch.
"""

from __future__ import annotations

import math
import os
import statistics
import time

def usable_cpus() -> float:
    """The CPUs this process may use: its affinity mask, capped by a cgroup v2/v1 CPU quota."""
    try:
        cpus: float = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota()
    return min(cpus, quota) if quota else cpus


def _cgroup_quota() -> float | None:
    try:  # cgroup v2: "max 100000" or "<quota> <period>"
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f:
            quota = int(f.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
            period = int(f.read())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def other_load(samples: int = 5, interval: float = 0.05) -> float:
    """CPUs kept busy by other processes, machine-wide: the 1-minute load average, or the
    processes running right now less this one, whichever is higher (the load average lags:
    shards started together see each other only in the second figure).  "Right now" is the
    median of a few readings ``interval`` seconds apart: a CPU-bound process is running in
    every one, while a short-lived one (a shell command, a kernel thread) caught in a single
    reading would otherwise cost an idle machine its second thread."""
    try:
        load1 = os.getloadavg()[0]
    except (AttributeError, OSError):
        load1 = 0.0
    readings = []
    for i in range(max(1, samples)):
        if i:
            time.sleep(interval)
        running = running_others()
        if running is None:
            break
        readings.append(running)
    return max(load1, float(statistics.median(readings)) if readings else 0.0, 0.0)


def running_others() -> int | None:
    """Tasks running machine-wide at this instant, less this one (/proc/loadavg); None if unknown."""
    try:
        with open("/proc/loadavg") as f:
            return int(f.read().split()[3].split("/")[0]) - 1  # "3/112": running/total
    except (OSError, ValueError, IndexError):
        return None


def auto_threads(cpus: float | None = None, load: float | None = None, total: int | None = None) -> int:
    """Threads for a job: the usable CPUs not busy with other work, at least 1.

    ``load`` (other processes' CPUs, machine-wide) is scaled by the share of the
    machine's ``total`` CPUs this process may use, assuming the load is spread evenly.
    """
    cpus = usable_cpus() if cpus is None else cpus
    load = other_load() if load is None else load
    total = (os.cpu_count() or 1) if total is None else total
    busy = load * min(1.0, cpus / max(total, 1))
    return max(1, min(int(cpus), math.floor(cpus - busy + 0.5)))


def resolve_threads(setting, environ=os.environ) -> tuple[int, str]:
    """The thread count for ``hardware.threads`` (a number, ``auto`` or null) and why.

    A positive integer is used as given, up to :func:`max_threads` (more threads than that only
    wait for each other, and OpenMP runs out of memory long before 100000).  ``auto``:
    ``OMP_NUM_THREADS`` when set, else :func:`auto_threads` (load-aware).  Null:
    ``OMP_NUM_THREADS`` when set, else :data:`DEFAULT_THREADS`, whatever the load.
    """
    global _last
    _last = _resolve(setting, environ)
    return _last


def last_decision() -> tuple[int, str] | None:
    """The thread count :func:`resolve_threads` last decided in this process and why (None: never)."""
    return _last


def _resolve(setting, environ) -> tuple[int, str]:
    text = "" if setting is None else str(setting).strip().lower()
    if text not in ("auto", "", "none", "null"):
        from zcnas.errors import ConfigError

        # an integer, or its digits (an environment variable); never a bool or 1.5 cut to 1
        whole = isinstance(setting, int) and not isinstance(setting, bool)
        threads = int(setting) if whole or (isinstance(setting, str) and setting.strip().isdigit()) else 0
        if threads < 1:
            raise ConfigError(f"hardware.threads must be a positive integer or auto, got {setting!r}")
        if threads > max_threads():
            raise ConfigError(f"hardware.threads={threads} is more than {THREADS_PER_CPU} per CPU of this machine "
                              f"({os.cpu_count() or 1} CPUs); use at most {max_threads()}, or auto")
        return threads, "hardware.threads"
    env = environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env), "OMP_NUM_THREADS"
    if text != "auto":
        return DEFAULT_THREADS, "default: the same scores whatever the load"
    global _auto
    if _auto is None:
        # once per process: in a sweep run in one process, later jobs would otherwise count
        # the load of this very process's earlier jobs as other work
        cpus, load, total = usable_cpus(), other_load(), os.cpu_count() or 1
        _auto = auto_threads(cpus, load, total), f"load {load:.1f} on {cpus:g} of {total} cores"
    return _auto


_auto: tuple[int, str] | None = None
_last: tuple[int, str] | None = None

#: the thread count of a job that names none: fixed, so that its scores do not depend on the load
DEFAULT_THREADS = 1

#: the most threads per CPU of the machine that ``hardware.threads`` may ask for
THREADS_PER_CPU = 4


def max_threads() -> int:
    return THREADS_PER_CPU * (os.cpu_count() or 1)
