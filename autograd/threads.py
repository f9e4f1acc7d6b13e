"""How many threads chainrule uses inside one operation (like ``torch.set_num_threads``).

``set_num_threads(n)`` sets chainrule's *intra-op* thread count ``n``:

* convolutions split the batch into chunks and run them on a small persistent pool of
  ``n - 1`` Python threads plus the calling thread (numpy's matrix products, copies and
  ufuncs release the GIL); each thread has its own scratch buffers and calls BLAS with
  **one** OpenBLAS thread, so the threads never fight over cores;
* a single large matrix product (``matmul``, ``linear``; at least ``GEMM_PARALLEL_MACS``
  multiply-adds) lets OpenBLAS use ``n`` threads; a small one uses 1 (a second BLAS thread
  costs more than it gains there, and OpenBLAS's spinning threads make small products very
  slow on a busy machine).

chainrule therefore *manages numpy's OpenBLAS thread count* while it runs: it sets it (through
the OpenBLAS library numpy has loaded, with ``ctypes``, only when the wanted count changes) to
1 or ``n`` per product.  Your own numpy products afterwards run with whichever of the two
chainrule used last.  Where numpy's BLAS is not OpenBLAS, only the convolution pool is used.

Nesting: while ``parallel_for`` runs work on several threads, each of those threads (the caller
and the pool's workers) is *inside a parallel region*: a ``parallel_for`` called from there runs
its tasks serially on that thread (a pool worker waiting on its own pool would deadlock), and
``gemm_threads`` / ``use_blas_threads`` do nothing (BLAS stays at one thread per caller; its
thread count is process-wide, so a worker must not raise it for the others).

Default (``set_num_threads`` never called): ``n`` is the thread count numpy's OpenBLAS had
when chainrule first needed it, which honours ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS``
and is otherwise the number of cores; without OpenBLAS, the number of usable cores.

A whole training loop mixes both kinds of work, and there the two get in each other's way:
after a product that ran on several OpenBLAS threads, OpenBLAS's workers keep spinning for a
while (``OPENBLAS_THREAD_TIMEOUT``, about 0.1 s by default, read when numpy loads), so the
convolution pool's worker shares its core with one.  Measured on a 2-core machine (LeNet-5, one
epoch over 20,000 MNIST images, ``bench/lenet.py --framework ours --limit 20000 --epochs 1``):
one thread 4.2-4.7 s; two threads 5.0-6.0 s at twice the CPU time; two threads with
``OPENBLAS_THREAD_TIMEOUT=4`` in the environment 4.4 s.  So ``chainrule train`` and
``bench/lenet.py`` use one thread by default, and ``set_num_threads(1)`` does the same in your
own loop; single blocks timed on their own (``bench/ops.py``) do gain from two.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
import threading
from collections.abc import Callable

import numpy as np

__all__ = ["set_num_threads", "get_num_threads"]

# A matrix product with at least this many multiply-adds lets OpenBLAS use all n threads.
GEMM_PARALLEL_MACS = 1 << 20

_SETTERS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_", "openblas_get_num_threads")
_lib: ctypes.CDLL | None | bool = False  # False: not looked up yet
_setter: Callable[[int], object] | None = None
_getter: Callable[[], int] | None = None

_intra: int | None = None  # chainrule's intra-op threads (None: not decided yet)
_blas_now: int | None = None  # the OpenBLAS thread count chainrule last set (or read)
_workers: list[_Worker] = []  # the pool: started as needed (idle ones sleep on a lock); see parallel_for
_lock = threading.RLock()  # held while parallel_for uses the pool (one caller at a time; _is_owned tells who)
_forks = 0  # forks of this process so far (a call that sees it change ran on into a forked child)


class _Region(threading.local):
    inside = False  # this thread is running work of a parallel (several-thread) parallel_for


_region = _Region()


def _openblas() -> ctypes.CDLL | None:
    global _lib, _setter, _getter
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
        setter = next((getattr(lib, s) for s in _SETTERS if hasattr(lib, s)), None)
        if setter is None:
            continue
        setter.argtypes = [ctypes.c_int]
        getter = next((getattr(lib, s) for s in _GETTERS if hasattr(lib, s)), None)
        if getter is not None:
            getter.restype = ctypes.c_int
        _lib, _setter, _getter = lib, setter, getter
        break
    return _lib


def blas_threads() -> int | None:
    """The thread count numpy's OpenBLAS uses right now (None without OpenBLAS)."""
    _openblas()
    return None if _getter is None else int(_getter())


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def get_num_threads() -> int:
    """chainrule's intra-op thread count (see the module docstring)."""
    global _intra
    if _intra is None:
        n = blas_threads()
        _intra = max(1, n if n is not None else _cores())
    return _intra


