"""log_softmax / softmax: the LogSoftmax op (precision at large logits, first and second derivatives)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd as ag
from autograd import Tensor


def _log_softmax_ref(x: np.ndarray, axis: int) -> np.ndarray:
    """Reference in extended precision: shift by the max, then subtract log sum exp."""
    x = x.astype(np.longdouble)
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=st.sampled_from([(4,), (2, 3), (3, 1, 4)]), data=st.data())
def test_log_softmax_derivatives_at_large_logits(seed, shape, data):
    """First and second derivatives with logits up to +-30 (the op catalogue draws them in [-2, 2])."""
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = Tensor(np.random.default_rng(seed).uniform(-30, 30, shape), requires_grad=True)
    assert ag.gradcheck(lambda t: ag.log_softmax(t, axis), (x,))
    assert ag.gradgradcheck(lambda t: ag.log_softmax(t, axis), (x,))
    assert ag.gradgradcheck(lambda t: ag.softmax(t, axis), (x,))


def test_log_softmax_is_one_node_with_the_documented_backward():
    x = Tensor(np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]]), requires_grad=True)
    y = ag.log_softmax(x, axis=1)
    assert y._op == "LogSoftmax" and y._a is x
    g = np.array([[1.0, 0.0, -2.0], [0.5, 0.5, 0.5]])
    y.backward(g)
    p = np.exp(_log_softmax_ref(x.data, 1)).astype(np.float64)
    np.testing.assert_allclose(x.grad.data, g - p * g.sum(1, keepdims=True), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ag.softmax(x, 1).data, p, rtol=1e-12)


@pytest.mark.parametrize("dtype, offset, tol", [(np.float32, 1e3, 2e-6), (np.float64, 1e6, 1e-13)])
def test_log_softmax_keeps_precision_for_large_logits(dtype, offset, tol):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((8, 10)) + offset).astype(dtype)
    y = ag.log_softmax(Tensor(x), axis=1)
    assert y.dtype == dtype
    err = np.abs(y.data - _log_softmax_ref(x, 1)).max()
    assert err < tol, err  # x - logsumexp(x) loses about |x| * eps: 3e-5 for float32 at 1e3
    np.testing.assert_allclose(ag.softmax(Tensor(x), axis=1).data.sum(1), 1.0, rtol=4 * np.finfo(dtype).eps)


def test_log_softmax_extreme_values():
    x = Tensor(np.array([[1e300, 0.0, -1e300], [-np.inf, 0.0, 1.0]]), requires_grad=True)
    y = ag.log_softmax(x, 1)
    np.testing.assert_array_equal(y.data[0], [0.0, -1e300, -2e300])  # the max's entry is exactly 0
    assert y.data[1, 0] == -np.inf and np.isfinite(y.data[1, 1:]).all()
    y.backward(np.ones(y.shape))
    assert np.isfinite(x.grad.data).all()
