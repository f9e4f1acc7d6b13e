"""Batch normalisation layers ``BatchNorm1d`` and ``BatchNorm2d``, with PyTorch's semantics.

Training: normalise each channel with the batch mean and *biased* variance, then scale by
``weight`` (gamma, init 1) and shift by ``bias`` (beta, init 0); update the running estimates
with the batch mean and the *unbiased* variance:
``running = (1 - momentum) running + momentum batch`` (``momentum=None``: cumulative average).
Eval: normalise with the running estimates. Buffers: ``running_mean``, ``running_var``,
``num_batches_tracked``. The training forward is one fused node (see ``F.batch_norm``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd import Tensor

from .. import functional as F
from ..module import Buffer, Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _BatchNorm(Module):
    _ndims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: Any = np.float32) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype))
            self.bias = Parameter(np.zeros(num_features, dtype))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", Buffer(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", Buffer(np.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", Buffer(np.zeros((), np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            self.weight.data[...] = 1
            self.bias.data[...] = 0

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}): expected input of shape "
                f"{' or '.join(self._shape_doc)} with C = {self.num_features}, got {tuple(x.shape)}"
            )
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias,
            training=self.training or self.running_mean is None, momentum=self.momentum, eps=self.eps,
            num_batches_tracked=self.num_batches_tracked,
        )

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) inputs (statistics over N, and L)."""

    _ndims = (2, 3)
    _shape_doc = ("(N, C)", "(N, C, L)")


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) inputs (statistics over N, H, W for each channel)."""

    _ndims = (4,)
    _shape_doc = ("(N, C, H, W)",)
