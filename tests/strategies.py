"""Hypothesis strategies and finite-difference checkers for the Tensor engine tests.

Values are drawn as a numpy seed (cheap for hypothesis to shrink) and filled in
float64 by numpy, in a *domain* that keeps central differences away from kinks
and singularities:

``any``       uniform in [-2, 2]
``pos``       uniform in [0.3, 2]           (log, sqrt, pow bases, division)
``nonzero``   +-uniform in [0.2, 2]         (abs, relu, division)
``distinct``  a permutation of values 0.25 apart (max/min/maximum: no ties)

``layout`` makes an array of the requested shape that is a C-contiguous array,
a transposed view, or a strided slice, so ops are tested on non-contiguous data.

:func:`check_grad` compares the analytic vector-Jacobian product with central
differences; :func:`check_grad2` does the same for second order
(``create_graph=True``, then the gradient of ``sum_i (x_i.grad * w_i)``
against finite differences of the first-order gradient).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd
from autograd import Tensor

EPS = 1e-6
ATOL = 1e-5
RTOL = 1e-3

seeds = st.integers(0, 2**32 - 1)
layouts = st.sampled_from(["c", "T", "stride"])


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 3) -> st.SearchStrategy:
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcast_pairs(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 3) -> st.SearchStrategy:
    """Two mutually broadcastable shapes (size-1 dims and differing ranks included)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda s: s.input_shapes)


def values(rng: np.random.Generator, shape: tuple, domain: str = "any") -> np.ndarray:
    n = int(np.prod(shape, dtype=int))
    if domain == "any":
        v = rng.uniform(-2.0, 2.0, n)
    elif domain == "pos":
        v = rng.uniform(0.3, 2.0, n)
    elif domain == "nonzero":
        v = rng.uniform(0.2, 2.0, n) * rng.choice([-1.0, 1.0], n)
    elif domain == "distinct":
        v = rng.permutation(n) * 0.25 - 1.5 + rng.uniform(0, 0.05)
    else:  # pragma: no cover
        raise ValueError(domain)
    return v.reshape(shape)


def layout(arr: np.ndarray, how: str) -> np.ndarray:
    """``arr``'s values in ``arr``'s shape, as a contiguous array, a transposed view or a strided slice."""
    if arr.ndim < 2 or arr.size == 0 or how == "c":
        if how == "stride" and arr.ndim == 1:
            big = np.zeros(arr.shape[0] * 2)
            big[::2] = arr
            return big[::2]
        return np.array(arr, order="C")
    if how == "T":
        out = np.ascontiguousarray(arr.T).T
    else:
        big = np.zeros(arr.shape[:-1] + (arr.shape[-1] * 2,))
        big[..., ::2] = arr
        out = big[..., ::2]
    assert out.shape == arr.shape
    return out


@st.composite
def arrays(draw, shape_strategy=None, domain: str = "any", shape: tuple | None = None) -> np.ndarray:
    shape = draw(shape_strategy if shape_strategy is not None else shapes()) if shape is None else shape
    rng = np.random.default_rng(draw(seeds))
    return layout(values(rng, shape, domain), draw(layouts))


def draw_axis(draw, ndim: int, allow_none: bool = True, allow_tuple: bool = True):
    choices = ["int"] if ndim else []
    if allow_none or not ndim:
        choices.append("none")
    if allow_tuple and ndim:
        choices.append("tuple")
    kind = draw(st.sampled_from(choices))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in axes)


# --- finite differences ---------------------------------------------------------

def _eval(fn: Callable, arrays: Sequence[np.ndarray]) -> np.ndarray:
    with autograd.no_grad():
        return np.asarray(fn(*[Tensor(a) for a in arrays]).data, dtype=np.float64)


def numeric_grad(f: Callable[[list], float], arrays: Sequence[np.ndarray], eps: float = EPS) -> list:
    """Central differences of the scalar ``f(list of arrays)`` with respect to every array."""
    arrays = [np.array(a, dtype=np.float64, order="C") for a in arrays]  # reshape(-1) must be a view
    grads = []
    for a in arrays:
        g = np.zeros(a.shape)
        flat, gflat = a.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            hi = f(arrays)
            flat[i] = old - eps
            lo = f(arrays)
            flat[i] = old
            gflat[i] = (hi - lo) / (2 * eps)
        grads.append(g)
    return grads


def _probe(shape: tuple, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, shape)


def check_grad(fn: Callable, *arrays: np.ndarray, atol: float = ATOL, rtol: float = RTOL, seed: int = 0) -> Tensor:
    """Check ``fn``'s vector-Jacobian product against central differences; returns the output."""
    ts = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    assert out.dtype == np.float64, f"float64 inputs gave {out.dtype}"
    v = _probe(out.shape, seed)
    if not out.requires_grad:  # e.g. an empty result: nothing flows back
        analytic = [np.zeros_like(a) for a in arrays]
    else:
        (out * Tensor(v)).sum().backward()
        analytic = [np.zeros(t.shape) if t.grad is None else t.grad.data for t in ts]
    numeric = numeric_grad(lambda arrs: float((_eval(fn, arrs) * v).sum()), arrays)
    for i, (t, ga, gn) in enumerate(zip(ts, analytic, numeric)):
        assert ga.shape == t.shape, f"grad {i} has shape {ga.shape}, input {t.shape}"
        if t.grad is not None:
            assert t.grad.dtype == np.float64
        np.testing.assert_allclose(ga, gn, atol=atol, rtol=rtol, err_msg=f"gradient of input {i}")
    return out


def _first_order(fn: Callable, arrays: Sequence[np.ndarray], v: np.ndarray) -> list:
    ts = [Tensor(np.array(a), requires_grad=True) for a in arrays]
    out = fn(*ts)
    if out.requires_grad:
        (out * Tensor(v)).sum().backward()
    return [np.zeros(t.shape) if t.grad is None else t.grad.data for t in ts]


def check_grad2(fn: Callable, *arrays: np.ndarray, atol: float = ATOL, rtol: float = RTOL, seed: int = 0) -> None:
    """Second order: d/dx_j sum_i (dL/dx_i * w_i) from a recorded backward vs finite differences."""
    ts = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    v = _probe(out.shape, seed)
    ws = [_probe(a.shape, seed + 1 + i) for i, a in enumerate(arrays)]
    if out.requires_grad:
        (out * Tensor(v)).sum().backward(create_graph=True)
    grads = [t.grad for t in ts]
    for t in ts:
        t.grad = None
    s = None
    for g, w in zip(grads, ws):
        if g is not None:
            term = (g * Tensor(w)).sum()
            s = term if s is None else s + term
    if s is not None and s.requires_grad:
        s.backward()
    analytic = [np.zeros_like(a) if t.grad is None else t.grad.data for t, a in zip(ts, arrays)]

    def f(arrs: list) -> float:
        return float(sum((g * w).sum() for g, w in zip(_first_order(fn, arrs, v), ws)))

    numeric = numeric_grad(f, arrays)
    for i, (ga, gn) in enumerate(zip(analytic, numeric)):
        np.testing.assert_allclose(ga, gn, atol=atol, rtol=rtol, err_msg=f"second-order gradient of input {i}")
