"""Fully connected layers: ``Linear`` and ``Identity``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograd import Tensor

from .. import functional as F
from .. import init
from ..module import Module, Parameter

__all__ = ["Linear", "Identity"]


class Linear(Module):
    """y = x W^T + b with W of shape (out_features, in_features), as ``torch.nn.Linear``.

    Initialised as PyTorch: W and b uniform on [-1/sqrt(in_features), 1/sqrt(in_features)]
    (``kaiming_uniform_(W, a=sqrt(5))``), float32, from the library generator.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = np.float32) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype))
        self.bias = Parameter(np.empty((out_features,), dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input (a placeholder, e.g. to remove a layer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x
