"""``Value``: one scalar on the computation graph, for learning the chain rule.

Each operation below computes its result and names a small function that
holds its local derivative; the two sit next to each other so the forward
rule and the backward rule can be read together.  A backward function gets
the result node ``out`` and ``g = dL/d(out)`` and returns ``dL/d(parent)`` for
each parent, in order.

Decisions for awkward input (documented here and tested):

* an operand that is not a ``Value``, ``int`` or ``float`` raises ``TypeError``
  naming the operation and the type;
* ``log`` of a number <= 0 raises ``ValueError`` (as :func:`math.log` does);
* division by zero, and ``0 ** k`` for ``k < 0``, raise ``ZeroDivisionError``
  (Python's float rule);
* ``exp`` or ``**`` that overflows returns ``inf`` (the IEEE result, as ``x * x``
  does) instead of raising, and so does an infinite derivative: ``x ** 0.5``
  at 0 has gradient ``inf``, ``a / b`` with tiny ``b`` gradients up to ``-inf``
  (as in PyTorch);
* a numpy number (or other real number) operand or exponent becomes a Python
  ``float`` first, so the rules here apply to it too;
* ``a ** b`` with a ``Value`` exponent needs ``a > 0`` for ``d/db = a^b ln a``:
  a negative base raises ``ValueError``; a zero base gives ``0 ** b`` with
  ``d/db = 0`` (the limit of ``a^b ln a`` as ``a -> 0+`` for ``b > 0``).  With a
  plain-number exponent any base works where the real power exists.
"""

from __future__ import annotations

import math
from numbers import Real
from operator import mul

from .graph import _GradMode, run_backward

__all__ = ["Value"]

_EMPTY: tuple = ()


def _lift(x: object, op: str) -> Value:
    t = type(x)
    if t is float or t is int:
        return _leaf(float(x))
    if isinstance(x, Value):
        return x
    if isinstance(x, Real):  # numpy numbers, Fraction, bool, ...
        return _leaf(float(x))
    raise TypeError(f"Value.{op}: expected a Value, int or float operand, got {type(x).__name__} ({x!r})")


