"""Convolution and pooling layers (``Conv2d``, ``MaxPool2d``, ``AvgPool2d``), as in ``torch.nn``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograd import Tensor
from autograd.ops.conv import _pair

from .. import functional as F
from .. import init
from ..module import Module, Parameter

__all__ = ["Conv2d", "MaxPool2d", "AvgPool2d"]


class Conv2d(Module):
    """2-D convolution of (N, C_in, H, W) inputs with a weight of shape (C_out, C_in, kH, kW).

    Output size per spatial axis: floor((H + 2 padding - kH) / stride) + 1.
    Initialised as PyTorch: weight and bias uniform on [-1/sqrt(fan_in), 1/sqrt(fan_in)], fan_in = C_in kH kW.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 bias: bool = True, dtype: Any = np.float32) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = _pair(stride, "stride", "Conv2d")
        self.padding = _pair(padding, "padding", "Conv2d")
        self.weight = Parameter(np.empty((out_channels, in_channels, *self.kernel_size), dtype))
        self.bias = Parameter(np.empty((out_channels,), dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"Conv2d: expected input of shape (N, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.bias is None:
            s += ", bias=False"
        return s


class _Pool2d(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Maximum over each kernel_size window (stride defaults to kernel_size); gradient to the max entry."""

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """Mean over each kernel_size window (stride defaults to kernel_size)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)
