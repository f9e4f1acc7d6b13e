"""The Tensor API a numpy/PyTorch user expects, graph semantics, dtype rules and error messages."""

from __future__ import annotations

import timeit

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import arrays, shapes

import autograd as ag
from autograd import Tensor


def leaf(*values, dtype=np.float64):
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


# --- attributes and conversions ------------------------------------------------------------------
def test_array_attributes_and_conversions():
    t = Tensor(np.arange(6.0).reshape(2, 3))
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and t.dtype == np.float64
    assert t.numel() == 6 and t.dim() == 2 and len(t) == 2
    assert t.T.shape == (3, 2) and np.array_equal(t.T.numpy(), t.numpy().T)
    assert isinstance(t.numpy(), np.ndarray)
    assert np.asarray(t) is t.data and np.array(t, dtype=np.float32).dtype == np.float32
    assert np.array(t, copy=True) is not t.data
    assert Tensor(3.5).item() == 3.5 and isinstance(Tensor(3.5).item(), float)
    assert float(Tensor([2.0])) == 2.0 and int(Tensor([2.0])) == 2
    assert t.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert [r.shape for r in t] == [(3,), (3,)]
    with pytest.raises(ValueError, match="one-element"):
        t.item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t)
    with pytest.raises(TypeError, match="0-d"):
        len(Tensor(1.0))


def test_numpy_functions_accept_tensors():
    t = Tensor(np.array([1.0, -2.0]))
    np.testing.assert_array_equal(np.abs(t), [1.0, 2.0])
    r = np.array([1.0, 1.0]) + t  # numpy defers to Tensor.__radd__
    assert isinstance(r, Tensor)


