"""Second-order gradients (``backward(create_graph=True)``) for every op of the catalogue.

For inputs x_i, a probe v and weights w_i: the recorded first-order gradients
g_i = d(sum out*v)/dx_i are differentiated again, d/dx_j sum_i (g_i * w_i), and
compared with central differences of the first-order gradient itself.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import check_grad2
from test_tensor_ops import NAMES, OPS

import autograd as ag
from autograd import Tensor


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_second_order(name, data):
    case = OPS[name](data.draw)
    check_grad2(case.fn, *case.arrays)


def test_second_derivative_values():
    x = Tensor(np.array([0.5, 1.5]), requires_grad=True)
    y = (x**3).sum()
    y.backward(create_graph=True)
    g = x.grad
    np.testing.assert_allclose(g.data, 3 * x.data**2)
    assert g.requires_grad and not g.is_leaf
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data)


def test_third_order_through_exp_and_tanh():
    x = Tensor(np.array([0.3]), requires_grad=True)
    (x.tanh() * x.exp()).sum().backward(create_graph=True)
    g1 = x.grad
    x.grad = None
    g1.sum().backward(create_graph=True)
    g2 = x.grad
    x.grad = None
    g2.sum().backward()

    def f(t):
        return np.tanh(t) * np.exp(t)

    h, t = 1e-3, 0.3
    third = (f(t + 2 * h) - 2 * f(t + h) + 2 * f(t - h) - f(t - 2 * h)) / (2 * h**3)
    np.testing.assert_allclose(x.grad.data, [third], rtol=1e-4)


def test_create_graph_gradient_is_not_recorded_without_it():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * x).sum().backward()
    assert not x.grad.requires_grad and x.grad.is_leaf


def test_grad_of_grad_for_broadcast_inputs():
    a = Tensor(np.array([[1.0], [2.0]]), requires_grad=True)
    b = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    (a * a * b).sum().backward(create_graph=True)
    ga, gb = a.grad, b.grad
    assert ga.shape == (2, 1) and gb.shape == (3,)
    a.grad = b.grad = None
    (ga.sum() + gb.sum()).backward()
    # f = sum_ij a_i^2 b_j: ga = 2 a sum(b), gb = sum(a^2); s = 2 sum(a) sum(b) + 3 sum(a^2)
    np.testing.assert_allclose(a.grad.data, 2 * b.data.sum() + 6 * a.data)
    np.testing.assert_allclose(b.grad.data, np.full(3, 2 * a.data.sum()))


def test_hessian_vector_product_of_softmax_cross_entropy():
    rng = np.random.default_rng(1)
    z0, v = rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    target = np.array([1, 3])

    def loss(z):
        return -(z.log_softmax(-1)[np.arange(2), target]).sum()

    z = Tensor(z0, requires_grad=True)
    loss(z).backward(create_graph=True)
    g = z.grad
    z.grad = None
    (g * Tensor(v)).sum().backward()
    p = np.exp(z0) / np.exp(z0).sum(-1, keepdims=True)
    hv = p * v - p * (p * v).sum(-1, keepdims=True)  # H v with H = diag(p) - p p^T per row
    np.testing.assert_allclose(z.grad.data, hv, atol=1e-12)


def test_autograd_grad_function():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x**3).sum()
    (g,) = ag.grad(y, [x], create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x.data**2)
    (h,) = ag.grad(g.sum(), [x])
    np.testing.assert_allclose(h.data, 6 * x.data)
    assert x.grad is None
