"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay (PyTorch's rule)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, required

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""``SGD(params, lr, momentum=0, dampening=0, nesterov=False, weight_decay=0, maximize=False)``.

    For each parameter ``w`` with gradient ``g``, exactly as ``torch.optim.SGD``::

        g = g + weight_decay * w                      # if weight_decay != 0 (L2 penalty)
        if momentum != 0:
            b = g                                     # first step
            b = momentum * b + (1 - dampening) * g    # later steps
            g = g + momentum * b if nesterov else b
        w = w - lr * g

    Plain SGD (``momentum=0``) on scalar ``Value`` parameters is just ``p.data -= lr * p.grad``.
    """

    def __init__(self, params: Iterable[Any], lr: float = required, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, maximize: bool = False) -> None:
        if lr is not required and lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                                      weight_decay=weight_decay, maximize=maximize))

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        if group["maximize"]:
            g = -g
        if wd != 0:
            g = g + wd * w  # a new array: the gradient itself is never modified
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=w.dtype, copy=True)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * g
            g = g + momentum * buf if group["nesterov"] else buf
        if g.dtype != w.dtype:
            g = g.astype(w.dtype)
        w -= lr * g

    def _update_scalar(self, p: Any, g: float, state: dict[str, Any], group: dict[str, Any]) -> None:
        if group["momentum"] == 0 and not group["maximize"]:
            p.data -= group["lr"] * (g + group["weight_decay"] * p.data)
        else:
            super()._update_scalar(p, g, state, group)
