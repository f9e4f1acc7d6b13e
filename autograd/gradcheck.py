"""Check analytic gradients against finite differences.

:func:`gradcheck` compares the gradients computed by backpropagation with
**central finite differences**

    df/dx_j  ~=  (f(x + eps e_j) - f(x - eps e_j)) / (2 eps)

(error ``O(eps^2)``), element by element, and passes when every pair satisfies

    |analytic - numerical| <= atol + rtol * |numerical|.

It works for functions of :class:`~autograd.Value` s (scalar output) and of
:class:`~autograd.Tensor` s (any output shape, or a tuple of outputs), and in
two modes:

``mode="full"``
    builds the whole Jacobian ``J`` (outputs x inputs, everything flattened).
    Column ``j`` comes from perturbing input element ``j`` (two forward
    passes); row ``k`` from one backward pass seeded with the one-hot vector
    ``e_k`` (a vector-Jacobian product ``e_k^T J``).
``mode="random"``
    cheap for big inputs: for ``n_projections`` random unit vectors ``u``
    (over the outputs) and ``v`` (over one input) it compares ``u^T J v``
    computed two ways: the directional derivative
    ``u . (f(x + eps v) - f(x - eps v)) / (2 eps)`` and the backward pass
    seeded with ``u`` dotted with ``v``.  Two forward passes per input and one
    backward pass per projection, whatever the sizes.

:func:`gradgradcheck` checks second derivatives by running :func:`gradcheck`
on the function ``inputs -> d/d(inputs) sum(fn(inputs) * v)`` whose gradients
are computed with ``create_graph=True``.

Use float64 inputs: with float32 the rounding error of ``f`` divided by
``2 eps`` swamps the derivative (a ``UserWarning`` says so).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .graph import enable_grad, run_backward
from .tensor import Tensor
from .value import Value

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree (raised by :func:`gradcheck`)."""


# --- helpers -----------------------------------------------------------------------
def _is_node(x: Any) -> bool:
    return isinstance(x, Value | Tensor)


def _as_outputs(out: Any, what: str) -> tuple:
    outs = tuple(out) if isinstance(out, tuple | list) else (out,)
    for o in outs:
        if not _is_node(o):
            raise TypeError(f"{what}: fn must return a Tensor, a Value or a tuple of them, got {type(o).__name__}")
    return outs


def _flat(out: Any) -> np.ndarray:
    """An output's numbers as a flat float64 vector."""
    if isinstance(out, Value):
        return np.array([out.data], dtype=np.float64)
    return np.asarray(out.data, dtype=np.float64).reshape(-1)


def _size(x: Any) -> int:
    return 1 if isinstance(x, Value) else int(x.data.size)


def _shape(x: Any) -> tuple:
    return () if isinstance(x, Value) else x.data.shape


def _requires_grad(x: Any) -> bool:
    return isinstance(x, Value) or (isinstance(x, Tensor) and x.requires_grad)


def _name(pos: int, x: Any) -> str:
    label = getattr(x, "label", "")
    kind = type(x).__name__
    shape = "" if isinstance(x, Value) else f" of shape {x.shape}"
    return f"input {pos} ({kind}{shape}" + (f", label {label!r})" if label else ")")


def _element(shape: tuple, j: int) -> str:
    return str(tuple(int(i) for i in np.unravel_index(j, shape))) if shape else "()"


def _seed(out: Any, flat: np.ndarray) -> Any:
    """A backward seed for ``out`` holding the numbers ``flat``."""
    if isinstance(out, Value):
        return float(flat[0])
    return Tensor._wrap(flat.reshape(out.data.shape).astype(out.data.dtype))


def _vjp(outs: tuple, seeds: Sequence[np.ndarray], xs: Sequence[Any]) -> list[np.ndarray]:
    """``seed^T J`` for each input in ``xs`` (flat float64), through the graph core; no ``.grad`` touched."""
    roots, grads = [], []
    for o, s in zip(outs, seeds):
        if _requires_grad(o) and np.any(s):
            roots.append(o)
            grads.append(_seed(o, s))
    if not roots:
        return [np.zeros(_size(x)) for x in xs]
    found = run_backward(roots, grads, retain_graph=True, inputs=xs, accumulate=False)
    result = []
    for x in xs:
        g = found.get(id(x))
        if g is None:
            result.append(np.zeros(_size(x)))
            continue
        arr = np.asarray(g.data if isinstance(g, Tensor) else g, dtype=np.float64)
        if arr.shape != _shape(x):
            raise GradcheckError(f"gradcheck: backward produced a gradient of shape {arr.shape} for an input "
                                 f"of shape {_shape(x)}")
        result.append(arr.reshape(-1))
    return result


