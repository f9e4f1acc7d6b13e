"""``Flatten``: merge axes start_dim..end_dim (from axis 1 by default, keeping the batch axis)."""

from __future__ import annotations

from autograd import Tensor

from .. import functional as F
from ..module import Module

__all__ = ["Flatten"]


class Flatten(Module):
    """(N, C, H, W) -> (N, C H W) by default (``start_dim=1``), as ``torch.nn.Flatten``."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
