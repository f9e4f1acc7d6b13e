"""autograd.grad makes only the gradients on the way to its inputs.

In a pruned pass (``autograd.grad(outputs, inputs)`` on Tensors) an op whose
input leads to no wanted node sees ``needs_grad`` false for that input, so it
does not make that gradient: ``grad(loss, x)`` through a network makes no
weight gradient.  The gradients returned are exactly those of a full pass.
"""

from __future__ import annotations

import numpy as np
import pytest

import autograd as ag
import autograd.ops.conv as conv_ops
import autograd.ops.linalg as linalg_ops
from autograd import Tensor
from autograd.graph import toposort


@pytest.fixture
def counted(monkeypatch):
    """Counts of the weight-gradient helper of conv (``_conv_backward_weight``) and of every matrix product
    of linear/matmul (``_mm``), from the moment the test calls ``reset()``."""
    counts = {"conv_weight": 0, "mm": 0}

    def wrap(module, name, key):
        inner = getattr(module, name)

        def spy(*args, **kwargs):
            counts[key] += 1
            return inner(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)

    wrap(conv_ops, "_conv_backward_weight", "conv_weight")
    wrap(linalg_ops, "_mm", "mm")
    counts["reset"] = lambda: counts.update(conv_weight=0, mm=0)
    return counts


def _params(rng, shapes, dtype):
    return {k: Tensor((rng.standard_normal(s) * 0.2).astype(dtype), requires_grad=True) for k, s in shapes.items()}


CONV_SHAPES = {"w1": (4, 1, 5, 5), "b1": (4,), "w2": (6, 4, 3, 3), "b2": (6,), "w3": (10, 6 * 3 * 3), "b3": (10,)}
MLP_SHAPES = {"w1": (16, 8), "b1": (16,), "w2": (16, 16), "b2": (16,), "w3": (5, 16), "b3": (5,)}


def _conv_net(x, p, y):
    h = ag.max_pool2d(ag.relu(ag.conv2d(x, p["w1"], p["b1"], padding=2)), 2)
    h = ag.max_pool2d(ag.relu(ag.conv2d(h, p["w2"], p["b2"])), 2)
    z = ag.linear(h.reshape(h.shape[0], -1), p["w3"], p["b3"])
    return -ag.log_softmax(z, 1)[np.arange(len(y)), y].mean()


def _mlp(x, p, y):
    h = ag.relu(ag.linear(x, p["w1"], p["b1"]))
    h = ag.tanh(ag.linear(h, p["w2"], p["b2"]))
    z = ag.linear(h, p["w3"], p["b3"])
    return -ag.log_softmax(z, 1)[np.arange(len(y)), y].mean()


def _needs(root):
    return {id(n): n._ctx.needs_grad for n in toposort(root) if n._ctx is not None}


# 16 images of 16x16: conv1's batch is several chunks (conv's side-by-side backward runs in the full pass
# with two threads, the input-gradient op alone in the pruned one: the same numbers either way)
@pytest.mark.parametrize("threads", [1, 2])
def test_grad_of_the_input_of_a_conv_net_makes_no_weight_gradient(counted, threads, restore_threads):
    ag.set_num_threads(threads)
    rng = np.random.default_rng(0)
    p = _params(rng, CONV_SHAPES, np.float32)
    x = Tensor(rng.standard_normal((16, 1, 16, 16)).astype(np.float32), requires_grad=True)
    y = rng.integers(0, 10, 16)
    loss = _conv_net(x, p, y)
    needs_before = _needs(loss)
    counted["reset"]()
    (gx,) = ag.grad(loss, x, retain_graph=True)
    # no weight gradient of either conv; of linear's two products only the input's (G W)
    assert (counted["conv_weight"], counted["mm"]) == (0, 1)
    assert _needs(loss) == needs_before  # every op's own mask is back
    # the same retained graph, then a full backward: every gradient, the input's bit for bit the same
    counted["reset"]()
    loss.backward()
    assert (counted["conv_weight"], counted["mm"]) == (2, 2)
    assert gx.dtype == x.grad.dtype and np.array_equal(gx.data, x.grad.data)
    # and the weights' gradients are those of a fresh graph's backward
    fresh = {k: Tensor(v.data, requires_grad=True) for k, v in p.items()}
    _conv_net(Tensor(x.data), fresh, y).backward()
    for k in p:
        assert np.array_equal(p[k].grad.data, fresh[k].grad.data), k


