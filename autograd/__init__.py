"""chainrule's automatic differentiation engine."""
from .graph import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .value import Value

__all__ = ["Value", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]
