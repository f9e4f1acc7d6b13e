"""How many threads numpy's BLAS uses for matrix products (like ``torch.set_num_threads``).

chainrule's convolutions and linear layers are matrix products of modest size
(LeNet-5's are a few hundred thousand multiply-adds per call).  For those,
OpenBLAS's second thread often costs more than it gains, and on a busy
machine its spinning threads can make a small product a hundred times
slower.  ``set_num_threads(1)`` is what the ``chainrule`` command and the
benchmarks use by default; the library itself changes nothing unless asked.

The thread count is set through the OpenBLAS library that numpy has already
loaded (found in ``/proc/self/maps`` or next to numpy), with ``ctypes``;
where numpy uses another BLAS the functions say so and do nothing.
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

__all__ = ["set_num_threads", "get_num_threads"]

_SETTERS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_", "openblas_get_num_threads")
_lib: ctypes.CDLL | None | bool = False  # False: not looked up yet


def _openblas() -> ctypes.CDLL | None:
    global _lib
    if _lib is not False:
        return _lib
    paths: list[str] = []
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line})
    except OSError:
        pass
    here = os.path.dirname(np.__file__)
    paths += glob.glob(os.path.join(here, os.pardir, "numpy.libs", "*openblas*"))
    paths += glob.glob(os.path.join(here, ".dylibs", "*openblas*"))
    _lib = None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        if any(hasattr(lib, name) for name in _SETTERS):
            _lib = lib
            break
    return _lib


def set_num_threads(n: int) -> bool:
    """Use ``n`` BLAS threads for numpy's matrix products; False if numpy's BLAS is not OpenBLAS."""
    if n < 1:
        raise ValueError(f"set_num_threads: need at least 1 thread, got {n}")
    lib = _openblas()
    if lib is None:
        return False
    for name in _SETTERS:
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.argtypes = [ctypes.c_int]
            fn(int(n))
            return True
    return False  # pragma: no cover


def get_num_threads() -> int | None:
    """The number of BLAS threads numpy's OpenBLAS uses (None if unknown)."""
    lib = _openblas()
    if lib is None:
        return None
    for name in _GETTERS:
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype = ctypes.c_int
            return int(fn())
    return None  # pragma: no cover
