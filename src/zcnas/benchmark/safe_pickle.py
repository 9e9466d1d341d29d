"""Read NATS-Bench's ``*.pickle.pbz2`` files without letting them run code.

A pickle can name any importable function and have it called while loading
(``os.system``, ``builtins.eval``, ...), so a crafted ``meta.pickle.pbz2`` in a
``benchmark.path`` directory would run code as the user.  ``nats_bench`` loads
its files with plain ``pickle.load``; ``restricted_loading()`` makes it use
``load_pbz2`` below instead, whose unpickler admits only the globals that the
official release is built from (by AutoDL-Projects' ``tss-collect.py``):

* ``collections.OrderedDict``: the per-hp tables and NATS-Bench's pseudo
  per-epoch train times;
* numpy scalars (``numpy.dtype`` and the multiarray ``scalar`` constructor,
  numpy 1 and 2 spellings), numeric dtypes only: parameter counts were
  computed with numpy and stored as ``numpy.float64``;
* ``builtins.set``: the meta file's ``evaluated_indexes``, in case a file was
  written with a pickle protocol older than 4 (which spells a set as a call).

Dicts, lists, tuples, strings, numbers, ``None`` and (protocol 4) sets need no
global.  Anything else stops the load with ``UnsafePickleError`` before the
object is created.
"""

from __future__ import annotations

import bz2
import collections
import contextlib
import os
import pickle

import numpy as np

_NUMPY_SCALAR = np.float64(0).__reduce__()[0]  # numpy's scalar constructor, wherever numpy keeps it
_NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats


class UnsafePickleError(pickle.UnpicklingError):
    """A file names a global that the official NATS-Bench files never use."""


def _dtype(spec, align=False, copy=True):  # numpy.dtype's pickled arguments
    # always a copy: the pickle's BUILD step then sets the state of this dtype, not numpy's shared one
    dtype = np.dtype(spec, align=bool(align), copy=True) if isinstance(spec, str) else None
    if dtype is None or dtype.kind not in _NUMERIC_KINDS:
        raise UnsafePickleError(f"numpy.dtype({spec!r})")  # only numeric dtypes are admitted
    return dtype


def _scalar(dtype, data):
    if not isinstance(dtype, np.dtype) or dtype.kind not in _NUMERIC_KINDS or not isinstance(data, bytes):
        raise UnsafePickleError("a numpy scalar that is not a plain number")
    return _NUMPY_SCALAR(dtype, data)


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("numpy", "dtype"): _dtype,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"{module}.{name}") from None


def load_pbz2(file_path, ext: str = ".pbz2"):
    """``nats_bench.api_utils.pickle_load`` (same arguments), admitting only NATS-Bench's types."""
    path = str(file_path) if os.path.isfile(str(file_path)) else str(file_path) + ext
    with bz2.BZ2File(path, "rb") as f:
        try:
            return _RestrictedUnpickler(f).load()
        except UnsafePickleError as e:
            raise UnsafePickleError(
                f"refusing to load {path}: it asks for {e}, which official NATS-Bench files never "
                "contain (a crafted pickle can run code when loaded)"
            ) from None


@contextlib.contextmanager
def restricted_loading():
    """Within the block, ``nats_bench`` reads its files with ``load_pbz2``.

    nats_bench calls ``pickle_load`` by module-level name, from ``api_utils``
    (per-architecture files) and ``api_topology`` (the meta file, which imported
    it by name); both names are swapped and restored.  The swap is process-wide
    while the block runs, which can only make other nats_bench users stricter.
    A nats_bench release that no longer has these names is refused, not trusted.
    """
    from nats_bench import api_topology, api_utils

    modules = (api_utils, api_topology)
    if not all(callable(getattr(m, "pickle_load", None)) for m in modules):
        raise UnsafePickleError("this nats_bench version loads files in an unknown way; cannot restrict it")
    saved = [m.pickle_load for m in modules]
    for m in modules:
        m.pickle_load = load_pbz2
    try:
        yield
    finally:
        for m, original in zip(modules, saved):
            m.pickle_load = original
