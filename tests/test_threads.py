"""autograd.set_num_threads / get_num_threads: chainrule's intra-op threads (conv thread pool,
OpenBLAS threads for big products) and the pool path's results."""

import numpy as np
import pytest
from reference import conv2d_grads_ref, conv2d_ref

import autograd
from autograd import threads
from autograd.ops.conv import conv2d, max_pool2d


def test_set_and_get_round_trip(restore_threads):
    for n in (1, 2, 3):
        ok = autograd.set_num_threads(n)
        assert autograd.get_num_threads() == n
        if ok:  # numpy's BLAS is OpenBLAS: it follows
            assert threads.blas_threads() == n
        a = np.arange(12.0).reshape(3, 4)
        assert np.allclose(a @ a.T, np.einsum("ij,kj->ik", a, a))  # products still right


def test_rejects_zero_threads():
    with pytest.raises(ValueError, match="at least 1"):
        autograd.set_num_threads(0)


def test_default_is_positive():
    assert autograd.get_num_threads() >= 1


def test_gemm_threads_by_size(restore_threads):
    if not autograd.set_num_threads(2):
        pytest.skip("numpy does not use OpenBLAS here")
    threads.gemm_threads(10)
    assert threads.blas_threads() == 1
    threads.gemm_threads(threads.GEMM_PARALLEL_MACS)
    assert threads.blas_threads() == 2
    autograd.set_num_threads(1)
    threads.gemm_threads(threads.GEMM_PARALLEL_MACS * 100)
    assert threads.blas_threads() == 1


def test_parallel_for_runs_every_task_once_and_raises(restore_threads):
    seen = []
    threads.parallel_for(11, seen.append, threads=3)
    assert sorted(seen) == list(range(11))

    def boom(k):
        if k == 7:
            raise ZeroDivisionError("task 7")

    with pytest.raises(ZeroDivisionError, match="task 7"):
        threads.parallel_for(9, boom, threads=2)


def _conv_block_grads(x, w, b):
    X = autograd.Tensor(x, requires_grad=True)
    W = autograd.Tensor(w, requires_grad=True)
    B = autograd.Tensor(b, requires_grad=True)
    y = max_pool2d(conv2d(X, W, B, padding=1).relu(), 2)
    g = autograd.Tensor(np.cos(np.arange(y.data.size)).reshape(y.shape).astype(x.dtype))
    y.backward(g)
    return [y.data, X.grad.data, W.grad.data, B.grad.data]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [1, 5, 64, 300])
def test_conv_pool_path_identical_to_serial(restore_threads, dtype, batch):
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, 3, 11, 11)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    autograd.set_num_threads(1)
    serial = _conv_block_grads(x, w, b)
    for n in (2, 3):
        autograd.set_num_threads(n)
        for a, s in zip(_conv_block_grads(x, w, b), serial):
            assert a.dtype == s.dtype
            np.testing.assert_array_equal(a, s)  # bit for bit: chunking does not depend on threads


@pytest.mark.parametrize("dtypes", [(np.float64, np.float32, np.float32), (np.float32, np.float64, np.float64),
                                    (np.float32, np.float32, np.float64)])
def test_conv_backward_mixed_dtypes_identical_to_serial(restore_threads, monkeypatch, dtypes):
    """x, w and the upstream gradient in different dtypes (each side computes in its own result dtype)."""
    from autograd.ops import conv as conv_mod

    calls = []
    real = conv_mod._conv_grads
    monkeypatch.setattr(conv_mod, "_conv_grads", lambda *a: calls.append(1) or real(*a))
    xd, wd, gd = dtypes
    rng = np.random.default_rng(7)
    x = rng.standard_normal((300, 3, 11, 11)).astype(xd)  # 4 chunks in float32, 8 in float64
    w = rng.standard_normal((4, 3, 3, 3)).astype(wd)
    results = []
    for n in (1, 2):
        autograd.set_num_threads(n)
        X, W = autograd.Tensor(x, requires_grad=True), autograd.Tensor(w, requires_grad=True)
        y = conv2d(X, W)
        y.backward(autograd.Tensor(np.sin(np.arange(y.data.size)).reshape(y.shape).astype(gd)))
        results.append((X.grad.data, W.grad.data))
        assert len(calls) == n - 1  # two threads took the side-by-side path, one did not
    for a, s in zip(*results):
        assert a.dtype == s.dtype
        np.testing.assert_array_equal(a, s)


