"""Loss modules (``torch.nn`` names); each calls the matching function in :mod:`nn.functional`.

Every loss takes ``reduction='mean'|'sum'|'none'``: average, total, or one value per element/sample.
"""

from __future__ import annotations

from typing import Any

from autograd import Tensor

from . import functional as F
from .module import Module

__all__ = ["L1Loss", "MSELoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss"]


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class L1Loss(_Loss):
    """|o - y| (mean absolute error with ``'mean'``)."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


class MSELoss(_Loss):
    """(o - y)^2, averaged over *all elements* with ``'mean'``.

    Relation to the lecture's L2 loss ``1/2 ||o - y||^2`` (per sample, gradient ``o - y``):
    it equals ``MSELoss(reduction='sum')(o, y) / 2``. ``'mean'`` divides the sum of squares by the
    number of elements n (batch size times outputs), so its gradient is ``2/n (o - y)``: the same
    direction, scaled by 2/n (fold that into the learning rate when comparing with the notes).
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class _WeightedLoss(_Loss):
    """A loss with PyTorch's per-class ``weight`` (first argument, as in ``torch.nn``), kept as a buffer."""

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        name = type(self).__name__
        if isinstance(weight, str):
            raise TypeError(
                f"{name}: the first argument is the per-class weight (as in PyTorch), got the string "
                f"{weight!r}; pass the reduction by name: {name}(reduction={weight!r})"
            )
        super().__init__(reduction)
        F._weight_vector(weight, None, None, name)  # 1-D and real, said now (the class count comes with the input)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits (N, C) and integer classes (N,): ``NLLLoss(log_softmax(x))``, stable.

    Apply it to raw scores (no softmax layer before it). ``label_smoothing`` eps uses the target
    distribution (1 - eps) onehot + eps / C; rows with target ``ignore_index`` are skipped.
    ``weight`` (C,) gives row i the loss ``-sum_c w_c q_ic log_softmax(x)_ic`` and makes ``'mean'``
    divide by ``sum_i w[y_i]`` over the rows not ignored (see :func:`nn.functional.cross_entropy`).
    """

    def __init__(self, weight: Any = None, reduction: str = "mean", label_smoothing: float = 0.0,
                 ignore_index: int = -100) -> None:
        super().__init__(weight, reduction)
        self.label_smoothing = label_smoothing
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.cross_entropy(input, target, self.reduction, self.label_smoothing, self.ignore_index,
                               weight=self.weight)


class NLLLoss(_WeightedLoss):
    """-log_probs[i, y_i]: put ``LogSoftmax`` before it (together they are ``CrossEntropyLoss``).

    With ``weight`` (C,) row i's loss is ``-w[y_i] log_probs[i, y_i]`` and ``'mean'`` divides by
    ``sum_i w[y_i]`` over the rows whose target is not ``ignore_index``.
    """

    def __init__(self, weight: Any = None, reduction: str = "mean", ignore_index: int = -100) -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.nll_loss(input, target, self.reduction, self.ignore_index, weight=self.weight)


class BCELoss(_Loss):
    """-(y log p + (1 - y) log(1 - p)) for probabilities p (after a sigmoid); logs clamped at -100."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """``BCELoss(sigmoid(x), y)`` computed stably from logits x; ``pos_weight`` weighs positives (a buffer,
    so it is saved in ``state_dict`` and converted by ``.to()``/``.double()`` with the module)."""

    def __init__(self, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(reduction)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.reduction, self.pos_weight)