def test_repr_is_readable():
    assert repr(Tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(Tensor(np.array([1.0]))) == "tensor([1.], dtype=float64)"
    x = Tensor([1.0], requires_grad=True)
    assert repr(x) == "tensor([1.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2.], grad_fn=<Mul>)"
    assert "..." in repr(Tensor(np.zeros(1000)))


def test_detach_and_requires_grad_():
    x = leaf(1.0, 2.0)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and np.shares_memory(d.data, y.data)
    assert x.is_leaf and not y.is_leaf and y.grad_fn is not None
    z = Tensor([1.0]).requires_grad_()
    assert z.requires_grad and z.requires_grad_(False) is z and not z.requires_grad
    with pytest.raises(RuntimeError, match="non-leaf"):
        y.requires_grad_(False)


def test_clone_keeps_the_graph_and_copies():
    x = leaf(1.0, 2.0)
    c = x.clone()
    assert not np.shares_memory(c.data, x.data)
    (c * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_setitem_on_plain_tensors_and_leaves_under_no_grad():
    t = ag.zeros(3)
    t[1] = 5.0
    t[np.array([True, False, True])] = Tensor([7.0, 8.0])
    np.testing.assert_array_equal(t.data, [7.0, 5.0, 8.0])
    w = ag.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w[0] = 1.0
    with ag.no_grad():
        w[0] = 1.0
    assert w.data[0] == 1.0
    y = w * 2
    with ag.no_grad(), pytest.raises(RuntimeError, match="in-place"):
        y[0] = 3.0


# --- construction --------------------------------------------------------------------------------
def test_construction_helpers():
    assert ag.tensor([1.0, 2.0]).dtype == np.float32  # as torch.tensor: Python floats -> float32
    assert ag.tensor(np.array([1.0])).dtype == np.float64  # float64 arrays are kept
    a = np.array([1.0, 2.0])
    t = ag.tensor(a)
    a[0] = 9.0
    assert t.data[0] == 1.0  # tensor() copies; Tensor() shares
    assert ag.tensor([1, 2], dtype=np.int64).dtype == np.int64
    assert ag.zeros(2, 3).shape == (2, 3) and ag.zeros((2, 3)).dtype == np.float32
    assert ag.ones(4).data.sum() == 4
    np.testing.assert_array_equal(ag.full((2, 2), 7.0).data, np.full((2, 2), 7.0))
    assert ag.full(3, 1.0).shape == (3,)
    assert ag.arange(5).dtype == np.int64 and ag.arange(0.0, 1.0, 0.25).dtype == np.float32
    np.testing.assert_array_equal(ag.arange(1, 7, 2).data, [1, 3, 5])
    np.testing.assert_array_equal(ag.eye(2).data, np.eye(2))
    assert ag.eye(2, 3).shape == (2, 3)
    assert ag.rand(2, 3).shape == (2, 3) and ag.randn(4).dtype == np.float32
    assert ag.zeros(2, requires_grad=True).requires_grad
    assert ag.randn(2, dtype=np.float64).dtype == np.float64


def test_like_helpers_keep_shape_and_dtype():
    f64 = Tensor(np.ones((2, 3)))
    for fn in (ag.zeros_like, ag.ones_like, ag.rand_like, ag.randn_like):
        out = fn(f64)
        assert out.shape == (2, 3) and out.dtype == np.float64, fn
    assert ag.full_like(f64, 2.5).data.mean() == 2.5
    assert ag.zeros_like(ag.arange(3)).dtype == np.int64
    assert ag.zeros_like(f64, dtype=np.float32).dtype == np.float32
    assert ag.rand_like(ag.arange(3)).dtype == np.float32
    assert ag.ones_like(np.zeros(2)).dtype == np.float64


def test_manual_seed_makes_random_helpers_and_dropout_reproducible():
    ag.manual_seed(123)
    a = (ag.rand(3).data, ag.randn(3).data, ag.dropout(ag.ones(8), 0.5).data)
    ag.manual_seed(123)
    b = (ag.rand(3).data, ag.randn(3).data, ag.dropout(ag.ones(8), 0.5).data)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


# --- dtype rules ---------------------------------------------------------------------------------
def test_dtype_rules():
    assert Tensor([1.0]).dtype == np.float32  # float32 by default
    assert Tensor([1, 2]).dtype == np.float32  # ... also for Python ints (use dtype= for integers)
    assert Tensor(np.array([1.0])).dtype == np.float64  # float64 arrays are kept
    assert Tensor([1.0], dtype=np.float64).dtype == np.float64
    f32, f64 = Tensor([1.0]), Tensor(np.array([1.0]))
    for scalar in (2, 2.5, True, np.float64(2.0)):  # Python/numpy scalars are weak: the tensor dtype wins
        assert (f32 * scalar).dtype == np.float32
        assert (scalar - f32).dtype == np.float32
        assert (f32**scalar).dtype == np.float32
    assert (2.0 / f64).dtype == np.float64
    assert (ag.arange(3) + 1).dtype == np.int64  # integer tensors keep their dtype with integer scalars
    assert (f32 + f64).dtype == np.float64  # between tensors: numpy's promotion
    assert (f32 + ag.arange(1)).dtype == np.float64  # (numpy: float32 + int64 -> float64)
    x = Tensor([1.0], requires_grad=True)
    y = Tensor(np.array([2.0]), requires_grad=True)
    (x * y).sum().backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64  # grads match their leaf
    assert x.double().dtype == np.float64 and y.float().dtype == np.float32
    assert x.astype(np.float64).requires_grad


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        Tensor([1, 2], dtype=np.int64, requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        ag.arange(3).requires_grad_()
    x = Tensor([1.5, 2.5], requires_grad=True)
    i = x.astype(np.int64)
    assert i.dtype == np.int64 and not i.requires_grad


def test_astype_gradient_returns_in_the_input_dtype():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x.astype(np.float32)
    assert y.dtype == np.float32 and y.requires_grad
    (y * 3).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_comparisons_and_argmax_are_not_differentiable():
    x = leaf(1.0, 3.0, 2.0)
    for r in (x < 2, x <= 2, x > 2, x >= 2, x == 2, x != 2):
        assert r.dtype == np.bool_ and not r.requires_grad
    np.testing.assert_array_equal((x > 1.5).data, [False, True, True])
    for r in (x.argmax(), x.argmin(), ag.argmax(x), ag.argmin(x, axis=0)):
        assert r.dtype == np.int64 and not r.requires_grad
    assert x.argmax().item() == 1 and ag.argmin(x).item() == 0
    m = Tensor(np.array([[1.0, 5.0], [7.0, 2.0]]))
    np.testing.assert_array_equal(m.argmax(axis=1).data, [1, 0])
    assert m.argmax(axis=1, keepdims=True).shape == (2, 1)


# --- graph semantics -----------------------------------------------------------------------------
def test_fan_in_graphs():
    a = leaf(3.0)
    (a + a).backward()
    np.testing.assert_array_equal(a.grad.data, [2.0])
    x = leaf(3.0)
    (x * x).backward()
    np.testing.assert_array_equal(x.grad.data, [6.0])
    # diamond: x -> (u, v) -> w
    x = leaf(0.5, 2.0)
    u, v = x.exp(), x * 3
    (u * v).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp(x.data) * 3 * x.data + np.exp(x.data) * 3)


def test_leaf_gradients_accumulate_and_zero_grad_resets():
    x = leaf(1.0, 2.0)
    for _ in range(3):
        (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, 3 * 2 * x.data)
    x.zero_grad()
    assert x.grad is None


def test_leaf_gradients_are_private_writable_arrays():
    x, y = leaf(1.0, 2.0), leaf(3.0, 4.0)
    v = np.array([1.0, 1.0])
    (x + y).backward(v)
    assert x.grad.data is not y.grad.data and not np.shares_memory(x.grad.data, v)
    x.grad.data *= 10  # an optimizer may update grads in place
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0])
    z = leaf(1.0, 2.0)
    z.sum().backward()  # the gradient of sum is a broadcast: the leaf still gets its own writable array
    assert z.grad.data.flags.writeable and z.grad.data.strides == (8,)