class Value:
    """A scalar that remembers how it was computed.

    ``data`` is the number, ``grad`` is ``dL/d(this)`` after ``L.backward()``.
    Leaves (values you create) accumulate ``grad`` over calls to ``backward``
    until :meth:`zero_grad`; intermediate values are given the gradient of the
    latest backward pass (overwritten, never accumulated across calls), which
    is what :func:`autograd.draw` shows.
    """

    # Parents live in two slots (``_a``, ``_b``) rather than a tuple: one
    # GC-tracked object per node instead of two halves the garbage collector's
    # work on big graphs.  ``_prev`` builds the tuple on demand.  Every slot
    # costs a store when a node is made and a visit each time the collector
    # traverses it, so a node sets only six: the operation's name is an
    # attribute of its backward function (``_op``), and ``label`` (``_label``)
    # and a custom operation name (``_opname``) stay unset until given (an
    # unset slot is skipped by the collector).  No ``__weakref__`` slot either.
    __slots__ = ("data", "grad", "_a", "_b", "_backward", "_gacc", "_label", "_opname")

    requires_grad = True
    _retain_grad = True  # intermediate Values show their gradient (teaching)
    _rest = ()  # graph core: a Value has at most two parents, in _a and _b

    def __init__(self, data: float, label: str = "", _prev: tuple = _EMPTY, _op: str = "", _backward=None) -> None:
        self.data = data if type(data) is float else float(data)
        self.grad = 0.0
        n = len(_prev)
        if n > 2:
            raise ValueError("Value: at most two parents")
        self._a = _prev[0] if n else None
        self._b = _prev[1] if n == 2 else None
        self._backward = _backward
        self._gacc = None
        if label:
            self._label = label
        if _op and _op != getattr(_backward, "op", ""):
            self._opname = _op

    # --- graph bookkeeping ------------------------------------------------
    @property
    def label(self) -> str:
        """A name for drawings and ``repr`` (``""`` until set)."""
        try:
            return self._label
        except AttributeError:
            return ""

    @label.setter
    def label(self, name: str) -> None:
        self._label = name

    @property
    def _op(self) -> str:
        """The operation that made this value (``""`` for a leaf), e.g. ``"+"``."""
        try:
            return self._opname
        except AttributeError:
            f = self._backward
            return "" if f is None else getattr(f, "op", "")

    @_op.setter
    def _op(self, name: str) -> None:
        self._opname = name

    @property
    def _prev(self) -> tuple:
        """The parents, in the order the operation received them (``()`` for a leaf)."""
        a = self._a
        if a is None:
            return _EMPTY
        b = self._b
        return (a,) if b is None else (a, b)

    def _accumulate(self, g: float) -> None:
        self.grad += g

    def _release(self) -> None:
        """Value graphs are tiny and kept, so ``backward`` may run twice."""

    def zero_grad(self) -> None:
        self.grad = 0.0

    def backward(self, gradient: float = 1.0) -> None:
        """Fill ``grad`` of every node this value depends on (``d self / d node``)."""
        run_backward((self,), (float(gradient),), retain_graph=True)

    def __repr__(self) -> str:
        name = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{name})"

    def __float__(self) -> float:
        return self.data

    # --- arithmetic ---------------------------------------------------------
    def __add__(self, other: Value | float) -> Value:
        """d(a+b)/da = 1, d(a+b)/db = 1"""
        if type(other) is not Value:
            other = _lift(other, "__add__")
        if not _GradMode.enabled:
            return _leaf(self.data + other.data)
        # the hot path of every network: the body of _node2, inlined
        out = _new(Value)
        out.data = self.data + other.data
        out.grad = 0.0
        out._a = self
        out._b = other
        out._backward = _add_backward
        out._gacc = None
        return out

    def __mul__(self, other: Value | float) -> Value:
        """d(ab)/da = b, d(ab)/db = a"""
        if type(other) is not Value:
            other = _lift(other, "__mul__")
        if not _GradMode.enabled:
            return _leaf(self.data * other.data)
        out = _new(Value)  # _node2, inlined (hot path)
        out.data = self.data * other.data
        out.grad = 0.0
        out._a = self
        out._b = other
        out._backward = _mul_backward
        out._gacc = None
        return out

    def __sub__(self, other: Value | float) -> Value:
        """d(a-b)/da = 1, d(a-b)/db = -1"""
        if type(other) is not Value:
            other = _lift(other, "__sub__")
        if _GradMode.enabled:
            return _node2(self.data - other.data, self, other, _sub_backward)
        return _leaf(self.data - other.data)

    def __truediv__(self, other: Value | float) -> Value:
        """d(a/b)/da = 1/b, d(a/b)/db = -a/b^2"""
        if type(other) is not Value:
            other = _lift(other, "__truediv__")
        if other.data == 0.0:
            raise ZeroDivisionError(f"Value.__truediv__: division of {self.data!r} by zero")
        if _GradMode.enabled:
            return _node2(self.data / other.data, self, other, _div_backward)
        return _leaf(self.data / other.data)

    def __pow__(self, other: Value | float) -> Value:
        """d(a^b)/da = b a^(b-1); d(a^b)/db = a^b ln a (Value exponents only)"""
        a = self.data
        t = type(other)
        if t is not int and t is not float:
            if t is Value or isinstance(other, Value):  # any Value: also lincomb's _NaryValue
                if a < 0.0:
                    raise ValueError(
                        f"Value.__pow__: a Value exponent needs a base >= 0 (d/db = a^b ln a), got base {a!r}"
                    )
                out = _float_pow(a, other.data)
                if _GradMode.enabled:
                    return _node2(out, self, other, _pow_backward)
                return _leaf(out)
            if not isinstance(other, Real):
                raise TypeError(f"Value.__pow__: expected a Value, int or float exponent, got {type(other).__name__}")
            other = float(other)  # numpy numbers, Fraction, bool: a Python float first, as _lift does
        out = _float_pow(a, other)
        if _GradMode.enabled:
            return _node1(out, self, _make_const_pow_backward(float(other)))
        return _leaf(out)

    def __neg__(self) -> Value:
        """d(-a)/da = -1"""
        if _GradMode.enabled:
            return _node1(-self.data, self, _neg_backward)
        return _leaf(-self.data)

    def __radd__(self, other: float) -> Value:
        return _lift(other, "__radd__") + self

    def __rmul__(self, other: float) -> Value:
        return _lift(other, "__rmul__") * self

    def __rsub__(self, other: float) -> Value:
        return _lift(other, "__rsub__") - self

    def __rtruediv__(self, other: float) -> Value:
        return _lift(other, "__rtruediv__") / self

    def __rpow__(self, other: float) -> Value:
        return _lift(other, "__rpow__") ** self

    # --- functions ----------------------------------------------------------
    def exp(self) -> Value:
        """d/dx e^x = e^x"""
        try:
            out = math.exp(self.data)
        except OverflowError:
            out = math.inf
        if _GradMode.enabled:
            return _node1(out, self, _exp_backward)
        return _leaf(out)

    def log(self) -> Value:
        """d/dx ln x = 1/x  (x > 0)"""
        if self.data <= 0.0:
            raise ValueError(f"Value.log: the natural log needs a positive input, got {self.data!r}")
        if _GradMode.enabled:
            return _node1(math.log(self.data), self, _log_backward)
        return _leaf(math.log(self.data))

    def tanh(self) -> Value:
        """d/dx tanh(x) = 1 - tanh(x)^2"""
        if _GradMode.enabled:
            return _node1(math.tanh(self.data), self, _tanh_backward)
        return _leaf(math.tanh(self.data))

    def sigmoid(self) -> Value:
        """s(x) = 1 / (1 + e^-x); d/dx s(x) = s(x) (1 - s(x))"""
        x = self.data
        if x >= 0.0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (1.0 + e)
        if _GradMode.enabled:
            return _node1(s, self, _sigmoid_backward)
        return _leaf(s)

    def relu(self) -> Value:
        """relu(x) = max(0, x); d/dx = 1 if x > 0 else 0 (0 at the kink, as PyTorch)"""
        x = self.data
        if _GradMode.enabled:
            return _node1(x if x > 0.0 else 0.0, self, _relu_backward)
        return _leaf(x if x > 0.0 else 0.0)

    def step(self) -> Value:
        """Heaviside step of the perceptron: 1 if x > 0 else 0.

        Its derivative is 0 everywhere it exists (and undefined at 0), so no
        gradient flows through a step: this is why perceptrons cannot be trained
        by gradient descent.  Backward returns 0.
        """
        if _GradMode.enabled:
            return _node1(1.0 if self.data > 0.0 else 0.0, self, _step_backward)
        return _leaf(1.0 if self.data > 0.0 else 0.0)


    # --- an opt-in fused operation ------------------------------------------
    @staticmethod
    def lincomb(ws, xs, bias) -> Value:
        """``bias + sum_i ws[i] * xs[i]`` as ONE node with ``2n + 1`` parents.

        The same number as ``bias + w0*x0 + w1*x1 + ...`` (summed in that order),
        but one node instead of ``2n``: a fused neuron, for speed.  The local
        derivatives are ``d/dw_i = x_i``, ``d/dx_i = w_i`` and ``d/dbias = 1``.
        Parents are ``(*ws, *xs, bias)``; numbers become leaf Values.  The
        teaching graph (one node per ``+`` and ``*``) never uses it.
        """
        if len(ws) != len(xs):
            raise ValueError(f"Value.lincomb: {len(ws)} weights but {len(xs)} inputs")
        ws = [w if type(w) is Value else _lift(w, "lincomb") for w in ws]
        xs = [x if type(x) is Value else _lift(x, "lincomb") for x in xs]
        if type(bias) is not Value:
            bias = _lift(bias, "lincomb")
        data = sum(map(mul, [w.data for w in ws], [x.data for x in xs]), bias.data)
        if not _GradMode.enabled:
            return _leaf(data)
        out = _new(_NaryValue)
        out.data = data
        out.grad = 0.0
        out._backward = _lincomb_backward
        out._gacc = None
        if ws:
            parents = (*ws, *xs, bias)
            out._a = parents[0]
            out._b = parents[1]
            out._rest = parents[2:]
        else:
            out._a = bias
            out._b = None
            out._rest = _EMPTY
        return out


