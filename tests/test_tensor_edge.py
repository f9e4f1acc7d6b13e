"""Edge cases of the Tensor API: std over constant slices, reductions of zero-size and 0-d tensors,
assignment of values that require grad, object data, integer tensors with Python scalars, pad errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from strategies import check_grad, check_grad2

import autograd as ag
from autograd import Tensor


def _torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed: the comparison with torch is skipped")


# --- std: gradient 0 over a constant slice (PyTorch's convention) ----------------------------------
STD_CASES = [(None, False), (None, True), (0, False), (1, False), (1, True), (-1, True), ((0, 2), False)]


@pytest.mark.parametrize("axis, keepdims", STD_CASES)
@pytest.mark.parametrize("ddof", [0, 1])
def test_std_gradient_matches_finite_differences_on_non_constant_data(axis, keepdims, ddof):
    x = np.random.default_rng(3).uniform(-2, 2, (2, 3, 4))
    check_grad(lambda t: t.std(axis, keepdims, ddof), x)
    check_grad2(lambda t: t.std(axis, keepdims, ddof), x)


@pytest.mark.parametrize("axis, keepdims", [(1, False), (1, True), (-1, False), ((1,), True)])
@pytest.mark.parametrize("ddof", [0, 1])
def test_std_gradient_is_exactly_zero_over_constant_slices(axis, keepdims, ddof):
    x0 = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0], [-3.0, -3.0, -3.0]])
    x = Tensor(x0, requires_grad=True)
    s = x.std(axis, keepdims, ddof)
    v = np.array([0.7, -1.3, 2.1]).reshape(s.shape)
    (s * Tensor(v)).sum().backward()
    g = x.grad.data
    assert np.all(g[[0, 2]] == 0.0)  # the constant rows: exact zeros, not NaN
    # the other row: d std/dx = (x - mean) / ((n - ddof) std), times the probe
    r = x0[1]
    expect = (r - r.mean()) / ((3 - ddof) * r.std(ddof=ddof)) * v.reshape(-1)[1]
    np.testing.assert_allclose(g[1], expect, rtol=1e-12)


def test_std_of_a_constant_tensor_and_its_second_order_gradient_are_zero():
    x = Tensor(np.full((2, 3), 0.5), requires_grad=True)
    x.std().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros((2, 3)))
    x.grad = None
    x.std(1).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and np.all(g.data == 0.0)
    x.grad = None
    (g * Tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros((2, 3)))  # finite: 0, as PyTorch's masked backward


@pytest.mark.parametrize("axis, keepdims", [(1, False), (0, True), (None, False)])
@pytest.mark.parametrize("ddof", [0, 1])
def test_std_gradient_matches_torch_with_constant_slices(axis, keepdims, ddof):
    torch = _torch()
    x0 = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0], [1.0, 1.0, 1.0]])
    x = Tensor(x0, requires_grad=True)
    s = x.std(axis, keepdims, ddof)
    v = np.random.default_rng(0).uniform(-1, 1, s.shape)
    (s * Tensor(v)).sum().backward()
    xt = torch.tensor(x0, requires_grad=True)
    dim = tuple(range(2)) if axis is None else axis
    st = torch.std(xt, dim=dim, keepdim=keepdims, correction=ddof)
    (st * torch.from_numpy(v)).sum().backward()
    np.testing.assert_allclose(s.data, st.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-14)


# --- max/min of zero-size tensors over non-empty axes ----------------------------------------------
@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("shape, axis", [((0, 3), 1), ((0, 3), -1), ((2, 0, 3), (0, 2)), ((0, 3), (1,))])
@pytest.mark.parametrize("keepdims", [False, True])
def test_max_min_reduce_zero_size_tensors_over_non_empty_axes(name, shape, axis, keepdims):
    x = Tensor(np.zeros(shape), requires_grad=True)
    y = getattr(x, name)(axis, keepdims)
    expect = getattr(np, name)(np.zeros(shape), axis=axis, keepdims=keepdims)
    assert y.shape == expect.shape and y.dtype == np.float64
    y.sum().backward()
    assert x.grad.shape == shape


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("shape, axis, bad", [((0, 3), 0, 0), ((0, 3), None, 0), ((2, 0), (0, 1), 1), ((3, 0), -1, 1)])
def test_max_min_refuse_an_empty_reduced_axis_naming_the_op_and_the_shape(name, shape, axis, bad):
    with pytest.raises(ValueError, match=rf"{name}: .*empty axis {bad} .*{re.escape(str(shape))}"):
        getattr(Tensor(np.zeros(shape)), name)(axis)


def test_max_of_zero_size_tensor_matches_torch():
    torch = _torch()
    assert Tensor(np.zeros((0, 3))).max(1).shape == tuple(torch.zeros(0, 3).amax(1).shape)


# --- 0-d tensors: axis 0 and -1 name the value itself (as PyTorch's dim) ---------------------------
ZERO_D = {  # op -> (value at x, gradient at x) for the 0-d x = 2
    "sum": (2.0, 1.0), "mean": (2.0, 1.0), "max": (2.0, 1.0), "min": (2.0, 1.0), "logsumexp": (2.0, 1.0),
    "var": (0.0, 0.0), "std": (0.0, 0.0), "softmax": (1.0, 0.0), "log_softmax": (0.0, 0.0),
}


@pytest.mark.parametrize("name", sorted(ZERO_D))
@pytest.mark.parametrize("axis", [0, -1, (0,), (-1,)])
def test_reductions_of_0d_tensors_accept_axis_0_and_minus_1(name, axis):
    x = Tensor(np.array(2.0), requires_grad=True)
    y = getattr(x, name)(axis)
    value, grad = ZERO_D[name]
    assert y.shape == () and y.dtype == np.float64 and y.item() == value
    y.backward()
    assert x.grad.shape == () and x.grad.item() == grad
    if name not in ("softmax", "log_softmax"):
        assert getattr(ag, name)(x, axis=axis, keepdims=True).shape == ()


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [0, -1, None])
def test_argmax_argmin_of_0d_tensors(name, axis):
    r = getattr(Tensor(np.array(2.0)), name)(axis)
    assert r.shape == () and r.item() == 0 and r.dtype.kind == "i"


@pytest.mark.parametrize("name", sorted(ZERO_D) + ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [1, -2])
def test_0d_tensors_refuse_other_axes_naming_the_op(name, axis):
    with pytest.raises(ValueError, match=rf"{name}: axis {axis} is out of range for a tensor with 0 dimensions"):
        getattr(Tensor(np.array(2.0)), name)(axis)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [2, -3])
def test_argmax_out_of_range_axis_raises_the_op_named_error(name, axis):
    with pytest.raises(ValueError, match=rf"{name}: axis {axis} is out of range for a tensor with 2 dimensions"):
        getattr(Tensor(np.zeros((2, 3))), name)(axis)
    np.testing.assert_array_equal(getattr(Tensor(np.eye(2)), name)(-1).data, [0, 1] if name == "argmax" else [1, 0])


@pytest.mark.parametrize("name", sorted(ZERO_D) + ["argmax"])
@pytest.mark.parametrize("axis", [0, -1])
def test_0d_reductions_match_torch(name, axis):
    torch = _torch()
    tname = {"max": "amax", "min": "amin"}.get(name, name)
    x = Tensor(np.array(2.0), requires_grad=True)
    xt = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    kw = {"correction": 0} if name in ("var", "std") else {}
    yt = getattr(torch, tname)(xt, axis, **kw)
    y = getattr(x, name)(axis)
    assert y.item() == yt.item()
    if name != "argmax":
        y.backward()
        yt.backward()
        assert x.grad.item() == xt.grad.item()


def test_norm_axes_maps_axis_0_and_minus_1_of_0d_tensors_to_no_axes():
    from autograd.ops._util import norm_axes

    assert norm_axes(-1, 2, "sum") == (1,) and norm_axes((0, -1), 3, "sum") == (0, 2)
    assert norm_axes(0, 0, "sum") == () and norm_axes(None, 0, "sum") == ()


# --- __setitem__ with a value that requires grad ---------------------------------------------------
def test_setitem_refuses_a_value_that_requires_grad():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    t = ag.zeros(2, dtype=np.float64)
    for index, value in [(0, w[1] * 3), (slice(None), w), (slice(None), [w[0], 5.0])]:
        with pytest.raises(RuntimeError, match=r"setitem.*requires grad.*not recorded.*where.*detach\(\)"):
            t[index] = value
    np.testing.assert_array_equal(t.data, [0.0, 0.0])  # nothing was written
    assert not t.requires_grad


def test_setitem_still_takes_plain_values_detached_tensors_and_anything_under_no_grad():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    t = ag.zeros(3, dtype=np.float64)
    t[0] = (w[1] * 3).detach()
    t[1] = Tensor(4.0)
    t[2:] = np.array([5.0])
    np.testing.assert_array_equal(t.data, [6.0, 4.0, 5.0])
    with ag.no_grad():
        t[:2] = w  # nothing is recorded under no_grad, as in PyTorch: the data is copied
    np.testing.assert_array_equal(t.data, [1.0, 2.0, 5.0])
    with pytest.raises(RuntimeError, match="in-place"):  # assigning into a grad-requiring tensor: refused as before
        w[0] = 1.0


# --- object data -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: Tensor(None),
        lambda: ag.tensor([1.0, None]),
        lambda: Tensor([[1.0], [None]]),
        lambda: Tensor(None, dtype=np.float32),
        lambda: ag.tensor([1.0, None], dtype=np.float64),
        lambda: Tensor(np.array([1.0, None], dtype=object)),
        lambda: Tensor(np.array([1.0, None], dtype=object), dtype=np.float64),
    ],
)
def test_none_data_is_refused_as_pytorch_does(make):
    with pytest.raises(TypeError, match=r"could not infer dtype of NoneType"):
        make()


def test_numeric_data_is_still_accepted():
    assert Tensor(np.array([1, 2.5], dtype=object)).dtype == np.float32
    assert Tensor([2**64]).data[0] == np.float32(2.0**64)  # a Python int beyond int64 is a number
    assert Tensor([1, 2], dtype=np.int64).dtype == np.int64
    assert Tensor(3.0, dtype=np.float64).item() == 3.0


# --- integer tensors with Python scalars: numpy's promotion (the documented rule), right values ----------
@pytest.mark.parametrize("f", [lambda x: x * 2.5, lambda x: x + 0.5, lambda x: x / 2, lambda x: x ** 2.5,
                               lambda x: x ** 0.5, lambda x: 2.0 ** x, lambda x: x + 1, lambda x: x ** 2])
def test_integer_tensor_with_a_python_scalar_follows_numpy(f):
    out, ref = f(ag.arange(4)), f(np.arange(4))
    assert out.dtype == ref.dtype
    np.testing.assert_array_equal(out.data, ref)  # (x ** 2.5 was computed as x ** 2, in int64)


# --- pad errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("pad_width", [((1, 1),) * 3, ((1, 2), (3,), (4, 5)), (1, 2, 3), ((1, 2, 3), (4, 5, 6))])
def test_pad_with_the_wrong_number_of_pairs_names_pad_the_shape_and_the_expectation(pad_width):
    with pytest.raises(ValueError, match=r"pad: .*\(2, 3\); expected an int, one \(before, after\) pair or 2 pairs"):
        Tensor(np.zeros((2, 3))).pad(pad_width)


def test_pad_still_takes_an_int_a_pair_and_one_pair_per_axis():
    x = Tensor(np.zeros((2, 3)))
    assert x.pad(1).shape == (4, 5) and x.pad((1, 2)).shape == (5, 6)
    assert x.pad(((1, 0), (0, 2))).shape == (3, 5) and x.pad(((1,), (2,))).shape == (4, 7)


def test_softmax_names_itself_in_axis_errors():
    with pytest.raises(ValueError, match="^softmax: axis 2 is out of range"):
        ag.softmax(Tensor(np.zeros((2, 2))), 2)
    with pytest.raises(ValueError, match="^log_softmax: axis 2 is out of range"):
        ag.log_softmax(Tensor(np.zeros((2, 2))), 2)