class _Perturb:
    """Shift one input in place (on a private copy of its data) and put it back exactly."""

    def __init__(self, x: Any) -> None:
        self.x = x
        self.orig = x.data
        if isinstance(x, Tensor):
            self.work = np.array(x.data, copy=True)
            x.data = self.work

    def set(self, delta: np.ndarray | float) -> None:
        """data = original + delta (``delta`` flat, or a scalar for Values)."""
        if isinstance(self.x, Value):
            self.x.data = float(self.orig + float(np.asarray(delta).reshape(-1)[0]))
        else:
            np.copyto(self.work, self.orig + np.asarray(delta).reshape(self.orig.shape), casting="unsafe")

    def set_element(self, j: int, step: float) -> None:
        if isinstance(self.x, Value):
            self.x.data = self.orig + step
        else:
            self.work.flat[j] = self.orig.flat[j] + step

    def reset_element(self, j: int) -> None:
        if isinstance(self.x, Value):
            self.x.data = self.orig
        else:
            self.work.flat[j] = self.orig.flat[j]

    def restore(self) -> None:
        self.x.data = self.orig


def _evaluate(fn: Callable, inputs: tuple, what: str) -> np.ndarray:
    outs = _as_outputs(fn(*inputs), what)
    if not outs:
        return np.zeros(0)
    return np.concatenate([_flat(o) for o in outs])