_new = object.__new__


def _node2(data: float, a: Value, b: Value, backward) -> Value:
    """Make a binary operation's result without going through ``__init__`` (the hot path)."""
    v = _new(Value)
    v.data = data
    v.grad = 0.0
    v._a = a
    v._b = b
    v._backward = backward
    v._gacc = None
    return v


def _node1(data: float, a: Value, backward) -> Value:
    """Make a unary operation's result."""
    v = _new(Value)
    v.data = data
    v.grad = 0.0
    v._a = a
    v._b = None
    v._backward = backward
    v._gacc = None
    return v


class _NaryValue(Value):
    """A Value with more than two parents (made by :meth:`Value.lincomb`): the rest in ``_rest``.

    A subclass, so that ordinary Values keep six slots and ``_rest = ()``
    stays a class attribute for them.
    """

    __slots__ = ("_rest",)

    @property
    def _prev(self) -> tuple:
        b = self._b
        return (self._a,) if b is None else (self._a, b, *self._rest)


def _leaf(data: float) -> Value:
    v = _new(Value)
    v.data = data
    v.grad = 0.0
    v._a = None
    v._b = None
    v._backward = None
    v._gacc = None
    return v


# --- local derivatives: f(out, g) -> gradient for each parent ------------------
def _add_backward(out: Value, g: float) -> tuple:
    return g, g


def _mul_backward(out: Value, g: float) -> tuple:
    a = out._a
    b = out._b
    return g * b.data, g * a.data


def _sub_backward(out: Value, g: float) -> tuple:
    return g, -g


def _div_backward(out: Value, g: float) -> tuple:
    b = out._b
    # -g a / b^2 written as -g (a/b) / b: b * b underflows to 0 for |b| < 1.5e-162
    return g / b.data, -g * out.data / b.data


