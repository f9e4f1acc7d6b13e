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
    if like is not None and isinstance(x, _PY_NUMBERS):
        kind = like.data.dtype.kind
        # a weak scalar: float tensors keep their dtype; integer tensors keep theirs for integer scalars
        if kind in "fc" or (kind in "iu" and isinstance(x, int | np.integer | bool | np.bool_)):
            return Tensor._wrap(np.asarray(x, dtype=like.data.dtype))
    return Tensor(x)


# A constant (no gradient) Tensor around an array: ``const(arr)``.  The very function, not a
# wrapper around it: backward passes call it for every gradient they make.
const = Tensor._wrap


def norm_axes(axis: Any, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` (None, int or tuple, negatives allowed) as a sorted tuple of non-negative axes.

    A 0-d tensor takes axis 0 or -1 as PyTorch does, naming the value itself: it reduces over
    nothing (``()``), so sums and maxima give the value, softmax 1 and log_softmax 0.
    """
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            if ndim == 0 and (a == 0 or a == -1):
                continue
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % ndim)
    return tuple(sorted(set(out)))


def norm_axis(axis: Any, ndim: int, op: str) -> int:
    """One axis (negatives allowed) as a non-negative int; out-of-range axes raise (never wrap)."""
    if not isinstance(axis, int | np.integer) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be an integer, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor with {ndim} dimensions")
    return int(axis) % ndim


def broadcast_error(op: str, a: Tensor, b: Tensor) -> ValueError:
    return ValueError(
        f"{op}: cannot broadcast shapes {a.shape} and {b.shape}; "
        "expected each trailing dimension to be equal or 1"
    )
