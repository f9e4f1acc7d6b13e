"""Ready-made models: ``LeNet5`` (LeCun et al. 1998, with ReLU and max pooling) and ``MLP``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import autograd
from autograd import Tensor

from . import functional as F
from .layers import (
    BatchNorm1d,
    Conv2d,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Step,
    Tanh,
)
from .module import Module, Sequential
from .train import predict

__all__ = ["LeNet5", "MLP"]


class _Classifier:
    def predict_proba(self, x: Any, batch_size: int = 256) -> Tensor:
        """Class probabilities: softmax of the logits of :func:`nn.train.predict` (eval mode, no graph)."""
        with autograd.no_grad():
            return F.softmax(Tensor(predict(self, x, batch_size)), dim=-1)

    def predict(self, x: Any, batch_size: int = 256) -> Any:
        """Predicted classes (numpy int array): argmax of the logits of :func:`nn.train.predict` (eval mode, no
        graph)."""
        return predict(self, x, batch_size).argmax(axis=-1)


class LeNet5(_Classifier, Module):
    """LeNet-5 for 1 x 32 x 32 images, returning logits (apply ``CrossEntropyLoss`` or ``predict_proba``).

    ====== ======================== ============== =======
    name   layer                    output         params
    ====== ======================== ============== =======
    c1     Conv2d(1, 6, 5) + ReLU   6 x 28 x 28        156
    s2     MaxPool2d(2)             6 x 14 x 14          0
    c3     Conv2d(6, 16, 5) + ReLU  16 x 10 x 10     2,416
    s4     MaxPool2d(2)             16 x 5 x 5           0
    c5     Conv2d(16, 120, 5) + ReLU 120 x 1 x 1    48,120
    flatten Flatten                 120                  0
    f6     Linear(120, 84) + ReLU   84              10,164
    output Linear(84, num_classes)  num_classes        850
    ====== ======================== ============== =======

    Total 61,706 parameters for 10 classes; ``state_dict`` keys are ``c1.weight, c1.bias, c3.weight, ...,
    output.bias``. A 1 x 28 x 28 MNIST image is zero-padded by 2 pixels on each side inside ``forward``
    (so 28 x 28 and 32 x 32 inputs both work). The original used tanh-like squashing, trainable
    subsampling and a partially connected C3; this is the common modern variant.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.c1 = Conv2d(1, 6, 5)
        self.s2 = MaxPool2d(2)
        self.c3 = Conv2d(6, 16, 5)
        self.s4 = MaxPool2d(2)
        self.c5 = Conv2d(16, 120, 5)
        self.flatten = Flatten()
        self.f6 = Linear(120, 84)
        self.output = Linear(84, num_classes)

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim == 3:  # (N, 28, 28) or (N, 32, 32): add the channel axis
            x = x.reshape(x.shape[0], 1, *x.shape[1:])
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[2:] not in ((28, 28), (32, 32)):
            raise ValueError(f"LeNet5: expected input of shape (N, 1, 32, 32) or (N, 1, 28, 28), got {x.shape}")
        if x.shape[2:] == (28, 28):
            x = F.pad(x, (2, 2, 2, 2))
        x = self.s2(F.relu(self.c1(x)))
        x = self.s4(F.relu(self.c3(x)))
        x = self.flatten(F.relu(self.c5(x)))
        x = F.relu(self.f6(x))
        return self.output(x)


_ACTIVATIONS: dict[str, Callable[[], Module]] = {
    "relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "step": Step, "leaky_relu": LeakyReLU,
    "identity": Identity, "linear": Identity,
}


class MLP(_Classifier, Sequential):
    """A multilayer perceptron: Flatten, then Linear layers of the given ``sizes`` with activations between.

    ``MLP([784, 256, 128, 10])`` = Flatten, Linear(784, 256), ReLU, Linear(256, 128), ReLU, Linear(128, 10).
    Each hidden block is Linear [, BatchNorm1d] , activation [, Dropout]; the last Linear produces
    logits. It is a ``Sequential`` (``mlp[1]`` is the first Linear, keys ``1.weight``, ...), so its
    ``state_dict`` matches ``torch.nn.Sequential`` built from the same layers. ``activation`` is a
    name (relu, tanh, sigmoid, step, leaky_relu, identity) or a Module class/factory.
    (``nn.scalar.MLP`` is the scalar, one-``Value``-at-a-time MLP of the first lectures.)
    """

    def __init__(self, sizes: Sequence[int], activation: str | Callable[[], Module] = "relu", dropout: float = 0.0,
                 batch_norm: bool = False) -> None:
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least an input and an output size, got {list(sizes)}")
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise ValueError(f"MLP: unknown activation {activation!r}; expected one of {sorted(_ACTIVATIONS)}")
            act = _ACTIVATIONS[activation]
        else:
            act = activation
        layers: list[Module] = [Flatten()]
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out))
            if i < len(sizes) - 2:
                if batch_norm:
                    layers.append(BatchNorm1d(n_out))
                layers.append(act())
                if dropout:
                    layers.append(Dropout(dropout))
        super().__init__(*layers)
        self.sizes = list(sizes)
