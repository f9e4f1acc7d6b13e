"""The graph core shared by :class:`~autograd.Value` and :class:`~autograd.Tensor`.

Every node of a computation graph, scalar or array, exposes the same small
protocol to this module:

``_a``, ``_b``, ``_rest``
    the nodes it was computed from, in the order the operation received
    them: the first and second parent (``None`` when absent) and a tuple of
    any further ones (almost always empty).  Most operations have one or two
    inputs, and keeping them in slots rather than a tuple halves the objects
    the garbage collector must track on a big scalar graph.  ``_prev`` gives
    them as one tuple, for people and drawings;
``_backward``
    a function ``f(node, g) -> sequence`` that turns the gradient ``g`` of the
    loss with respect to ``node`` into one gradient per parent (the local
    chain rule: ``dL/dparent = dL/dnode * dnode/dparent``), ``None`` meaning
    "no gradient flows to this parent"; ``None`` itself on a leaf.  It may
    carry an attribute ``on_way``: ``f.on_way(node, g, on_way)`` does the same
    but may give ``None`` for the parents whose bool in ``on_way`` (one per
    parent) is false, whose gradients nobody wants (see :func:`run_backward`'s
    ``prune``);
``grad``
    where a leaf accumulates its gradient;
``_gacc``
    ``None`` outside a backward pass: :func:`toposort` marks reached nodes
    there and :func:`run_backward` sums the gradient waiting at a node there
    (no sets, no dictionaries, no ``id``);
``requires_grad``, ``_retain_grad``, ``_accumulate(g)``, ``_release()``
    see :func:`run_backward`.

:func:`toposort` orders the nodes reachable from a root so that every node
comes after its parents, and :func:`run_backward` walks that order backwards
once, applying the chain rule.  Both are iterative (no recursion), so graphs a
million nodes deep are fine.  There is no other backward loop in the project.
"""

from __future__ import annotations

import functools
import inspect
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


class _Mode:
    """Whether operations record the graph; one instance, ``_GradMode``.

    An instance slot rather than a class attribute: every operation reads
    ``_GradMode.enabled``, and a slot read is the cheaper one.
    """

    __slots__ = ("enabled",)

    def __init__(self) -> None:
        self.enabled = True


_GradMode = _Mode()


def is_grad_enabled() -> bool:
    """True when operations record the graph (the default)."""
    return _GradMode.enabled


class _ModeContext:
    """Base of the on/off switches (grad mode here, anomaly detection in :mod:`autograd.function`).

    A subclass names the switch (``state``: an object with a bool
    ``enabled``) and the value it sets (``mode``).  An instance works as
    ``with``, restoring the previous value at exit, and as a decorator, which
    sets the mode during each call only and restores it afterwards (also on
    error, and correctly under recursion).
    """

    state: Any = _GradMode
    mode = True

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # ``@no_grad`` without parentheses (a switch that takes no argument, given the function itself)
        if len(args) == 1 and not kwargs and callable(args[0]) and cls.__init__ is object.__init__:
            return cls()(args[0])
        return super().__new__(cls)

    def __enter__(self) -> None:
        self.prev = self.state.enabled
        self.state.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        self.state.enabled = self.prev

    def __call__(self, fn: Callable) -> Callable:
        state, mode = self.state, self.mode
        if inspect.isgeneratorfunction(fn):
            return _generator_in_mode(fn, state, mode)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = state.enabled
            state.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                state.enabled = prev

        return wrapper