def test_grad_of_an_mlp_input_and_of_one_weight(counted):
    rng = np.random.default_rng(1)
    p = _params(rng, MLP_SHAPES, np.float64)
    x = Tensor(rng.standard_normal((12, 8)), requires_grad=True)
    y = rng.integers(0, 5, 12)
    loss = _mlp(x, p, y)
    counted["reset"]()
    (gx,) = ag.grad(loss, x, retain_graph=True)
    assert counted["mm"] == 3  # G W for each of the three layers, no G^T x
    counted["reset"]()
    gx2, gw2 = ag.grad(loss, [x, p["w2"]], retain_graph=True)
    assert counted["mm"] == 4  # ... and G^T h for the second layer only
    counted["reset"]()
    (gw3,) = ag.grad(loss, p["w3"], retain_graph=True)
    assert counted["mm"] == 1  # the last layer's G^T h; nothing behind it runs
    counted["reset"]()
    loss.backward()
    assert counted["mm"] == 6
    for ours, full in [(gx, x.grad), (gx2, x.grad), (gw2, p["w2"].grad), (gw3, p["w3"].grad)]:
        assert np.array_equal(ours.data, full.data)


def test_the_skipped_branches_are_released_without_retain_graph():
    """Without retain_graph every node of the graph lets go of its saved state, also the nodes of a branch
    that leads to no input and the parents whose gradient was not made."""
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = Tensor(rng.standard_normal((4, 2)), requires_grad=True)
    w1 = w.tanh()
    w2 = w1 * 2.0
    out = (x @ w2).sum()
    ag.grad(out, x)
    assert w1._ctx is None and w2._ctx is None


class _Scale2(ag.Function):
    """(a, b) -> a * b, with a backward that ignores needs_grad and records what it saw."""

    seen: list = []

    def forward(self, a, b):
        return a * b

    def backward(self, out, g):
        a, b = self.inputs
        _Scale2.seen.append(self.needs_grad)
        return g * b, g * a  # both, whatever needs_grad says


def test_a_backward_that_ignores_needs_grad_still_works():
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal(5), requires_grad=True)
    w = Tensor(rng.standard_normal(5), requires_grad=True)
    _Scale2.seen.clear()
    out = _Scale2.apply(x.tanh(), w.exp()).sum()
    (gx,) = ag.grad(out, x, retain_graph=True)
    assert _Scale2.seen == [(True, False)]  # it was told, and its extra gradient is dropped
    np.testing.assert_allclose(gx.data, np.exp(w.data) * (1 - np.tanh(x.data) ** 2), rtol=1e-12)
    out.backward()
    assert _Scale2.seen[-1] == (True, True)
    assert np.array_equal(gx.data, x.grad.data)
    np.testing.assert_allclose(w.grad.data, np.tanh(x.data) * np.exp(w.data), rtol=1e-12)


class _Lazy(ag.Function):
    """(a, b) -> a + b, whose backward is a generator that reads needs_grad as it goes."""

    seen: list = []

    def forward(self, a, b):
        return a + b

    def backward(self, out, g):
        for i in range(2):
            _Lazy.seen.append(self.needs_grad[i])
            yield g if self.needs_grad[i] else None


def test_a_generator_backward_sees_the_pass_mask():
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    _Lazy.seen.clear()
    (ga,) = ag.grad(_Lazy.apply(a, b.exp()).sum(), a)
    assert _Lazy.seen == [True, False]  # consumed while the pass's mask is on
    np.testing.assert_array_equal(ga.data, np.ones(3))


class _Boom(ag.Function):
    """(a, b) -> a * b whose backward fails (once) after looking at needs_grad."""

    seen: list = []
    fail = True

    def forward(self, a, b):
        return a * b

    def backward(self, out, g):
        a, b = self.inputs
        _Boom.seen.append(self.needs_grad)
        if _Boom.fail:
            raise ValueError("boom")
        return (g * b if self.needs_grad[0] else None), (g * a if self.needs_grad[1] else None)


def test_an_error_in_a_backward_leaves_the_mask_restored():
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal(4), requires_grad=True)
    w = Tensor(rng.standard_normal(4), requires_grad=True)
    out = _Boom.apply(x, w.exp()).sum()
    node = out._a
    _Boom.seen.clear()
    _Boom.fail = True
    with pytest.raises(ValueError, match="boom"):
        ag.grad(out, x, retain_graph=True)
    assert _Boom.seen == [(True, False)]
    assert node._ctx.needs_grad == (True, True)
    assert all(n._gacc is None for n in toposort(out))  # no gradient left pending
    # nothing of that pass is left behind: the same graph, a full pass, every gradient
    _Boom.fail = False
    out.backward()
    assert _Boom.seen[-1] == (True, True)
    np.testing.assert_allclose(x.grad.data, np.exp(w.data), rtol=1e-12)
    np.testing.assert_allclose(w.grad.data, x.data * np.exp(w.data), rtol=1e-12)


