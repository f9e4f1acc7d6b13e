"""Gradients as functions: ``grad`` (PyTorch style and JAX style), Jacobians, Hessians.

Two ways to ask for derivatives without touching any ``.grad``:

* **PyTorch style** -- ``grad(outputs, inputs, grad_outputs=None, ...)``
  returns the tuple ``(d outputs / d inputs[0], ...)`` (the vector-Jacobian
  product with ``grad_outputs``), like ``torch.autograd.grad``.
* **JAX style** -- transforms that take a function and return a function:
  ``grad(f)``, ``value_and_grad(f)``; and ``jacobian(f, x)``,
  ``hessian(f, x)``, ``hvp(f, x, v)`` that evaluate directly.

``grad`` is one function: called with a callable first it is the transform,
otherwise the PyTorch form.

The transforms accept numpy arrays, Python numbers or Tensors.  Each
differentiated argument becomes a fresh floating-point leaf Tensor that
requires grad and shares the data but is **detached from any outer graph**
(integer data becomes float32; otherwise the Tensor dtype rules apply, so
pass float64 for accurate results).  Results are constants (no graph) unless
``create_graph=True``: then the results stay differentiable and an argument
that already requires grad is used as is, so transforms nest::

    d2 = grad(grad(f, create_graph=True))   # f''
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .graph import enable_grad, run_backward, set_grad_enabled
from .tensor import Tensor
from .value import Value

__all__ = ["grad", "value_and_grad", "jacobian", "hessian", "hvp"]


def _seq(x: Any) -> tuple:
    return tuple(x) if isinstance(x, tuple | list) else (x,)


# --- PyTorch style --------------------------------------------------------------------
def grad(
    outputs: Any,
    inputs: Any = None,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
    *,
    argnums: int | Sequence[int] | None = None,
) -> Any:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated).

    ``grad(outputs, inputs, grad_outputs=None, retain_graph=None,
    create_graph=False, allow_unused=False)`` returns a tuple with one entry
    per input: ``sum_k grad_outputs[k]^T d outputs[k] / d input`` (a
    vector-Jacobian product; ``grad_outputs`` may be omitted for scalar
    outputs).  No ``.grad`` is read or written.  ``create_graph`` records the
    backward pass so the results can be differentiated again;
    ``retain_graph`` (default: ``create_graph``) keeps the graph for another
    backward pass.  An input the outputs do not depend on raises
    ``RuntimeError`` unless ``allow_unused`` (then its entry is ``None``).
    Empty ``outputs`` raise ``ValueError``, empty ``inputs`` ``RuntimeError``
    (as PyTorch), before the graph is touched.
    Works for Tensors and (without ``create_graph``) for Values, whose
    gradients are floats.  On Tensors only the work on the way to ``inputs``
    is done: a branch that leads to none of them is skipped, and an op on
    the way makes no gradient for its other inputs (``grad(loss, x)`` makes
    no weight gradient); the results are those of a full pass.

    ``grad(f, argnums=0, create_graph=False)`` with a callable ``f`` is the
    JAX-style transform instead: it returns a function computing
    ``df/dx`` of the scalar ``f`` at its argument(s) ``argnums`` (an int gives
    one Tensor, a tuple gives a tuple).
    """
    if callable(outputs) and not isinstance(outputs, Tensor | Value):
        if argnums is None:
            argnums = 0 if inputs is None else inputs
        return _transform(outputs, argnums, create_graph=create_graph, with_value=False)
    if inputs is None:
        raise TypeError("grad: missing the inputs to differentiate with respect to")
    outs = _seq(outputs)
    ins = _seq(inputs)
    # checked before anything touches the graph (an empty request must not free it)
    if not outs:
        raise ValueError("grad: outputs is empty; expected a Tensor or Value, or a non-empty sequence of them")
    if not ins:
        raise RuntimeError("grad: the `inputs` argument cannot be empty; expected a Tensor or Value, "
                           "or a non-empty sequence of them")
    if grad_outputs is None:
        gos: tuple = (None,) * len(outs)
    else:
        gos = _seq(grad_outputs)
        if len(gos) != len(outs):
            raise ValueError(f"grad: got {len(gos)} grad_outputs for {len(outs)} outputs")
    seeds = []
    for i, (o, go) in enumerate(zip(outs, gos)):
        if isinstance(o, Value):
            if create_graph:
                raise RuntimeError("grad: create_graph needs Tensors; the backward of Value is not recorded")
            seeds.append(1.0 if go is None else float(go))
            continue
        if not isinstance(o, Tensor):
            raise TypeError(f"grad: output {i} is a {type(o).__name__}, expected a Tensor")
        seeds.append(o._seed(go, f"grad: output {i}"))
    for i, x in enumerate(ins):
        if isinstance(x, Value):
            continue
        if not isinstance(x, Tensor):
            raise TypeError(f"grad: input {i} is a {type(x).__name__}, expected a Tensor")
        if not x.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    with set_grad_enabled(create_graph):
        # pruning (the branches and the input gradients that lead to no input) pays for arrays, not for scalars
        found = run_backward(outs, seeds, retain_graph=retain_graph, inputs=ins, accumulate=False,
                             prune=any(isinstance(o, Tensor) for o in outs))
    result = []
    for i, x in enumerate(ins):
        g = found.get(id(x))
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} was not used in the graph of the outputs (or no gradient reached it, or its "
                "graph was freed by an earlier backward pass); pass allow_unused=True to get None for it"
            )
        result.append(g)
    return tuple(result)