def test_adopted_gradients_are_never_shared():
    # Mul's backward makes a new array for (a + b); Add passes that one array on to both leaves,
    # and to h.grad: each leaf must still end up with an array of its own.
    a, b, k = leaf(1.0, 2.0), leaf(3.0, 4.0), Tensor(np.array([5.0, 6.0]))
    h = a + b
    h.retain_grad()
    (h * k).sum().backward()
    grads = [a.grad.data, b.grad.data, h.grad.data]
    for i in range(3):
        for j in range(i):
            assert not np.shares_memory(grads[i], grads[j])
    a.grad.data *= 10
    np.testing.assert_array_equal(b.grad.data, [5.0, 6.0])
    np.testing.assert_array_equal(h.grad.data, [5.0, 6.0])
    # a gradient made for one leaf alone is adopted; it is still private and writable
    w = leaf(1.0, 2.0)
    (w * k).sum().backward()
    assert w.grad.data.flags.writeable and not np.shares_memory(w.grad.data, k.data)
    w.grad.data += 1
    (w * k).sum().backward()  # accumulates into a new array, the adopted one is not reused by the graph
    np.testing.assert_array_equal(w.grad.data, [11.0, 13.0])


def test_adoption_never_hands_a_leaf_an_array_someone_else_holds():
    k = Tensor(np.array([5.0, 6.0]))
    # the result of autograd.grad belongs to the caller: a later backward seeded with it must copy it
    x = leaf(1.0, 2.0)
    (gx,) = ag.grad((x * k).sum(), x)
    w = leaf(3.0, 4.0)
    w.backward(gx)
    assert not np.shares_memory(w.grad.data, gx.data)

    # a custom op whose backward hands back one of its inputs' arrays
    class PassInput(ag.Function):
        def forward(self, a, b):
            return a * b

        def backward(self, out, g):
            a, b = self.inputs
            return Tensor(b.data, dtype=b.dtype), Tensor(a.data, dtype=a.dtype)

    a, b = leaf(1.0, 2.0), leaf(3.0, 4.0)
    PassInput.apply(a, b).sum().backward()
    assert not np.shares_memory(a.grad.data, b.data) and not np.shares_memory(b.grad.data, a.data)

    # create_graph: the two leaves of a + b get gradients of their own, still on the graph
    a, b = leaf(1.0, 2.0), leaf(3.0, 4.0)
    (a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad and not np.shares_memory(a.grad.data, b.grad.data)


def test_retain_grad_on_intermediates():
    x = leaf(1.0, 2.0)
    h = x * 2
    h.retain_grad()
    y = h * h
    (y.sum()).backward()
    np.testing.assert_array_equal(h.grad.data, 2 * h.data)
    np.testing.assert_array_equal(x.grad.data, 8 * x.data)
    assert (x * 3).grad is None


def test_backward_needs_gradient_for_non_scalars():
    x = leaf(1.0, 2.0)
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar outputs"):
        y.backward()
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\), expected \(2,\)"):
        y.backward(np.ones(3))
    with pytest.raises(ValueError, match=r"gradient has shape \(2, 1\), expected \(2,\)"):
        y.backward(Tensor(np.ones((2, 1))))  # a Tensor too (checked on its own path)
    y.backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.data, [2.0, 20.0])


