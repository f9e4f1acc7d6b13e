"""Matrix products."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function
from ..graph import _GradMode
from ..tensor import Tensor
from ..threads import gemm_threads
from ._util import const, lift

__all__ = ["matmul", "linear"]


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.matmul(a, b) of operands with at least 2 dimensions (``matmul`` promotes 1-d ones first),
    with OpenBLAS's thread count set by the product's size (1 for small ones)."""
    gemm_threads(a.size * b.shape[-1] if a.ndim >= b.ndim else b.size * a.shape[-2])
    return np.matmul(a, b)


class MatMul(Function):
    """C = A B (batched over leading axes): dL/dA = G B^T, dL/dB = A^T G"""

    def forward(self, a, b):
        return _mm(a, b)

    def backward(self, out, g):
        a, b = self.inputs
        need = self.needs_grad
        if not _GradMode.enabled:  # not recording (no create_graph): the same products on the arrays
            gd = g.data
            return (const(_mm(gd, np.swapaxes(b.data, -1, -2))) if need[0] else None,
                    const(_mm(np.swapaxes(a.data, -1, -2), gd)) if need[1] else None)
        ga = g @ b.transpose(-1, -2) if need[0] else None
        gb = a.transpose(-1, -2) @ g if need[1] else None
        return ga, gb


class Linear(Function):
    """y = x W^T + b for x of shape (N, in), W (out, in), b (out,):
    dL/dx = G W, dL/dW = G^T x, dL/db = sum_n G (the bias is added to every row)"""

    def forward(self, x, w, b=None):
        y = _mm(x, w.T)
        if b is not None:
            y += b
        return y

    def backward(self, out, g):
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_grad
        bias = len(self.inputs) == 3
        if not _GradMode.enabled:  # not recording (no create_graph): the same products on the arrays
            gd = g.data
            gx = const(_mm(gd, w.data)) if need[0] else None
            gw = const(_mm(gd.T, x.data)) if need[1] else None
            gb = const(gd.sum(axis=0)) if bias and need[2] else None
        else:
            gx = g @ w if need[0] else None
            gw = g.T @ x if need[1] else None
            gb = g.sum(axis=0) if bias and need[2] else None
        return (gx, gw, gb) if bias else (gx, gw)


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with numpy's rules (1-D operands are promoted, leading axes broadcast)."""
    a = lift(a, b if isinstance(b, Tensor) else None)
    b = lift(b, a)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} do not fit: expected the last axis of the first "
            f"({a.shape[-1]}) to equal the {'second-to-last' if b.ndim > 1 else 'only'} axis of the second"
        )
    if a.ndim == 1 and b.ndim == 1:
        return (a * b).sum()
    if a.ndim == 1:
        return MatMul.apply(a.reshape(1, -1), b).squeeze(-2)
    if b.ndim == 1:
        return MatMul.apply(a, b.reshape(-1, 1)).squeeze(-1)
    try:
        return MatMul.apply(a, b)
    except ValueError:
        raise ValueError(f"matmul: batch axes of shapes {a.shape} and {b.shape} do not broadcast") from None


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` as one fused node (x of shape (N, in) or (in,))."""
    x = lift(x)
    weight = lift(weight, x)
    if bias is not None:
        bias = lift(bias, x)
        if weight.ndim == 2 and bias.shape != (weight.shape[0],):
            raise ValueError(
                f"linear: bias of shape {bias.shape} does not fit weight of shape {weight.shape}; "
                f"expected ({weight.shape[0]},)"
            )
    if x.ndim != 2 or weight.ndim != 2 or x.shape[1] != weight.shape[1]:
        if x.ndim >= 1 and weight.ndim == 2 and x.shape[-1] == weight.shape[1]:
            y = x @ weight.T
            return y + bias if bias is not None else y
        raise ValueError(
            f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape}; "
            f"expected (..., {weight.shape[1] if weight.ndim == 2 else 'in'})"
        )
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)
