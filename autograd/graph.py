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
    where a leaf accumulates its gradient;
``_gacc``
    a spare slot, ``None`` outside a backward pass: :func:`run_backward`
    sums the gradient waiting at a node there (no dictionaries, no ``id``);
``requires_grad``, ``_retain_grad``, ``_accumulate(g)``, ``_release()``
    see :func:`run_backward`.

A node class may also set ``_parent_slots = True`` (the scalar ``Value``
does): its parents are then kept in two slots ``_a`` and ``_b`` (``None``
when absent) and ``_prev`` is derived from them, which saves one tuple (one
object for the garbage collector) per node.  The core reads those slots
directly on its fast path (:func:`_toposort_slots`, :func:`_backward_slots`);
every other node, e.g. the ``Tensor``, goes through ``_prev``.

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

    Iterative depth-first post-order with an explicit stack of nodes (no
    recursion, no per-node allocation): the node on top of the stack looks
    through its parents for the first one not yet seen and pushes it; when
    none is left the node is finished and appended.  Parents are visited in
    the order stored in ``_prev``, so the result is deterministic.  Nodes go
    into a set directly (identity hash).  Parents whose ``requires_grad`` is
    false (constants of the Tensor engine) are not entered.
    """
    if getattr(type(root), "_parent_slots", False):
        return _toposort_slots(root)
    order: list = []
    emit = order.append
    seen = {root}
    mark = seen.add
    stack = [root]
    parents = [root._prev]  # each stacked node's parents, read once
    while stack:
        for p in parents[-1]:
            if p not in seen:
                mark(p)
                if p.requires_grad:
                    stack.append(p)
                    parents.append(p._prev)
                    break
        else:
            parents.pop()
            emit(stack.pop())
    return order


def _toposort_slots(root: Any) -> list:
    """:func:`toposort` for nodes that keep at most two parents in slots ``_a``, ``_b``.

    Same order as the general version; reading two slots instead of building
    a ``_prev`` tuple is what makes the scalar engine fast.
    """
    order: list = []
    emit = order.append
    seen = {root}
    mark = seen.add
    stack = [root]
    push = stack.append
    pop = stack.pop
    while stack:
        node = stack[-1]
        p = node._a
        if p is not None and p not in seen:
            mark(p)
            push(p)
            continue
        p = node._b
        if p is not None and p not in seen:
            mark(p)
            push(p)
            continue
        pop()
        emit(node)
    return order


class _Root:
    """A virtual node whose parents are the roots of a backward pass."""

    __slots__ = ("_prev",)
    requires_grad = True

    def __init__(self, roots: tuple) -> None:
        self._prev = roots


def run_backward(
    roots: Sequence[Any],
    grads: Sequence[Any],
    *,
    retain_graph: bool = False,
    inputs: Iterable[Any] | None = None,
    accumulate: bool = True,
) -> dict[int, Any]:
    """Apply the chain rule from ``roots`` (seeded with ``grads``) to the leaves.

    One reverse walk over :func:`toposort`'s order.  The gradient waiting to
    be passed on by a node is summed in the node's ``_gacc`` slot (``None``
    when nothing has arrived; reset to ``None`` as the node is processed, and
    on error), so fan-in sums without any dictionary.

    With ``accumulate`` the gradient reaching each leaf is added to its
    ``grad`` (``_accumulate``); nodes whose class (or instance) sets
    ``_retain_grad`` also keep the gradient they received in ``grad``
    (overwritten, never accumulated across calls).  With ``inputs`` the
    gradients reaching those nodes are returned in a dict keyed by ``id``
    (used by :func:`autograd.grad`); ``accumulate=False`` leaves every
    ``grad`` untouched.  Unless ``retain_graph`` the saved state of every
    visited operation is released (``_release``) once it has been used.
    """
    roots = tuple(roots)
    if (
        len(roots) == 1
        and inputs is None
        and retain_graph
        and grads[0] is not None
        and getattr(type(roots[0]), "_parent_slots", False)
    ):
        roots[0]._gacc = grads[0]
        _backward_slots(roots[0], accumulate)
        return {}
    if len(roots) == 1:
        order = toposort(roots[0])
    else:
        order = toposort(_Root(roots))
        order.pop()  # the virtual root itself
    want = {id(x) for x in inputs} if inputs is not None else None
    found: dict[int, Any] = {}
    for r, g in zip(roots, grads):
        if g is None:
            continue
        a = r._gacc
        r._gacc = g if a is None else a + g
    try:
        for node in reversed(order):
            g = node._gacc
            if g is None:
                continue
            node._gacc = None
            if want is not None and id(node) in want:
                found[id(node)] = g
            parents = node._prev
            if parents:
                if accumulate and node._retain_grad:
                    node.grad = g
                pgrads = node._backward(node, g)
                i = 0
                for p in parents:
                    q = pgrads[i]
                    i += 1
                    if q is not None and p.requires_grad:
                        a = p._gacc
                        p._gacc = q if a is None else a + q
                if not retain_graph:
                    node._release()
            elif accumulate:
                node._accumulate(g)
    except BaseException:
        for node in order:  # leave no pending gradient behind
            node._gacc = None
        raise
    return found


def _backward_slots(root: Any, accumulate: bool) -> None:
    """The whole of :func:`run_backward` for one root whose nodes keep parents in ``_a``/``_b``.

    The scalar engine's hot path (same rule, same order, fewer Python steps):

    1. depth-first post-order as in :func:`toposort`, but a node is marked as
       seen by setting its pending gradient ``_gacc`` to ``0.0`` instead of
       entering a set (the root already holds its seed);
    2. the reverse walk then adds every parent's share with a plain ``+=``
       (``_backward`` of such nodes returns numbers, never ``None``) and
       resets ``_gacc`` to ``None``.
    """
    order: list = []
    emit = order.append
    stack = [root]
    push = stack.append
    pop = stack.pop
    try:
        while stack:
            node = stack[-1]
            p = node._a
            if p is not None and p._gacc is None:
                p._gacc = 0.0
                push(p)
                continue
            p = node._b
            if p is not None and p._gacc is None:
                p._gacc = 0.0
                push(p)
                continue
            pop()
            emit(node)
        retain = accumulate and root._retain_grad
        for node in reversed(order):
            g = node._gacc
            node._gacc = None
            a = node._a
            if a is None:
                if accumulate:
                    node._accumulate(g)
                continue
            if retain:
                node.grad = g
            pg = node._backward(node, g)
            a._gacc += pg[0]
            b = node._b
            if b is not None:
                b._gacc += pg[1]
    except BaseException:
        for node in order:  # leave no pending gradient behind
            node._gacc = None
        for node in stack:
            node._gacc = None
        raise
