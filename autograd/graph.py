"""The graph core shared by :class:`~autograd.Value` and :class:`~autograd.Tensor`.

Every node of a computation graph, scalar or array, exposes the same three
things to this module:

``_prev``
    a tuple of the nodes it was computed from (empty for a leaf), in the order
    the operation received them;
``_backward``
    a function ``f(node, g) -> tuple`` that turns the gradient ``g`` of the
    loss with respect to ``node`` into one gradient per parent (the local
    chain rule: ``dL/dparent = dL/dnode * dnode/dparent``), ``None`` meaning
    "no gradient flows to this parent";
``grad``
    where a leaf accumulates its gradient.

:func:`toposort` orders the nodes reachable from a root so that every node
comes after its parents, and :func:`run_backward` walks that order backwards
once, applying the chain rule.  Both are iterative (no recursion), so graphs a
million nodes deep are fine.  There is no other backward loop in the project.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "toposort",
    "run_backward",
]

class _GradMode:
    enabled = True


def is_grad_enabled() -> bool:
    """True when operations record the graph (the default)."""
    return _GradMode.enabled


class set_grad_enabled:
    """Turn graph recording on or off; a context manager and a decorator."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self.prev = _GradMode.enabled
        _GradMode.enabled = self.mode

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        _GradMode.enabled = self.prev

    def __call__(self, fn: Callable) -> Callable:
        mode = self.mode
        _GradMode.enabled = self.prev  # the decorator form must not flip the mode now

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = _GradMode.enabled
            _GradMode.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _GradMode.enabled = prev

        return wrapper


class _ModeContext:
    """Base for ``no_grad``/``enable_grad``: usable as ``with`` and as ``@``."""

    mode = True

    def __enter__(self) -> None:
        self.prev = _GradMode.enabled
        _GradMode.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _GradMode.enabled = self.prev

    def __call__(self, fn: Callable) -> Callable:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = _GradMode.enabled
            _GradMode.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _GradMode.enabled = prev

        return wrapper


class no_grad(_ModeContext):
    """Record no graph inside the block (or the decorated function).

    Results computed under ``no_grad`` are leaves: they have no parents and
    nothing flows back through them.  Use it for evaluation and for optimizer
    updates.
    """

    mode = False


class enable_grad(_ModeContext):
    """Record the graph again inside a ``no_grad`` block."""

    mode = True


def toposort(root: Any) -> list:
    """Nodes reachable from ``root`` through ``_prev``, parents before children.

    Iterative depth-first post-order with an explicit stack; parents are
    visited in the order stored in ``_prev`` so the result is deterministic.
    Nodes whose ``requires_grad`` is false (constants of the Tensor engine)
    are not entered.
    """
    order: list = []
    seen = {id(root)}
    # Each stack entry is (node, iterator over its parents).
    stack = [(root, iter(root._prev))]
    push = stack.append
    while stack:
        node, parents = stack[-1]
        for p in parents:
            if id(p) not in seen and p.requires_grad:
                seen.add(id(p))
                push((p, iter(p._prev)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def run_backward(
    roots: Sequence[Any],
    grads: Sequence[Any],
    *,
    retain_graph: bool = False,
    inputs: Iterable[Any] | None = None,
    accumulate: bool = True,
) -> dict[int, Any]:
    """Apply the chain rule from ``roots`` (seeded with ``grads``) to the leaves.

    With ``accumulate`` the gradient reaching each leaf is added to its
    ``grad``; nodes whose class (or instance) sets ``_retain_grad`` also keep the
    gradient they received in ``grad``.  With ``inputs`` the gradients reaching
    those nodes are returned in a dict keyed by ``id`` (used by
    :func:`autograd.grad`).  Unless ``retain_graph`` the saved state of every
    visited operation is released (``_release``) once it has been used.
    """
    # One sort over all roots: a virtual root whose parents are the real ones.
    class _Root:
        __slots__ = ()
        requires_grad = True
        _prev = tuple(roots)

    order = toposort(_Root())
    order.pop()  # the virtual root itself
    want = {id(x) for x in inputs} if inputs is not None else None
    pending: dict[int, Any] = {}
    for r, g in zip(roots, grads):
        k = id(r)
        pending[k] = g if k not in pending else pending[k] + g
    found: dict[int, Any] = {}
    pop = pending.pop
    for node in reversed(order):
        g = pop(id(node), None)
        if g is None:
            continue
        if want is not None and id(node) in want:
            found[id(node)] = g
        parents = node._prev
        if parents:
            if node._retain_grad and accumulate:
                node.grad = g
            pgrads = node._backward(node, g)
            for p, pg in zip(parents, pgrads):
                if pg is None or not p.requires_grad:
                    continue
                k = id(p)
                if k in pending:
                    pending[k] = pending[k] + pg
                else:
                    pending[k] = pg
            if not retain_graph:
                node._release()
        elif accumulate:
            node._accumulate(g)
    return found
