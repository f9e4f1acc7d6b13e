"""The scalar ``Value``: every op against float64 central differences, and the documented edge cases."""

from __future__ import annotations

import math
import operator

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import autograd.value as value_mod
from autograd import Value, draw, gradcheck, no_grad
from autograd.graph import toposort


def central_diff(f, xs: list[float], eps: float = 1e-6) -> list[float]:
    """d f / d x_i by (f(x + eps e_i) - f(x - eps e_i)) / (2 eps), in float64."""
    out = []
    for i in range(len(xs)):
        hi = list(xs)
        lo = list(xs)
        hi[i] += eps
        lo[i] -= eps
        out.append((f(*hi) - f(*lo)) / (2 * eps))
    return out


def check(fn, ref, *xs: float, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """``fn`` on Values: its value against ``ref`` (the same function on plain floats, written with
    ``math``), its backprop against central differences of ``fn``, and ``autograd.gradcheck`` must agree."""
    vs = [Value(x) for x in xs]
    out = fn(*vs)
    expected = ref(*xs)
    assert out.data == pytest.approx(expected, rel=1e-12, abs=1e-12), f"forward {out.data}, reference {expected}"
    out.backward()
    num = central_diff(lambda *a: fn(*[Value(x) for x in a]).data, list(xs))
    for i, (v, n) in enumerate(zip(vs, num)):
        assert v.grad == pytest.approx(n, rel=rtol, abs=atol), f"input {i}: analytic {v.grad}, numerical {n}"
    assert gradcheck(fn, *[Value(x) for x in xs], atol=atol * 10, rtol=rtol * 100)  # the project's own checker


small = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
positive = st.floats(0.1, 10, allow_nan=False)
away_from_zero = st.one_of(st.floats(-10, -0.1), st.floats(0.1, 10))


# --- binary operators ---------------------------------------------------------
@given(small, small)
def test_add(a, b):
    check(lambda x, y: x + y, operator.add, a, b)


@given(small, small)
def test_sub(a, b):
    check(lambda x, y: x - y, operator.sub, a, b)


@given(small, small)
def test_mul(a, b):
    check(lambda x, y: x * y, operator.mul, a, b)


@given(small, away_from_zero)
def test_div(a, b):
    check(lambda x, y: x / y, operator.truediv, a, b)


@given(st.floats(0.2, 5), st.floats(-3, 3))
def test_pow_const(a, k):
    check(lambda x: x**k, lambda x: math.pow(x, k), a)


@given(st.floats(-5, 5), st.sampled_from([0, 1, 2, 3, -1, -2]))
def test_pow_integer_exponent_any_sign_base(a, k):
    assume(abs(a) > 0.1)
    check(lambda x: x**k, lambda x: math.pow(x, k), a)


@given(st.floats(0.2, 5), st.floats(-3, 3))
def test_pow_value_exponent(a, b):
    check(lambda x, y: x**y, math.pow, a, b)


@given(small)
def test_reflected_ops(a):
    check(lambda x: 2 + x, lambda x: 2.0 + x, a)
    check(lambda x: 2 - x, lambda x: 2.0 - x, a)
    check(lambda x: 2.5 * x, lambda x: 2.5 * x, a)
    check(lambda x: x - 3, lambda x: x - 3.0, a)
    check(lambda x: x + 3, lambda x: x + 3.0, a)
    assert (2 - Value(a)).data == 2 - a
    assert (2.5 * Value(a)).data == 2.5 * a


@given(away_from_zero)
def test_rtruediv(a):
    check(lambda x: 3 / x, lambda x: 3.0 / x, a)
    assert (3 / Value(a)).data == 3 / a


@given(st.floats(-3, 3))
def test_rpow(a):
    check(lambda x: 2**x, lambda x: math.pow(2.0, x), a)


# --- unary functions ----------------------------------------------------------
@given(small)
def test_neg(a):
    check(lambda x: -x, operator.neg, a)


@given(st.floats(-5, 5))
def test_exp(a):
    check(lambda x: x.exp(), math.exp, a)


@given(st.floats(0.05, 100))
def test_log(a):
    check(lambda x: x.log(), math.log, a)


@given(st.floats(-4, 4))
def test_tanh(a):
    check(lambda x: x.tanh(), math.tanh, a)


@given(st.floats(-20, 20))
def test_sigmoid(a):
    check(lambda x: x.sigmoid(), lambda x: 1 / (1 + math.exp(-x)), a)


@given(away_from_zero)
def test_relu(a):
    check(lambda x: x.relu(), lambda x: max(0.0, x), a)
    assert Value(a).relu().data == max(0.0, a)


@given(away_from_zero)
def test_step_has_zero_gradient(a):
    x = Value(a)
    y = x.step()
    assert y.data == (1.0 if a > 0 else 0.0)
    (y * 3.0).backward()
    assert x.grad == 0.0
    # the step contributes nothing, the rest flows
    check(lambda v: v.step() * 2 + v, lambda v: (2.0 if v > 0 else 0.0) + v, a)


@given(small, away_from_zero, st.floats(0.2, 3))
def test_composite_expression(a, b, c):
    def ref(x, y, z):
        return math.tanh((x * y + z) ** 2 / y) + math.log(z**y) - math.exp(z) / (1 + math.exp(-x))

    check(lambda x, y, z: ((x * y + z) ** 2 / y).tanh() + (z**y).log() - x.sigmoid() * z.exp(), ref, a, b, c,
          rtol=1e-4)


# --- algebraic identities ---------------------------------------------------------
@given(small)
def test_a_minus_a_is_zero(a):
    x = Value(a)
    y = x - x
    assert y.data == 0.0
    y.backward()
    assert x.grad == 0.0


@given(small, away_from_zero)
def test_mul_then_div_gives_back_a(a, b):
    x, y = Value(a), Value(b)
    z = (x * y) / y
    assert z.data == pytest.approx(a, abs=1e-12)
    z.backward()
    assert x.grad == pytest.approx(1.0)
    assert y.grad == pytest.approx(0.0, abs=1e-12)


# --- fan-in -------------------------------------------------------------------------
@given(small)
def test_fan_in_sums(a):
    x = Value(a)
    (x + x).backward()
    assert x.grad == 2.0
    x = Value(a)
    (x * x).backward()
    assert x.grad == pytest.approx(2 * a)


@given(small)
def test_diamond(a):
    x = Value(a)
    b = x * 2.0
    c = x * 3.0
    d = b * c  # 6 x^2
    d.backward()
    assert x.grad == pytest.approx(12 * a)
    assert b.grad == pytest.approx(c.data)
    assert c.grad == pytest.approx(b.data)


def test_shared_subexpression_many_uses():
    x = Value(1.5)
    h = x * x
    total = h
    for _ in range(9):
        total = total + h  # 10 h = 10 x^2
    total.backward()
    assert h.grad == 10.0
    assert x.grad == pytest.approx(20 * 1.5)


# --- gradient bookkeeping across calls --------------------------------------------
def test_leaf_grads_accumulate_until_zeroed():
    a, b = Value(2.0), Value(3.0)
    h = a * b
    out = h + a
    out.backward()
    assert (a.grad, b.grad) == (4.0, 2.0)
    out.backward()  # a second backward through the same graph: leaves accumulate
    assert (a.grad, b.grad) == (8.0, 4.0)
    assert h.grad == 1.0  # an intermediate shows this call's gradient, not a sum
    a.zero_grad()
    b.zero_grad()
    assert (a.grad, b.grad) == (0.0, 0.0)
    out.backward()
    assert (a.grad, b.grad) == (4.0, 2.0)


def test_intermediate_grads_do_not_leak_between_calls():
    a, b = Value(2.0), Value(3.0)
    h = a * b
    (h * 2.0).backward()
    assert h.grad == 2.0
    (h * 5.0).backward()  # a new graph over the same h
    assert h.grad == 5.0  # not 7
    assert a.grad == pytest.approx(2 * 3 + 5 * 3)  # the leaf does accumulate


def test_backward_with_gradient_argument():
    a = Value(3.0)
    (a * a).backward(0.5)
    assert a.grad == 3.0


def test_no_pending_state_left_after_backward():
    a, b = Value(2.0), Value(-1.0)
    out = ((a * b + a).tanh() * (b - a)).relu() + a
    out.backward()
    assert all(n._gacc is None for n in toposort(out))


def test_pending_state_cleared_when_a_backward_function_raises():
    a = Value(2.0)

    def boom(out, g):
        raise RuntimeError("boom")

    bad = Value(1.0, _prev=(a,), _op="boom", _backward=boom)
    out = bad * a + a
    with pytest.raises(RuntimeError, match="boom"):
        out.backward()
    assert all(n._gacc is None for n in toposort(out))
    (a * 2.0).backward()  # the engine still works afterwards
    assert a.grad == 2.0


def test_gradient_through_mutated_leaf_uses_current_data():
    w = Value(2.0)
    y = w * w
    y.backward()
    assert w.grad == 4.0
    w.data = 5.0  # mutate the leaf (as an optimiser step does) before the second backward
    w.zero_grad()
    y.backward()  # the same graph: d(w*w)/dw is read from w's current data
    assert w.grad == 10.0
    assert (w * w).data == 25.0  # and a new forward sees it too


# --- no_grad -----------------------------------------------------------------------
def test_no_grad_context_records_nothing():
    a = Value(2.0)
    with no_grad():
        b = a * 3.0 + 1.0
        c = b.tanh().exp()
    assert b._prev == () and c._prev == ()
    assert b.data == 7.0
    c.backward()
    assert a.grad == 0.0  # nothing flowed back to a
    d = a * 3.0  # recording resumes after the block
    assert d._prev == (a, d._prev[1]) and len(d._prev) == 2


def test_no_grad_decorator_records_nothing():
    @no_grad()
    def f(x):
        return x * x + 1.0

    a = Value(3.0)
    y = f(a)
    assert y._prev == () and y.data == 10.0
    assert (a * a)._prev  # recording is back on outside the function


# --- big graphs ------------------------------------------------------------------------
def test_million_deep_chain_backpropagates():
    x = Value(1.0)
    c = Value(1.000001)
    y = x
    for _ in range(1_000_000):
        y = y * c
    y.backward()  # no RecursionError
    assert x.grad == pytest.approx(1.000001**1_000_000, rel=1e-9)
    assert c.grad == pytest.approx(1_000_000 * 1.000001**999_999, rel=1e-6)


# --- documented behaviour on bad input ---------------------------------------------------
@pytest.mark.parametrize(
    "make, op",
    [
        (lambda: Value(1.0) + "x", "__add__"),
        (lambda: Value(1.0) * [1], "__mul__"),
        (lambda: Value(1.0) - None, "__sub__"),
        (lambda: Value(1.0) / "2", "__truediv__"),
        (lambda: Value(1.0) ** "2", "__pow__"),
        (lambda: "x" + Value(1.0), "__radd__"),
        (lambda: None * Value(1.0), "__rmul__"),
    ],
)
def test_type_error_names_op_and_type(make, op):
    with pytest.raises(TypeError) as e:
        make()
    msg = str(e.value)
    assert op in msg
    assert any(t in msg for t in ("str", "list", "NoneType"))


@pytest.mark.parametrize("x", [0.0, -1.0, -1e-300])
def test_log_of_non_positive_raises(x):
    with pytest.raises(ValueError, match="log"):
        Value(x).log()


def test_division_by_zero_raises():
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / 0
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / Value(0.0)
    with pytest.raises(ZeroDivisionError):
        2.0 / Value(0.0)


def test_pow_negative_base_with_value_exponent_raises():
    with pytest.raises(ValueError, match="base"):
        Value(-2.0) ** Value(2.0)


def test_pow_zero_base_with_value_exponent():
    a, b = Value(0.0), Value(2.0)
    out = a**b
    assert out.data == 0.0
    out.backward()
    assert a.grad == 0.0 and b.grad == 0.0


def test_pow_non_real_result_raises():
    with pytest.raises(ValueError):
        Value(-8.0) ** 0.5


def test_exp_overflow_gives_inf():
    y = Value(1000.0).exp()
    assert y.data == math.inf


def test_step_zero_gradient_at_and_around_zero():
    for v in (-1.0, 0.0, 1.0):
        x = Value(v)
        x.step().backward()
        assert x.grad == 0.0
    assert Value(0.0).step().data == 0.0


# --- the checker can fail --------------------------------------------------------------------
def test_a_wrong_derivative_is_caught(monkeypatch):
    monkeypatch.setattr(value_mod, "_tanh_backward", lambda out, g: (g * out.data,))
    with pytest.raises(AssertionError):
        check(lambda x: x.tanh(), math.tanh, 0.7)


def test_repr_and_label():
    v = Value(1.5, label="w")
    assert "1.5" in repr(v) and "w" in repr(v)
    h = v * 2.0
    h.label = "h"
    assert h.label == "h" and h._op == "*"


def test_labels_and_op_names_without_slots_of_their_own():
    leaf = Value(2.0)
    assert leaf.label == "" and leaf._op == "" and leaf._prev == ()
    leaf.label = "x"
    assert leaf.label == "x" and leaf._prev == ()  # a leaf's label must not look like a parent
    y = (leaf * 3.0).relu()
    y.label = "y"
    y.label = "y2"
    assert y.label == "y2" and y._op == "relu"
    y.backward()
    assert leaf.grad == 3.0
    custom = Value(1.0, label="c", _prev=(leaf,), _op="twice", _backward=lambda out, g: (2.0 * g,))
    assert custom.label == "c" and custom._op == "twice"
    custom.backward()
    assert leaf.grad == 5.0
    assert not hasattr(Value(1.0), "__dict__")


# --- the opt-in fused neuron: Value.lincomb --------------------------------------------------
def _lincomb(n):
    return lambda *v: Value.lincomb(v[:n], v[n : 2 * n], v[2 * n])


@given(st.integers(0, 6).flatmap(lambda n: st.lists(small, min_size=2 * n + 1, max_size=2 * n + 1)))
def test_lincomb(xs):
    n = len(xs) // 2

    def ref(*v):
        return v[2 * n] + math.fsum(w * x for w, x in zip(v[:n], v[n : 2 * n]))

    check(_lincomb(n), ref, *xs)
    check(lambda *v: _lincomb(n)(*v).tanh() * v[-1], lambda *v: math.tanh(ref(*v)) * v[-1], *xs)  # bias used twice


@given(st.lists(small, min_size=5, max_size=5))
def test_lincomb_same_number_as_the_chain_of_plus_and_times(xs):
    w, x, b = [Value(v) for v in xs[:2]], [Value(v) for v in xs[2:4]], Value(xs[4])
    assert Value.lincomb(w, x, b).data == (b + w[0] * x[0] + w[1] * x[1]).data


def test_lincomb_parents_numbers_and_errors():
    w = [Value(2.0), Value(-1.0)]
    b = Value(0.5)
    z = Value.lincomb(w, [3.0, 4], b)
    assert z.data == 2.5 and z._op == "lincomb"
    assert len(z._prev) == 5 and z._prev[:2] == tuple(w) and z._prev[-1] is b
    assert [p.data for p in z._prev[2:4]] == [3.0, 4.0]  # numbers became leaves
    assert len(toposort(z)) == 6
    z.label = "z"
    assert z.label == "z"
    (z * z).backward()
    assert [p.grad for p in z._prev] == [15.0, 20.0, 10.0, -5.0, 5.0]
    one = Value.lincomb([], [], b)
    assert one.data == 0.5 and one._prev == (b,)
    with pytest.raises(ValueError, match="2 weights but 1 inputs"):
        Value.lincomb(w, [1.0], b)
    with pytest.raises(TypeError):
        Value.lincomb(w, ["a", 1.0], b)
    with no_grad():
        assert Value.lincomb(w, [3.0, 4.0], b)._prev == ()


def test_lincomb_backward_twice_and_in_a_bigger_graph():
    w, x, b = [Value(0.5), Value(-2.0), Value(1.5)], [Value(1.0), Value(2.0), Value(-1.0)], Value(0.1)
    z = Value.lincomb(w, x, b) * Value.lincomb(x, w, b)  # x and w both ways: fan-in through _rest
    z.backward()
    first = [v.grad for v in (*w, *x, b)]
    for v in (*w, *x, b):
        v.grad = 0.0
    z.backward()
    assert [v.grad for v in (*w, *x, b)] == first
    assert all(v._gacc is None for v in toposort(z))


def test_drawing_a_fused_neuron():
    w = [Value(0.5, label="w0"), Value(-2.0, label="w1")]
    x = [Value(1.0, label="x0"), Value(2.0, label="x1")]
    n = Value.lincomb(w, x, Value(0.1, label="b")).relu()
    n.label = "n"
    n.backward()
    src = draw(n).source
    assert "lincomb" in src and all(name in src for name in ("w0", "w1", "x0", "x1", "b", "n"))
    assert src.count("->") == 5 + 1 + 2  # five parents into lincomb, lincomb -> relu, op ellipses to results


# --- IEEE results instead of float crashes, Value subclasses and numpy exponents --------------
# (expected numbers are PyTorch's: float64 tensors, same operations)
@pytest.mark.parametrize(
    "x0, k, data, grad",
    [
        (0.0, 0.5, 0.0, math.inf),  # d/dx sqrt(x) at 0 (0.0 ** -0.5 raised ZeroDivisionError)
        (-0.0, 0.5, 0.0, math.inf),
        (1e-200, -1.5, 1e300, -math.inf),  # (1e-200) ** -2.5 raised OverflowError
        (1e200, 2, math.inf, 2e200),  # forward: (1e200) ** 2 raised OverflowError; x * x gives inf
        (1e200, 2.0, math.inf, 2e200),
        (-1e200, 3, -math.inf, math.inf),
        (-1e200, 2, math.inf, -2e200),
        (-1e200, 4, math.inf, -math.inf),
        (1e-200, -2, math.inf, -math.inf),
    ],
)
def test_pow_overflow_and_infinite_derivative_give_ieee_inf(x0, k, data, grad):
    x = Value(x0)
    y = x**k
    assert y.data == data and type(y.data) is float
    y.backward()
    assert x.grad == grad
    with no_grad():
        assert (Value(x0) ** k).data == data


def test_pow_value_exponent_overflow_and_infinite_derivative_give_ieee_inf():
    a, b = Value(1e200), Value(2.0)
    y = a**b
    assert y.data == math.inf
    y.backward()
    assert a.grad == 2e200 and b.grad == math.inf
    a, b = Value(0.0), Value(0.5)  # d/da a ** 0.5 at 0 is inf, as with a number exponent
    (a**b).backward()
    assert a.grad == math.inf and b.grad == 0.0
    a, b = Value(1e-200), Value(-1.5)
    (a**b).backward()
    assert a.grad == -math.inf and b.grad == pytest.approx(1e300 * math.log(1e-200))
    a, b = Value(0.0), Value(0.0)  # 0 ** 0 = 1, a constant in a: d/da = 0 (as PyTorch)
    (a**b).backward()
    assert a.grad == 0.0


@pytest.mark.parametrize(
    "x, y", [(-0.0, -1.0), (0.0, -1.0), (-0.0, -2.0), (-0.0, -0.5), (-0.0, -3.0), (-1e200, 3.0), (-1e200, 2.0),
             (1e200, 3.0), (-1e-200, -3.0), (-1e-200, -2.0), (1e-200, -2.5)],
)
def test_pow_inf_sign_matches_ieee_pow(x, y):
    np = pytest.importorskip("numpy")
    with np.errstate(all="ignore"):
        expected = float(np.power(np.float64(x), np.float64(y)))
    assert math.isinf(expected)
    assert value_mod._pow_inf(x, y) == expected


def test_pow_documented_errors_are_kept():
    with pytest.raises(ZeroDivisionError, match="0.0 \\*\\* -1"):
        Value(0.0) ** -1  # forward 0 to a negative power stays an error
    with pytest.raises(ZeroDivisionError):
        Value(0.0) ** Value(-1.0)
    with pytest.raises(ValueError, match="not a real number"):
        Value(-1e200) ** 2.5  # complex, and too big: still "not real", not inf
    with pytest.raises(ValueError, match="not a real number"):
        Value(-1e-200) ** -2.5
    with pytest.raises(OverflowError):
        Value(0.5) ** 10**400  # an int exponent too big for a float is not an overflowed power


@pytest.mark.parametrize("a0, b0, ga, gb", [(1.0, 1e-170, 1e170, -math.inf), (3.0, -1e-170, -1e170, -math.inf),
                                              (1e-300, 1e-170, 1e170, -1e40)])
def test_div_backward_with_a_tiny_divisor(a0, b0, ga, gb):
    a, b = Value(a0), Value(b0)
    y = a / b  # b * b underflowed to 0.0 in the old backward: ZeroDivisionError
    y.backward()
    assert a.grad == ga and b.grad == pytest.approx(gb, rel=1e-12)


def test_div_backward_zero_numerator_gives_negative_zero():
    a, b0 = Value(0.0), Value(1e-170)
    b = b0 * 1.0  # an intermediate: its grad is set, not added to a leaf's +0.0
    y = a / b
    y.backward()
    assert a.grad == 1e170
    assert b.grad == 0.0 and math.copysign(1.0, b.grad) == -1.0  # -0.0, as PyTorch


def test_pow_with_a_lincomb_exponent():
    w, x = Value(1.0), Value(2.0)
    e = Value.lincomb([w], [x], Value(0.0))  # a Value subclass (_NaryValue), data 2.0
    y = Value(3.0) ** e
    assert y.data == 9.0 and y._op == "**"
    y.backward()
    assert e.grad == pytest.approx(9.0 * math.log(3.0)) and w.grad == pytest.approx(2 * 9.0 * math.log(3.0))
    z = 2**e
    assert z.data == 4.0
    base = Value(2.0)
    (base**e).backward()
    assert base.grad == pytest.approx(4.0)
    with pytest.raises(ValueError, match="base"):
        Value(-2.0) ** e


def test_pow_numpy_exponent_is_a_python_float():
    np = pytest.importorskip("numpy")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning on the way to the error
        with pytest.raises(ValueError, match="not a real number"):
            Value(-4.0) ** np.float64(0.5)
        with pytest.raises(ZeroDivisionError):
            Value(0.0) ** np.float64(-1.0)
        with pytest.raises(ValueError, match="not a real number"):
            Value(-4.0) ** np.float32(0.5)
    for k in (np.int64(3), np.float64(3.0), np.float32(3.0)):
        x = Value(2.0)
        y = x**k
        assert y.data == 8.0 and type(y.data) is float and y._op == "**3"
        y.backward()
        assert x.grad == 12.0 and type(x.grad) is float
    x = Value(-2.0)
    assert (x ** np.int64(3)).data == -8.0  # an integer-valued exponent works for a negative base
