"""Operations that move entries around: reshape, permute, broadcast, index, pad, join, split."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import function as _function
from ..function import Function, _sum_to
from ..tensor import Tensor
from ._util import lift, norm_axis

__all__ = [
    "reshape", "flatten", "transpose", "permute", "squeeze", "unsqueeze", "broadcast_to", "expand",
    "getitem", "pad", "concatenate", "cat", "stack", "split",
]


class Reshape(Function):
    """Same entries, new shape; the gradient is reshaped back"""

    def forward(self, a):
        return a.reshape(self.shape)

    def backward(self, out, g):
        return (g.reshape(self.inputs[0].shape),)


class Permute(Function):
    """Axes reordered; the gradient is permuted by the inverse order"""

    def forward(self, a):
        return a.transpose(self.axes)

    def backward(self, out, g):
        return (g.permute(np.argsort(self.axes).tolist()),)


class BroadcastTo(Function):
    """Entries repeated along new or size-1 axes; the gradient sums the copies"""

    def forward(self, a):
        shape = self.shape
        if math.prod(shape) <= 4096:  # small: a fresh array is ~7x faster than numpy's broadcast_to view
            out = np.empty(shape, dtype=a.dtype)
            out[...] = a
            return out
        return np.broadcast_to(a, shape)  # large: a read-only view, no copy

    def backward(self, out, g):
        return (_sum_to(g, self.inputs[0].shape, self),)


class SumTo(Function):
    """The adjoint of BroadcastTo: y = x summed over its leading axes and over the axes where
    ``shape`` has 1, so that y has ``shape``; the gradient is g broadcast back to x's shape.

    ``function._sum_to`` (which checks the shapes) is the one caller: every gradient the engine
    finds broadcast beyond its input's shape is summed back here.
    """

    def forward(self, a):
        shape = self.shape
        lead = a.ndim - len(shape)
        kept = tuple(lead + i for i, n in enumerate(shape) if n == 1 and a.shape[lead + i] != 1)
        if not kept:
            return a.sum(axis=tuple(range(lead))) if lead else a.copy()
        # sum straight into a new array of the final shape (a fresh array, not a view of one)
        out = np.empty(shape, a.dtype)
        np.sum(a, axis=tuple(range(lead)) + kept, keepdims=True, out=out.reshape((1,) * lead + shape))
        return out

    def backward(self, out, g):
        return (BroadcastTo.apply(g, shape=self.inputs[0].data.shape),)


_function._SumTo = SumTo


class GetItem(Function):
    """y = x[index]; the gradient is scattered back (repeated indices accumulate)"""

    def forward(self, a):
        return a[self.index]

    def backward(self, out, g):
        return (IndexAdd.apply(g, index=self.index, shape=self.inputs[0].shape, basic=self.basic),)


class IndexAdd(Function):
    """z = zeros(shape); z[index] += g; its gradient is g = dz[index]"""

    def forward(self, g):
        z = np.zeros(self.shape, dtype=g.dtype)
        if self.basic:
            z[self.index] = g
        else:
            np.add.at(z, self.index, g)
        return z

    def backward(self, out, g):
        return (GetItem.apply(g, index=self.index, basic=self.basic),)


class Pad(Function):
    """Constant padding; the gradient is the un-padded centre"""

    def forward(self, a):
        return np.pad(a, self.pad_width, constant_values=self.value)

    def backward(self, out, g):
        index = tuple(slice(lo, lo + n) for (lo, _), n in zip(self.pad_width, self.inputs[0].shape))
        return (GetItem.apply(g, index=index, basic=True),)


class Concatenate(Function):
    """Join along ``axis``; each input's gradient is its slice of g"""

    def forward(self, *arrays):
        return np.concatenate(arrays, axis=self.axis)

    def backward(self, out, g):
        grads, start = [], 0
        pre = (slice(None),) * self.axis
        for x, need in zip(self.inputs, self.needs_grad):
            stop = start + x.shape[self.axis]
            grads.append(GetItem.apply(g, index=pre + (slice(start, stop),), basic=True) if need else None)
            start = stop
        return grads


