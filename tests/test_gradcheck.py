"""Tests for autograd.gradcheck / gradgradcheck: pass on correct ops, fail loudly on a wrong backward."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd
from autograd import Function, Tensor, Value, gradcheck, gradgradcheck
from autograd.gradcheck import GradcheckError


def t64(shape, seed=0, requires_grad=True, scale=1.0, label=""):
    t = Tensor(np.random.default_rng(seed).standard_normal(shape) * scale, requires_grad=requires_grad)
    t.label = label
    return t


class BadSquare(Function):
    """x^2 with a backward that is right everywhere except at element (1, 2)."""

    def forward(self, x):
        return x * x

    def backward(self, out, g):
        (x,) = self.inputs
        bump = np.zeros(x.shape)
        bump[1, 2] = 1.0
        return (g * x * 2.0 + Tensor._wrap(bump),)


class WrongExp(Function):
    """e^x with the derivative of e^x forgotten: returns g."""

    def forward(self, x):
        return np.exp(x)

    def backward(self, out, g):
        return (g,)


# --- correct functions pass ---------------------------------------------------------
def test_values_polynomial_and_tanh():
    a, b = Value(0.7, "a"), Value(-1.3, "b")
    assert gradcheck(lambda a, b: a**3 - 2 * a * b + b**2 / 3 + 1, a, b)
    assert gradcheck(lambda a, b: (a * b).tanh() + a.exp() * b.sigmoid(), a, b)
    assert gradcheck(lambda a, b: (a * a + b * b) ** 0.5 / (1 + a.relu()), a, b)


def test_tensor_functions_full_mode():
    x, W, b = t64((3, 4), 0), t64((4, 5), 1), t64((5,), 2)
    assert gradcheck(lambda x, W, b: (x @ W + b).tanh(), x, W, b)
    assert gradcheck(lambda x: x.softmax(axis=-1), x)
    assert gradcheck(lambda x: (x**3 - 2 * x).sum(axis=0), x)
    assert gradcheck(lambda x: x.log_softmax(0).mean(), x)
    assert gradcheck(lambda x: x.sigmoid() * x.exp(), x)


def test_tuple_outputs_and_constant_inputs():
    x, y = t64((2, 3), 0), t64((2, 3), 1, requires_grad=False)
    assert gradcheck(lambda x, y, k: (x * y * k, (x - y).sum()), x, y, 3.0)
    # an output that does not depend on the checked inputs at all
    assert gradcheck(lambda x, y: (x.tanh(), y * 2.0), x, y)


def test_random_mode_passes_on_larger_inputs():
    x, W = t64((16, 32), 0), t64((32, 24), 1)
    assert gradcheck(lambda x, W: (x @ W).tanh().softmax(), x, W, mode="random", n_projections=4)


@given(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=4),
               elements=st.floats(-2, 2, allow_nan=False)),
    st.sampled_from(["tanh", "sigmoid", "exp", "poly", "softmax", "square_sum"]),
)
def test_hypothesis_elementwise_and_reductions(arr, op):
    fns = {
        "tanh": lambda x: x.tanh(),
        "sigmoid": lambda x: x.sigmoid(),
        "exp": lambda x: x.exp(),
        "poly": lambda x: x**3 - 2 * x**2 + x,
        "softmax": lambda x: x.softmax(axis=-1),
        "square_sum": lambda x: (x * x).sum(),
    }
    x = Tensor(arr.copy(), requires_grad=True)
    assert gradcheck(fns[op], x)
    assert gradcheck(fns[op], x, mode="random")


# --- a wrong backward fails -------------------------------------------------------------
def test_wrong_backward_fails_naming_input_element_and_values():
    x = t64((2, 3), 0, label="x")
    w = t64((2, 3), 1, label="w")
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda w, x: (BadSquare.apply(x) * w).sum(), w, x)
    msg = str(info.value)
    assert isinstance(info.value, AssertionError)
    assert "input 1" in msg and "label 'x'" in msg
    assert "element (1, 2)" in msg
    expected_numerical = w.data[1, 2] * 2 * x.data[1, 2]
    expected_analytic = expected_numerical + 1.0  # the bump is added after the chain rule
    num = float(re.search(r"numerical (\S+),", msg).group(1))
    ana = float(re.search(r"analytic (\S+),", msg).group(1))
    assert num == pytest.approx(expected_numerical, rel=1e-5)
    assert ana == pytest.approx(expected_analytic, rel=1e-8)
    assert "atol + rtol*|numerical|" in msg
    assert "1 of 6 entries differ" in msg


def test_wrong_backward_returns_false_without_raising():
    x = t64((3,), 0)
    assert gradcheck(lambda x: WrongExp.apply(x), x, raise_exception=False) is False
    assert gradcheck(lambda x: WrongExp.apply(x), x, mode="random", raise_exception=False) is False


def test_random_mode_catches_the_same_bug():
    x = t64((2, 3), 0, label="x")
    with pytest.raises(GradcheckError, match=r"input 0 .*label 'x'.*random projection 0"):
        gradcheck(lambda x: BadSquare.apply(x).tanh(), x, mode="random")


def test_non_float64_input_warns():
    x = Tensor(np.random.default_rng(0).standard_normal(3).astype(np.float32), requires_grad=True)
    with pytest.warns(UserWarning, match="float32, not float64"):
        gradcheck(lambda x: x * 2.0, x, eps=1e-3, atol=1e-2, rtol=1e-2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck(lambda x: x * 2.0, t64((3,)))


def test_grads_and_data_are_restored():
    x = t64((2, 3), 0)
    before = x.data.copy()
    data_obj = x.data
    sentinel = Tensor(np.full((2, 3), 7.0))
    x.grad = sentinel
    assert gradcheck(lambda x: (x * x).sum(), x)
    assert x.grad is sentinel
    assert x.data is data_obj and np.array_equal(x.data, before)
    # also on failure, and also when fn itself calls backward
    gradcheck(lambda x: WrongExp.apply(x), x, raise_exception=False)
    assert x.grad is sentinel and np.array_equal(x.data, before)

    def calls_backward(x):
        y = (x * x).sum()
        y.backward(retain_graph=True)
        return y

    gradcheck(calls_backward, x)
    assert x.grad is sentinel
    v = Value(1.5)
    v.grad = 4.0
    assert gradcheck(lambda v: v * v * v, v)
    assert v.grad == 4.0 and v.data == 1.5


def test_read_only_input_data_is_fine():
    arr = np.arange(6, dtype=np.float64).reshape(2, 3) / 7
    arr.setflags(write=False)
    x = Tensor(arr, requires_grad=True)
    assert gradcheck(lambda x: x.tanh(), x)
    assert x.data is arr


def test_bad_arguments():
    x = t64((2,))
    with pytest.raises(ValueError, match="mode"):
        gradcheck(lambda x: x, x, mode="fast")
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda x: x * 2.0, t64((2,), requires_grad=False))


def test_exported_names():
    assert autograd.gradcheck is gradcheck
    assert issubclass(GradcheckError, AssertionError)


# --- second order ------------------------------------------------------------------------
def test_gradgradcheck_passes_for_smooth_functions():
    x, W = t64((3, 4), 0), t64((4, 2), 1)
    assert gradgradcheck(lambda x, W: (x @ W).tanh(), x, W)
    assert gradgradcheck(lambda x: x.sigmoid() * x.exp(), x)
    assert gradgradcheck(lambda x: x.softmax(axis=-1), x, mode="random")
    assert gradgradcheck(lambda x: (x**3).sum(), x, grad_outputs=np.array(2.0))


def test_gradgradcheck_takes_grad_outputs_positionally_after_a_torch_style_inputs_tuple():
    """PyTorch's gradgradcheck(func, inputs, grad_outputs=None, *, ...): the third positional is grad_outputs."""
    x, W = t64((3, 4), 0), t64((4, 2), 1)
    v = np.random.default_rng(2).standard_normal((3, 2))
    assert gradgradcheck(lambda x, W: (x @ W).tanh(), (x, W), (v,))
    assert gradgradcheck(lambda x, W: (x @ W).tanh(), [x, W], v, mode="random")
    assert gradgradcheck(lambda x: (x**3).sum(), (x,), np.array(2.0))
    assert gradgradcheck(lambda x: (x**3).sum(), (x,), None)
    # it really is read as grad_outputs: shape and count are checked against fn's outputs
    with pytest.raises(ValueError, match=r"grad_outputs of shape \(2, 3\) for an output of shape \(3, 2\)"):
        gradgradcheck(lambda x, W: (x @ W).tanh(), (x, W), (v.T,))
    with pytest.raises(ValueError, match="fn returned 1 outputs but 2 grad_outputs were given"):
        gradgradcheck(lambda x, W: (x @ W).tanh(), (x, W), (v, v))
    with pytest.raises(TypeError, match="grad_outputs both positionally"):
        gradgradcheck(lambda x: x * x, (x,), (v,), grad_outputs=(v,))
    # inputs one by one are still all inputs
    assert gradgradcheck(lambda x, W: (x @ W).tanh(), x, W)


