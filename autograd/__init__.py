"""chainrule's automatic differentiation engine.

One graph core (:mod:`autograd.graph`) runs backpropagation for both the
scalar :class:`Value` (for learning) and the numpy-backed :class:`Tensor`.
"""

from . import functional
from . import memory as _memory  # noqa: F401  (glibc malloc thresholds; see autograd/memory.py)
from .draw import draw
from .function import Function, detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .functional import grad
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .graph import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .ops import *  # noqa: F403
from .tensor import (
    Tensor,
    arange,
    eye,
    full,
    full_like,
    get_rng,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from .threads import get_num_threads, set_num_threads
from .value import Value