def test_conv_pool_path_matches_direct_formula(restore_threads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 2, 7, 6))
    w = rng.standard_normal((3, 2, 3, 2))
    autograd.set_num_threads(2)
    X = autograd.Tensor(x, requires_grad=True)
    W = autograd.Tensor(w, requires_grad=True)
    y = conv2d(X, W)
    g = rng.standard_normal(y.shape)
    y.backward(autograd.Tensor(g))
    np.testing.assert_allclose(y.data, conv2d_ref(x, w), rtol=1e-12, atol=1e-12)
    gx, gw, _ = conv2d_grads_ref(x, w, g)
    np.testing.assert_allclose(W.grad.data, gw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(X.grad.data, gx, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("batch", [2, 64])
def test_conv_backward_side_by_side_only_with_two_threads(restore_threads, monkeypatch, n, batch):
    """The side-by-side backward runs on two threads whatever the count: it is taken only when that is the
    count, and only for a batch of several chunks (one chunk is done faster on one thread)."""
    from autograd.ops import conv as conv_mod

    calls = []
    real = conv_mod._conv_grads
    monkeypatch.setattr(conv_mod, "_conv_grads", lambda *a: calls.append(1) or real(*a))
    autograd.set_num_threads(n)
    X = autograd.Tensor(np.ones((batch, 4, 12, 12)), requires_grad=True)
    W = autograd.Tensor(np.ones((2, 4, 3, 3)), requires_grad=True)
    gm = conv_mod._ConvGeom(X.shape, W.shape, (1, 1), (0, 0))
    several = len(conv_mod._chunks(gm, 8)) > 2
    assert several == (batch == 64)
    conv2d(X, W).sum().backward()
    assert len(calls) == (n == 2 and several)
    np.testing.assert_array_equal(W.grad.data, np.full((2, 4, 3, 3), 100.0 * batch))


_NESTED = """
import threading
import autograd
from autograd import threads

autograd.set_num_threads({n})
seen, where = [], {{}}

def inner(k):
    seen.append(k)

def outer(k):
    me = threading.get_ident()
    threads.parallel_for(4, lambda j: (inner(4 * k + j), where.setdefault(4 * k + j, threading.get_ident())))
    assert all(where[4 * k + j] == me for j in range(4)), "a nested parallel_for left its thread"

threads.parallel_for(4, outer)
assert sorted(seen) == list(range(16)), seen
print("ok")
"""


@pytest.mark.parametrize("n", [2, 3])
def test_nested_parallel_for_completes(n):
    """A parallel_for inside parallel_for work runs serially on that thread instead of waiting on its own pool.

    Run in a subprocess with a timeout: a deadlocked pool would otherwise also hang the test process at exit.
    """
    import subprocess
    import sys

    try:
        out = subprocess.run([sys.executable, "-c", _NESTED.format(n=n)], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"nested parallel_for deadlocked with {n} threads")
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_blas_threads_left_alone_inside_parallel_region(restore_threads):
    if not autograd.set_num_threads(3):
        pytest.skip("numpy does not use OpenBLAS here")
    seen = []

    def work(k):
        threads.gemm_threads(threads.GEMM_PARALLEL_MACS * 100)
        threads.use_blas_threads(3)
        seen.append(threads.blas_threads())

    threads.parallel_for(3, work)
    assert seen == [1, 1, 1]
    threads.gemm_threads(threads.GEMM_PARALLEL_MACS * 100)  # outside the region again: it acts
    assert threads.blas_threads() == 3


def _pool_threads() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name.startswith("chainrule-")]


def test_parallel_for_uses_pool_threads_and_reuses_them(restore_threads):
    import threading

    where: dict[int, str] = {}
    threads.parallel_for(4, lambda k: where.setdefault(k, threading.current_thread().name), threads=2)
    assert where[0] == where[1] == threading.current_thread().name  # the caller runs the first run of k
    assert where[2] == where[3] and where[2].startswith("chainrule-")  # one pool thread ran k = 2, 3
    threads.parallel_for(3, lambda k: None, threads=3)
    before = _pool_threads()
    for _ in range(50):
        threads.parallel_for(3, lambda k: None, threads=3)
    assert _pool_threads() == before  # no pool thread started or ended by a call


def test_parallel_for_caller_error_waits_for_the_pool_and_wins(restore_threads):
    import time

    done = []

    def work(k):
        if k == 1:  # the pool's task fails first
            done.append(k)
            raise ValueError("pool's task")
        time.sleep(0.05)
        done.append(k)
        raise KeyError("caller's task")

    with pytest.raises(KeyError, match="caller's task"):
        threads.parallel_for(2, work, threads=2)
    assert sorted(done) == [0, 1]
    slow = []

    def work2(k):
        if k == 1:
            time.sleep(0.05)  # the pool thread still busy when the caller fails
            slow.append(k)
        else:
            raise KeyError("caller's task")

    with pytest.raises(KeyError):
        threads.parallel_for(2, work2, threads=2)
    assert slow == [1]  # it had finished before parallel_for returned
    seen = []
    threads.parallel_for(6, seen.append, threads=2)  # the pool still works (no stale hand-over left)
    assert sorted(seen) == list(range(6))


def test_parallel_for_from_two_threads_at_once(restore_threads):
    """Two callers at once: one gets the pool, the other runs its tasks itself (as in a parallel region);
    every task of every call runs exactly once."""
    import threading
    import time

    counts = [[0] * 4 for _ in range(200)]
    inside, after, alone = [], [], []

    def caller(first):
        me = threading.current_thread().name
        for c in range(first, 200, 2):
            ran = set()

            def work(k, c=c, ran=ran):
                counts[c][k] += 1
                inside.append(threads._region.inside)
                ran.add(threading.current_thread().name)
                time.sleep(0.0005)  # long enough for the two callers' calls to overlap

            threads.parallel_for(4, work, threads=2)
            alone.append(ran == {me})
        after.append(threads._region.inside)  # left outside a region in this thread

    ts = [threading.Thread(target=caller, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert counts == [[1] * 4 for _ in range(200)]
    assert all(inside) and after == [False, False]
    assert any(alone) and not all(alone)  # some calls found the pool busy and ran serially, others used it


def test_interrupted_wait_replaces_the_pool(restore_threads, monkeypatch):
    """A wait for a pool thread interrupted (KeyboardInterrupt) leaves that thread to signal later:
    the pool is replaced, so no later call can take that signal for its own task."""
    threads.parallel_for(2, lambda k: None, threads=2)
    old = list(threads._workers)

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(threads._Worker, "join", interrupted)
    with pytest.raises(KeyboardInterrupt):
        threads.parallel_for(2, lambda k: None, threads=2)
    monkeypatch.undo()
    assert threads._workers == []
    seen = []
    threads.parallel_for(4, seen.append, threads=2)
    assert sorted(seen) == list(range(4)) and threads._workers[0] is not old[0]


def test_interrupted_hand_over_leaves_no_stale_signal(restore_threads, monkeypatch):
    """Ctrl-C between handing tasks to two pool threads: the first thread's later "done" must not end
    the wait of the next call (which would return before its work is done)."""
    import functools
    import time
    import types

    calls = []

    def partial(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # stands for a Ctrl-C landing between two hand-overs
        return functools.partial(*a, **k)

    monkeypatch.setattr(threads, "functools", types.SimpleNamespace(partial=partial))
    with pytest.raises(KeyboardInterrupt):
        threads.parallel_for(3, lambda k: None, threads=3)
    monkeypatch.undo()
    time.sleep(0.1)  # the first pool thread has finished its task meanwhile
    done = []

    def work(k):
        if k == 1:
            time.sleep(0.2)
            done.append(k)

    threads.parallel_for(2, work, threads=2)
    assert done == [1]  # returned only after the pool thread's task


_FORK = """
import os, sys, time
from autograd import threads

def work(k):
    if k == 0:
        time.sleep(0.2)  # the pool thread's task is over
        pid = os.fork()
        if pid:
            os.waitpid(pid, 0)

threads.parallel_for(2, work, threads=2)
print("ok", flush=True)
"""


_FORK_EARLY = """
import os, time
from autograd import threads

def work(k):
    if k == 0:
        pid = os.fork()
        if pid:
            os.waitpid(pid, 0)
    else:
        time.sleep(0.5)  # the pool thread is still at it when the caller forks

try:
    threads.parallel_for(2, work, threads=2)
    print("ok", flush=True)
except RuntimeError as e:
    print("refused" if "forked" in str(e) else repr(e), flush=True)
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_fork_inside_parallel_for_work():
    """A child forked from a task finishes the call when the pool's runs were over before the fork (the child's
    fresh module lock is not the one held), and refuses instead of waiting forever when they were not."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _FORK], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.split() == ["ok", "ok"], (out.stdout, out.stderr)
    try:
        out = subprocess.run([sys.executable, "-c", _FORK_EARLY], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the forked child waited for a pool thread that does not exist in it")
    assert out.returncode == 0 and sorted(out.stdout.split()) == ["ok", "refused"], (out.stdout, out.stderr)


def test_interrupt_just_after_taking_the_pool_releases_it(restore_threads, monkeypatch):
    """Ctrl-C landing right after parallel_for took its lock (the check after the acquire returns): the lock is
    released, and later calls use the pool again instead of running serially for the rest of the process."""
    import threading

    real = threads._lock

    class Interrupted:  # the real lock, with a KeyboardInterrupt right after a successful acquire
        def acquire(self, blocking=True):
            got = real.acquire(blocking)
            if got:
                raise KeyboardInterrupt
            return got

        def release(self):
            real.release()

        def _is_owned(self):
            return real._is_owned()

    monkeypatch.setattr(threads, "_lock", Interrupted())
    with pytest.raises(KeyboardInterrupt):
        threads.parallel_for(4, lambda k: None, threads=2)
    monkeypatch.undo()
    assert not real._is_owned()
    names = set()
    threads.parallel_for(4, lambda k: names.add(threading.current_thread().name), threads=2)
    assert len(names) == 2  # the pool was used
