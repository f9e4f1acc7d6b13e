"""How a Tensor operation is defined: forward on arrays, backward in Tensor ops.

Every differentiable Tensor operation is a subclass of :class:`Function` with
two methods side by side::

    class Exp(Function):
        '''d/dx e^x = e^x'''
        def forward(self, x):              # numpy arrays in, numpy array out
            return np.exp(x)
        def backward(self, out, g):        # Tensors in, one Tensor (or None) per input out
            return (g * out,)

``forward`` works on raw numpy arrays; ``backward`` receives the result
Tensor ``out`` and ``g = dL/d(out)`` and is written with Tensor operations,
so when ``backward(create_graph=True)`` records the backward pass, gradients
of gradients come for free.  ``Function.apply`` wires the result into the
graph core (:mod:`autograd.graph`), and :func:`_function_backward` is the one
place that sums a broadcast gradient back to its input's shape.  ``needs_grad``
(one bool per input) says which input gradients ``backward`` must make: those
of the inputs that require grad, and in a pruned pass (``autograd.grad``) only
those of the inputs on the way to a wanted one.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from .graph import _GradMode, _ModeContext, _SetMode

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["Function", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


class _AnomalyMode:
    """Whether :func:`Function.apply` checks results for NaN/Inf; one instance, ``_Anomaly``, read as
    ``_Anomaly.enabled`` by every operation (a slot of an instance: cheaper to read than a class attribute)."""

    __slots__ = ("enabled", "backward_of")

    def __init__(self) -> None:
        self.enabled = False
        self.backward_of = ""  # the op whose backward is running (so its inner steps are reported as such)


_Anomaly = _AnomalyMode()


def is_anomaly_enabled() -> bool:
    return _Anomaly.enabled


class detect_anomaly(_ModeContext):
    """Raise at the first operation whose forward or backward makes NaN or Inf.

    Usable as a context manager or a decorator.  The error names the operation
    and the shapes of its inputs.  It costs a finiteness check per operation.
    """

    state = _Anomaly
    mode = True


class set_detect_anomaly(_SetMode):
    """Turn anomaly detection on or off: at once when called, until the ``with`` block ends, or inside ``@``."""

    state = _Anomaly


def _check_finite(where: str, name: str, arrays: Any, shapes: Any) -> None:
    for a in arrays:
        if a is None:
            continue
        a = a.data if hasattr(a, "_prev") else a
        if a.dtype.kind in "fc" and not np.isfinite(a).all():
            if where == "forward" and _Anomaly.backward_of:
                where, name = "backward", f"{_Anomaly.backward_of} (in its {name} step)"
            raise FloatingPointError(
                f"detect_anomaly: {where} of {name} produced NaN or Inf (input shapes {shapes})"
            )


class Function:
    """Base class of Tensor operations (see the module docstring)."""

    __slots__ = ("inputs", "needs_grad", "__dict__")

    def forward(self, *arrays: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, out: Tensor, g: Tensor) -> tuple:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **kwargs: Any) -> Tensor:
        """Run ``forward`` on the inputs' arrays and record the result in the graph.

        All positional inputs must already be Tensors; keyword arguments are
        passed to the constructor (``cls(**kwargs)``) as static attributes.
        """
        # The hot path of the engine: one- and two-input ops avoid building lists, and nothing
        # about the graph is looked at unless gradients are being recorded.
        fn = _object_new(cls)
        if kwargs:
            fn.__dict__.update(kwargs)
        n = len(inputs)
        if n == 1:
            a = inputs[0]
            data = fn.forward(a.data)
            record = a.requires_grad and _GradMode.enabled
        elif n == 2:
            a, b = inputs
            data = fn.forward(a.data, b.data)
            record = (a.requires_grad or b.requires_grad) and _GradMode.enabled
        else:
            a = inputs[0]
            data = fn.forward(*[t.data for t in inputs])
            record = _GradMode.enabled and any([t.requires_grad for t in inputs])
        if _Anomaly.enabled:
            _check_finite("forward", cls.__name__, (data,), [t.shape for t in inputs])
        out = _new_tensor(data)
        if record:
            fn.inputs = inputs
            if n == 1:
                fn.needs_grad = (True,)
            elif n == 2:
                fn.needs_grad = (a.requires_grad, b.requires_grad)
                out._b = b
            else:
                fn.needs_grad = tuple([t.requires_grad for t in inputs])
                out._b = inputs[1]
                out._rest = inputs[2:]
            out.requires_grad = True
            out._a = a
            out._ctx = fn
            out._backward = _function_backward
            out._op = cls.__name__
        return out


# The backward pass (a token set by Tensor.backward, None otherwise: autograd.grad, create_graph)
# in which new gradient arrays may be handed to leaves without a copy (Tensor._accumulate).
_adopt_pass: object | None = None


def _function_backward(out: Tensor, g: Tensor) -> tuple:
    """Call the op's backward and fit each gradient to its input's shape and dtype."""
    fn = out._ctx  # never None here: run_backward stops at released nodes
    if _Anomaly.enabled:
        prev, _Anomaly.backward_of = _Anomaly.backward_of, type(fn).__name__
        try:
            grads = fn.backward(out, g)
        finally:
            _Anomaly.backward_of = prev
    else:
        grads = fn.backward(out, g)
    if type(grads) is not tuple:  # a list, or any iterable a custom backward returns
        grads = tuple(grads)
    inputs = fn.inputs
    needs = fn.needs_grad
    tok = _adopt_pass
    result = list(grads)
    for i in range(len(result)):  # (not enumerate: its cached tuple would hold one more reference to gx)
        gx = result[i]
        if gx is None:
            continue
        if not needs[i]:
            result[i] = None
            continue
        x = inputs[i]
        d = gx.data
        xd = x.data
        # fit it to its input (_fit only on a mismatch; dtypes are compared by identity first, the cheap test)
        if d.shape != xd.shape or (d.dtype is not xd.dtype and d.dtype != xd.dtype):
            result[i] = gx = _fit(gx, x, fn)
            d = gx.data
        # A gradient nobody else holds may become its leaf's .grad without a copy: an array that owns
        # its memory and is referenced only by gx (the count is gx's slot, `d` and getrefcount's
        # argument), in a Tensor referenced only by `result`, `gx`, the argument and, once, the op's
        # returned sequence (a Tensor returned for two inputs counts one more). The mark is this
        # pass's token, so it means nothing afterwards.
        if (
            tok is not None and x._backward is None and d.base is None and _refs(d) == 3
            and _refs(gx) == (4 if grads[i] is gx else 3) and d.flags.writeable
        ):
            gx._fresh = tok
    if _Anomaly.enabled:
        _check_finite("backward", type(fn).__name__, result, [t.shape for t in inputs])
    return result


def _backward_on_the_way(out: Tensor, g: Tensor, on_way: tuple) -> list:
    """:func:`_function_backward` with ``needs_grad[i]`` true only if it was and ``on_way[i]`` is.

    Called by a pruned pass (``autograd.grad``) for an op with an input that requires grad but leads
    to no wanted node (``on_way[i]`` false): that input's gradient reaches nobody, so the op skips
    making it (say, a layer's weight gradient when only its input's is asked for).  The op's own
    mask is restored afterwards, also on error: the graph may be retained and run again by a full
    pass.  A backward that ignores ``needs_grad`` still works: its extra gradients are dropped.
    """
    fn = out._ctx
    full = fn.needs_grad
    fn.needs_grad = tuple([n and w for n, w in zip(full, on_way)])
    try:
        return _function_backward(out, g)  # (which consumes a generator the op returns, inside this try)
    finally:
        fn.needs_grad = full


# autograd.graph calls it in a pruned pass (its protocol: a ``_backward`` may carry ``on_way``)
_function_backward.on_way = _backward_on_the_way  # type: ignore[attr-defined]


# References to an object, exact in CPython up to 3.13 with the GIL (3.14 no longer counts some
# references held by local variables, and free-threaded builds count differently): elsewhere the
# count is "unknown" (-1) and gradients are always copied.
_EXACT_REFCOUNTS = (sys.implementation.name == "cpython" and sys.version_info < (3, 14)
                    and getattr(sys, "_is_gil_enabled", lambda: True)())
_refs = sys.getrefcount if _EXACT_REFCOUNTS else (lambda obj: -1)


def _fit(gx: Tensor, x: Tensor, fn: Function) -> Tensor:
    """The gradient ``gx`` for input ``x``: broadcast axes summed away, cast to ``x``'s dtype."""
    xd, gd = x.data, gx.data
    if gd.shape != xd.shape:
        gx = _sum_to(gx, xd.shape, fn)
    if gd.dtype != xd.dtype:
        gx = gx.astype(xd.dtype)
    return gx


def _sum_to(g: Tensor, shape: tuple, fn: Function) -> Tensor:
    """Sum a broadcast gradient back to ``shape`` (the one place the engine does this; an op whose
    own derivative is a sum, such as a bias's ``sum_n G``, computes it in its backward).

    ``g`` must have ``shape`` broadcast: extra leading axes, and axes where
    ``shape`` has 1; those are summed (dL/dx = sum of dL/dy over the copies of
    x) by one ``SumTo`` node.  Any other mismatch is a bug in ``fn``'s backward
    and raises.
    """
    gshape = g.data.shape
    lead = len(gshape) - len(shape)
    if lead < 0 or any(n != m and n != 1 for n, m in zip(shape, gshape[lead:])):
        raise RuntimeError(
            f"backward of {type(fn).__name__} returned a gradient of shape {gshape} for an input of shape "
            f"{shape}; it must have the input's shape (or broadcast to it by leading axes and axes of size 1)"
        )
    return _SumTo.apply(g, shape=shape)


_object_new = object.__new__


def _new_tensor(data: np.ndarray) -> Tensor:  # replaced by tensor.py at import
    raise NotImplementedError


_SumTo: Any = None  # the SumTo op class, set by autograd.ops.shape at import (it is defined there)