# --- JAX style --------------------------------------------------------------------------
def _as_input(x: Any, keep_graph: bool = False) -> Tensor:
    """A floating leaf Tensor requiring grad, sharing ``x``'s data, cut from any graph."""
    if isinstance(x, Tensor):
        if keep_graph and x.requires_grad:
            return x
        data = x.data
    else:
        data = Tensor(x).data
    if data.dtype.kind not in "fc":
        data = data.astype(np.float32)
    t = Tensor._wrap(data)
    t.requires_grad = True
    return t


def _scalar(out: Any, who: str) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError(f"{who}: f must return a Tensor, got {type(out).__name__}")
    if out.data.size != 1:
        raise ValueError(f"{who}: f must return a scalar (one element), got shape {out.shape}")
    return out


def _zeros(x: Tensor) -> Tensor:
    return Tensor._wrap(np.zeros_like(x.data))


def _transform(f: Callable, argnums: Any, *, create_graph: bool, with_value: bool) -> Callable:
    single = isinstance(argnums, int | np.integer)
    nums = (int(argnums),) if single else tuple(int(a) for a in argnums)
    who = "value_and_grad" if with_value else "grad"

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        args = list(args)
        for i in nums:
            if not -len(args) <= i < len(args):
                raise IndexError(f"{who}: argnums {i} is out of range for {len(args)} positional arguments")
            args[i] = _as_input(args[i], keep_graph=create_graph)
        xs = [args[i] for i in nums]
        with enable_grad():
            out = _scalar(f(*args, **kwargs), who)
            if out.requires_grad and xs:
                gs = grad(out, xs, create_graph=create_graph, allow_unused=True)
            else:
                gs = (None,) * len(xs)
        gs = tuple(_zeros(x) if g is None else g for g, x in zip(gs, xs))
        if not create_graph:
            gs = tuple(g.detach() for g in gs)
            out = out.detach()
        result = gs[0] if single else gs
        return (out, result) if with_value else result

    wrapped.__name__ = f"{who}_{getattr(f, '__name__', 'f')}"
    wrapped.__doc__ = f"{who} of {getattr(f, '__name__', 'f')} with respect to argument(s) {argnums}."
    return wrapped


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, create_graph: bool = False) -> Callable:
    """A function returning ``(f(*args), df/d args[argnums])`` from one forward and one backward pass.

    ``f`` must return a scalar Tensor.  See :func:`grad` for ``argnums`` and
    ``create_graph``.
    """
    return _transform(f, argnums, create_graph=create_graph, with_value=True)