def set_num_threads(n: int) -> bool:
    """Use up to ``n`` threads inside each operation; False if numpy's BLAS is not OpenBLAS.

    Also sets numpy's OpenBLAS to ``n`` threads (chainrule lowers it to 1 for small
    products and for its own parallel loops, see the module docstring).
    """
    global _intra
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: need at least 1 thread, got {n}")
    _intra = n
    _openblas()
    if _setter is None:
        return False
    _set_blas(n)
    return True


def _set_blas(n: int) -> None:
    global _blas_now
    if _setter is not None:
        _setter(n)
    _blas_now = n


def use_blas_threads(n: int) -> None:
    """Have OpenBLAS use ``n`` threads (a ctypes call only when that changes); nothing inside a
    parallel region."""
    if n != _blas_now and not _region.inside:
        if _lib is False:
            _openblas()
        _set_blas(n)


def gemm_threads(macs: int) -> None:
    """Set OpenBLAS's threads for one product of ``macs`` multiply-adds: n if big, else 1 (nothing
    inside a parallel region)."""
    if _region.inside:
        return
    n = _intra if _intra is not None else get_num_threads()
    n = n if n > 1 and macs >= GEMM_PARALLEL_MACS else 1
    if n != _blas_now:  # (use_blas_threads without its second look at the region)
        if _lib is False:
            _openblas()
        _set_blas(n)


class _Worker:
    """A pool thread that runs one task at a time, handed over with two locks.

    ``start`` puts the task in place and releases ``_go``, on which the thread sleeps; the thread
    releases ``_done`` when the task has run.  A released lock wakes its waiter directly: an empty
    two-thread ``parallel_for`` took about 23 us back to back on a 2-core VM, against 49 us with a
    ThreadPoolExecutor's queue and futures.  ``retire`` ends the thread after its current task.
    """

    __slots__ = ("_go", "_done", "_task", "_error")

    def __init__(self) -> None:
        self._go, self._done = threading.Lock(), threading.Lock()
        self._go.acquire()
        self._done.acquire()
        self._task: Callable[[], object] | None = None
        self._error: BaseException | None = None

    def launch(self, name: str) -> None:
        """Start the thread (once the worker is in the pool, so that an interrupted start still gets it retired)."""
        threading.Thread(target=self._serve, name=name, daemon=True).start()

    def _serve(self) -> None:
        while True:
            self._go.acquire()
            task, self._task = self._task, None
            if task is None:  # retired
                return
            try:
                task()
            except BaseException as e:  # noqa: BLE001 - handed to the caller by join
                self._error = e
            del task
            self._done.release()

    def start(self, task: Callable[[], object]) -> None:
        self._task = task
        self._go.release()

    def join(self) -> BaseException | None:
        """Wait for the task; its exception (None if it returned)."""
        self._done.acquire()
        error, self._error = self._error, None
        return error

    def forked(self) -> BaseException | None:
        """``join`` in a process forked while the task ran (this thread is not in it): the task's exception if it
        was over before the fork, else a RuntimeError (its work was not done in this process)."""
        if not self._done.acquire(blocking=False):
            return RuntimeError("parallel_for: the process forked while a pool thread was running its tasks; "
                                "they are not done in the child")
        error, self._error = self._error, None
        return error

    def retire(self) -> None:
        """End the thread once its current task, if any, is over (a task handed but not begun is dropped);
        nobody waits for it."""
        self._task = None
        try:
            self._go.release()
        except RuntimeError:  # released already: a task was handed and not begun; it now reads None
            pass


