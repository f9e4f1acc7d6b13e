"""Softmax family and dropout, composed from primitives."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, get_rng
from ._util import const, lift
from .reduce import logsumexp

__all__ = ["softmax", "log_softmax", "dropout"]


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - logsumexp(x): stable for logits of any size."""
    x = lift(x)
    return x - logsumexp(x, axis=axis, keepdims=True)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """e^x / sum e^x = exp(log_softmax(x)): entries in [0, 1] summing to 1, stable."""
    return log_softmax(x, axis).exp()


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