def _pow_backward(out: Value, g: float) -> tuple:
    x = out._a.data
    y = out._b.data
    da = g * y * _ieee_pow(x, y - 1.0) if y != 0.0 else 0.0
    db = g * out.data * math.log(x) if x > 0.0 else 0.0
    return da, db


_CONST_POW_BACKWARD: dict = {}


def _make_const_pow_backward(k: float):
    """The backward of ``x ** k`` for a fixed ``k`` (one function per exponent, cached)."""
    f = _CONST_POW_BACKWARD.get(k)
    if f is not None:
        return f

    km1 = k - 1.0

    def _const_pow_backward(out: Value, g: float) -> tuple:
        return (g * k * _ieee_pow(out._a.data, km1) if k != 0.0 else 0.0,)

    _const_pow_backward.op = f"**{k:g}"

    if len(_CONST_POW_BACKWARD) < 256:
        _CONST_POW_BACKWARD[k] = _const_pow_backward
    return _const_pow_backward


def _float_pow(a: float, b: float) -> float:
    """``a ** b`` for ``Value.__pow__``: IEEE's +-inf where Python's float ``**`` overflows; ``0 ** b`` with
    ``b < 0`` raises ``ZeroDivisionError`` and a negative base with a non-integer exponent ``ValueError``."""
    try:
        out = a**b
    except ZeroDivisionError:
        raise ZeroDivisionError(f"Value.__pow__: 0.0 ** {b!r} is undefined") from None
    except OverflowError:  # too big for a float: IEEE gives +-inf (x * x does too)
        k = float(b)  # an int too large for a float still raises OverflowError here
        if a < 0.0 and not k.is_integer():
            raise ValueError(f"Value.__pow__: {a!r} ** {b!r} is not a real number") from None
        return _pow_inf(a, k)
    if isinstance(out, complex):
        raise ValueError(f"Value.__pow__: {a!r} ** {b!r} is not a real number")
    return out


def _ieee_pow(x: float, y: float) -> float:
    """``x ** y`` with IEEE's +-inf where Python's float ``**`` raises (0 to a negative power, overflow): the
    derivatives of powers, which are infinite at such points (``d sqrt(x)/dx`` at 0)."""
    try:
        return x**y
    except (ZeroDivisionError, OverflowError):
        return _pow_inf(x, y)


def _pow_inf(x: float, y: float) -> float:
    """``x ** y`` where Python's float ``**`` raises but IEEE 754 ``pow`` gives an infinity.

    Python raises ``ZeroDivisionError`` for ``0.0 ** y`` with ``y < 0`` and
    ``OverflowError`` for a result too big for a float; C's ``pow``, NumPy and
    PyTorch give ``inf`` there, negative when the base is negative (or ``-0.0``)
    and ``y`` an odd integer: ``(-0.0) ** -1 = -inf``, ``(-1e200) ** 3 = -inf``,
    ``(-1e200) ** 2 = +inf``.  Only for those two cases (it does not compute a power).
    """
    return -math.inf if math.copysign(1.0, x) < 0.0 and y % 2.0 == 1.0 else math.inf


def _neg_backward(out: Value, g: float) -> tuple:
    return (-g,)


def _exp_backward(out: Value, g: float) -> tuple:
    return (g * out.data,)


def _log_backward(out: Value, g: float) -> tuple:
    return (g / out._a.data,)


def _tanh_backward(out: Value, g: float) -> tuple:
    t = out.data
    return (g * (1.0 - t * t),)


def _sigmoid_backward(out: Value, g: float) -> tuple:
    s = out.data
    return (g * s * (1.0 - s),)


def _relu_backward(out: Value, g: float) -> tuple:
    return (g if out.data > 0.0 else 0.0,)


def _step_backward(out: Value, g: float) -> tuple:
    return (0.0,)


def _lincomb_backward(out: Value, g: float) -> tuple:
    if out._b is None:  # no weights: out = bias
        return (g,)
    ps = (out._a, out._b, *out._rest)  # (*ws, *xs, bias)
    n = len(ps) >> 1
    return (*[g * x.data for x in ps[n:-1]], *[g * w.data for w in ps[:n]], g)


# the name each operation shows in drawings and ``_op``
for _f, _name in (
    (_add_backward, "+"), (_mul_backward, "*"), (_sub_backward, "-"), (_div_backward, "/"),
    (_pow_backward, "**"), (_neg_backward, "neg"), (_exp_backward, "exp"), (_log_backward, "log"),
    (_tanh_backward, "tanh"), (_sigmoid_backward, "sigmoid"), (_relu_backward, "relu"), (_step_backward, "step"),
    (_lincomb_backward, "lincomb"),
):
    _f.op = _name
del _f, _name