def reshape(a: Tensor, shape: Sequence[int]) -> Tensor:
    """Same entries in a new shape (one entry may be -1)."""
    a = lift(a)
    shape = tuple(int(s) for s in shape)
    if shape == a.shape:
        return a
    if -1 not in shape and math.prod(shape) == a.size and min(shape, default=0) >= 0:
        return Reshape.apply(a, shape=shape)
    known = math.prod([s for s in shape if s != -1])
    unknown = shape.count(-1)
    ok = unknown <= 1 and all(s >= -1 for s in shape)
    if ok and unknown == 1:
        ok = known != 0 and a.size % known == 0
        shape = tuple(a.size // known if s == -1 else s for s in shape) if ok else shape
    if not ok or math.prod(shape) != a.size:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) into shape {shape}"
        )
    new_shape = shape
    if new_shape == a.shape:
        return a
    return Reshape.apply(a, shape=new_shape)


def flatten(a: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes start_dim..end_dim into one."""
    a = lift(a)
    nd = a.ndim
    if nd == 0:
        return reshape(a, (1,))
    s, e = norm_axis(start_dim, nd, "flatten"), norm_axis(end_dim, nd, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {a.shape}")
    shape = a.shape[:s] + (math.prod(a.shape[s : e + 1]),) + a.shape[e + 1 :]
    return reshape(a, shape)


def permute(a: Tensor, axes: Sequence[int]) -> Tensor:
    """Reorder the axes (``numpy.transpose`` with explicit axes)."""
    a = lift(a)
    nd = a.data.ndim
    axes = tuple(axes)
    if len(axes) == nd and all(type(x) is int and -nd <= x < nd for x in axes):  # the common case, cheaply
        axes = tuple([x + nd if x < 0 else x for x in axes])
    elif len(axes) == nd:
        axes = tuple(norm_axis(x, nd, "permute") for x in axes)
    if len(axes) != nd or sorted(axes) != list(range(nd)):
        raise ValueError(f"permute: {axes} is not a permutation of the {nd} axes of shape {a.shape}")
    if axes == tuple(range(nd)):
        return a
    return Permute.apply(a, axes=axes)


def transpose(a: Tensor, *axes: Any) -> Tensor:
    """``transpose(a)`` reverses the axes; ``transpose(a, d0, d1)`` swaps two (as PyTorch)."""
    a = lift(a)
    if len(axes) == 1 and isinstance(axes[0], tuple | list):
        return permute(a, axes[0])
    if not axes:
        return permute(a, tuple(range(a.ndim))[::-1])
    if len(axes) == 2:
        order = list(range(a.ndim))
        d0, d1 = norm_axis(axes[0], a.ndim, "transpose"), norm_axis(axes[1], a.ndim, "transpose")
        order[d0], order[d1] = order[d1], order[d0]
        return permute(a, order)
    return permute(a, axes)


def squeeze(a: Tensor, axis: Any = None) -> Tensor:
    """Drop size-1 axes (all of them, or those in ``axis``)."""
    a = lift(a)
    if axis is None:
        shape = tuple(n for n in a.shape if n != 1)
    else:
        axes = {norm_axis(x, a.ndim, "squeeze") for x in ((axis,) if isinstance(axis, int | np.integer) else axis)}
        for x in axes:
            if a.shape[x] != 1:
                raise ValueError(f"squeeze: axis {x} of shape {a.shape} has size {a.shape[x]}, expected 1")
        shape = tuple(n for i, n in enumerate(a.shape) if i not in axes)
    return reshape(a, shape)


def unsqueeze(a: Tensor, axis: int) -> Tensor:
    """Insert a size-1 axis at ``axis``."""
    a = lift(a)
    axis = norm_axis(axis, a.ndim + 1, "unsqueeze")
    return reshape(a, a.shape[:axis] + (1,) + a.shape[axis:])


def broadcast_to(a: Tensor, shape: Sequence[int]) -> Tensor:
    """Repeat entries to ``shape`` by numpy's broadcasting rules (a view, no copy)."""
    a = lift(a)
    shape = tuple(shape)
    if shape == a.shape:
        return a
    if -1 in shape:  # PyTorch's expand: -1 keeps the size of that (trailing-aligned) axis
        lead = len(shape) - a.ndim
        if lead < 0 or any(n == -1 for n in shape[:lead]):
            raise ValueError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}")
        shape = tuple(a.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
    if shape == a.shape:
        return a
    if len(shape) < a.ndim:
        raise ValueError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}")
    try:
        return BroadcastTo.apply(a, shape=shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}") from None