def test_freed_graph_raises_a_clear_error_and_retain_graph_allows_a_second_backward():
    x = leaf(1.0, 2.0)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()
    x = leaf(1.0, 2.0)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (h * 2).sum().backward()  # h's own graph is freed too
    x = leaf(1.0, 2.0)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, 4 * x.data)


def test_backward_without_a_graph_explains():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0, 2.0]).backward(Tensor([1.0, 1.0]))


def test_no_grad_records_nothing():
    x = leaf(1.0, 2.0)
    with ag.no_grad():
        y = (x * 2).exp().sum()
    assert not y.requires_grad and y.is_leaf and y._prev == ()
    assert ag.is_grad_enabled()

    @ag.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    with ag.no_grad(), ag.enable_grad():
        assert (x * 2).requires_grad


def test_constants_get_no_gradient():
    x = leaf(1.0, 2.0)
    c = Tensor(np.array([3.0, 4.0]))
    (x * c).sum().backward()
    assert c.grad is None


# --- errors name the op and both shapes ----------------------------------------------------------
@pytest.mark.parametrize(
    "f, pattern",
    [
        (lambda: Tensor(np.ones((2, 3))) + Tensor(np.ones((4, 3))), r"add: .*\(2, 3\) and \(4, 3\)"),
        (lambda: Tensor(np.ones((2, 3))) * Tensor(np.ones(2)), r"mul: .*\(2, 3\) and \(2,\)"),
        (lambda: ag.maximum(Tensor(np.ones(2)), Tensor(np.ones(3))), r"maximum: .*\(2,\) and \(3,\)"),
        (lambda: Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 3))), r"matmul: .*\(2, 3\) and \(4, 3\)"),
        (lambda: Tensor(np.ones((2, 2, 3))) @ Tensor(np.ones((3, 3, 1))), r"matmul: .*\(2, 2, 3\) and \(3, 3, 1\)"),
        (lambda: Tensor(np.ones(3)) @ Tensor(np.ones(4)), r"matmul: .*\(3,\) and \(4,\)"),
        (lambda: Tensor(np.ones((2, 3))).reshape(4, 2), r"reshape: .*\(2, 3\).*\(4, 2\)"),
        (lambda: Tensor(np.ones(6)).reshape(-1, -1), r"reshape: .*\(6,\)"),
        (lambda: ag.concatenate([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))]),
         r"concatenate: .*\(2, 3\), \(2, 4\)"),
        (lambda: ag.stack([Tensor(np.ones(2)), Tensor(np.ones(3))]), r"stack: .*\(2,\), \(3,\)"),
        (lambda: Tensor(np.ones(3)).broadcast_to((2, 4)), r"broadcast_to: .*\(3,\) to \(2, 4\)"),
        (lambda: Tensor(np.ones((1, 3))).broadcast_to((3,)), r"broadcast_to: .*\(1, 3\) to \(3,\)"),
        (lambda: ag.where(np.ones(2, bool), Tensor(np.ones(3)), 0.0), r"where: .*\(2,\).*\(3,\)"),
        (lambda: ag.linear(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5)))), r"linear: .*\(2, 3\).*\(4, 5\)"),
        (lambda: ag.linear(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 3))), Tensor(np.ones(5))),
         r"linear: bias .*\(5,\).*\(4, 3\)"),
        (lambda: Tensor(np.ones(3))[5], r"getitem: .*\(3,\)"),
        (lambda: Tensor(np.ones(3)).sum(axis=1), r"sum: axis 1 is out of range"),
    ],
)
def test_shape_errors_name_the_op_and_the_shapes(f, pattern):
    with pytest.raises((ValueError, IndexError), match=pattern):
        f()