def jacobian(f: Callable, x: Any, create_graph: bool = False) -> Any:
    """The full Jacobian ``J[i..., j...] = d f(x)[i...] / d x[j...]``, shape ``f(x).shape + x.shape``.

    Built row by row: row ``k`` is the vector-Jacobian product ``e_k^T J``
    from one backward pass seeded with the one-hot vector ``e_k`` (the
    forward pass runs once; ``out.size`` backward passes).  ``x`` may be a
    tuple of arguments: then ``f(*x)`` is differentiated and a tuple of
    Jacobians is returned.  With ``create_graph`` the result stays
    differentiable (used by :func:`hessian`).
    """
    single = not isinstance(x, tuple)
    xs = [_as_input(a, keep_graph=create_graph) for a in ((x,) if single else x)]
    with enable_grad():
        out = f(*xs)
        if not isinstance(out, Tensor):
            raise TypeError(f"jacobian: f must return a Tensor, got {type(out).__name__}")
        results = _jacobian_of(out, xs, create_graph)
    return results[0] if single else tuple(results)


def _jacobian_of(out: Tensor, xs: list[Tensor], create_graph: bool) -> list[Tensor]:
    """The Jacobians of the computed ``out`` with respect to each of ``xs`` (one backward pass per element)."""
    with enable_grad():
        rows: list[list] = [[] for _ in xs]
        if out.requires_grad and xs:
            for k in range(out.data.size):
                onehot = np.zeros(out.data.size, dtype=out.dtype)
                onehot[k] = 1
                gs = grad(out, xs, grad_outputs=Tensor._wrap(onehot.reshape(out.shape)), retain_graph=True,
                          create_graph=create_graph, allow_unused=True)
                for r, g, a in zip(rows, gs, xs):
                    r.append(_zeros(a) if g is None else g)
        results = []
        for r, a in zip(rows, xs):
            shape = out.shape + a.shape
            if not r:
                results.append(Tensor._wrap(np.zeros(shape, dtype=np.result_type(out.dtype, a.dtype))))
            elif create_graph:
                from .ops import stack

                results.append(stack(r).reshape(shape))
            else:
                results.append(Tensor._wrap(np.stack([g.data for g in r]).reshape(shape)))
    return results


def hessian(f: Callable, x: Any, create_graph: bool = False) -> Tensor | tuple[tuple[Tensor, ...], ...]:
    """The Hessian ``H[i..., j...] = d^2 f / dx[i...] dx[j...]`` of a scalar ``f``, shape ``x.shape + x.shape``.

    Computed as the Jacobian of the gradient (one backward pass recorded with
    ``create_graph``, then one backward pass per element of ``x`` through it).  ``x`` may be a tuple of arguments:
    then ``f(*x)`` is differentiated and, as ``torch.autograd.functional.hessian``,
    a tuple of tuples is returned, ``H[i][j] = d^2 f / dx_i dx_j`` of shape
    ``x[i].shape + x[j].shape`` (the gradient with respect to all of ``x``
    is recorded once; one backward pass per element of each ``x[i]``).
    """
    single = not isinstance(x, tuple)
    xs = [_as_input(a, keep_graph=create_graph) for a in ((x,) if single else x)]
    with enable_grad():
        gs = grad(f, argnums=tuple(range(len(xs))), create_graph=True)(*xs)
        blocks = tuple(tuple(_jacobian_of(g, xs, create_graph)) for g in gs)
    return blocks[0][0] if single else blocks


def hvp(f: Callable, x: Any, v: Any) -> tuple[Tensor, Tensor]:
    """Hessian-vector product without forming the Hessian; returns ``(f(x), H v)``.

    Double backward: ``g = df/dx`` is computed with ``create_graph=True``,
    then ``H v = d(g . v)/dx`` by a second backward pass -- two backward passes
    whatever the size of ``x`` (``hessian(f, x) @ v`` costs one per element).
    ``f`` must return a scalar; ``v`` has the shape of ``x``.  Both results
    are constants (no graph), as ``torch.autograd.functional.hvp``.
    """
    x0 = _as_input(x)
    vt = np.asarray(v.data if isinstance(v, Tensor) else v, dtype=x0.dtype)
    if vt.shape != x0.shape:
        raise ValueError(f"hvp: v has shape {vt.shape}, expected the shape of x {x0.shape}")
    with enable_grad():
        y = _scalar(f(x0), "hvp")
        hv = None
        if y.requires_grad:
            (g,) = grad(y, x0, create_graph=True, allow_unused=True)
            if g is not None and g.requires_grad:
                (hv,) = grad((g * Tensor._wrap(vt)).sum(), x0, allow_unused=True)
    return y.detach(), (_zeros(x0) if hv is None else hv.detach())