_serial = 0  # pool threads started so far (names them)


def _get_workers(n: int) -> list[_Worker]:
    """The first ``n`` pool threads (started as needed); call with ``_lock`` held."""
    global _serial
    while len(_workers) < n:
        w = _Worker()
        _workers.append(w)
        _serial += 1
        w.launch(f"chainrule-{_serial - 1}")
    return _workers[:n]


def parallel_for(ntasks: int, work: Callable[[int], object], threads: int | None = None) -> None:
    """Run ``work(k)`` for k in range(ntasks) on up to ``threads`` threads (default: the
    intra-op count), each thread taking a contiguous run of k in order; BLAS gets one thread
    per caller when more than one thread runs.  Exceptions propagate after every thread has
    finished: the calling thread's first, else the first pool thread's.  Interrupted while it
    hands out or waits (KeyboardInterrupt), it returns at once and the pool threads finish
    their runs on their own (then end: the next call starts new ones).  A process forked from
    ``work`` finishes the call in the child only if the pool's runs were over before the fork
    (their threads do not exist there); else the child's call raises RuntimeError.

    Called inside a parallel region (from ``work`` of an enclosing parallel_for), while another
    thread of the program has the pool, or from a signal handler that interrupted this thread's
    own call, it runs the tasks serially on the calling thread (the split never changes results,
    only where they are computed).
    """
    global _workers

    def run(lo: int, hi: int) -> None:
        _region.inside = True
        try:
            for k in range(lo, hi):
                work(k)
        finally:
            _region.inside = False

    n = 1 if _region.inside else min(get_num_threads() if threads is None else threads, ntasks)
    if n <= 1:
        for k in range(ntasks):
            work(k)
        return
    lock, forks = _lock, _forks  # (a fork in `work` replaces the module's lock in the child: release this one)
    if lock._is_owned():  # a signal handler inside this thread's own call
        run(0, ntasks)
        return
    owned = joined = False
    try:
        # (acquired inside the try: an interrupt landing just after the acquire still reaches the release below)
        owned = lock.acquire(blocking=False)
        if not owned:  # another thread's parallel_for has the pool
            run(0, ntasks)  # (inside a region: it leaves OpenBLAS's thread count alone)
            return
        use_blas_threads(1)
        bounds = [ntasks * i // n for i in range(n + 1)]
        workers = _get_workers(n - 1)
        for i, w in enumerate(workers, 1):
            w.start(functools.partial(run, bounds[i], bounds[i + 1]))
        try:
            run(bounds[0], bounds[1])
        finally:
            errors = [w.join() if _forks == forks else w.forked() for w in workers]
            joined = True
        error = next((e for e in errors if e is not None), None)
        if error is not None:
            raise error
    finally:
        if owned or lock._is_owned():  # (no call when owned: an interrupt could land after one returns)
            # After an interrupted hand-over or wait a pool thread may still be running a task and would later
            # signal a wait not its own: the pool is replaced (swapped without a call, so no interrupt lands in
            # between) and its threads end after their tasks.
            old: list[_Worker] = []
            if not joined:
                old, _workers = _workers, []
            lock.release()
            for w in old:
                w.retire()


def _after_fork() -> None:  # the pool's threads do not exist in a forked child
    global _workers, _lock, _forks
    _workers, _lock, _forks = [], threading.RLock(), _forks + 1
    _region.inside = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