# --- completeness: ops as methods and as functions -----------------------------------------------
METHODS = [
    "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "clip", "clamp", "maximum", "minimum", "where",
    "matmul", "sum", "mean", "var", "std", "max", "min", "argmax", "argmin", "logsumexp", "softmax",
    "log_softmax", "reshape", "view", "flatten", "transpose", "permute", "squeeze", "unsqueeze", "expand",
    "expand_as", "broadcast_to", "pad", "split", "astype", "float", "double", "clone", "detach", "add",
    "sub", "mul", "div", "pow", "neg", "swapaxes", "reshape_as", "numpy", "item", "tolist",
]
FUNCTIONS = [
    "add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu",
    "maximum", "minimum", "where", "clip", "astype", "clone", "matmul", "linear", "sum", "mean", "var", "std",
    "max", "min", "argmax", "argmin", "logsumexp", "softmax", "log_softmax", "reshape", "flatten", "transpose",
    "permute", "squeeze", "unsqueeze", "broadcast_to", "expand", "getitem", "pad", "concatenate", "cat",
    "stack", "split", "dropout", "tensor", "zeros", "ones", "full", "arange", "eye", "rand", "randn",
    "zeros_like", "ones_like", "full_like", "rand_like", "randn_like", "manual_seed", "no_grad",
]


@pytest.mark.parametrize("name", METHODS)
def test_method_exists(name):
    assert callable(getattr(Tensor, name)), name


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_exists(name):
    assert callable(getattr(ag, name)), name


def test_methods_and_functions_agree():
    x = Tensor(np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]))
    pairs = [
        (x.exp(), ag.exp(x)), (abs(x), ag.abs(x)), (x.clamp(-0.5, 0.5), ag.clip(x, -0.5, 0.5)),
        (x.std(axis=1), ag.std(x, axis=1)), (x.swapaxes(0, 1), ag.transpose(x, 0, 1)),
        (x.where(x > 0, 0.0), ag.where(x > 0, x, 0.0)), (x.add(1), x + 1), (x.div(2), x / 2),
        (x.expand_as(Tensor(np.zeros((2, 2, 3)))), ag.broadcast_to(x, (2, 2, 3))),
        (x.reshape_as(Tensor(np.zeros(6))), x.reshape(-1)), (x.view(3, 2), ag.reshape(x, (3, 2))), (+x, x),
    ]
    for a, b in pairs:
        np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_allclose(x.std(axis=1, ddof=1).data, np.std(x.data, axis=1, ddof=1))


# --- speed of the hot path -----------------------------------------------------------------------
def test_elementwise_forward_backward_is_fast():
    """exp on a 10-element tensor, forward + backward() incl. the leaf update: <= 15 us (lenient on CI)."""
    x = Tensor(np.random.default_rng(0).random(10).astype(np.float32), requires_grad=True)
    g = np.ones(10, np.float32)

    def step():
        x.exp().backward(g)

    best = min(timeit.repeat(step, number=2000, repeat=5)) / 2000
    assert best < 60e-6, f"{best * 1e6:.1f} us per op (target 15 us on an idle machine)"


def test_clip_accepts_tensor_bounds_and_masks_index_with_tensors():
    x = Tensor(np.array([-2.0, 0.5, 3.0]), requires_grad=True)
    y = x.clip(Tensor(np.array([-1.0, 0.0, 0.0])), Tensor(np.array([1.0, 1.0, 2.0])))
    y.sum().backward()
    np.testing.assert_array_equal(y.data, [-1.0, 0.5, 2.0])
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 0.0])
    x.grad = None
    x[x > 0].sum().backward()  # a boolean Tensor as mask
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 1.0])


