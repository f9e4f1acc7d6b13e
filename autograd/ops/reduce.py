"""Reductions: sum, mean, var, max, min, logsumexp (with ``axis`` and ``keepdims``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import const, lift, norm_axes, norm_axis
from .shape import BroadcastTo, Reshape

__all__ = ["sum", "mean", "var", "std", "max", "min", "logsumexp", "argmax", "argmin"]


def _keep_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """d/dx_i sum(x) = 1: the gradient is broadcast back over the summed axes"""

    def forward(self, a):
        return a.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, out, g):
        shape = self.inputs[0].data.shape
        if not self.keepdims and g.data.ndim:
            g = Reshape.apply(g, shape=_keep_shape(shape, self.axes))
        return (BroadcastTo.apply(g, shape=shape) if g.data.shape != shape else g,)


class Max(Function):
    """d max(x)/dx_i = 1/k for each of the k entries equal to the max, else 0.

    Ties share the gradient equally (so the sum of the gradient is preserved);
    ``sign=-1`` turns it into ``min``.
    """

    def forward(self, a):
        f = np.max if self.sign > 0 else np.min
        return f(a, axis=self.axes, keepdims=self.keepdims)

    def backward(self, out, g):
        x = self.inputs[0]
        kshape = _keep_shape(x.shape, self.axes)
        mask = x.data == out.data.reshape(kshape)
        w = mask / mask.sum(axis=self.axes, keepdims=True)
        if not self.keepdims:
            g = g.reshape(kshape)
        return (g * const(w.astype(x.dtype)),)


def _stable_max(a: np.ndarray, axes: tuple) -> tuple[np.ndarray, bool]:
    """max of ``a`` over ``axes`` (kept), the shift that makes e^(a - m) safe, and whether every
    slice's max was finite: slices whose max is not (empty, all -inf, or holding +inf or NaN) are
    shifted by 0 instead, and only they can make a log of 0 or inf/inf."""
    m = a.max(axis=axes, keepdims=True, initial=-np.inf)  # -inf over empty axes
    if np.isfinite(m).all():
        return m, True
    return np.where(np.isfinite(m), m, 0).astype(a.dtype, copy=False), False


def _log_sum(s: np.ndarray, finite: bool) -> np.ndarray:
    """ln s for s = sum e^(x - m) of :func:`_stable_max`'s shift: a slice with no finite max may give
    ln 0 = -inf (all -inf or empty, as it should) without a warning.  np.errstate is entered only then:
    it costs as much as the rest of a small log-softmax."""
    if finite:
        return np.log(s)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(s)


class LogSumExp(Function):
    """lse(x) = m + ln sum e^(x - m) with m = max(x); d lse/dx = softmax(x) = e^(x - lse)"""

    def forward(self, a):
        m, finite = _stable_max(a, self.axes)
        s = _log_sum(np.sum(np.exp(a - m), axis=self.axes, keepdims=True), finite) + m
        return s if self.keepdims else np.squeeze(s, axis=self.axes)

    def backward(self, out, g):
        x = self.inputs[0]
        kshape = _keep_shape(x.shape, self.axes)
        if not self.keepdims:
            out = out.reshape(kshape)
            g = g.reshape(kshape)
        return (g * (x - out).exp(),)


def sum(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    a = lift(a)
    return Sum.apply(a, axes=norm_axes(axis, a.ndim, "sum"), keepdims=keepdims)


def mean(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """sum / n over the reduced axes."""
    a = lift(a)
    axes = norm_axes(axis, a.ndim, "mean")
    n = math.prod([a.shape[i] for i in axes])
    return Sum.apply(a, axes=axes, keepdims=keepdims) * (1.0 / n if n else np.nan)


def var(a: Tensor, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """mean((x - mean(x))^2) * n / (n - ddof) (ddof=0: the biased variance, as numpy)."""
    a = lift(a)
    return _var(a, norm_axes(axis, a.ndim, "var"), keepdims, ddof)


def _var(a: Tensor, axes: tuple, keepdims: bool, ddof: int) -> Tensor:
    n = math.prod([a.shape[i] for i in axes])
    d = a - mean(a, axes, keepdims=True)
    return sum(d * d, axes, keepdims) * (1.0 / (n - ddof) if n > ddof else np.nan)


class StdSqrt(Function):
    """std = sqrt(v) of a variance v; d std/dv = 1 / (2 std), taken as 0 where std = 0.

    A constant slice has std 0 and x - mean = 0: its gradient is 0 (PyTorch's convention), not
    inf * 0 = NaN.  Elsewhere the backward is ``g / (2 std)`` in Tensor ops, so differentiable again.
    """

    def forward(self, v):
        return np.sqrt(v)

    def backward(self, out, g):
        zero = out.data == 0
        if not zero.any():
            return (g / (out * 2.0),)
        # g * [std > 0] / (2 std + 2 [std = 0]): finite everywhere, and so is its derivative
        dt = out.data.dtype
        return (g * const((~zero).astype(dt)) / ((out + const(zero.astype(dt))) * 2.0),)


def std(a: Tensor, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """sqrt(var): the standard deviation (ddof=0 as numpy; pass ddof=1 for PyTorch's default).

    Over a constant slice (std = 0) the gradient is 0, as in PyTorch (see :class:`StdSqrt`).
    """
    a = lift(a)
    return StdSqrt.apply(_var(a, norm_axes(axis, a.ndim, "std"), keepdims, ddof))


def _extreme(a: Tensor, axis: Any, keepdims: bool, sign: int, name: str) -> Tensor:
    a = lift(a)
    axes = norm_axes(axis, a.ndim, name)
    for i in axes:  # an empty slice has no max ((0, 3).max(1) is fine: shape (0,))
        if a.shape[i] == 0:
            raise ValueError(
                f"{name}: cannot reduce over empty axis {i} of a tensor of shape {a.shape}; "
                "expected every reduced axis to have at least one entry"
            )
    return Max.apply(a, axes=axes, keepdims=keepdims, sign=sign)


def max(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Largest entry; ties share the gradient equally."""
    return _extreme(a, axis, keepdims, 1, "max")


def min(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Smallest entry; ties share the gradient equally."""
    return _extreme(a, axis, keepdims, -1, "min")


def logsumexp(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """ln sum e^x, stable for very large or very small x."""
    a = lift(a)
    return LogSumExp.apply(a, axes=norm_axes(axis, a.ndim, "logsumexp"), keepdims=keepdims)


def _arg(f: Any, a: Tensor, axis: Any, keepdims: bool, name: str) -> Tensor:
    a = lift(a)
    if axis is not None:
        if a.ndim == 0:  # axis 0 or -1 (as PyTorch): the one entry, index 0
            norm_axes(axis, 0, name)
            return const(np.zeros((), dtype=np.intp))
        axis = norm_axis(axis, a.ndim, name)
    return const(f(a.data, axis=axis, keepdims=keepdims))


def argmax(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Index of the largest entry (int64, not differentiable)."""
    return _arg(np.argmax, a, axis, keepdims, "argmax")


def argmin(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Index of the smallest entry (int64, not differentiable)."""
    return _arg(np.argmin, a, axis, keepdims, "argmin")
