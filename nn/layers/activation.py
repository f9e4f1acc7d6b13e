"""Activation layers: ``Step``, ``Sigmoid``, ``Tanh``, ``ReLU``, ``LeakyReLU``, ``Softmax``, ``LogSoftmax``."""

from __future__ import annotations

from autograd import Tensor

from .. import functional as F
from ..module import Module

__all__ = ["Step", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Softmax", "LogSoftmax"]


class Step(Module):
    """Heaviside step 1[x > 0] (the perceptron's activation); its gradient is 0, so nothing before it learns."""

    def forward(self, x: Tensor) -> Tensor:
        return F.step(x)


class Sigmoid(Module):
    """1 / (1 + e^-x), derivative s (1 - s)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """tanh x, derivative 1 - tanh^2 x."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class ReLU(Module):
    """max(x, 0), derivative 1[x > 0]."""

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope x."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softmax(Module):
    """e^x / sum e^x along ``dim`` (entries in [0, 1] summing to 1)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x - logsumexp(x) along ``dim`` (stable)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