def test_numpy_scalars_on_the_left_give_tensors():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    for r in (np.float64(2.0) * x, np.float32(1.0) + x, np.float64(3.0) - x, np.float64(1.0) / x):
        assert isinstance(r, Tensor) and r.requires_grad


def test_works_with_graph_protocol_slots():
    x = Tensor(np.array([1.0]), requires_grad=True)
    y = ag.concatenate([x, x * 2, x * 3])
    assert y._a is x and y._b is not None and len(y._rest) == 1 and len(y._prev) == 3
    y.sum().backward()
    assert y._prev == () and x.grad.data[0] == 6.0


@given(x=arrays(shapes(min_side=0)), calls=st.integers(1, 3))
def test_fan_in_and_accumulation_property(x, calls):
    t = Tensor(x, requires_grad=True)
    for _ in range(calls):
        h = t * 2.0
        (h * t + h.exp() - t).sum().backward()  # diamond t -> h -> (h*t, exp h), plus a direct edge
    np.testing.assert_allclose(t.grad.data, calls * (4 * x + 2 * np.exp(2 * x) - 1), rtol=1e-12)


def test_data_is_always_an_ndarray():
    t = Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    for r in (t.sum(), t.max(), t.mean(), t.sum().exp(), (t * 2).sum().log(), t[0, 0]):
        assert type(r.data) is np.ndarray and r.data.ndim == 0
        assert np.asarray(r).shape == ()


# --- a backward returning a wrongly shaped gradient is an error, not a silent reshape -------------
class _BadTranspose(ag.Function):
    """(2, 3) -> (3, 2), with a deliberately wrong backward (g instead of g.T)."""

    def forward(self, x):
        return x.T.copy()

    def backward(self, out, g):
        return (g,)


class _SmallGrad(ag.Function):
    """Identity, with a backward that returns a gradient with one axis collapsed to 1."""

    def forward(self, x):
        return x.copy()

    def backward(self, out, g):
        return (g.sum(axis=0, keepdims=True),)


@pytest.mark.parametrize("op, shape, gshape", [(_BadTranspose, (2, 3), (3, 2)), (_SmallGrad, (2, 3), (1, 3))])
def test_wrongly_shaped_backward_gradient_raises_naming_op_and_shapes(op, shape, gshape):
    x = Tensor(np.arange(6.0).reshape(shape), requires_grad=True)
    y = op.apply(x)
    pattern = rf"{op.__name__}.*{gshape}.*{shape}".replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(RuntimeError, match=pattern):
        y.backward(np.ones(y.shape))


def test_broadcast_gradients_are_still_summed_back():
    a = Tensor(np.ones((3, 1)), requires_grad=True)
    b = Tensor(np.ones(4), requires_grad=True)
    c = Tensor(np.ones(()), requires_grad=True)
    (a * b * c).sum().backward()
    np.testing.assert_array_equal(a.grad.data, np.full((3, 1), 4.0))
    np.testing.assert_array_equal(b.grad.data, np.full(4, 3.0))
    assert c.grad.data == 12.0


# --- grad-mode switches as decorators change the mode only during each call -----------------------
@pytest.mark.parametrize("mode", [True, False])
def test_set_grad_enabled_decorator_sets_the_mode_only_during_the_call(mode):
    seen = []
    with ag.set_grad_enabled(not mode):

        @ag.set_grad_enabled(mode)
        def f():
            seen.append(ag.is_grad_enabled())

        assert ag.is_grad_enabled() is (not mode)  # decorating changed nothing
        f()
        assert ag.is_grad_enabled() is (not mode)  # restored after the call
    assert seen == [mode]
    assert ag.is_grad_enabled()


