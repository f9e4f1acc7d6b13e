"""Elementwise operations with numpy broadcasting.

Each op's forward (on arrays) and backward (in Tensor ops) sit together; the
gradient of a broadcast input is summed back to its shape by
``autograd.function._function_backward``, not here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function
from ..graph import _GradMode
from ..tensor import Tensor
from ._util import broadcast_error, const, lift

__all__ = [
    "add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu",
    "maximum", "minimum", "where", "clip", "astype", "clone",
]


def _binary(cls: type[Function], a: Any, b: Any) -> Tensor:
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        a = lift(a, b if isinstance(b, Tensor) else None)
        b = lift(b, a)
    try:
        return cls.apply(a, b)
    except ValueError:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise broadcast_error(cls.__name__.lower(), a, b) from None
        raise


class Add(Function):
    """d(a+b)/da = 1, d(a+b)/db = 1"""

    def forward(self, a, b):
        return a + b

    def backward(self, out, g):
        return g, g


class Sub(Function):
    """d(a-b)/da = 1, d(a-b)/db = -1"""

    def forward(self, a, b):
        return a - b

    def backward(self, out, g):
        return g, (-g if self.needs_grad[1] else None)


class Mul(Function):
    """d(ab)/da = b, d(ab)/db = a"""

    def forward(self, a, b):
        return a * b

    def backward(self, out, g):
        a, b = self.inputs
        return (g * b if self.needs_grad[0] else None), (g * a if self.needs_grad[1] else None)


class Div(Function):
    """d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -(a/b)/b"""

    def forward(self, a, b):
        return a / b

    def backward(self, out, g):
        a, b = self.inputs
        ga = g / b if self.needs_grad[0] else None
        gb = -(g * out) / b if self.needs_grad[1] else None
        return ga, gb


class Pow(Function):
    """d(a^b)/da = b a^(b-1), d(a^b)/db = a^b ln a  (a > 0 for the second)"""

    def forward(self, a, b):
        return np.power(a, b)

    def backward(self, out, g):
        a, b = self.inputs
        ga = g * b * a ** (b - 1) if self.needs_grad[0] else None
        gb = g * out * log(a) if self.needs_grad[1] else None
        return ga, gb


class PowScalar(Function):
    """d(a^k)/da = k a^(k-1) for a constant exponent k"""

    def forward(self, a):
        k = self.k
        if k == 2:
            return a * a
        if a.dtype.kind in "iu" and not float(k).is_integer():
            return np.power(a, k)  # numpy's promotion (an int dtype would truncate k)
        return np.power(a, np.asarray(k, dtype=a.dtype))

    def backward(self, out, g):
        (a,) = self.inputs
        k = self.k
        if k == 0:
            return (g * 0.0,)
        if k == 1:
            return (g,)
        if k == 2:
            return (g * a * 2.0,)
        return (g * (a ** (k - 1)) * k,)


def add(a: Any, b: Any) -> Tensor:
    """a + b (broadcasting)."""
    return _binary(Add, a, b)


def sub(a: Any, b: Any) -> Tensor:
    """a - b (broadcasting)."""
    return _binary(Sub, a, b)


def mul(a: Any, b: Any) -> Tensor:
    """a * b (broadcasting)."""
    return _binary(Mul, a, b)


def div(a: Any, b: Any) -> Tensor:
    """a / b (broadcasting)."""
    return _binary(Div, a, b)


def pow(a: Any, b: Any) -> Tensor:
    """a ** b; a plain-number exponent is a constant (no gradient for it)."""
    if isinstance(a, Tensor) and isinstance(b, int | float | np.number) and not isinstance(b, bool):
        return PowScalar.apply(a, k=float(b) if not float(b).is_integer() else int(b))
    return _binary(Pow, a, b)


class Neg(Function):
    """d(-a)/da = -1"""

    def forward(self, a):
        return -a

    def backward(self, out, g):
        return (-g,)


class Exp(Function):
    """d/dx e^x = e^x"""

    def forward(self, a):
        return np.exp(a)

    def backward(self, out, g):
        return (g * out,)


class Log(Function):
    """d/dx ln x = 1/x"""

    def forward(self, a):
        return np.log(a)

    def backward(self, out, g):
        return (g / self.inputs[0],)


class Sqrt(Function):
    """d/dx sqrt(x) = 1 / (2 sqrt(x))"""

    def forward(self, a):
        return np.sqrt(a)

    def backward(self, out, g):
        return (g / (out * 2.0),)


class Abs(Function):
    """d/dx |x| = sign(x) (0 at 0)"""

    def forward(self, a):
        return np.abs(a)

    def backward(self, out, g):
        return (g * const(np.sign(self.inputs[0].data)),)


class _Ones(dict):
    """1 as a read-only 0-d array per dtype (``_ONES[dtype]``, made on first use), for the array
    backward of tanh and sigmoid: the same value and result dtype as the Python float 1.0 (exact in
    every float type), but numpy's path for a Python scalar operand (finding its dtype) costs more
    than the whole subtraction on a small array (10 float32 elements: 6.7k instructions against
    4.3k, callgrind)."""

    def __missing__(self, dtype: np.dtype) -> np.ndarray:
        one = np.ones((), dtype)
        one.flags.writeable = False
        self[dtype] = one
        return one


_ONES = _Ones()


class Tanh(Function):
    """d/dx tanh(x) = 1 - tanh(x)^2"""

    def forward(self, a):
        return np.tanh(a)

    def backward(self, out, g):
        if not _GradMode.enabled:  # not recording (no create_graph): same arithmetic on the arrays
            o = out.data  # 1 - o^2 first: exact where tanh saturates (g - g o o would cancel)
            return (const(g.data * (_ONES[o.dtype] - o * o)),)
        return (g * (1.0 - out * out),)


class Sigmoid(Function):
    """s(x) = 1/(1+e^-x) (computed stably); d/dx s = s (1 - s)"""

    def forward(self, a):
        # 1/(1+e^-x) for x >= 0 and e^x/(1+e^x) for x < 0 never overflows
        e = np.exp(-np.abs(a))
        return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(a.dtype, copy=False)

    def backward(self, out, g):
        if not _GradMode.enabled:  # not recording (no create_graph): same arithmetic on the arrays
            o = out.data
            return (const(g.data * o * (_ONES[o.dtype] - o)),)
        return (g * out * (1.0 - out),)


# np.maximum(a, 0) runs numpy's loop for a scalar operand, 2-4x slower here than its vectorised
# loop against an array of zeros; so C-contiguous float inputs up to _ZEROS_MAX_BYTES are compared
# with a view of one read-only flat zeros array per dtype (grown as needed, never written).  Other
# layouts keep the scalar: against a C-ordered zeros view the result would lose their layout.
_ZEROS: dict[np.dtype, np.ndarray] = {}
_ZEROS_MAX_BYTES = 1 << 23


def _zeros_for(a: np.ndarray) -> np.ndarray | int:
    """Zeros shaped like float ``a`` (a view of the shared array), or the scalar 0 when ``a`` is big,
    not C-contiguous or not a float array."""
    if a.dtype.kind != "f" or a.nbytes > _ZEROS_MAX_BYTES or not a.flags.c_contiguous:
        return 0
    z = _ZEROS.get(a.dtype)
    if z is None or z.size < a.size:
        z = np.zeros(max(a.size, 1 << 12), a.dtype)
        z.flags.writeable = False
        _ZEROS[a.dtype] = z
    return z[: a.size].reshape(a.shape)


class Relu(Function):
    """relu(x) = max(x, 0); d/dx = 1 where x > 0 else 0 (0 at the kink)"""

    def forward(self, a):
        return np.maximum(a, _zeros_for(a))

    def backward(self, out, g):
        if not _GradMode.enabled:  # not recording (no create_graph): same arithmetic on the arrays
            return (const(g.data * (out.data > 0)),)
        return (g * const(out.data > 0),)


class Maximum(Function):
    """d max(a,b)/da = 1 where a > b, 1/2 where a == b (ties share), else 0; d/db = 1 - d/da.

    ``sign = -1`` (the subclass :class:`Minimum`) turns it into ``min``: ``>`` becomes ``<``.
    """

    sign = 1

    def forward(self, a, b):
        return np.maximum(a, b) if self.sign > 0 else np.minimum(a, b)

    def backward(self, out, g):
        a, b = self.inputs[0].data, self.inputs[1].data
        # the weights, made in the output's dtype: 1 where a wins, 1/2 on ties, 0 where b wins
        wa = np.where(a == b, out.dtype.type(0.5), a > b if self.sign > 0 else a < b)
        ga = g * const(wa) if self.needs_grad[0] else None
        gb = g * const(1.0 - wa) if self.needs_grad[1] else None
        return ga, gb


class Minimum(Maximum):
    """d min(a,b)/da = 1 where a < b, 1/2 where a == b (ties share), else 0; d/db = 1 - d/da"""

    sign = -1


class Where(Function):
    """where(c, a, b): d/da = c, d/db = not c (c is a constant mask)"""

    def forward(self, a, b):
        return np.where(self.cond, a, b)

    def backward(self, out, g):
        zero = const(np.zeros((), dtype=g.dtype))
        ga = where(self.cond, g, zero) if self.needs_grad[0] else None
        gb = where(self.cond, zero, g) if self.needs_grad[1] else None
        return ga, gb


class Clip(Function):
    """clip(x, lo, hi): d/dx = 1 inside [lo, hi], 0 where clipped"""

    def forward(self, a):
        return np.clip(a, self.lo, self.hi)

    def backward(self, out, g):
        x = self.inputs[0].data
        inside = np.ones(x.shape, dtype=bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        return (g * const(inside),)


class Clone(Function):
    """A copy of the data; d/dx = 1"""

    def forward(self, a):
        return a.copy()

    def backward(self, out, g):
        return (g,)


class AsType(Function):
    """dtype conversion; the gradient is converted back"""

    def forward(self, a):
        return a.astype(self.to)

    def backward(self, out, g):
        return (g.astype(self.inputs[0].dtype),)


def neg(a: Tensor) -> Tensor:
    return Neg.apply(lift(a))


def exp(a: Tensor) -> Tensor:
    return Exp.apply(lift(a))


def log(a: Tensor) -> Tensor:
    return Log.apply(lift(a))


def sqrt(a: Tensor) -> Tensor:
    return Sqrt.apply(lift(a))


def abs(a: Tensor) -> Tensor:
    return Abs.apply(lift(a))


def tanh(a: Tensor) -> Tensor:
    return Tanh.apply(lift(a))


def sigmoid(a: Tensor) -> Tensor:
    return Sigmoid.apply(lift(a))


def relu(a: Tensor) -> Tensor:
    return Relu.apply(lift(a))


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise max; ties send half the gradient to each side."""
    return _binary(Maximum, a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise min; ties send half the gradient to each side."""
    return _binary(Minimum, a, b)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Pick from ``a`` where ``cond`` is true, else from ``b`` (broadcasting)."""
    c = np.asarray(cond.data if isinstance(cond, Tensor) else cond, dtype=bool)
    a = lift(a, b if isinstance(b, Tensor) else None)
    b = lift(b, a)
    try:
        np.broadcast_shapes(c.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"where: cannot broadcast condition {c.shape}, a {a.shape} and b {b.shape} together"
        ) from None
    out = Where.apply(a, b, cond=c)
    return out


def clip(a: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Limit values to [min, max]; no gradient where a value was clipped."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max is required")
    # bounds may be numbers, arrays or Tensors (broadcasting); they get no gradient
    lo = min.data if isinstance(min, Tensor) else min
    hi = max.data if isinstance(max, Tensor) else max
    return Clip.apply(lift(a), lo=lo, hi=hi)


def astype(a: Tensor, dtype: Any) -> Tensor:
    dtype = np.dtype(dtype)
    if a.dtype == dtype:
        return a
    if a.requires_grad and dtype.kind not in "fc":
        return Tensor._wrap(a.data.astype(dtype))
    return AsType.apply(a, to=dtype)


def clone(a: Tensor) -> Tensor:
    """A copy of ``a`` that stays on the graph (``Tensor.detach`` cuts it instead)."""
    return Clone.apply(lift(a))
