"""Optimizers and learning-rate schedules with PyTorch's names and update rules.

``opt = nn.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)``; each training step is
``opt.zero_grad(); loss.backward(); opt.step()``.  Parameters may be ``autograd.Tensor`` /
``nn.Parameter`` objects (updated in place on ``p.data``) or scalar ``autograd.Value`` objects.
"""

from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler"]
