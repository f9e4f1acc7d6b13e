"""Small helpers shared by the op modules."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor

_PY_NUMBERS = (int, float, bool, np.number, np.bool_)


def lift(x: Any, like: Tensor | None = None) -> Tensor:
    """``x`` as a Tensor; plain numbers take the dtype of ``like`` (weak scalars, as in PyTorch)."""
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, _PY_NUMBERS) and like.data.dtype.kind == "f":
        return Tensor._wrap(np.asarray(x, dtype=like.data.dtype))
    return Tensor(x)


def const(arr: np.ndarray) -> Tensor:
    """A constant (no gradient) Tensor around ``arr``."""
    return Tensor._wrap(arr)


def norm_axes(axis: Any, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` (None, int or tuple, negatives allowed) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    return tuple(sorted(set(out)))


def broadcast_error(op: str, a: Tensor, b: Tensor) -> ValueError:
    return ValueError(
        f"{op}: cannot broadcast shapes {a.shape} and {b.shape}; "
        "expected each trailing dimension to be equal or 1"
    )
