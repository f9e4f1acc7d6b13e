"""conv2d, max_pool2d, avg_pool2d: forward vs the numpy references in reference.py (and torch), gradients and
gradients of gradients vs finite differences, error messages, tie handling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import conv2d_grads_ref, conv2d_ref, pair, pool2d_ref

import autograd as ag
from autograd import gradcheck
from autograd.ops.conv import avg_pool2d, conv2d, max_pool2d


def distinct(rng, shape, scale=0.1):
    """Distinct values (a scaled permutation), so pooling windows have no ties."""
    return (rng.permutation(int(np.prod(shape))).reshape(shape) - np.prod(shape) / 2) * scale


def second_order_check(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """d/d(inputs) of sum(grad_x(sum(fn * u)) * v), via create_graph, vs finite differences of the first
    order gradient."""
    rng = np.random.default_rng(1)
    out = fn(*inputs)
    u = ag.Tensor(rng.standard_normal(out.shape))
    x = inputs[0]
    v = rng.standard_normal(x.shape)

    def first_grad_dot_v():
        for t in inputs:
            t.grad = None
        (fn(*inputs) * u).sum().backward()
        return float((x.grad.data * v).sum())

    for t in inputs:
        t.grad = None
    (fn(*inputs) * u).sum().backward(create_graph=True)
    s = (x.grad * ag.Tensor(v)).sum()
    for t in inputs:
        t.grad = None
    s.backward()
    analytic = [None if t.grad is None else t.grad.data.copy() for t in inputs]
    for t, a in zip(inputs, analytic):
        num = np.zeros_like(t.data)
        for k in range(t.data.size):
            old = t.data.flat[k]
            t.data.flat[k] = old + eps
            fp = first_grad_dot_v()
            t.data.flat[k] = old - eps
            fm = first_grad_dot_v()
            t.data.flat[k] = old
            num.flat[k] = (fp - fm) / (2 * eps)
        a = np.zeros_like(num) if a is None else a
        np.testing.assert_allclose(a, num, atol=atol, rtol=rtol)


pairs = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))


# --- forward vs the numpy references ----------------------------------------------------------------
@given(n=st.integers(1, 3), c=st.integers(1, 3), o=st.integers(1, 4), h=st.integers(1, 9), w=st.integers(1, 9),
       k=pairs, stride=pairs, padding=st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2))),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_conv2d_forward_matches_reference(n, c, o, h, w, k, stride, padding, bias, seed):
    kh, kw = pair(k)
    ph, pw = pair(padding)
    if kh > h + 2 * ph or kw > w + 2 * pw:
        return
    rng = np.random.default_rng(seed)
    x, wt = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, kh, kw))
    b = rng.standard_normal(o) if bias else None
    y = conv2d(ag.Tensor(x), ag.Tensor(wt), None if b is None else ag.Tensor(b), stride=stride, padding=padding)
    np.testing.assert_allclose(y.data, conv2d_ref(x, wt, b, stride, (ph, pw)), atol=1e-10)
    y32 = conv2d(ag.Tensor(x.astype(np.float32)), ag.Tensor(wt.astype(np.float32)), stride=stride, padding=padding)
    assert y32.dtype == np.float32


@pytest.mark.parametrize("kind", ["max", "avg"])
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9), k=pairs,
       stride=st.one_of(st.none(), pairs), data=st.data(), seed=st.integers(0, 2**16))
def test_pool_forward_matches_reference(kind, n, c, h, w, k, stride, data, seed):
    kh, kw = pair(k)
    ph = data.draw(st.integers(0, kh // 2))
    pw = data.draw(st.integers(0, kw // 2))
    if kh > h + 2 * ph or kw > w + 2 * pw:
        return
    x = distinct(np.random.default_rng(seed), (n, c, h, w))
    f = max_pool2d if kind == "max" else avg_pool2d
    y = f(ag.Tensor(x), k, stride, (ph, pw))
    np.testing.assert_allclose(y.data, pool2d_ref(x, k, stride, (ph, pw), kind), atol=1e-12)


# --- gradients vs finite differences (float64) ----------------------------------------------------------
@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 1), ((2, 1), (0, 2))])
def test_conv2d_gradients(stride, padding):
    rng = np.random.default_rng(0)
    x = ag.Tensor(rng.standard_normal((2, 3, 6, 5)), requires_grad=True)
    w = ag.Tensor(rng.standard_normal((2, 3, 3, 2)), requires_grad=True)
    b = ag.Tensor(rng.standard_normal(2), requires_grad=True)
    assert gradcheck(lambda x, w, b: conv2d(x, w, b, stride=stride, padding=padding), x, w, b)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("k,stride,padding", [(2, None, 0), (3, 2, 1), ((2, 3), (1, 2), (1, 1)), (2, 1, 0)])
def test_pool_gradients(kind, k, stride, padding):
    x = ag.Tensor(distinct(np.random.default_rng(2), (2, 2, 7, 6)), requires_grad=True)
    f = max_pool2d if kind == "max" else avg_pool2d
    assert gradcheck(lambda x: f(x, k, stride, padding), x)


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1)])
def test_conv2d_second_order(stride, padding):
    rng = np.random.default_rng(3)
    x = ag.Tensor(rng.standard_normal((2, 2, 5, 5)), requires_grad=True)
    w = ag.Tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True)
    b = ag.Tensor(rng.standard_normal(2), requires_grad=True)
    # tanh makes the second derivative depend on x as well as w
    second_order_check(lambda x, w, b: conv2d(x, w, b, stride=stride, padding=padding).tanh(), (x, w, b))


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("k,stride,padding", [(2, None, 0), (3, 2, 1), (2, 1, 0)])
def test_pool_second_order(kind, k, stride, padding):
    x = ag.Tensor(distinct(np.random.default_rng(4), (1, 2, 6, 7), 0.05), requires_grad=True)
    f = max_pool2d if kind == "max" else avg_pool2d
    second_order_check(lambda x: f(x, k, stride, padding) ** 3, (x,))


def test_lenet_block_second_order():
    rng = np.random.default_rng(5)
    x = ag.Tensor(rng.standard_normal((2, 1, 8, 8)), requires_grad=True)
    w = ag.Tensor(rng.standard_normal((3, 1, 3, 3)), requires_grad=True)
    second_order_check(lambda x, w: max_pool2d(conv2d(x, w).tanh(), 2) ** 2, (x, w))


# --- against torch --------------------------------------------------------------------------------------
@given(n=st.integers(1, 3), c=st.integers(1, 3), o=st.integers(1, 3), h=st.integers(3, 9), k=st.integers(1, 3),
       stride=st.integers(1, 3), padding=st.integers(0, 1), seed=st.integers(0, 2**16))
def test_conv2d_matches_torch(n, c, o, h, k, stride, padding, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((n, c, h, h + 1)), rng.standard_normal((o, c, k, k)), rng.standard_normal(o)
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    ty = torch.nn.functional.conv2d(*ts, stride=stride, padding=padding)
    g = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(g))
    ours = [ag.Tensor(a, requires_grad=True) for a in (x, w, b)]
    y = conv2d(*ours, stride=stride, padding=padding)
    y.backward(ag.Tensor(g))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), atol=1e-10)
    for a, t in zip(ours, ts):
        np.testing.assert_allclose(a.grad.data, t.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("kind", ["max", "avg"])
@given(h=st.integers(2, 9), k=st.integers(1, 3), stride=st.integers(1, 3), data=st.data(), seed=st.integers(0, 2**16))
def test_pool_matches_torch(kind, h, k, stride, data, seed):
    torch = pytest.importorskip("torch")
    padding = data.draw(st.integers(0, k // 2))
    if k > h + 2 * padding:
        return
    x = distinct(np.random.default_rng(seed), (2, 2, h, h + 1))
    tf = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    tx = torch.tensor(x, requires_grad=True)
    ty = tf(tx, k, stride, padding)
    g = np.random.default_rng(seed + 1).standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(g))
    X = ag.Tensor(x, requires_grad=True)
    y = (max_pool2d if kind == "max" else avg_pool2d)(X, k, stride, padding)
    y.backward(ag.Tensor(g))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(X.grad.data, tx.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("k,stride", [(2, None), (3, 1), (2, 1)])
def test_max_pool_ties_match_torch(k, stride):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).integers(0, 3, (2, 2, 6, 7)).astype(np.float64)  # many ties
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(tx, k, stride).sum().backward()
    X = ag.Tensor(x, requires_grad=True)
    max_pool2d(X, k, stride).sum().backward()
    np.testing.assert_array_equal(X.grad.data, tx.grad.numpy())


# --- ties, dtype, errors --------------------------------------------------------------------------------
def test_max_pool_tie_gradient_goes_to_first_in_row_major_order():
    """A constant window sends its whole gradient to its top-left entry (as PyTorch)."""
    x = ag.Tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
    max_pool2d(x, 2).sum().backward()
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1
    np.testing.assert_array_equal(x.grad.data[0, 0], expected)
    # a tie between the two bottom entries of a window: the bottom-left one (first in row-major order) wins
    x = ag.Tensor(np.array([[[[0.0, 1.0], [5.0, 5.0]]]]), requires_grad=True)
    max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data[0, 0], [[0, 0], [1, 0]])


def test_float32_stays_float32():
    x = ag.randn(2, 3, 8, 8, requires_grad=True)
    w = ag.randn(4, 3, 3, 3, requires_grad=True)
    b = ag.randn(4, requires_grad=True)
    y = avg_pool2d(max_pool2d(conv2d(x, w, b, padding=1).relu(), 2), 2)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32


def test_big_batch_uses_several_chunks():
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((300, 2, 12, 12)), rng.standard_normal((3, 2, 5, 5))
    y = conv2d(ag.Tensor(x), ag.Tensor(w), padding=2)
    np.testing.assert_allclose(y.data, conv2d_ref(x, w, None, (1, 1), (2, 2)), atol=1e-9)


def test_reused_scratch_buffers_never_leak_between_geometries():
    # Scratch arrays are reused by shape; a zero-initialised one may only be shared by calls that
    # write the same positions. Consecutive cases below collide on shape but not on positions written:
    # the padded chunk (3, 14, 14, n) from 14x14 unpadded and 12x12 padded by 1; the input-gradient
    # scratch (c, kh*kw, hp*wp*m) and its column gradients (c, kh, kw, ho, wo, m) from 4x5 and 5x4
    # inputs (same hp*wp, same output) and from one 5x5 input with stride 2 and with stride 3.
    rng = np.random.default_rng(3)
    cases = [((4, 3, 14, 14), (2, 3, 3, 3), 1, 0), ((4, 3, 12, 12), (2, 3, 3, 3), 1, 1),
             ((4, 3, 14, 14), (2, 3, 3, 3), 2, 0), ((4, 3, 13, 13), (2, 3, 3, 3), 1, 0),
             ((5, 2, 4, 4), (3, 2, 2, 2), 2, 0), ((4, 2, 5, 4), (3, 2, 2, 2), 2, 0),
             ((3, 2, 4, 5), (3, 2, 2, 2), 2, 0), ((3, 2, 5, 4), (3, 2, 2, 2), 2, 0),
             ((3, 2, 5, 5), (3, 2, 2, 2), 2, 0), ((3, 2, 5, 5), (3, 2, 2, 2), 3, 0)]
    for _ in range(2):
        for shape, wshape, stride, pad in cases:
            x = ag.Tensor(rng.standard_normal(shape) * 3 + 5, requires_grad=True)  # nonzero everywhere
            w = rng.standard_normal(wshape)
            W = ag.Tensor(w, requires_grad=True)
            y = conv2d(x, W, stride=stride, padding=pad)
            np.testing.assert_allclose(y.data, conv2d_ref(x.data, w, None, (stride, stride), (pad, pad)), atol=1e-9)
            g = rng.standard_normal(y.shape)
            y.backward(g)
            gx, gw, _ = conv2d_grads_ref(x.data, w, g, stride, pad)
            np.testing.assert_allclose(x.grad.data, gx, atol=1e-9)
            np.testing.assert_allclose(W.grad.data, gw, atol=1e-9)


def test_errors():
    x = ag.zeros(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"conv2d: input has 3 channels but weight expects 1 .*\(6, 1, 5, 5\)"):
        conv2d(x, ag.zeros(6, 1, 5, 5))
    with pytest.raises(ValueError, match=r"conv2d: expected a 4-D input .*got shape \(3, 8, 8\)"):
        conv2d(ag.zeros(3, 8, 8), ag.zeros(6, 3, 5, 5))
    with pytest.raises(ValueError, match=r"conv2d: kernel size \(9, 9\) is bigger than the padded input"):
        conv2d(x, ag.zeros(6, 3, 9, 9))
    with pytest.raises(ValueError, match=r"conv2d: kernel size \(0, 3\) must be at least 1 x 1"):
        conv2d(ag.Tensor(np.ones((1, 1, 5, 5))), ag.Tensor(np.ones((2, 1, 0, 3))))
    with pytest.raises(ValueError, match=r"conv2d: bias has shape \(5,\)"):
        conv2d(x, ag.zeros(6, 3, 5, 5), ag.zeros(5))
    with pytest.raises(ValueError, match=r"conv2d: stride must be positive"):
        conv2d(x, ag.zeros(6, 3, 5, 5), stride=0)
    with pytest.raises(TypeError, match=r"conv2d: padding must be an int or a pair"):
        conv2d(x, ag.zeros(6, 3, 5, 5), padding="same")
    with pytest.raises(ValueError, match=r"max_pool2d: expected a 4-D input"):
        max_pool2d(ag.zeros(8, 8), 2)
    with pytest.raises(ValueError, match=r"max_pool2d: kernel size \(10, 10\) is bigger than the padded input"):
        max_pool2d(x, 10)
    with pytest.raises(ValueError, match=r"avg_pool2d: padding \(2, 2\) must be between 0 and half"):
        avg_pool2d(x, 2, padding=2)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(0, 2, 6, 6), (3, 2, 6, 6), (2, 2, 7, 5)])
def test_empty_batch_or_channels_and_odd_sizes_through_conv_and_pool(restore_threads, shape, threads):
    """Zero-size batches and maps pass through conv + 2x2 pools (forward and backward) with the right shapes."""
    ag.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = ag.Tensor(rng.standard_normal(shape), requires_grad=True)
    w = ag.Tensor(rng.standard_normal((0 if shape[0] == 3 else 3, shape[1], 3, 3)), requires_grad=True)
    y = conv2d(x, w)
    for pool in (max_pool2d, avg_pool2d):
        out = pool(y, 2)
        assert out.shape == (shape[0], w.shape[0], (shape[2] - 2) // 2, (shape[3] - 2) // 2)
    (max_pool2d(y, 2).sum() + avg_pool2d(y, 2).sum()).backward()
    assert x.grad.shape == shape and w.grad.shape == w.shape
    if y.data.size:
        np.testing.assert_array_equal(max_pool2d(y, 2).data, pool2d_ref(y.data, 2))
