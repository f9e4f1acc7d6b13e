"""``Tensor``: a numpy array that records the operations applied to it.

A Tensor lives on the same graph core as :class:`~autograd.Value`
(:mod:`autograd.graph`): one topological sort, one backward loop.  Its
operations are :class:`~autograd.function.Function` subclasses in
:mod:`autograd.ops`; the methods here only forward to them.

dtype rules: data that is not already float64 becomes float32 unless
``dtype`` says otherwise (as in PyTorch; so ``Tensor([1, 2])`` is float32 and
integer index tensors come from ``arange``, ``argmax`` or ``dtype=np.int64``).
Python and numpy scalars are *weak*: a float tensor keeps its dtype
(``float32 * 2.5`` is float32) and an integer tensor keeps its dtype with
integer scalars.  Between two tensors numpy's promotion applies
(float32 + float64 -> float64, float32 + int64 -> float64).  Gradients always
come back in the dtype of their leaf.  Only floating-point Tensors may
require gradients.

Leaf gradients are private, writable arrays (never a view of the caller's
``gradient``, of a broadcast, or of another leaf's gradient), so optimizers
may update ``p.grad.data`` in place.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import function as _function
from .graph import SUM_RETAINED, _GradMode, run_backward

__all__ = [
    "Tensor",
    "tensor",
    "zeros",
    "ones",
    "full",
    "arange",
    "eye",
    "rand",
    "randn",
    "zeros_like",
    "ones_like",
    "full_like",
    "rand_like",
    "randn_like",
    "manual_seed",
    "get_rng",
]

_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator behind ``rand``, ``randn``, dropout and ``nn.init``."""
    global _rng
    _rng = np.random.default_rng(seed)


def get_rng() -> np.random.Generator:
    """The library's random generator (reseeded by :func:`manual_seed`)."""
    return _rng


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    arr = np.asarray(data)
    if arr.dtype == object:
        _refuse_objects(arr)
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype == np.float64 and isinstance(data, np.ndarray | np.generic):
        return arr  # float64 arrays are kept
    if arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    return arr


def _refuse_objects(arr: np.ndarray) -> None:
    """Raise for an object array holding something that is not a number (None, say), as PyTorch does:
    numpy would turn None into NaN without a word.  (Python ints too big for int64 are numbers.)"""
    for v in arr.flat:
        if not isinstance(v, numbers.Number):
            raise TypeError(
                f"Tensor: could not infer dtype of {type(v).__name__} ({v!r}); "
                "expected numbers, nested lists of numbers or a numeric array"
            )