def _generator_in_mode(fn: Callable, state: Any, mode: bool) -> Callable:
    """A generator function whose body runs in ``mode`` each time it is resumed (and the caller's mode
    between its yields), as PyTorch's decorators do; values sent and exceptions thrown in are passed on."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        gen = fn(*args, **kwargs)
        resume, value = gen.send, None
        while True:
            prev = state.enabled
            state.enabled = mode
            try:
                item = resume(value)
            except StopIteration as stop:
                return stop.value
            finally:
                state.enabled = prev
            try:
                value = yield item
                resume = gen.send
            except GeneratorExit:
                gen.close()
                raise
            except BaseException as e:  # thrown in by the caller: into the body, in mode
                resume, value = gen.throw, e

    return wrapper


class _SetMode(_ModeContext):
    """A switch given its value, as ``set_grad_enabled(mode)``.

    It takes effect at once when called (PyTorch's function form), lasts until
    the ``with`` block ends, or, used as ``@``, applies only during each call.
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self.prev = self.state.enabled
        self.state.enabled = self.mode

    def __enter__(self) -> None:
        return None  # already switched by __init__

    def __call__(self, fn: Callable) -> Callable:
        self.state.enabled = self.prev  # the decorator form must not flip the mode now
        return super().__call__(fn)


class set_grad_enabled(_SetMode):
    """Turn graph recording on or off: at once when called, until the ``with`` block ends, or inside ``@``."""


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


class _Unset:
    """Marks a node as reached by the current backward pass, with no gradient yet."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<reached>"


_REACHED = _Unset()

SUM_RETAINED = "sum"  # a node's _retain_grad asking for its gradients to be summed across passes (Tensor)


_ENTERED = _Unset()  # toposort's mark of a node whose parents are being finished (it is in the stack)


def toposort(root: Any, *, constants: bool = False, keep_marks: bool = False) -> list:
    """Nodes reachable from ``root`` through their parents, parents before children.

    Iterative depth-first post-order with an explicit stack (no recursion, no
    per-node allocation).  A node popped for the first time is marked as
    entered and put back, with its parents not entered yet on top, so they
    are finished before it comes back to the top; then it is marked as
    reached (finished) and appended.  A node can sit in the stack more than
    once (pushed by two children before it is entered); a copy popped after
    the node was finished is skipped (in a DAG no copy can come back while the
    node is entered: that would need a path from it to itself).  Parents are
    visited in the order the operation received them (``_a``, ``_b``, then
    ``_rest``), so the result is deterministic.  Parents whose
    ``requires_grad`` is false (constants of the Tensor engine) are not
    entered.

    The marks live in each node's ``_gacc`` slot (cheaper than a set on
    graphs of a million scalars): ``None`` not entered, then an "entered"
    sentinel, then the "reached" one.  They are cleared before returning
    unless ``keep_marks`` (used by :func:`run_backward`, which then sums
    gradients into those slots, starting from "reached"); with ``keep_marks``
    an operation whose graph was released raises the "backward a second time"
    error here, before the pass has moved any gradient.
    """
    reached = _REACHED
    entered = _ENTERED
    order: list = []
    stack = [root]
    # (stack.append / order.append written out, not bound to locals: Python 3.11+ specialises
    # list.append and list.pop calls, which a bound method in a local variable defeats)
    try:
        while stack:
            node = stack.pop()
            mark = node._gacc
            if mark is not None:
                if mark is entered:  # back on top: its parents are finished, so is it
                    node._gacc = reached
                    order.append(node)
                continue  # (else a copy of a node finished meanwhile, through another child)
            node._gacc = entered
            stack.append(node)
            a = node._a
            if a is not None:
                b = node._b
                if b is not None:
                    rest = node._rest
                    if rest:
                        for p in reversed(rest):
                            if p._gacc is None and (p.requires_grad or constants):
                                stack.append(p)
                    if b._gacc is None and (b.requires_grad or constants):
                        stack.append(b)
                if a._gacc is None and (a.requires_grad or constants):
                    stack.append(a)
            elif keep_marks and node._backward is not None:
                # an operation released by an earlier pass: refused before any gradient reaches a leaf
                raise RuntimeError(_FREED_MSG)
    except BaseException:
        _clear(order)
        _clear(stack)
        raise
    if not keep_marks:
        _clear(order)
    return order


def _to_run(order: list, want: set[int]) -> dict[int, tuple | None]:
    """The nodes of ``order`` (parents first) whose backward a pass wanting ``want`` must run.

    A node must run when a parent is on the way: wanted, or with a wanted node
    behind it (``behind`` grows along ``order``, so a parent is settled before
    its children).  The result maps the id of each such node to ``None`` when
    every parent that requires grad is on the way, else to one bool per
    parent (``_a``, ``_b``, then ``_rest``), true for those on the way: the
    others get a gradient nobody wants.
    """
    behind = set(want)  # ids of the wanted nodes and of the nodes with one behind them
    run: dict[int, tuple | None] = {}
    for node in order:
        a = node._a
        if a is None:
            continue
        b = node._b
        if b is None:  # one parent: on the way or not
            if id(a) in behind:
                run[id(node)] = None
                behind.add(id(node))
            continue
        parents = (a, b, *node._rest) if node._rest else (a, b)
        on_way = tuple([id(p) in behind for p in parents])
        if True in on_way:
            off = any([p.requires_grad and not w for p, w in zip(parents, on_way)])
            run[id(node)] = on_way if off else None
            behind.add(id(node))
    return run


def _clear(nodes: Iterable[Any]) -> None:
    for node in nodes:
        node._gacc = None


class _Root:
    """A virtual node whose parents are the roots of a backward pass."""

    __slots__ = ("_a", "_b", "_rest", "_gacc")
    requires_grad = True

    def __init__(self, roots: tuple) -> None:
        self._a, self._b, self._rest = roots[0], (roots[1] if len(roots) > 1 else None), roots[2:]
        self._gacc = None


def run_backward(
    roots: Sequence[Any],
    grads: Sequence[Any],
    *,
    retain_graph: bool = False,
    inputs: Iterable[Any] | None = None,
    accumulate: bool = True,
    prune: bool = False,
) -> dict[int, Any] | None:
    """Apply the chain rule from ``roots`` (seeded with ``grads``) to the leaves.

    One reverse walk over :func:`toposort`'s order.  The gradient waiting to
    be passed on by a node is summed in the node's ``_gacc`` slot, so fan-in
    sums without any dictionary: ``dL/dparent += dL/dnode * dnode/dparent``
    for every edge.  A node's slot is reset to ``None`` as it is processed
    (and on error).

    With ``accumulate`` the gradient reaching each leaf is added to its
    ``grad`` (``_accumulate``); nodes whose class (or instance) sets
    ``_retain_grad`` also keep the gradient they received: ``True`` (a
    Value) puts this pass's gradient in ``grad``, :data:`SUM_RETAINED` (a
    Tensor's ``retain_grad()``) adds it with ``_accumulate``, as for a leaf.  With ``inputs`` the
    gradients reaching those nodes are returned in a dict keyed by ``id``
    (used by :func:`autograd.grad`; without ``inputs``, None is returned);
    with ``prune`` as well, only the nodes with one of them behind them run
    their backward: a branch that leads to
    none of them (say, one computed from the weights alone when the gradient
    of an input is asked for) is skipped, and a node on the way with a parent
    that leads to none of them (a weight, say) runs ``_backward.on_way`` when
    its ``_backward`` has one, which need not make that parent's gradient
    (``dL/dparent`` reaches nobody; a Tensor op skips it: ``grad(loss, x)``
    makes no weight gradient).  Pruning is worth it where a backward costs
    more than a set lookup, i.e. for arrays.  ``accumulate=False`` leaves every
    ``grad`` untouched.  Unless ``retain_graph`` the saved state of every
    visited operation is released (``_release``) once it has been used (in a
    pruned pass, also that of the skipped nodes and of those no gradient
    reached), and reaching a released node again is an error.
    """
    roots = tuple(roots)
    if len(roots) == 1:
        order = toposort(roots[0], keep_marks=True)
    else:
        order = toposort(_Root(roots), keep_marks=True)
        order.pop()._gacc = None  # the virtual root itself
    reached = _REACHED
    want = {id(x) for x in inputs} if inputs is not None else None
    needed = _to_run(order, want) if want is not None and prune else None
    found: dict[int, Any] | None = {} if want is not None else None
    try:
        for r, g in zip(roots, grads):
            if g is not None:
                a = r._gacc
                r._gacc = g if a is reached else a + g
        for node in reversed(order):
            g = node._gacc
            node._gacc = None
            if g is reached:  # nothing flowed here
                if needed is not None and not retain_graph and node._a is not None:
                    node._release()  # (a skipped branch, or a parent off the way whose gradient was not made)
                continue
            a = node._a
            f = node._backward  # a slot read (calling node._backward(...) directly is a slower method lookup)
            if want is not None:
                if id(node) in want:
                    found[id(node)] = g
                if needed is not None and a is not None:
                    if id(node) not in needed:  # nothing wanted behind
                        if not retain_graph:
                            node._release()
                        continue
                    on_way = needed[id(node)]
                    if on_way is not None and hasattr(f, "on_way"):  # a parent off the way: not needed
                        f = functools.partial(f.on_way, on_way=on_way)
            if a is None:  # a leaf (an operation whose graph was released was refused by toposort)
                if accumulate:
                    node._accumulate(g)
                continue
            r = node._retain_grad
            if r and accumulate:
                if r is True:  # a Value: the gradient of this pass (teaching)
                    node.grad = g
                else:  # a Tensor's retain_grad(): summed across passes into a grad of its own, as PyTorch's
                    node._accumulate(g)
            pg = f(node, g)
            # add each parent's share; a parent outside this walk (a constant) has _gacc None. The same
            # three lines are written out for _a, _b and each of _rest on purpose: this is the scalar hot path
            q = pg[0]
            if q is not None:
                s = a._gacc
                if s is not None:
                    a._gacc = q if s is reached else s + q
            b = node._b
            if b is not None:
                q = pg[1]
                if q is not None:
                    s = b._gacc
                    if s is not None:
                        b._gacc = q if s is reached else s + q
                if len(pg) > 2:  # (cheaper than reading _rest, a class attribute on a Value)
                    for p, q in zip(node._rest, pg[2:]):
                        if q is not None:
                            s = p._gacc
                            if s is not None:
                                p._gacc = q if s is reached else s + q
            if not retain_graph:
                node._release()
    except BaseException:
        _clear(order)  # leave no pending gradient behind
        raise
    return found


_FREED_MSG = (
    "Trying to backward through the graph a second time (or to use results of a graph that "
    "was already freed). Pass retain_graph=True to the first backward() to keep it."
)
