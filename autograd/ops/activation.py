"""Softmax family and dropout."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function
from ..graph import _GradMode
from ..tensor import Tensor, get_rng
from ._util import const, lift, norm_axes
from .reduce import _log_sum, _stable_max

__all__ = ["softmax", "log_softmax", "dropout"]


class LogSoftmax(Function):
    """log_softmax(x) = (x - m) - ln sum e^(x - m), m = max(x) over ``axes``.

    Subtracting m first is exact, so the result keeps full precision however
    large the logits (``x - logsumexp(x)`` loses about ``|x| * eps``).
    d/dx: ``g - softmax(x) * sum(g)`` (sums over ``axes``), with
    ``softmax(x) = e^out``, so it is differentiable again.
    """

    def forward(self, x):
        m, finite = _stable_max(x, self.axes)
        z = x - m
        s = np.exp(z).sum(axis=self.axes, keepdims=True)  # >= 1 where the max is finite: its term is e^0
        z -= _log_sum(s, finite)
        return z

    def backward(self, out, g):
        if not _GradMode.enabled:  # not recording (no create_graph): same arithmetic on the arrays
            gd = g.data
            return (const(gd - np.exp(out.data) * gd.sum(axis=self.axes, keepdims=True)),)
        return (g - out.exp() * g.sum(axis=self.axes, keepdims=True),)


def log_softmax(x: Tensor, axis: Any = -1) -> Tensor:
    """log e^x / sum e^x over ``axis``: one stable node (see :class:`LogSoftmax`)."""
    x = lift(x)
    return LogSoftmax.apply(x, axes=norm_axes(axis, x.ndim, "log_softmax"))


def softmax(x: Tensor, axis: Any = -1) -> Tensor:
    """e^x / sum e^x = exp(log_softmax(x)): entries in [0, 1] summing to 1, stable."""
    x = lift(x)
    return LogSoftmax.apply(x, axes=norm_axes(axis, x.ndim, "softmax")).exp()


def dropout(x: Tensor, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None) -> Tensor:
    """Inverted dropout: zero each entry with probability p, scale the rest by 1/(1-p).

    The expected value is unchanged, so nothing is rescaled at evaluation time.
    Draws from ``rng`` or the library generator (see ``autograd.manual_seed``).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    x = lift(x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    gen = rng if rng is not None else get_rng()
    keep = (gen.random(x.shape) >= p).astype(x.dtype) * np.asarray(1.0 / (1.0 - p), dtype=x.dtype)
    return x * const(keep)
