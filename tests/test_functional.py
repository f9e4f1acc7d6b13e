"""Tests for autograd.functional: torch-style grad and the JAX-style transforms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd
import autograd as ag
from autograd import Tensor, Value, functional
from autograd.functional import grad, hessian, hvp, jacobian, value_and_grad

floats = st.floats(-2, 2, allow_nan=False, allow_infinity=False)
vectors = hnp.arrays(np.float64, st.integers(1, 5), elements=floats)


def leaf(arr):
    return Tensor(np.asarray(arr, dtype=np.float64), requires_grad=True)


# --- torch-style grad ----------------------------------------------------------------------
@given(vectors)
def test_grad_of_cube_is_three_x_squared(a):
    x = leaf(a)
    (g,) = grad((x**3).sum(), x)
    np.testing.assert_allclose(g.data, 3 * a**2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(functional.grad(lambda x: (x**3).sum())(a).data, 3 * a**2, rtol=1e-12, atol=1e-12)


def test_autograd_grad_is_this_function():
    assert autograd.grad is grad


def test_grad_does_not_touch_dot_grad():
    x, w = leaf([1.0, 2.0]), leaf([3.0, -1.0])
    h = x * w
    h.retain_grad()
    y = (h * h).sum()
    gx, gw = grad(y, (x, w))
    assert x.grad is None and w.grad is None and h.grad is None
    np.testing.assert_allclose(gx.data, 2 * x.data * w.data**2)
    np.testing.assert_allclose(gw.data, 2 * w.data * x.data**2)
    assert not gx.requires_grad  # no create_graph: constants


def test_grad_outputs_vector_jacobian_product():
    x = leaf([1.0, 2.0, 3.0])
    v = np.array([1.0, -1.0, 0.5])
    (g,) = grad(x.exp(), x, grad_outputs=v)
    np.testing.assert_allclose(g.data, v * np.exp(x.data))
    with pytest.raises(RuntimeError, match="scalar outputs"):
        grad(leaf([1.0, 2.0]) * 2.0, leaf([1.0]))


def test_retain_graph_default_and_explicit():
    x = leaf([0.5])
    y = (x.tanh() * 3.0).sum()
    grad(y, x)
    with pytest.raises(RuntimeError, match="second time"):
        grad(y, x)
    y = (x.tanh() * 3.0).sum()
    (a,) = grad(y, x, retain_graph=True)
    (b,) = grad(y, x)
    np.testing.assert_allclose(a.data, b.data)


def test_allow_unused():
    x, z = leaf([1.0]), leaf([2.0])
    y = (x * 2.0).sum()
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        grad(y, (x, z), retain_graph=True)
    gx, gz = grad(y, (x, z), allow_unused=True)
    assert gz is None
    np.testing.assert_allclose(gx.data, [2.0])


def test_errors_for_inputs_and_outputs_without_grad():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="input 0 does not require grad"):
        grad((x * 2.0).sum(), Tensor(np.ones(1)))
    with pytest.raises(RuntimeError, match="output 0 does not require grad"):
        grad(Tensor(np.ones(1)).sum(), x)


def test_empty_inputs_or_outputs_raise_before_touching_the_graph():
    x = leaf([1.0, 2.0])
    L = (x * x).sum()
    with pytest.raises(RuntimeError, match="grad: the `inputs` argument cannot be empty"):
        grad(L, [])
    with pytest.raises(RuntimeError, match="inputs.*cannot be empty"):
        grad(L, ())
    with pytest.raises(ValueError, match="grad: outputs is empty; expected a Tensor or Value"):
        grad([], [x])
    with pytest.raises(ValueError, match="grad: outputs is empty"):
        grad((), x, grad_outputs=())
    (g,) = grad(L, x)  # the graph of L was not freed by the refused calls
    np.testing.assert_allclose(g.data, [2.0, 4.0])
    assert x.grad is None


@pytest.mark.parametrize(
    "f, d1, d2",
    [
        ("tanh", lambda x: 1 - np.tanh(x) ** 2, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
        ("sigmoid", lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s),
         lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s)),
        ("exp", np.exp, np.exp),
    ],
)
def test_create_graph_second_derivatives_closed_forms(f, d1, d2):
    a = np.linspace(-2, 2, 7)
    x = leaf(a)
    (g,) = grad(getattr(x, f)().sum(), x, create_graph=True)
    assert g.requires_grad
    np.testing.assert_allclose(g.data, d1(a), rtol=1e-12)
    (gg,) = grad(g.sum(), x)
    np.testing.assert_allclose(gg.data, d2(a), rtol=1e-10, atol=1e-14)
    assert x.grad is None
    # the same through nested transforms
    d2f = grad(grad(lambda t: getattr(t, f)(), create_graph=True))
    for p in (-1.5, 0.0, 0.7):
        np.testing.assert_allclose(d2f(np.float64(p)).data, d2(p), rtol=1e-10, atol=1e-14)


def test_grad_on_values():
    a, b = Value(2.0), Value(-3.0)
    ga, gb = grad(a * b + a**2, (a, b))
    assert (ga, gb) == (-3.0 + 4.0, 2.0)
    assert a.grad == 0.0 and b.grad == 0.0


# --- JAX-style transforms ----------------------------------------------------------------
def test_grad_transform_argnums_and_inputs():
    f = lambda x, y: (x * y**2).sum()
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    np.testing.assert_allclose(grad(f)(x, y).data, y**2)
    np.testing.assert_allclose(grad(f, argnums=1)(x, y).data, 2 * x * y)
    gx, gy = grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx.data, y**2)
    np.testing.assert_allclose(gy.data, 2 * x * y)
    # Tensor inputs are detached from their graph and left untouched
    w = leaf([1.0, 2.0])
    outer = w * 3.0
    g = grad(lambda t: (t**2).sum())(outer)
    np.testing.assert_allclose(g.data, 2 * outer.data)
    assert w.grad is None and not g.requires_grad
    # integer input becomes float
    assert grad(lambda t: (t * t).sum())(np.array([1, 2])).dtype.kind == "f"
    with pytest.raises(ValueError, match="scalar"):
        grad(lambda t: t * 2.0)(x)


def test_value_and_grad():
    f = lambda x: (x.tanh() ** 2).sum()
    a = np.array([0.1, -0.5, 2.0])
    val, g = value_and_grad(f)(a)
    np.testing.assert_allclose(val.data, np.sum(np.tanh(a) ** 2))
    np.testing.assert_allclose(g.data, 2 * np.tanh(a) * (1 - np.tanh(a) ** 2))
    assert not val.requires_grad


def test_jacobian_of_linear_map_is_the_matrix():
    rng = np.random.default_rng(0)
    A, b = rng.standard_normal((3, 4)), rng.standard_normal(3)
    x = rng.standard_normal(4)
    J = jacobian(lambda x: Tensor(A) @ x + Tensor(b), x)
    assert J.shape == (3, 4)
    np.testing.assert_allclose(J.data, A, rtol=1e-12)
    # shape out.shape + x.shape, elementwise map gives a diagonal
    X = rng.standard_normal((2, 3))
    J = jacobian(lambda x: x.exp(), X)
    assert J.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(J.data.reshape(6, 6), np.diag(np.exp(X).ravel()))
    # a constant function has a zero Jacobian
    assert np.all(jacobian(lambda x: Tensor(np.ones(2)), x).data == 0)
    # a tuple of arguments gives a tuple of Jacobians
    Ja, Jb = jacobian(lambda a, b: a * b, (np.array([1.0, 2.0]), np.array([3.0, 4.0])))
    np.testing.assert_allclose(Ja.data, np.diag([3.0, 4.0]))
    np.testing.assert_allclose(Jb.data, np.diag([1.0, 2.0]))


@given(st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_hessian_of_quadratic_form(n, seed):
    rng = np.random.default_rng(seed)
    A, x = rng.standard_normal((n, n)), rng.standard_normal(n)
    H = hessian(lambda x: x @ Tensor(A) @ x, x)
    assert H.shape == (n, n)
    np.testing.assert_allclose(H.data, A + A.T, rtol=1e-12, atol=1e-12)


def test_hessian_of_linear_function_is_zero_and_of_matrix_input_has_doubled_shape():
    assert np.all(hessian(lambda x: (x * 3.0).sum(), np.ones(3)).data == 0)
    X = np.random.default_rng(1).standard_normal((2, 2))
    H = hessian(lambda x: (x**3).sum(), X)
    assert H.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(H.data.reshape(4, 4), np.diag(6 * X.ravel()))


@given(hnp.arrays(np.float64, 4, elements=floats), hnp.arrays(np.float64, 4, elements=floats))
def test_hvp_equals_hessian_times_v(a, v):
    f = lambda x: (x.tanh() * x.sum() + x**3).sum()
    val, hv = hvp(f, a, v)
    H = hessian(f, a)
    np.testing.assert_allclose(hv.data, H.data @ v, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(val.data, f(Tensor(a)).data)
    assert not hv.requires_grad


@pytest.mark.torch
def test_hessian_matches_torch_if_available():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal(4)
    f = lambda t: (t.sigmoid() * t.tanh()).sum() + (t @ t) ** 2
    ours = hessian(f, x).data
    theirs = torch.autograd.functional.hessian(lambda t: (t.sigmoid() * t.tanh()).sum() + (t @ t) ** 2,
                                               torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def _two_input_f(a, b):
    return (a * a * b).sum() + (b**3).sum()


def test_hessian_of_a_tuple_of_inputs_is_the_nested_tuple_of_blocks():
    """H[i][j] = d^2 f / dx_i dx_j, shape x_i.shape + x_j.shape, for f(a, b) = sum(a^2 b) + sum(b^3)."""
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    H = hessian(_two_input_f, (a, b))
    assert isinstance(H, tuple) and len(H) == 2 and all(isinstance(r, tuple) and len(r) == 2 for r in H)
    expected = [[np.diag(2 * b), np.diag(2 * a)], [np.diag(2 * a), np.diag(6 * b)]]  # [[6,0],[0,8]], ...
    for i in range(2):
        for j in range(2):
            assert isinstance(H[i][j], Tensor) and not H[i][j].requires_grad
            np.testing.assert_array_equal(H[i][j].data, expected[i][j])
    # shapes x_i.shape + x_j.shape; an input f does not use gives zero blocks
    X, y, z = np.ones((2, 3)), np.array([0.5]), np.arange(4.0)
    H = hessian(lambda X, y, z: (X.tanh() * y).sum() ** 2, (X, y, z))
    assert [[h.shape for h in row] for row in H] == [[(2, 3, 2, 3), (2, 3, 1), (2, 3, 4)],
                                                      [(1, 2, 3), (1, 1), (1, 4)],
                                                      [(4, 2, 3), (4, 1), (4, 4)]]
    assert all(np.all(h.data == 0) for h in (*H[2], H[0][2], H[1][2]))
    np.testing.assert_allclose(H[0][1].data.reshape(6), H[1][0].data.reshape(6))  # symmetric
    # a one-element tuple gives ((H,),), like torch; a single Tensor keeps giving H
    ((H1,),) = hessian(lambda t: (t**3).sum(), (a,))
    np.testing.assert_array_equal(H1.data, np.diag(6 * a))
    np.testing.assert_array_equal(hessian(lambda t: (t**3).sum(), a).data, np.diag(6 * a))


def test_hessian_of_a_tuple_of_inputs_with_create_graph():
    x, y = leaf([1.0, 2.0]), leaf([2.0])
    H = hessian(lambda a, b: (a**4).sum() * b.sum(), (x, y), create_graph=True)
    assert H[0][0].requires_grad
    (g,) = grad(H[0][0].sum(), x)  # d/dx sum(12 x^2 y) = 24 x y
    np.testing.assert_allclose(g.data, 24 * x.data * 2.0)


@pytest.mark.torch
def test_hessian_of_a_tuple_of_inputs_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a, B = rng.standard_normal(3), rng.standard_normal((2, 3))
    ours = hessian(lambda a, B: (B.tanh() @ a).sigmoid().sum() + (a * a).sum() * B.sum() + _two_input_f(a, B),
                   (a, B))
    theirs = torch.autograd.functional.hessian(
        lambda a, B: torch.sigmoid(torch.tanh(B) @ a).sum() + (a * a).sum() * B.sum() + _two_input_f(a, B),
        (torch.tensor(a), torch.tensor(B)),
    )
    for i in range(2):
        for j in range(2):
            assert ours[i][j].shape == tuple(theirs[i][j].shape)
            np.testing.assert_allclose(ours[i][j].data, theirs[i][j].numpy(), rtol=1e-10, atol=1e-12)


def test_grad_runs_only_the_backward_that_leads_to_the_inputs():
    """autograd.grad(out, x) skips the backward of nodes with no requested input behind them."""
    calls = []

    class Spy(ag.Function):
        def forward(self, a):
            return a * 2.0

        def backward(self, out, g):
            calls.append(self.name)
            return (g * 2.0,)

    rng = np.random.default_rng(0)
    x = ag.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = ag.Tensor(rng.standard_normal((4, 2)), requires_grad=True)
    out = (Spy.apply(x, name="x-branch") @ Spy.apply(w, name="w-branch")).tanh().sum()
    (gx,) = ag.grad(out, x, retain_graph=True)
    assert calls == ["x-branch"]
    calls.clear()
    gx_all, _ = ag.grad(out, [x, w])
    assert sorted(calls) == ["w-branch", "x-branch"]
    np.testing.assert_allclose(gx.data, gx_all.data)
    # without retain_graph the skipped branch is released too (its saved arrays are not kept)
    wb = Spy.apply(w, name="w-branch")
    ag.grad((Spy.apply(x, name="x-branch") @ wb).sum(), x)
    assert wb._ctx is None
    # a requested non-leaf: nothing behind it runs, and its own gradient is returned
    x2 = ag.Tensor(rng.standard_normal(3), requires_grad=True)
    mid = Spy.apply(x2, name="behind-mid")
    calls.clear()
    (gm,) = ag.grad((mid * mid).sum(), mid)
    assert calls == [] and np.allclose(gm.data, 2 * mid.data)