def _fail(msg: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(msg)
    return False


# --- gradcheck -----------------------------------------------------------------------
def gradcheck(
    fn: Callable,
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    mode: str = "full",
    n_projections: int = 3,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Compare ``fn``'s backpropagated gradients with central finite differences.

    The numerical derivative of output ``k`` with respect to input element
    ``j`` is ``(f_k(x + eps e_j) - f_k(x - eps e_j)) / (2 eps)``; each
    analytic value ``a`` must match its numerical value ``n`` within
    ``|a - n| <= atol + rtol * |n|``.

    ``fn(*inputs)`` returns a :class:`~autograd.Value`, a
    :class:`~autograd.Tensor` of any shape or a tuple of them.  Inputs that
    are not Values/Tensors, and Tensors without ``requires_grad``, are passed
    through unchanged and not checked.  ``mode="full"`` compares the whole
    Jacobian (one backward pass per output element, two forward passes per
    input element); ``mode="random"`` compares ``n_projections`` random
    projections ``u^T J v`` per input (generator seeded with ``seed``), cheap
    for large inputs (see the module docstring).

    The inputs' ``data`` and ``grad`` are left exactly as they were.  Tensor
    inputs should be float64 (a ``UserWarning`` is emitted otherwise).

    Returns True on success.  On a mismatch raises :class:`GradcheckError`
    naming the input (position and label), the element (or projection), the
    numerical and analytic values and the tolerance -- or returns False when
    ``raise_exception`` is false.
    """
    return _check(fn, _unpack(inputs), eps=eps, atol=atol, rtol=rtol, mode=mode, n_projections=n_projections,
                  seed=seed, raise_exception=raise_exception, what="gradcheck")


def _unpack(inputs: tuple) -> tuple:
    """Accept PyTorch's call form ``gradcheck(fn, (a, b))`` as well as ``gradcheck(fn, a, b)``."""
    if len(inputs) == 1 and isinstance(inputs[0], tuple | list):
        return tuple(inputs[0])
    return inputs


def _check(fn: Callable, inputs: tuple, *, eps: float, atol: float, rtol: float, mode: str, n_projections: int,
           seed: int, raise_exception: bool, what: str) -> bool:
    if mode not in ("full", "random"):
        raise ValueError(f"{what}: mode must be 'full' or 'random', got {mode!r}")
    if eps <= 0:
        raise ValueError(f"{what}: eps must be positive, got {eps}")
    checked = [(pos, x) for pos, x in enumerate(inputs) if _requires_grad(x)]
    if not checked:
        raise ValueError(
            f"{what}: no input requires grad, so there is nothing to check; "
            "pass Values or Tensors created with requires_grad=True"
        )
    for pos, x in checked:
        if isinstance(x, Tensor) and x.data.dtype != np.float64:
            warnings.warn(
                f"{what}: {_name(pos, x)} has dtype {x.data.dtype}, not float64; central differences with "
                f"eps={eps} are unreliable in low precision (use .double())",
                UserWarning,
                stacklevel=3,
            )
    xs = [x for _, x in checked]
    saved_grads = [x.grad for x in xs]
    saved_data = [x.data for x in xs]
    try:
        with enable_grad():
            if mode == "full":
                return _check_full(fn, inputs, checked, eps, atol, rtol, raise_exception, what)
            return _check_random(fn, inputs, checked, eps, atol, rtol, n_projections, seed, raise_exception, what)
    finally:
        for x, g, d in zip(xs, saved_grads, saved_data):
            x.grad = g
            x.data = d


def _tolerance_message(n: float, a: float, atol: float, rtol: float) -> str:
    tol = atol + rtol * abs(n)
    return (f"numerical {n:.10g}, analytic {a:.10g}, |analytic - numerical| = {abs(a - n):.3g} > "
            f"atol + rtol*|numerical| = {atol:g} + {rtol:g}*{abs(n):.3g} = {tol:.3g}")


def _output_names(outs: tuple) -> list[tuple[int, tuple]]:
    """For each flat output index k: (output position, element index)."""
    names = []
    for i, o in enumerate(outs):
        shape = _shape(o)
        for e in range(_size(o)):
            names.append((i, np.unravel_index(e, shape) if shape else ()))
    return names


def _check_full(fn, inputs, checked, eps, atol, rtol, raise_exception, what) -> bool:
    xs = [x for _, x in checked]
    outs = _as_outputs(fn(*inputs), what)
    sizes = [_size(o) for o in outs]
    n_out = sum(sizes)
    names = _output_names(outs)
    # analytic Jacobian, row by row: backward from the one-hot vector e_k
    analytic = [np.zeros((n_out, _size(x))) for x in xs]
    offsets = np.cumsum([0, *sizes])
    for k in range(n_out):
        i = int(np.searchsorted(offsets, k, side="right") - 1)
        seeds = [np.zeros(s) for s in sizes]
        seeds[i][k - offsets[i]] = 1.0
        for J, row in zip(analytic, _vjp(outs, seeds, xs)):
            J[k] = row
    del outs
    # numerical Jacobian, column by column: central differences
    for (pos, x), J in zip(checked, analytic):
        p = _Perturb(x)
        numerical = np.zeros_like(J)
        try:
            for j in range(_size(x)):
                p.set_element(j, eps)
                plus = _evaluate(fn, inputs, what)
                p.set_element(j, -eps)
                minus = _evaluate(fn, inputs, what)
                p.reset_element(j)
                numerical[:, j] = (plus - minus) / (2 * eps)
        finally:
            p.restore()
        bad = ~(np.abs(J - numerical) <= atol + rtol * np.abs(numerical))  # NaN counts as bad
        if bad.any():
            excess = np.where(bad, np.nan_to_num(np.abs(J - numerical) - rtol * np.abs(numerical), nan=np.inf), -1)
            k, j = np.unravel_index(int(np.argmax(excess)), excess.shape)
            o, e = names[k]
            out_name = f"output {o}" + (f" element {tuple(int(t) for t in e)}" if e != () else "")
            msg = (f"{what}: Jacobian mismatch for {out_name} with respect to {_name(pos, x)}, "
                   f"element {_element(_shape(x), int(j))}: "
                   f"{_tolerance_message(numerical[k, j], J[k, j], atol, rtol)} "
                   f"({int(bad.sum())} of {bad.size} entries differ; eps={eps:g})")
            return _fail(msg, raise_exception)
    return True


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal(n)
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def _check_random(fn, inputs, checked, eps, atol, rtol, n_projections, seed, raise_exception, what) -> bool:
    if n_projections < 1:
        raise ValueError(f"{what}: n_projections must be >= 1, got {n_projections}")
    rng = np.random.default_rng(seed)
    xs = [x for _, x in checked]
    for p_idx in range(n_projections):
        outs = _as_outputs(fn(*inputs), what)
        sizes = [_size(o) for o in outs]
        u = _unit(rng, sum(sizes))
        seeds = np.split(u, np.cumsum(sizes)[:-1])
        vjps = _vjp(outs, seeds, xs)
        del outs
        for (pos, x), g in zip(checked, vjps):
            v = _unit(rng, _size(x))
            analytic = float(g @ v)
            p = _Perturb(x)
            try:
                p.set(eps * v)
                plus = _evaluate(fn, inputs, what)
                p.set(-eps * v)
                minus = _evaluate(fn, inputs, what)
            finally:
                p.restore()
            numerical = float(u @ (plus - minus) / (2 * eps))
            if not abs(analytic - numerical) <= atol + rtol * abs(numerical):
                msg = (f"{what}: directional derivative mismatch for {_name(pos, x)}, random projection "
                       f"{p_idx} (u^T J v with unit vectors u, v; seed={seed}): "
                       f"{_tolerance_message(numerical, analytic, atol, rtol)} (eps={eps:g}; "
                       f"run mode='full' to locate the element)")
                return _fail(msg, raise_exception)
    return True


# --- gradgradcheck -------------------------------------------------------------------
def gradgradcheck(
    fn: Callable,
    *inputs: Any,
    grad_outputs: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    mode: str = "full",
    n_projections: int = 3,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: :func:`gradcheck` of the first-derivative function.

    With ``v = grad_outputs`` (one array per output; random normal numbers
    from ``seed`` when None) the checked function is

        G(inputs) = d/d(inputs) sum_k (fn(inputs)_k * v_k)

    computed with :func:`autograd.grad` and ``create_graph=True``, so its own
    backward pass differentiates the backward pass of ``fn`` (the
    Hessian-vector products ``v^T d^2 fn``).  Its Jacobian is then compared with
    the central differences ``(G(x + eps e_j) - G(x - eps e_j)) / (2 eps)``
    under ``|a - n| <= atol + rtol * |n|``.  Tensor inputs only (``Value``
    backward is not recorded).  Other arguments as in :func:`gradcheck`.

    The inputs come one by one, ``gradgradcheck(fn, a, b)``, or as PyTorch's
    ``inputs`` tuple, ``gradgradcheck(fn, (a, b))``; in the second form a
    further positional argument is ``grad_outputs``, as in PyTorch's
    ``gradgradcheck(func, inputs, grad_outputs=None, *, eps=..., ...)``:
    ``gradgradcheck(fn, (a, b), (v,))``.
    """
    from .functional import grad

    if len(inputs) == 2 and isinstance(inputs[0], tuple | list) and any(_is_node(x) for x in inputs[0]):
        # PyTorch's positional form gradgradcheck(func, inputs, grad_outputs)
        if grad_outputs is not None:
            raise TypeError("gradgradcheck: got grad_outputs both positionally (after the inputs tuple) "
                            "and as a keyword")
        inputs, grad_outputs = (inputs[0],), inputs[1]
    inputs = _unpack(inputs)
    for pos, x in enumerate(inputs):
        if isinstance(x, Value):
            raise TypeError(f"gradgradcheck: input {pos} is a Value; second derivatives need Tensor inputs")
    if grad_outputs is None:
        with enable_grad():
            outs = _as_outputs(fn(*inputs), "gradgradcheck")
        rng = np.random.default_rng(seed)
        vs = [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]
        del outs
    else:
        vs = list(grad_outputs) if isinstance(grad_outputs, tuple | list) else [grad_outputs]
        vs = [np.asarray(v.data if isinstance(v, Tensor) else v) for v in vs]
    diff_pos = [pos for pos, x in enumerate(inputs) if _requires_grad(x)]

    def first_derivatives(*xs: Any) -> tuple:
        outs = _as_outputs(fn(*xs), "gradgradcheck")
        if len(outs) != len(vs):
            raise ValueError(f"gradgradcheck: fn returned {len(outs)} outputs but {len(vs)} grad_outputs were given")
        total = None
        for o, v in zip(outs, vs):
            if o.shape != v.shape:
                raise ValueError(f"gradgradcheck: grad_outputs of shape {v.shape} for an output of shape {o.shape}")
            if o.requires_grad:
                term = (o * Tensor._wrap(v.astype(o.dtype))).sum()
                total = term if total is None else total + term
        diff = [xs[pos] for pos in diff_pos]
        if total is None:
            return tuple(Tensor._wrap(np.zeros_like(x.data)) for x in diff)
        gs = grad(total, diff, create_graph=True, allow_unused=True)
        return tuple(Tensor._wrap(np.zeros_like(x.data)) if g is None else g for g, x in zip(gs, diff))

    return _check(first_derivatives, inputs, eps=eps, atol=atol, rtol=rtol, mode=mode, n_projections=n_projections,
                  seed=seed, raise_exception=raise_exception, what="gradgradcheck")
