"""Memory behaviour: training loops do not leak graphs, very deep graphs backpropagate without recursion."""

from __future__ import annotations

import gc
import time
import tracemalloc
import weakref

import numpy as np
import pytest

from autograd import Tensor, Value, no_grad

# 1,000,000 Tensor nodes take ~40 s and ~900 MB with this engine (about 20 us and 0.9 kB per
# Tensor op), so the Tensor chain test uses 200,000 nodes (~8 s, ~220 MB); still far deeper than
# any recursive implementation could go (Python's recursion limit is 1,000).
TENSOR_DEPTH = 200_000
VALUE_DEPTH = 200_000


class MLP:
    """A 2-layer MLP trained by hand-written SGD (no nn.Module), float64."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.X = Tensor(rng.standard_normal((32, 4)))
        self.Y = Tensor(np.sin(self.X.data.sum(axis=1, keepdims=True)))
        self.W1 = Tensor(rng.standard_normal((4, 16)) * 0.5, requires_grad=True)
        self.b1 = Tensor(np.zeros(16), requires_grad=True)
        self.W2 = Tensor(rng.standard_normal((16, 1)) * 0.5, requires_grad=True)
        self.b2 = Tensor(np.zeros(1), requires_grad=True)
        self.params = [self.W1, self.b1, self.W2, self.b2]
        self.last_loss: weakref.ref | None = None

    def step(self, lr: float = 0.05) -> float:
        h = (self.X @ self.W1 + self.b1).tanh()
        loss = ((h @ self.W2 + self.b2 - self.Y) ** 2).mean()
        loss.backward()
        with no_grad():
            for p in self.params:
                p.data -= lr * p.grad.data
                p.grad = None
        self.last_loss = weakref.ref(loss)
        return loss.item()


def live_tensors() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if issubclass(type(o), Tensor))  # no __class__ lookups


def test_training_steps_keep_the_number_of_live_tensors_flat():
    model = MLP()
    first = model.step()
    for _ in range(20):
        model.step()
    before = live_tensors()
    for _ in range(1000):
        loss = model.step()
        # the step's graph is freed by reference counting alone (no cycles to wait for)
        assert model.last_loss() is None
    after = live_tensors()
    assert after == before, f"{after - before} Tensors leaked over 1000 steps"
    assert loss < first  # it did train


def test_training_step_memory_is_flat_under_tracemalloc():
    model = MLP(seed=1)
    for _ in range(20):
        model.step()
    gc.collect()
    tracemalloc.start()
    try:
        peaks, currents = [], []
        for i in range(400):
            start = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            model.step()
            peaks.append(tracemalloc.get_traced_memory()[1] - start)
            if i in (49, 399):
                gc.collect()  # also empties the interpreter's free lists
                currents.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    early, late = np.median(peaks[10:60]), np.median(peaks[-50:])
    assert late <= 1.2 * early + 4096, (early, late)
    assert currents[1] - currents[0] < 32 * 1024, f"retained memory grew by {currents[1] - currents[0]} bytes"


def _without_gc(fn):
    """Run fn with the cyclic GC paused (its passes over a huge live graph only cost time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        return fn()
    finally:
        if was:
            gc.enable()


def test_deep_tensor_chain_backpropagates_without_recursion():
    def run():
        t0 = time.perf_counter()
        x0 = Tensor(np.array([1.0]), requires_grad=True)
        x = x0
        for _ in range(TENSOR_DEPTH):
            x = x * 1.0000001
        x.sum().backward()
        return x0, time.perf_counter() - t0

    x0, seconds = _without_gc(run)
    np.testing.assert_allclose(x0.grad.data, [1.0000001**TENSOR_DEPTH], rtol=1e-9)
    assert seconds < 60


def test_dropping_a_deep_unreleased_tensor_graph_does_not_crash():
    def run():
        x = Tensor(np.array([1.0]), requires_grad=True)
        for _ in range(TENSOR_DEPTH // 2):
            x = x + 1.0
        ref = weakref.ref(x)
        del x  # deallocating the chain must not overflow the C stack
        return ref

    assert _without_gc(run)() is None


def test_deep_value_chain_backpropagates_without_recursion():
    def run():
        x0 = Value(1.0)
        x = x0
        for _ in range(VALUE_DEPTH):
            x = x * 1.0000001
        x.backward()
        return x0

    x0 = _without_gc(run)
    assert x0.grad == pytest.approx(1.0000001**VALUE_DEPTH, rel=1e-9)