expand = broadcast_to


def _norm_index(index: Any) -> tuple[Any, bool]:
    """Replace Tensors by arrays; report whether the index is basic (slices/ints only)."""
    items = index if isinstance(index, tuple) else (index,)
    out, basic = [], True
    for it in items:
        if isinstance(it, Tensor):
            it = it.data
        if isinstance(it, list):
            it = np.asarray(it)
        if isinstance(it, np.ndarray):
            if it.dtype.kind not in "iub" and it.size == 0:
                it = it.astype(np.intp)  # x[[]], as numpy
            elif it.dtype.kind not in "iub":
                raise IndexError(
                    f"getitem: index arrays must be integer or boolean, got dtype {it.dtype} "
                    "(Tensor(list) is float32: build index tensors with arange, argmax or dtype=np.int64)"
                )
            basic = False
        out.append(it)
    return (tuple(out) if isinstance(index, tuple) else out[0]), basic


def getitem(a: Tensor, index: Any) -> Tensor:
    """``a[index]``: slices, integers, integer arrays and boolean masks."""
    index, basic = _norm_index(index)
    try:
        return GetItem.apply(a, index=index, basic=basic)
    except IndexError as e:
        raise IndexError(f"getitem: index {index!r} does not fit shape {a.shape}: {e}") from None


def pad(a: Tensor, pad_width: Any, value: float = 0.0) -> Tensor:
    """Constant padding; ``pad_width`` as in ``numpy.pad`` (an int, a pair or one pair per axis)."""
    a = lift(a)
    try:
        pw = np.broadcast_to(np.asarray(pad_width, dtype=int), (a.ndim, 2))
    except (ValueError, TypeError):
        raise ValueError(
            f"pad: pad_width {pad_width!r} does not fit a tensor of shape {a.shape}; expected an int, "
            f"one (before, after) pair or {a.ndim} pairs, one per axis"
        ) from None
    return Pad.apply(a, pad_width=tuple((int(lo), int(hi)) for lo, hi in pw), value=value)


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    ts = [lift(t) for t in tensors]
    if not ts:
        raise ValueError("concatenate: need at least one tensor")
    nd = ts[0].ndim
    if nd == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated; use stack")
    axis = norm_axis(axis, nd, "concatenate")
    for t in ts:
        if t.ndim != nd or t.shape[:axis] + t.shape[axis + 1 :] != ts[0].shape[:axis] + ts[0].shape[axis + 1 :]:
            raise ValueError(
                f"concatenate: shapes {[t.shape for t in ts]} differ outside axis {axis}; "
                "expected equal sizes in every other axis"
            )
    return Concatenate.apply(*ts, axis=axis)


cat = concatenate


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors of equal shape along a new axis."""
    ts = [lift(t) for t in tensors]
    if not ts:
        raise ValueError("stack: need at least one tensor")
    if any(t.shape != ts[0].shape for t in ts):
        raise ValueError(f"stack: expected tensors of equal shape, got {[t.shape for t in ts]}")
    axis = norm_axis(axis, ts[0].ndim + 1, "stack")
    return concatenate([unsqueeze(t, axis) for t in ts], axis=axis)


def split(a: Tensor, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """Cut into pieces along ``axis`` (``numpy.split`` semantics: a count, or cut points)."""
    a = lift(a)
    if a.ndim == 0:
        raise ValueError("split: cannot split a zero-dimensional tensor")
    axis = norm_axis(axis, a.ndim, "split")
    n = a.shape[axis]
    if isinstance(indices_or_sections, int | np.integer):
        if indices_or_sections <= 0:
            raise ValueError(f"split: the number of pieces must be positive, got {indices_or_sections}")
        if n % indices_or_sections:
            raise ValueError(f"split: axis {axis} of size {n} does not divide into {indices_or_sections} pieces")
        step = n // indices_or_sections
        cuts = [step * i for i in range(1, int(indices_or_sections))]
    else:
        cuts = list(indices_or_sections)
    bounds = [0, *cuts, n]
    pre = (slice(None),) * axis
    return [a[pre + (slice(lo, hi),)] for lo, hi in zip(bounds[:-1], bounds[1:])]