def test_passes_nested_in_a_backward_see_their_own_masks():
    """An op whose backward runs a pruned pass and a full pass of its own, inside a pruned pass."""
    rng = np.random.default_rng(5)
    inner = {}

    class Nested(ag.Function):
        def forward(self, a, b):
            return a * b

        def backward(self, out, g):
            a, b = self.inputs
            u = Tensor(np.array([1.5, -0.5]), requires_grad=True)
            v = Tensor(np.array([2.0, 3.0]), requires_grad=True)
            with ag.enable_grad():  # (the outer pass records nothing)
                h = ag.linear(u.reshape(1, 2), v.reshape(1, 2)).sum().tanh()
            (inner["gu"],) = ag.grad(h, u, retain_graph=True)
            h.backward()
            inner["u"], inner["v"] = u.grad, v.grad
            inner["needs"] = self.needs_grad
            return (g * b if self.needs_grad[0] else None), (g * a if self.needs_grad[1] else None)

    x = Tensor(rng.standard_normal(2), requires_grad=True)
    w = Tensor(rng.standard_normal(2), requires_grad=True)
    (gx,) = ag.grad(Nested.apply(x, w * 1.0).sum(), x)
    assert inner["needs"] == (True, False)
    np.testing.assert_array_equal(gx.data, w.data)
    d = 1 - np.tanh(1.5 * 2.0 - 0.5 * 3.0) ** 2
    np.testing.assert_allclose(inner["gu"].data, d * np.array([2.0, 3.0]), rtol=1e-12)
    assert np.array_equal(inner["u"].data, inner["gu"].data)
    np.testing.assert_allclose(inner["v"].data, d * np.array([1.5, -0.5]), rtol=1e-12)


def _penalty(x, w1, b1, w2):
    """A gradient penalty: ||d loss / d x||^2 of a small conv + linear net, differentiable in the weights."""
    h = ag.tanh(ag.conv2d(x, w1, b1, padding=1))
    loss = ag.tanh(ag.linear(h.reshape(h.shape[0], -1), w2)).sum()
    (gx,) = ag.grad(loss, x, create_graph=True)
    return (gx * gx).sum()


def _penalty_inputs():
    rng = np.random.default_rng(6)
    x = Tensor(rng.standard_normal((2, 1, 4, 4)), requires_grad=True)
    w1 = Tensor(rng.standard_normal((2, 1, 3, 3)) * 0.5, requires_grad=True)
    b1 = Tensor(rng.standard_normal(2) * 0.5, requires_grad=True)
    w2 = Tensor(rng.standard_normal((3, 32)) * 0.3, requires_grad=True)
    return x, w1, b1, w2


def test_gradient_penalty_matches_finite_differences():
    x, w1, b1, w2 = _penalty_inputs()
    assert ag.gradcheck(lambda a, b, c: _penalty(x, a, b, c), w1, b1, w2)
    pen = _penalty(x, w1, b1, w2)
    g_pruned = ag.grad(pen, [w1, w2], retain_graph=True)
    pen.backward()
    for ours, full in zip(g_pruned, (w1.grad, w2.grad)):
        assert np.array_equal(ours.data, full.data)


@pytest.mark.torch
def test_gradient_penalty_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the comparison with torch is skipped")
    x, w1, b1, w2 = _penalty_inputs()
    ours = ag.grad(_penalty(x, w1, b1, w2), [w1, b1, w2])
    tx, tw1, tb1, tw2 = (torch.tensor(t.data, requires_grad=True) for t in (x, w1, b1, w2))
    h = torch.tanh(torch.nn.functional.conv2d(tx, tw1, tb1, padding=1))
    loss = torch.tanh(torch.nn.functional.linear(h.reshape(2, -1), tw2)).sum()
    (gx,) = torch.autograd.grad(loss, tx, create_graph=True)
    theirs = torch.autograd.grad((gx * gx).sum(), [tw1, tb1, tw2])
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.data, t.numpy(), rtol=1e-10, atol=1e-12)


def test_functional_helpers_through_a_layer_with_weights(counted):
    """jacobian, hessian and hvp of f(x) = sum tanh(x W^T + b), with W and b requiring grad (left alone)."""
    rng = np.random.default_rng(7)
    w = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = Tensor(rng.standard_normal(3), requires_grad=True)
    x = rng.standard_normal(4)

    def f(t):
        return ag.tanh(ag.linear(t.reshape(1, 4), w, b)).sum()

    a = x @ w.data.T + b.data
    t = np.tanh(a)
    counted["reset"]()
    jac = ag.functional.jacobian(lambda t: ag.tanh(ag.linear(t.reshape(1, 4), w, b)).reshape(3), x)
    assert counted["mm"] == 1 + 3  # the forward, then G W per row (no G^T x)
    np.testing.assert_allclose(jac.data, (1 - t**2)[:, None] * w.data, rtol=1e-12)
    hess = (w.data.T * (-2 * t * (1 - t**2))) @ w.data
    np.testing.assert_allclose(ag.functional.hessian(f, x).data, hess, rtol=1e-10, atol=1e-12)
    v = rng.standard_normal(4)
    _, hv = ag.functional.hvp(f, x, v)
    np.testing.assert_allclose(hv.data, hess @ v, rtol=1e-10, atol=1e-12)
    assert w.grad is None and b.grad is None