def test_gradgradcheck_catches_a_first_derivative_that_is_not_recorded():
    class DetachedBackwardSquare(Function):
        """Right first derivative, but computed from raw arrays: no second derivative."""

        def forward(self, x):
            return x * x

        def backward(self, out, g):
            (x,) = self.inputs
            return (Tensor._wrap(2.0 * x.data) * g,)

    x = t64((3,), 0, label="x")
    assert gradcheck(lambda x: DetachedBackwardSquare.apply(x), x)
    with pytest.raises(GradcheckError, match=r"gradgradcheck: .*input 0 .*label 'x'"):
        gradgradcheck(lambda x: DetachedBackwardSquare.apply(x), x)


def test_gradgradcheck_rejects_values():
    with pytest.raises(TypeError, match="Tensor"):
        gradgradcheck(lambda a: a * a, Value(1.0))


def test_torch_style_tuple_of_inputs_is_unpacked():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([3.0, -1.0]), requires_grad=True)
    assert gradcheck(lambda x, y: x * y, (a, b))
    wrong = gradcheck(lambda x, y: x * y.detach() + y.detach() * 0, (a, b), raise_exception=False)
    assert wrong is False  # b's gradient is missing: the tuple form really checks b


def test_nothing_to_check_is_an_error():
    with pytest.raises(ValueError, match="nothing to check"):
        gradcheck(lambda x: x * 2, Tensor(np.ones(3)))
