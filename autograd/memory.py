"""Keep freed large arrays in the process heap instead of handing them back to the kernel.

Every op allocates its result with numpy, and an array of more than 128 kB is, by glibc's
defaults, a fresh ``mmap`` that is unmapped again when freed.  Each use of such memory then
starts with one page fault per 4 kB page, and in a convolution + ReLU + pooling step on
LeNet-sized batches the page faults cost about as much as the arithmetic (conv1 of
``bench/ops.py`` at batch 64: ~12.5 ms per forward + backward with glibc's defaults, ~6.5 ms
with the setting below, measured in one process).

So on glibc (Linux), importing ``autograd`` calls ``mallopt`` once to raise the ``mmap``
threshold to 32 MB (arrays up to that size come from the heap and are reused after being
freed) and the trim threshold to 64 MB (at most that much free memory is kept beyond what
the process uses).  It is a **process-wide** setting of the C allocator: the process may keep up to
64 MB more resident memory than it needs, and numpy code outside chainrule is affected the
same way.  Set the environment variable ``CHAINRULE_MALLOPT=0`` before importing ``autograd``
to keep glibc's defaults.  Elsewhere (no glibc) nothing is done.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["malloc_tuned"]

MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 64 << 20
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_tuned = False


def malloc_tuned() -> bool:
    """Whether chainrule changed glibc's malloc thresholds in this process."""
    return _tuned


def _tune() -> None:
    global _tuned
    if os.environ.get("CHAINRULE_MALLOPT", "1") == "0" or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (musl has mallopt as a stub)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    _tuned = ok


_tune()