# --- gradcheck (mode='full') runs f once for the analytic Jacobian and twice per input element ----
def test_gradcheck_full_calls_f_once_plus_two_per_element():
    calls = []

    def f(x, y):
        calls.append(1)
        return (x * y).exp(), x.sum()

    x = Tensor(np.array([0.1, 0.2, 0.3]), requires_grad=True)
    y = Tensor(np.array([0.5, -0.5, 1.0]), requires_grad=True)
    assert ag.gradcheck(f, (x, y))
    assert len(calls) == 1 + 2 * (x.size + y.size)


# --- maximum / minimum: ties share the gradient; weights in the output dtype ----------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maximum_minimum_gradients_with_ties_and_broadcasting(dtype):
    a = Tensor(np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], dtype), requires_grad=True)
    b = Tensor(np.array([2.0, 2.0, 2.0], dtype), requires_grad=True)
    for f, wa in ((ag.maximum, [[0, 0.5, 1], [1, 0.5, 0]]), (ag.minimum, [[1, 0.5, 0], [0, 0.5, 1]])):
        a.grad = b.grad = None
        y = f(a, b)
        assert y.dtype == dtype and y._op == f.__name__.capitalize()
        np.testing.assert_array_equal(getattr(a, f.__name__)(b).data, y.data)  # the method form: a.maximum(b)
        (y * 3.0).sum().backward()
        np.testing.assert_array_equal(a.grad.data, 3.0 * np.array(wa))
        np.testing.assert_array_equal(b.grad.data, 3.0 * (1 - np.array(wa)).sum(axis=0))
        assert a.grad.dtype == dtype and b.grad.dtype == dtype
    with pytest.raises(ValueError, match=r"minimum: .*\(2,\) and \(3,\)"):
        ag.minimum(Tensor(np.ones(2)), Tensor(np.ones(3)))
    x = Tensor(np.array([1.0, 5.0]), requires_grad=True)
    assert ag.gradgradcheck(lambda t: ag.minimum(t * t, 4.0), (x,))


def test_adoption_refuses_arrays_a_custom_backward_still_holds():
    """A leaf adopts a gradient array only if nothing else references it (else it gets a copy)."""
    from autograd.ops._util import const

    class TwoWrappers(ag.Function):  # one array, wrapped twice, sent to both inputs
        def forward(self, a, b):
            return a + b

        def backward(self, out, g):
            arr = g.data * 2.0
            return const(arr), const(arr)

    class KeepsIt(ag.Function):  # keeps the array it returns, for a second backward
        def forward(self, a):
            self.kept = np.full(a.shape, 3.0)
            return a * 3.0

        def backward(self, out, g):
            return (const(self.kept),)

    class OthersData(ag.Function):  # returns the array of another tensor of the graph
        def forward(self, a, b):
            return a * b

        def backward(self, out, g):
            return const(self.inputs[1].data), None

    a, b = leaf(1.0, 2.0), leaf(3.0, 4.0)
    TwoWrappers.apply(a, b).sum().backward()
    assert not np.shares_memory(a.grad.data, b.grad.data)

    x = leaf(1.0, 2.0)
    y = KeepsIt.apply(x).sum()
    y.backward(retain_graph=True)
    x.grad.data *= 0  # an in-place update of the grad must not reach the op's saved array
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])

    p, q = leaf(1.0, 2.0), Tensor(np.array([5.0, 6.0]))
    OthersData.apply(p, q).sum().backward()
    assert not np.shares_memory(p.grad.data, q.data)
    # and the in-tree ops still hand fresh gradients over without a copy
    w = leaf(1.0, 2.0)
    (w * q).sum().backward()
    assert w.grad._fresh is not None


@pytest.mark.parametrize("kind", ["generator", "list"])
def test_custom_backward_may_return_any_sequence_or_iterable(kind):
    """A custom Function's backward may return a tuple, a list or a generator of gradients."""
    from autograd.ops._util import const

    class Twice(ag.Function):
        def forward(self, a):
            return a * 2.0

        def backward(self, out, g):
            grads = (const(g.data * 2.0) for _ in range(1))
            return grads if kind == "generator" else list(grads)

    x = leaf(1.0, 2.0)
    Twice.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])