class Tensor:
    """An n-dimensional array on the computation graph.

    ``Tensor(data, requires_grad=False, dtype=None)``.  After ``loss.backward()``
    every leaf with ``requires_grad`` holds ``dloss/dleaf`` in ``grad`` (a
    Tensor), accumulated across calls until ``zero_grad``/``grad = None``.
    """

    # graph protocol (autograd.graph): parents in _a, _b (None when absent) and the tuple _rest
    __slots__ = ("data", "grad", "requires_grad", "_a", "_b", "_rest", "_backward", "_ctx", "_op", "label",
                 "_gacc", "_retain_grad", "_fresh", "__weakref__")

    __array_priority__ = 1000  # numpy defers to our reflected operators

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        arr = _to_array(data, dtype)
        self.data = arr
        self.grad = None
        self.requires_grad = False
        self._a = self._b = None
        self._rest = ()
        self._backward = None
        self._ctx = None
        self._op = ""
        self.label = ""
        self._gacc = None
        self._retain_grad = False
        self._fresh = None
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data: np.ndarray) -> Tensor:
        """A constant Tensor around an existing array (no copy, no dtype change).

        numpy reductions and ufuncs on 0-d input return numpy scalars; they are
        turned into 0-d arrays here, so ``data`` is always an ``ndarray``.
        """
        t = object.__new__(cls)
        t.data = data if type(data) is np.ndarray else np.asarray(data)
        t.grad = None
        t.requires_grad = False
        t._a = t._b = None
        t._rest = ()
        t._backward = None
        t._ctx = None
        t._op = ""
        t.label = ""
        t._gacc = None
        t._retain_grad = False
        t._fresh = None
        return t

    # --- graph protocol ---------------------------------------------------
    def _accumulate(self, g: Tensor) -> None:
        if _GradMode.enabled:  # create_graph: the gradient stays on the graph, in a tensor of its own
            self.grad = g.clone() if self.grad is None else self.grad + g
        elif self.grad is None:
            if g._fresh is not None and g._fresh is _function._adopt_pass:
                # a new array that an op's backward made for this leaf alone, in this pass: adopted
                self.grad = g
            else:
                # a private, writable copy: ``g`` may be a read-only broadcast view, the caller's
                # ``gradient`` array, or the very array another leaf receives (as ``a + b`` sends g to both)
                self.grad = Tensor._wrap(np.array(g.data, dtype=self.data.dtype, copy=True))
        else:
            self.grad = Tensor._wrap(self.grad.data + g.data)

    def _release(self) -> None:
        self._ctx = None
        self._a = self._b = None
        self._rest = ()

    @property
    def _prev(self) -> tuple:
        """The parents as one tuple (for drawings and people; the engine reads ``_a``, ``_b``, ``_rest``)."""
        a = self._a
        if a is None:
            return ()
        b = self._b
        return (a,) if b is None else (a, b, *self._rest)

    @property
    def is_leaf(self) -> bool:
        return self._backward is None

    @property
    def grad_fn(self) -> Any:
        return self._ctx

    def retain_grad(self) -> None:
        """Keep ``grad`` on this non-leaf Tensor after backward, summed over backward passes (as in PyTorch)."""
        self._retain_grad = SUM_RETAINED

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"requires_grad_: only floating-point tensors can require gradients, got dtype {self.data.dtype}"
            )
        if not requires_grad and self._backward is not None:
            raise RuntimeError("requires_grad_: cannot turn off gradients of a non-leaf tensor; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """The same data, cut from the graph (shares memory)."""
        return Tensor._wrap(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    def backward(self, gradient: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate ``d self / d leaf`` (times ``gradient``) into every leaf's ``grad``.

        A non-scalar Tensor needs ``gradient`` (the vector of the
        vector-Jacobian product).  The graph is released afterwards unless
        ``retain_graph`` (implied by ``create_graph``); ``create_graph`` records
        the backward pass so the gradients can be differentiated again.
        """
        gradient = self._seed(gradient, "backward: this tensor")
        prev, prev_pass = _GradMode.enabled, _function._adopt_pass
        _GradMode.enabled = bool(create_graph)
        _function._adopt_pass = None if create_graph else object()
        try:
            run_backward((self,), (gradient,), retain_graph=retain_graph or create_graph)
        finally:
            _GradMode.enabled, _function._adopt_pass = prev, prev_pass

    def _seed(self, gradient: Any, who: str) -> Tensor:
        """The gradient that starts a backward pass from this output (ones for a scalar output)."""
        if not self.requires_grad:
            raise RuntimeError(f"{who} does not require grad and has no graph "
                               "(computed under no_grad, or from inputs without requires_grad=True?)")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"{who}: a gradient can be implicitly created only for scalar outputs, got "
                                   f"shape {self.shape}; pass one of the same shape")
            return Tensor._wrap(np.ones(self.data.shape, self.data.dtype))
        gradient = gradient if isinstance(gradient, Tensor) else Tensor._wrap(np.asarray(gradient, self.dtype))
        if gradient.data.shape != self.data.shape:
            raise ValueError(f"{who}: gradient has shape {gradient.shape}, expected {self.shape}")
        gd, d = gradient.data.dtype, self.data.dtype
        if gd is not d and gd != d:  # (a Tensor's; an array was converted above. Identity first: != is slow)
            gradient = gradient.astype(d)
        return gradient

    # --- array attributes -------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def numel(self) -> int:
        return self.data.size

    def dim(self) -> int:
        return self.data.ndim

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted, got shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self.data if dtype is None else self.data.astype(dtype, copy=False)
        return a.copy() if copy else a

    def __setitem__(self, index: Any, value: Any) -> None:
        """In-place ``t[index] = value`` on the data (numpy semantics, views included).

        Refused on tensors that take part in a recorded graph, since it would silently
        change values saved for backward: use :func:`where`, ``pad`` or ``concatenate``
        instead, or assign to a leaf under ``no_grad`` (e.g. to initialise parameters).
        Refused too, while gradients are recorded, for a value that requires grad: only
        its data would be copied, and its gradient lost.
        """
        if self._backward is not None or (self.requires_grad and _GradMode.enabled):
            raise RuntimeError(
                "__setitem__: in-place assignment to a tensor that requires grad or is part of a graph; "
                "use where()/concatenate() to build a new tensor, or assign to a leaf under no_grad()"
            )
        if _GradMode.enabled and _value_requires_grad(value):
            raise RuntimeError(
                "__setitem__: the assigned value requires grad, but in-place assignment is not recorded "
                "(its gradient would be lost); build the result out of place with where()/concatenate()/pad(), "
                "or assign value.detach() to copy only the data"
            )
        index, _ = _ops.shape._norm_index(index)
        self.data[index] = _raw(value)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"The truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", threshold=100, prefix="tensor(")
        extra = ""
        if self.data.dtype != np.float32:
            extra += f", dtype={self.data.dtype}"
        if self._op:
            extra += f", grad_fn=<{self._op}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__

    def astype(self, dtype: Any) -> Tensor:
        return _ops.astype(self, dtype)

    def clone(self) -> Tensor:
        """A copy of the data that stays on the graph (the gradient passes through)."""
        return _ops.clone(self)

    copy = clone

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    # --- arithmetic (numpy broadcasting) ----------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ops.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.pow(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def add(self, other: Any) -> Tensor:
        return _ops.add(self, other)

    def sub(self, other: Any) -> Tensor:
        return _ops.sub(self, other)

    def mul(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    def div(self, other: Any) -> Tensor:
        return _ops.div(self, other)

    def pow(self, other: Any) -> Tensor:
        return _ops.pow(self, other)

    def neg(self) -> Tensor:
        return _ops.neg(self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    # comparisons: plain boolean Tensors, no gradient
    def __lt__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data < _raw(other))

    def __le__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data <= _raw(other))

    def __gt__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data > _raw(other))

    def __ge__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data >= _raw(other))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(self.data == _raw(other))

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(self.data != _raw(other))

    # --- methods forwarding to autograd.ops -------------------------------
    def exp(self) -> Tensor:
        return _ops.exp(self)

    def log(self) -> Tensor:
        return _ops.log(self)

    def sqrt(self) -> Tensor:
        return _ops.sqrt(self)

    def abs(self) -> Tensor:
        return _ops.abs(self)

    def tanh(self) -> Tensor:
        return _ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return _ops.sigmoid(self)

    def relu(self) -> Tensor:
        return _ops.relu(self)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:
        return _ops.clip(self, min, max)

    clamp = clip

    def where(self, condition: Any, other: Any) -> Tensor:
        """``where(condition, self, other)`` (PyTorch's ``Tensor.where``)."""
        return _ops.where(condition, self, other)

    def maximum(self, other: Any) -> Tensor:
        return _ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return _ops.minimum(self, other)

    def matmul(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.mean(self, axis, keepdims)

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        return _ops.var(self, axis, keepdims, ddof)

    def std(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        return _ops.std(self, axis, keepdims, ddof)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.max(self, axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.min(self, axis, keepdims)

    def argmax(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.argmax(self, axis, keepdims)

    def argmin(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.argmin(self, axis, keepdims)

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _ops.flatten(self, start_dim, end_dim)

    def transpose(self, *axes: Any) -> Tensor:
        return _ops.transpose(self, *axes)

    def permute(self, *axes: Any) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], tuple | list):
            axes = tuple(axes[0])
        return _ops.permute(self, axes)

    @property
    def T(self) -> Tensor:
        """The axes reversed (a 0-d or 1-d tensor is returned as it is)."""
        nd = self.data.ndim
        return _ops.shape.Permute.apply(self, axes=tuple(range(nd - 1, -1, -1))) if nd > 1 else self

    def squeeze(self, axis: Any = None) -> Tensor:
        return _ops.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        return _ops.unsqueeze(self, axis)

    def expand(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return _ops.broadcast_to(self, shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return _ops.broadcast_to(self, tuple(shape))

    def expand_as(self, other: Tensor) -> Tensor:
        return _ops.broadcast_to(self, other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return _ops.reshape(self, other.shape)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        return _ops.transpose(self, axis1, axis2)

    def pad(self, pad_width: Any, value: float = 0.0) -> Tensor:
        return _ops.pad(self, pad_width, value)

    def split(self, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
        return _ops.split(self, indices_or_sections, axis)

    def softmax(self, axis: int = -1) -> Tensor:
        return _ops.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return _ops.log_softmax(self, axis)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _ops.logsumexp(self, axis, keepdims)


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _value_requires_grad(x: Any) -> bool:
    """Whether ``x`` is, or is a (nested) list or tuple holding, a Tensor that requires grad."""
    if isinstance(x, Tensor):
        return x.requires_grad
    return isinstance(x, list | tuple) and any(_value_requires_grad(v) for v in x)


_function._new_tensor = Tensor._wrap


# --- construction -------------------------------------------------------------
def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new Tensor holding a copy of ``data`` (same dtype rules as ``Tensor(data)``).

    float32 unless ``data`` is a float64 array/Tensor or ``dtype`` is given: Python
    lists of floats give float32, as ``torch.tensor`` does.
    """
    arr = _to_array(data, dtype)
    return Tensor(np.array(arr, copy=True), requires_grad, dtype=arr.dtype)


def _shape(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        return tuple(shape[0])
    return tuple(shape)


def zeros(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad)


def ones(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.full(tuple(np.atleast_1d(shape)) if np.ndim(shape) else (shape,), fill_value, dtype=dtype),
                  requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Like numpy.arange; integer arguments give int64 unless ``dtype`` says otherwise."""
    arr = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is None and arr.dtype.kind == "f":
        dtype = np.float32
    return Tensor(arr, requires_grad, dtype=dtype if dtype is not None else arr.dtype)


def eye(n: int, m: int | None = None, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad)


def rand(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1), from the seedable generator (see :func:`manual_seed`)."""
    return Tensor(_rng.random(_shape(shape)).astype(dtype), requires_grad)


def randn(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """Standard normal, from the seedable generator (see :func:`manual_seed`)."""
    return Tensor(_rng.standard_normal(_shape(shape)).astype(dtype), requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Same shape and dtype as ``t`` (unless ``dtype`` is given)."""
    a = _as_like(t)
    return Tensor(np.zeros_like(a, dtype=dtype), requires_grad, dtype=dtype or a.dtype)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Same shape and dtype as ``t`` (unless ``dtype`` is given)."""
    a = _as_like(t)
    return Tensor(np.ones_like(a, dtype=dtype), requires_grad, dtype=dtype or a.dtype)


def full_like(t: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    a = _as_like(t)
    return Tensor(np.full_like(a, fill_value, dtype=dtype), requires_grad, dtype=dtype or a.dtype)


def _as_like(t: Any) -> np.ndarray:
    return t.data if isinstance(t, Tensor) else _to_array(t, None)


def _float_like(t: Any, dtype: Any, op: str) -> tuple:
    a = _as_like(t)
    dt = np.dtype(dtype) if dtype is not None else (a.dtype if a.dtype.kind == "f" else np.dtype(np.float32))
    if dt.kind != "f":
        raise TypeError(f"{op}: random values need a floating-point dtype, got {dt}")
    return a.shape, dt


def rand_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dt = _float_like(t, dtype, "rand_like")
    return Tensor(_rng.random(shape).astype(dt), requires_grad, dtype=dt)


def randn_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dt = _float_like(t, dtype, "randn_like")
    return Tensor(_rng.standard_normal(shape).astype(dt), requires_grad, dtype=dt)


from . import ops as _ops  # noqa: E402  (ops import Tensor from this module)

_ = _GradMode  # re-exported for ops modules
