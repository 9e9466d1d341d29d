"""Exact products C Cᵀ of 0/1 code matrices, with the kernel chosen by measuring it on this machine.

Two exact CPU kernels compute C Cᵀ for a B×N boolean matrix C (NASWOT's per-layer
agreement counts):

* ``int8``: ``torch._int_mm`` on the bool bytes reinterpreted as int8, int32
  accumulation: exact below 2**31 units;
* ``float32``: a float32 BLAS product: exact while N ≤ 2**24 (float32 holds every
  integer up to 2**24); above that, float64 (exact below 2**53).

Both give the same integers, so the kernel never changes a score, only the time.
Which one is faster is *measured* once per process, the first time a product is
needed, not read from the CPU's feature flags: the int8 kernel goes through
oneDNN, whose speed depends on the CPU (VNNI or not), on the oneDNN version torch
was built with and on the shape, and the flags do not predict it.  Measured:
0.26 s for a 128×16,384 code matrix on an AVX2 EPYC without VNNI against 0.009 s
for float32 (30× slower); 0.0012 s against 0.008 s on an EPYC with AVX-512 VNNI
(7× faster).

``ZCNAS_NASWOT_KERNEL=int8|float32|auto`` (default ``auto``) fixes the choice,
e.g. to reproduce a benchmark.
"""

from __future__ import annotations

import os
import statistics
import time

import torch

from zcnas.errors import ConfigError

#: float32 holds every integer up to 2**24 exactly: a float32 product of 0/1
#: matrices is exact while a row has at most this many units
FLOAT32_EXACT = 2**24
#: the int8 product accumulates in int32, exact below 2**31
INT32_EXACT = 2**31 - 1

KERNELS = ("int8", "float32")
ENV = "ZCNAS_NASWOT_KERNEL"
#: the matrix the choice is measured on: one NATS-Bench cell's largest ReLU layer
#: (16 channels × 32×32) for a batch of 128
PROBE_SHAPE = (128, 16 * 32 * 32)

_chosen: str | None = None
#: how the choice was made: the env override, or the measured medians (s) per kernel
choice_info: dict = {}


def int8_product(codes: torch.Tensor) -> torch.Tensor:
    """C Cᵀ (float64) through ``torch._int_mm``; ``codes`` a contiguous bool matrix with < 2**31 columns."""
    c8 = codes.view(torch.int8)  # bool is one byte 0/1: a free reinterpretation
    return torch._int_mm(c8, c8.t()).to(torch.float64)


def float_product(codes: torch.Tensor) -> torch.Tensor:
    """C Cᵀ (float64) through a float32 BLAS product (float64 above 2**24 columns)."""
    dtype = torch.float32 if codes.shape[1] <= FLOAT32_EXACT else torch.float64
    c = codes.to(dtype)
    return (c @ c.T).to(torch.float64)


def int8_available() -> bool:
    """Whether this torch build has a working CPU int8 matrix product."""
    if not hasattr(torch, "_int_mm"):
        return False
    try:
        probe = torch.ones((2, 3), dtype=torch.bool)
        return bool((int8_product(probe) == 3).all())
    except RuntimeError:
        return False


def _time(fn, codes: torch.Tensor) -> float:
    start = time.perf_counter()
    fn(codes)
    return time.perf_counter() - start


def measure(shape: tuple[int, int] = PROBE_SHAPE, repeats: int = 3) -> dict[str, float]:
    """Median seconds of each kernel on a random (seeded) binary matrix of ``shape``.

    One untimed call each first (oneDNN builds its kernel on the first call), then
    ``repeats`` timed calls, the two kernels alternating so that load affects both alike.
    """
    gen = torch.Generator().manual_seed(0)
    codes = torch.rand(shape, generator=gen) > 0.5
    fns = {"int8": int8_product, "float32": float_product}
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn(codes)
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(_time(fn, codes))
    return {name: statistics.median(t) for name, t in times.items()}


def choose_kernel() -> str:
    """The CPU kernel for C Cᵀ in this process: ``int8`` or ``float32``, decided on the first call."""
    global _chosen
    if _chosen is not None:
        return _chosen
    wanted = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if wanted not in (*KERNELS, "auto"):
        raise ConfigError(f"{ENV}={wanted!r}: expected int8, float32 or auto")
    if wanted == "float32" or not int8_available():
        if wanted == "int8":
            raise ConfigError(f"{ENV}=int8, but this torch build has no CPU int8 matrix product "
                              f"(torch._int_mm); use {ENV}=float32 or auto")
        choice_info.update(how=wanted if wanted != "auto" else "no int8 kernel")
        _chosen = "float32"
    elif wanted == "int8":
        choice_info.update(how=wanted)
        _chosen = "int8"
    else:
        medians = measure()
        _chosen = min(KERNELS, key=lambda k: medians[k])
        # not printed (a library call must not write to stdout); `make bench` reports it
        choice_info.update(how="measured", shape=PROBE_SHAPE, threads=torch.get_num_threads(), **medians)
    return _chosen


def chosen() -> str | None:
    """The kernel this process chose so far, without choosing one (None: no product computed yet)."""
    return _chosen


def kernel_for(device: str) -> str:
    """The kernel C Cᵀ products of a job on ``device`` use, as rosters record it: on the CPU this
    process's choice (measured now if not yet: it is needed by the first cell anyway), else float32."""
    return choose_kernel() if str(device).startswith("cpu") else "float32"


def reset_choice() -> None:
    """Forget the choice (tests; a process whose thread count changed a lot)."""
    global _chosen
    _chosen = None
    choice_info.clear()


def code_product(codes: torch.Tensor, kernel: str | None = None) -> torch.Tensor:
    """C Cᵀ as a float64 matrix of exact counts, for a contiguous B×N boolean matrix C.

    ``kernel`` forces ``int8`` or ``float32``; by default the process's measured
    choice on the CPU, and the float product on other devices.
    """
    units = codes.shape[1]
    if codes.device.type == "cpu" and units <= INT32_EXACT:
        if kernel is None:
            kernel = choose_kernel()
        if kernel == "int8":
            try:
                return int8_product(codes)
            except RuntimeError:  # a shape the int8 kernel refuses: the float product is as exact
                pass
        elif kernel != "float32":
            raise ValueError(f"kernel must be int8 or float32, got {kernel!r}")
    return float_product(codes)
