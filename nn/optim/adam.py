"""Adam and AdamW (PyTorch's update rules, including the bias corrections and where ``eps`` goes)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False)``.

    At step ``t`` (from 1), for each parameter ``w`` with gradient ``g``, exactly as ``torch.optim.Adam``::

        g = g + weight_decay * w                    # L2 penalty folded into the gradient (Adam), if any
        m = beta1 * m + (1 - beta1) * g             # first moment (running mean of g)
        v = beta2 * v + (1 - beta2) * g * g         # second moment (running mean of g^2)
        m_hat = m / (1 - beta1 ** t)                # bias corrections: m, v start at 0
        v_hat = v / (1 - beta2 ** t)
        w = w - lr * m_hat / (sqrt(v_hat) + eps)

    (computed as ``w -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``, as PyTorch does).
    With ``amsgrad`` the running maximum of ``v`` replaces ``v`` in the denominator.
    """

    decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameters: {betas}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if group["maximize"]:
            g = -g
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(w)
            state["exp_avg_sq"] = np.zeros_like(w)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(w)
        if wd != 0:
            if self.decoupled:
                w *= 1 - lr * wd  # AdamW: shrink the weights directly
            else:
                g = g + wd * w  # Adam: L2 penalty in the gradient (a new array)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (g - m)  # = beta1 * m + (1 - beta1) * g  (PyTorch's lerp)
        v *= beta2
        v += (1 - beta2) * (g * g)
        if group["amsgrad"]:
            vmax = state["max_exp_avg_sq"]
            np.maximum(vmax, v, out=vmax)
            v = vmax
        step_size = lr / (1 - beta1 ** t)
        denom = np.sqrt(v)
        denom /= math.sqrt(1 - beta2 ** t)
        denom += eps
        upd = m / denom
        upd *= step_size
        w -= upd


class AdamW(Adam):
    r"""``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False)``.

    Adam with *decoupled* weight decay (Loshchilov & Hutter): before the Adam step the weights shrink,
    ``w = w * (1 - lr * weight_decay)``, instead of adding ``weight_decay * w`` to the gradient.
    """

    decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
