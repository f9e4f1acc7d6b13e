"""The graph core: toposort, run_backward (the one backward loop), grad mode."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograd import Tensor, Value, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from autograd.graph import run_backward, toposort


class Node:
    """A minimal node of the graph protocol (parents in ``_a``, ``_b``, ``_rest``), multiplying its inputs."""

    _retain_grad = False

    def __init__(self, data, prev=(), requires_grad=True):
        self.data = data
        prev = tuple(prev)
        self._a = prev[0] if prev else None
        self._b = prev[1] if len(prev) > 1 else None
        self._rest = prev[2:]
        self._backward = _prod_backward if prev else None
        self.grad = 0.0
        self.requires_grad = requires_grad
        self._op = "prod" if prev else ""
        self.label = ""
        self._gacc = None
        self.released = 0
        if prev:
            self.data = 1.0
            for p in prev:
                self.data *= p.data

    @property
    def _prev(self):
        return tuple(p for p in (self._a, self._b) if p is not None) + self._rest

    def _accumulate(self, g):
        self.grad += g

    def _release(self):
        self.released += 1


def _prod_backward(node, g):
    out = []
    for i in range(len(node._prev)):
        others = 1.0
        for j, p in enumerate(node._prev):
            if j != i:
                others *= p.data
        out.append(g * others)
    return tuple(out)


# --- random DAGs -------------------------------------------------------------------------------
@st.composite
def dags(draw):
    """A random DAG of Values: each new node combines one or two earlier nodes with + or *."""
    n_leaves = draw(st.integers(1, 4))
    nodes = [Value(draw(st.floats(-2, 2)), label=f"x{i}") for i in range(n_leaves)]
    for _ in range(draw(st.integers(1, 25))):
        i = draw(st.integers(0, len(nodes) - 1))
        j = draw(st.integers(0, len(nodes) - 1))
        op = draw(st.sampled_from(["+", "*", "tanh"]))
        a, b = nodes[i], nodes[j]
        nodes.append(a + b if op == "+" else a * b if op == "*" else a.tanh())
    return nodes[:n_leaves], nodes[-1]


def _reachable(root):
    seen, stack = {root}, [root]
    while stack:
        for p in stack.pop()._prev:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return seen


@given(dags())
def test_toposort_is_a_topological_order_of_exactly_the_reachable_nodes(dag):
    _, root = dag
    order = toposort(root)
    assert len(order) == len(set(order))
    assert set(order) == _reachable(root)
    pos = {n: i for i, n in enumerate(order)}
    assert all(pos[p] < pos[n] for n in order for p in n._prev)
    assert order[-1] is root
    assert toposort(root) == order  # deterministic


@given(dags())
def test_backward_and_inputs_mode_agree(dag):
    leaves, root = dag
    root.backward()
    fast = [x.grad for x in leaves]
    # inputs= collects the gradients reaching the leaves; accumulate=False leaves .grad alone
    found = run_backward([root], [1.0], retain_graph=True, inputs=leaves, accumulate=False)
    assert [x.grad for x in leaves] == fast
    for x in leaves:
        if x in _reachable(root):
            assert found[id(x)] == pytest.approx(x.grad, rel=1e-12, abs=1e-12)
        else:
            assert id(x) not in found
    assert all(n._gacc is None for n in toposort(root))


def test_toposort_generic_nodes_order_and_requires_grad():
    a, b = Node(2.0), Node(3.0)
    const = Node(5.0, requires_grad=False)
    c = Node(None, [a, b])
    d = Node(None, [c, const, a])
    order = toposort(d)
    assert order == [a, b, c, d]  # parents in stored order; the constant is not entered


def test_run_backward_general_protocol():
    a, b = Node(2.0), Node(3.0)
    const = Node(5.0, requires_grad=False)
    c = Node(None, [a, b])  # 6
    d = Node(None, [c, const, a])  # a^2 b 5
    run_backward([d], [1.0])
    assert a.grad == pytest.approx(2 * 2.0 * 3.0 * 5.0)
    assert b.grad == pytest.approx(4.0 * 5.0)
    assert const.grad == 0.0
    assert c.grad == 0.0  # _retain_grad is false for this class
    assert c.released == 1 and d.released == 1  # saved state freed without retain_graph
    run_backward([d], [1.0], retain_graph=True)
    assert c.released == 1
    assert a.grad == pytest.approx(2 * 60.0)  # leaves accumulate
    assert all(n._gacc is None for n in (a, b, c, d, const))


def test_run_backward_multiple_roots_and_inputs():
    x = Value(3.0)
    y1 = x * x  # 2x
    y2 = x * 4.0  # 4
    found = run_backward([y1, y2], [1.0, 0.5], retain_graph=True, inputs=[x], accumulate=False)
    assert found[id(x)] == pytest.approx(6.0 + 2.0)
    assert x.grad == 0.0
    run_backward([y1, y2], [1.0, 0.5], retain_graph=True)
    assert x.grad == pytest.approx(8.0)


def test_same_root_twice_sums_its_seeds():
    x = Value(3.0)
    y = x * 2.0
    run_backward([y, y], [1.0, 1.0], retain_graph=True)
    assert x.grad == 4.0


def test_deep_generic_chain_no_recursion():
    x = Node(1.0)
    y = x
    for _ in range(100_000):
        y = Node(None, [y])
    run_backward([y], [1.0])
    assert x.grad == 1.0


def test_deep_toposort_values():
    x = Value(0.5)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    order = toposort(y)
    assert order[0] is x and order[-1] is y and len(order) == 200_001


# --- grad mode -------------------------------------------------------------------------------
def test_grad_mode_switches():
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        with enable_grad():
            assert is_grad_enabled()
            assert (Value(1.0) * 2.0)._prev
        assert not is_grad_enabled()
    assert is_grad_enabled()
    with set_grad_enabled(False):
        assert not is_grad_enabled()
        assert (Value(1.0) * 2.0)._prev == ()
    assert is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(RuntimeError):
        with no_grad():
            raise RuntimeError
    assert is_grad_enabled()

    @no_grad()
    def f():
        raise RuntimeError

    with pytest.raises(RuntimeError):
        f()
    assert is_grad_enabled()


def test_set_grad_enabled_as_decorator_does_not_flip_mode_at_definition():
    @set_grad_enabled(False)
    def f(x):
        return x * 2.0

    assert is_grad_enabled()
    assert f(Value(1.0))._prev == ()
    assert is_grad_enabled()


def test_retain_grad_sums_over_passes_in_a_gradient_of_its_own():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 3.0
    y.retain_grad()
    z = y.sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_array_equal(y.grad.data, [2.0, 2.0])  # summed, as a leaf's (PyTorch too)
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])
    y = x * 3.0
    y.retain_grad()
    seed = Tensor(np.array([1.0, 5.0]))
    y.backward(seed)
    assert y.grad is not seed and not np.shares_memory(y.grad.data, seed.data)
    y.grad.data[0] = 99.0
    assert seed.data[0] == 1.0


def test_backward_through_a_released_graph_changes_no_gradient():
    a = Tensor(np.array([1.0, 1.0]), requires_grad=True)
    b = a * 2.0
    shared = b * 1.0
    (shared.sum() + a.sum()).backward()  # releases b and shared
    np.testing.assert_array_equal(a.grad.data, [3.0, 3.0])
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        (shared.sum() + a.sum()).backward()  # a is a leaf of the new sum, reached before the released shared
    np.testing.assert_array_equal(a.grad.data, [3.0, 3.0])  # untouched by the refused pass
    assert all(n._gacc is None for n in (a, b, shared))


def test_a_tensor_gradient_of_another_dtype_is_cast_to_the_outputs():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    y = x * 2.0
    y.retain_grad()
    y.backward(Tensor(np.ones(3, np.float64)))
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float32
    y = x * 2.0
    y.backward(Tensor(np.ones(3, np.float64)))
    assert x.grad.dtype == np.float32


def test_bare_decorators_and_generator_functions_keep_the_mode():
    @no_grad
    def plain():
        return is_grad_enabled()

    assert plain() is False and is_grad_enabled()

    @no_grad()
    def gen(n):
        got = yield is_grad_enabled()
        for _ in range(n):
            got = yield (is_grad_enabled(), got)
        return "done"

    g = gen(2)
    assert next(g) is False and is_grad_enabled()  # the body runs without grad, the caller keeps it
    assert g.send(5) == (False, 5) and is_grad_enabled()
    with no_grad():
        assert g.send(6) == (False, 6) and not is_grad_enabled()

    def outer():
        return (yield from gen(0))

    o = outer()
    next(o)
    with pytest.raises(StopIteration) as stop:
        o.send(None)
    assert stop.value.value == "done"

    @enable_grad()
    def catches():
        try:
            yield 1
        except KeyError:
            yield is_grad_enabled()

    c = catches()
    next(c)
    with no_grad():
        assert c.throw(KeyError()) is True and not is_grad_enabled()
    c.close()
    assert is_grad_enabled()
    with pytest.raises(TypeError):
        set_grad_enabled()  # (a switch that needs its value is not a bare decorator)
