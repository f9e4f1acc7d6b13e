"""Layers, named and initialised as in ``torch.nn``."""

from .activation import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Step, Tanh
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .dropout import Dropout
from .flatten import Flatten
from .linear import Identity, Linear
from .normalization import BatchNorm1d, BatchNorm2d

__all__ = [
    "Linear", "Identity", "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "Dropout", "BatchNorm1d", "BatchNorm2d",
    "Step", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Softmax", "LogSoftmax",
]
