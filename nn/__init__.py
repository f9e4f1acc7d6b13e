"""chainrule neural-network library, with ``torch.nn``'s names.

``nn.Module``, ``nn.Parameter``, ``nn.Sequential``, layers (``nn.Linear``, ``nn.Conv2d``, ...),
losses (``nn.CrossEntropyLoss``, ...), ``nn.functional`` (as ``F``), ``nn.init``, ``nn.models``
(``LeNet5``, ``MLP``), and the training tools ``nn.optim``, ``nn.data``, ``nn.datasets``,
``nn.utils``, ``nn.train``, ``nn.save``/``nn.load``. ``nn.scalar`` holds the scalar
(``autograd.Value``) neurons of the first lectures.
"""

from . import data, datasets, functional, init, layers, losses, models, optim, scalar, serialization, train, utils
from .layers import *
from .losses import *
from .models import MLP, LeNet5
from .module import Buffer, Module, ModuleDict, ModuleList, Parameter, Sequential
from .serialization import load, save

__all__ = [
    "Module", "Parameter", "Buffer", "Sequential", "ModuleList", "ModuleDict", "functional", "init", "models",
    "layers", "losses", "data", "datasets", "scalar", "optim", "utils", "serialization", "train", "save", "load",
    "LeNet5", "MLP",
    *layers.__all__, *losses.__all__,
]
