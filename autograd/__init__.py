"""chainrule's automatic differentiation engine.

One graph core (:mod:`autograd.graph`) runs backpropagation for both the
scalar :class:`Value` (for learning) and the numpy-backed :class:`Tensor`.
"""

from . import memory as _memory  # noqa: F401  (glibc malloc thresholds; see autograd/memory.py)
from .function import Function, detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .graph import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .ops import *  # noqa: F403
from .ops import __dict__ as _ops_dict
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

try:
    from .gradcheck import GradcheckError, gradcheck, gradgradcheck
except ImportError:  # pragma: no cover - while being written
    pass
try:
    from . import functional
    from .functional import grad
except ImportError:  # pragma: no cover
    pass
try:
    from .draw import draw
except ImportError:  # pragma: no cover
    pass

_OPS = [k for k in _ops_dict if not k.startswith("_") and callable(_ops_dict[k])]
