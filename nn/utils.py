"""Helpers for training: gradient clipping and parameter counting."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = ["clip_grad_norm_", "clip_grad_value_", "count_parameters", "parameters_to_vector",
           "vector_to_parameters", "record_layers"]


def _params_list(parameters: Any) -> list[Any]:
    if hasattr(parameters, "data") and hasattr(parameters, "grad"):
        return [parameters]
    return list(parameters)


def _set_grad(p: Any, g: np.ndarray | float) -> None:
    """Replace (never modify in place: gradients may be shared views) a parameter's gradient."""
    if isinstance(p.grad, float | int):
        p.grad = float(g)
    elif isinstance(p.grad, np.ndarray):
        p.grad = g
    else:
        from autograd import Tensor

        p.grad = Tensor._wrap(np.asarray(g))


def _grad_data(p: Any) -> Any:
    g = p.grad
    if isinstance(g, float | int | np.ndarray):
        return g
    return g.data


def clip_grad_norm_(parameters: Iterable[Any] | Any, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Rescale all gradients together so that their joint ``norm_type``-norm is at most ``max_norm``.

    The total norm is the norm of the vector of all gradient entries (``norm_type=inf``: the largest
    absolute entry).  If it exceeds ``max_norm`` every gradient is multiplied by
    ``max_norm / (total_norm + 1e-6)`` (PyTorch's rule).  Returns the total norm before clipping.
    Parameters without a gradient are ignored.  Gradients are replaced, not modified in place.
    """
    params = [p for p in _params_list(parameters) if p.grad is not None]
    norm_type = float(norm_type)
    if not params:
        return 0.0
    grads = [np.asarray(_grad_data(p)) for p in params]
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        norms = [float(np.sum(np.abs(g.astype(np.float64)) ** norm_type)) for g in grads]
        total = math.fsum(norms) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients is non-finite, so it cannot be "
                           "clipped. To disable this error, pass error_if_nonfinite=False")
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1.0:
        for p, g in zip(params, grads):
            _set_grad(p, g * np.asarray(coef, dtype=g.dtype) if g.ndim else g * coef)
    return total


def clip_grad_value_(parameters: Iterable[Any] | Any, clip_value: float) -> None:
    """Clip every gradient entry to ``[-clip_value, clip_value]`` (gradients are replaced, not modified)."""
    for p in _params_list(parameters):
        if p.grad is not None:
            g = np.asarray(_grad_data(p))
            _set_grad(p, np.clip(g, -clip_value, clip_value))


def count_parameters(parameters: Iterable[Any] | Any, trainable_only: bool = True) -> int:
    """Number of scalar parameters (``model.parameters()``), by default only those with ``requires_grad``."""
    total = 0
    for p in _params_list(parameters):
        if trainable_only and not getattr(p, "requires_grad", True):
            continue
        total += int(np.size(p.data))
    return total


def parameters_to_vector(parameters: Iterable[Any]) -> np.ndarray:
    """All parameters flattened into one 1-D array (a copy)."""
    return np.concatenate([np.ravel(np.asarray(p.data)) for p in _params_list(parameters)])


def vector_to_parameters(vec: np.ndarray, parameters: Iterable[Any]) -> None:
    """Copy the entries of ``vec`` back into the parameters (in place, keeping their dtypes)."""
    vec = np.asarray(vec)
    i = 0
    for p in _params_list(parameters):
        if isinstance(p.data, np.ndarray):
            n = p.data.size
            p.data[...] = vec[i:i + n].reshape(p.data.shape)
        else:
            n = 1
            p.data = float(vec[i])
        i += n
    if i != vec.size:
        raise ValueError(f"vector has {vec.size} entries, parameters have {i}")


@contextmanager
def record_layers(model: Any) -> Iterator[dict[int, str]]:
    """Within the ``with`` block, remember which layer of ``model`` computed each graph node.

    Yields a dict ``id(node) -> layer`` (``"<name> (<class>)"`` with PyTorch names, e.g. ``"c1 (Conv2d)"``) that fills
    up as the model runs forward: every node created inside a leaf module's ``forward`` (and the module's
    parameters) is assigned to that module.  Nodes made by the model's own ``forward`` between layers
    (e.g. a ``flatten``) are not in the dict.  Used to group a drawing by layer::

        with record_layers(model) as layer_of:
            loss = F.cross_entropy(model(x), y)
        autograd.draw(loss, group_by=lambda node: layer_of.get(id(node)))
    """
    layer_of: dict[int, str] = {}
    wrapped = []
    for name, m in model.named_modules():
        if not name or any(True for _ in m.children()):
            continue
        orig = m.forward

        def forward(*args: Any, _orig: Any = orig, _name: str = f"{name} ({type(m).__name__})", **kwargs: Any) -> Any:
            out = _orig(*args, **kwargs)
            stop = {id(a) for a in args}
            outs = out if isinstance(out, tuple | list) else (out,)
            stack = [o for o in outs if hasattr(o, "_prev")]
            while stack:
                node = stack.pop()
                if id(node) in stop or id(node) in layer_of:
                    continue
                layer_of[id(node)] = _name
                stack.extend(node._prev)
            return out

        m.__dict__["forward"] = forward
        wrapped.append(m)
    try:
        yield layer_of
    finally:
        for m in wrapped:
            m.__dict__.pop("forward", None)
