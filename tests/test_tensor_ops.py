"""Every differentiable Tensor op: forward against numpy, gradients against central differences.

Each entry of ``OPS`` draws its inputs (float64, hypothesis-chosen shapes, domains
away from kinks, non-contiguous layouts) and names the autograd expression and
its numpy reference.  The first-order test lives here; ``test_tensor_grad2.py``
runs the second-order check over the same catalogue, and
``test_torch_compare.py`` compares it with PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import arrays, broadcast_pairs, check_grad, draw_axis, layout, seeds, shapes, values

import autograd as ag
from autograd.ops.shape import SumTo


@dataclass
class Case:
    arrays: list  # float64 inputs (differentiated)
    fn: Callable  # Tensors -> Tensor
    ref: Callable  # arrays -> array
    torch: Callable | None = None  # torch tensors -> torch tensor (None: no torch counterpart)


OPS: dict[str, Callable[[Any], Case]] = {}


def op(name: str):
    def deco(f):
        OPS[name] = f
        return f

    return deco


def _pair(draw, da: str = "any", db: str = "any", min_side: int = 0):
    sa, sb = draw(broadcast_pairs(min_side=min_side))
    return draw(arrays(domain=da, shape=sa)), draw(arrays(domain=db, shape=sb))


def _one(draw, domain: str = "any", min_side: int = 0, min_dims: int = 0, max_dims: int = 3):
    return draw(arrays(shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side), domain))


# --- elementwise binary (tensor op tensor, broadcasting, zero-size dims) --------------------------
for _name, _f, _da, _db in [
    ("add", lambda a, b: a + b, "any", "any"),
    ("sub", lambda a, b: a - b, "any", "any"),
    ("mul", lambda a, b: a * b, "any", "any"),
    ("div", lambda a, b: a / b, "any", "nonzero"),
    ("pow", lambda a, b: a**b, "pos", "any"),
]:
    def _make(f=_f, da=_da, db=_db):
        return lambda draw: Case(list(_pair(draw, da, db)), f, f, f)

    op(_name)(_make())

for _name, _f in [
    ("radd", lambda a: 2.5 + a),
    ("rsub", lambda a: 2.5 - a),
    ("rmul", lambda a: -1.5 * a),
    ("rdiv", lambda a: 3.0 / a),
    ("rpow", lambda a: 1.7**a),
    ("sub_scalar", lambda a: a - 0.5),
    ("div_scalar", lambda a: a / 4.0),
    ("neg", lambda a: -a),
]:
    op(_name)(lambda draw, f=_f: Case([_one(draw, "nonzero")], f, f, f))


@op("pow_scalar")
def _pow_scalar(draw):
    k = draw(st.sampled_from([0, 1, 2, 3, -1, 0.5, -1.5, 2.5]))
    return Case([_one(draw, "pos")], lambda a: a**k, lambda a: a**k, lambda a: a**k)


# --- elementwise unary ---------------------------------------------------------------------------
for _name, _dom, _t in [
    ("exp", "any", "exp"), ("log", "pos", "log"), ("sqrt", "pos", "sqrt"), ("abs", "nonzero", "abs"),
    ("tanh", "any", "tanh"), ("sigmoid", "any", "sigmoid"), ("relu", "nonzero", "relu"),
]:
    def _make_unary(name=_name, dom=_dom, tname=_t):
        refs = {"sigmoid": lambda a: 1 / (1 + np.exp(-a)), "relu": lambda a: np.maximum(a, 0)}
        ref = refs.get(name, getattr(np, name, None))
        return lambda draw: Case(
            [_one(draw, dom)], lambda a: getattr(a, name)(), ref, lambda a: getattr(a, tname)()
        )

    op(_name)(_make_unary())


# domains for the functional forms, shifted away from each function's kink or singularity
_FUNCTIONAL_DOMAINS = {"exp": "any", "log": "pos", "sqrt": "pos", "abs": "nonzero", "tanh": "any",
                       "sigmoid": "any", "relu": "nonzero"}


@op("functional_unary")
def _functional_unary(draw):
    name = draw(st.sampled_from(sorted(_FUNCTIONAL_DOMAINS)))
    ref = OPS[name](draw).ref
    return Case([_one(draw, _FUNCTIONAL_DOMAINS[name])], getattr(ag, name), ref, lambda a: getattr(a, name)())


def _distinct_pair(draw):
    """Broadcastable a, b whose values are all distinct (no ties), drawn as one set (in random order) and split:
    either may hold the larger value at any position."""
    sa, sb = draw(broadcast_pairs())
    rng = np.random.default_rng(draw(seeds))
    na, nb = int(np.prod(sa, dtype=int)), int(np.prod(sb, dtype=int))
    v = values(rng, (na + nb,), "distinct")  # values 0.25 apart, already in random order
    a, b = v[:na].reshape(sa), v[na:].reshape(sb)
    return layout(a, draw(st.sampled_from(["c", "T"]))), b


@op("maximum")
def _maximum(draw):
    return Case(list(_distinct_pair(draw)), ag.maximum, np.maximum, lambda a, b: a.maximum(b))


@op("minimum")
def _minimum(draw):
    return Case(list(_distinct_pair(draw)), lambda a, b: a.minimum(b), np.minimum, lambda a, b: a.minimum(b))


@op("where")
def _where(draw):
    a, b = _pair(draw)
    cshape = draw(st.sampled_from([np.broadcast_shapes(a.shape, b.shape), a.shape, ()]))
    cond = np.random.default_rng(draw(seeds)).random(cshape) > 0.5

    def t(x, y):
        import torch

        return torch.where(torch.as_tensor(cond), x, y)

    return Case([a, b], lambda x, y: ag.where(cond, x, y), lambda x, y: np.where(cond, x, y), t)


@op("clip")
def _clip(draw):
    x = _one(draw, "any")
    x = np.where(np.abs(np.abs(x) - 0.5) < 0.05, x + 0.2, x)  # away from the bounds
    lo, hi = draw(st.sampled_from([(-0.5, 0.5), (None, 0.5), (-0.5, None)]))

    def t(a):
        return a.clamp(lo, hi)

    return Case([x], lambda a: a.clip(lo, hi), lambda a: np.clip(a, lo, hi), t)


# --- matmul / linear -----------------------------------------------------------------------------
@op("matmul")
def _matmul(draw):
    n, k, m = draw(st.integers(1, 3)), draw(st.integers(0, 3)), draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["2d", "batched", "bcast", "vec_mat", "mat_vec", "vec_vec", "batch_vec"]))
    b1 = draw(st.sampled_from([(2,), (1,), (2, 1)]))
    b2 = draw(st.sampled_from([(2,), (1,), ()]))
    sa, sb = {
        "2d": ((n, k), (k, m)),
        "batched": (b1 + (n, k), b1 + (k, m)),
        "bcast": (b1 + (n, k), b2 + (k, m)),
        "vec_mat": ((k,), b2 + (k, m)),
        "mat_vec": (b1 + (n, k), (k,)),
        "vec_vec": ((k,), (k,)),
        "batch_vec": ((k,), b1 + (k, m)),
    }[kind]
    a, b = draw(arrays(shape=sa)), draw(arrays(shape=sb))
    fn = draw(st.sampled_from([lambda x, y: x @ y, ag.matmul, lambda x, y: x.matmul(y)]))
    return Case([a, b], fn, np.matmul, lambda x, y: x @ y)


@op("linear")
def _linear(draw):
    n, i, o = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    lead = draw(st.sampled_from([(n,), (), (2, n)]))
    x, w, b = draw(arrays(shape=lead + (i,))), draw(arrays(shape=(o, i))), draw(arrays(shape=(o,)))
    if draw(st.booleans()):
        return Case([x, w, b], ag.linear, lambda x, w, b: x @ w.T + b,
                    lambda x, w, b: __import__("torch").nn.functional.linear(x, w, b))
    return Case([x, w], ag.linear, lambda x, w: x @ w.T, lambda x, w: __import__("torch").nn.functional.linear(x, w))


# --- reductions ----------------------------------------------------------------------------------
def _reduction(name, domain, min_side=0, tname=None):
    def gen(draw):
        x = _one(draw, domain, min_side=min_side)
        axis = draw_axis(draw, x.ndim)
        keep = draw(st.booleans())
        kw = {}
        if name in ("var", "std"):
            axes = range(x.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
            n = int(np.prod([x.shape[a] for a in axes]))  # numbers in each reduced slice
            kw["ddof"] = draw(st.sampled_from([0, 1])) if n > 1 else 0  # ddof 1 of one number: NaN
            if name == "std" and x.size < 2:  # std is singular where the variance is 0
                x = np.array([0.3, -0.7])
        fn = draw(st.sampled_from(["method", "function"]))
        f = (lambda a: getattr(a, name)(axis, keep, **kw)) if fn == "method" else \
            (lambda a: getattr(ag, name)(a, axis=axis, keepdims=keep, **kw))
        if name == "logsumexp":
            def ref(a):
                m = np.max(a, axis=axis, keepdims=True)
                return np.squeeze(np.log(np.exp(a - m).sum(axis=axis, keepdims=True)) + m,
                                  axis=() if keep else axis)
        else:
            def ref(a):
                return getattr(np, name)(a, axis=axis, keepdims=keep, **kw)

        def t(a):
            import torch

            dim = tuple(range(a.ndim)) if axis is None else axis
            if name in ("max", "min"):
                return getattr(torch, "amax" if name == "max" else "amin")(a, dim=dim, keepdim=keep)
            if name in ("var", "std"):
                return getattr(torch, name)(a, dim=dim, keepdim=keep, correction=kw["ddof"])
            return getattr(torch, tname or name)(a, dim=dim, keepdim=keep)

        return Case([x], f, ref, t)

    return gen


op("sum")(_reduction("sum", "any"))
op("mean")(_reduction("mean", "any", min_side=1))
op("var")(_reduction("var", "any", min_side=1))
op("std")(_reduction("std", "distinct", min_side=2))
op("max")(_reduction("max", "distinct", min_side=1))
op("min")(_reduction("min", "distinct", min_side=1))
op("logsumexp")(_reduction("logsumexp", "any", min_side=1))


def _softmax_case(name):
    def gen(draw):
        x = _one(draw, "any", min_dims=1)
        axis = draw(st.integers(-x.ndim, x.ndim - 1))
        f = draw(st.sampled_from([lambda a: getattr(a, name)(axis), lambda a: getattr(ag, name)(a, axis)]))

        @np.errstate(divide="ignore")
        def ref(a):
            z = a - a.max(axis=axis, keepdims=True, initial=-np.inf)
            ls = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
            return ls if name == "log_softmax" else np.exp(ls)

        return Case([x], f, ref, lambda a: getattr(a, name)(axis))

    return gen


op("softmax")(_softmax_case("softmax"))
op("log_softmax")(_softmax_case("log_softmax"))


# --- shape ops -----------------------------------------------------------------------------------
@op("reshape")
def _reshape(draw):
    x = _one(draw, min_side=0)
    n = x.size
    shape = draw(st.sampled_from([(n,), (1, n), (n, 1), (-1,), (1, -1, 1)] if n else [(0,), (0, 2), (2, 0, 1)]))
    if n and n % 2 == 0:
        shape = draw(st.sampled_from([shape, (2, -1), (n // 2, 2)]))
    return Case([x], lambda a: a.reshape(shape), lambda a: a.reshape(shape), lambda a: a.reshape(shape))


@op("flatten")
def _flatten(draw):
    x = _one(draw, min_dims=1)
    s = draw(st.integers(0, x.ndim - 1))
    e = draw(st.integers(s, x.ndim - 1))

    def ref(a):
        return a.reshape(a.shape[:s] + (-1,) + a.shape[e + 1:]) if a.size else a.reshape(
            a.shape[:s] + (int(np.prod(a.shape[s:e + 1])),) + a.shape[e + 1:])

    return Case([x], lambda a: a.flatten(s, e), ref, lambda a: a.flatten(s, e))


@op("permute")
def _permute(draw):
    x = _one(draw, min_side=0)
    perm = tuple(draw(st.permutations(range(x.ndim))))
    kind = draw(st.sampled_from(["permute", "transpose_all", "T"]))
    if kind == "T":
        perm = tuple(range(x.ndim))[::-1]
        return Case([x], lambda a: a.T, lambda a: a.T, lambda a: a.permute(perm))
    f = (lambda a: a.permute(perm)) if kind == "permute" else (lambda a: ag.transpose(a, perm))
    return Case([x], f, lambda a: np.transpose(a, perm), lambda a: a.permute(perm))


@op("transpose2")
def _transpose2(draw):
    x = _one(draw, min_dims=2)
    d0, d1 = draw(st.integers(-x.ndim, x.ndim - 1)), draw(st.integers(-x.ndim, x.ndim - 1))
    return Case([x], lambda a: a.transpose(d0, d1), lambda a: np.swapaxes(a, d0, d1), lambda a: a.transpose(d0, d1))


@op("squeeze_unsqueeze")
def _squeeze(draw):
    x = _one(draw, min_side=0)
    x = x.reshape(x.shape + (1,))
    ax = draw(st.integers(-x.ndim - 1, x.ndim))
    kind = draw(st.sampled_from(["unsqueeze", "squeeze_all", "squeeze_axis"]))
    if kind == "unsqueeze":
        return Case([x], lambda a: a.unsqueeze(ax), lambda a: np.expand_dims(a, ax), lambda a: a.unsqueeze(ax))
    if kind == "squeeze_all":
        return Case([x], lambda a: a.squeeze(), np.squeeze, lambda a: a.squeeze())
    return Case([x], lambda a: a.squeeze(-1), lambda a: np.squeeze(a, -1), lambda a: a.squeeze(-1))


@op("broadcast_to")
def _broadcast_to(draw):
    s_in, s_out = draw(broadcast_pairs(min_side=0))
    target = np.broadcast_shapes(s_in, s_out)
    x = draw(arrays(shape=s_in))
    f = draw(st.sampled_from([lambda a: a.broadcast_to(target), lambda a: a.expand(*target),
                              lambda a: ag.broadcast_to(a, target)]))
    return Case([x], f, lambda a: np.broadcast_to(a, target), lambda a: a.expand(target))


def _np_sum_to(a: np.ndarray, shape: tuple) -> np.ndarray:
    lead = a.ndim - len(shape)
    kept = tuple(lead + i for i, n in enumerate(shape) if n == 1)
    return a.sum(axis=kept, keepdims=True).sum(axis=tuple(range(lead)))


@op("sum_to")
def _sum_to_op(draw):
    """SumTo, the node that sums every broadcast gradient back to its input's shape (function._sum_to)."""
    s_small, s_other = draw(broadcast_pairs(min_side=0))
    x = draw(arrays(shape=np.broadcast_shapes(s_small, s_other)))
    return Case([x], lambda a: SumTo.apply(a, shape=s_small), lambda a: _np_sum_to(a, s_small),
                lambda a: a.sum_to_size(s_small))


@op("expand_minus_one")
def _expand_m1(draw):
    x = _one(draw, min_dims=1, max_dims=2)
    target = (2,) + tuple(-1 for _ in x.shape)
    full = (2,) + x.shape
    return Case([x], lambda a: a.expand(*target), lambda a: np.broadcast_to(a, full), lambda a: a.expand(*target))


@st.composite
def basic_index(draw, shape):
    idx = []
    for n in shape:
        kind = draw(st.sampled_from(["slice", "int", "all"]))
        if kind == "int" and n:
            idx.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-n - 1, n + 1))
            stop = draw(st.none() | st.integers(-n - 1, n + 1))
            step = draw(st.sampled_from([None, 1, 2, -1, -2]))
            idx.append(slice(start, stop, step))
        else:
            idx.append(slice(None))
    if draw(st.booleans()):
        idx.insert(draw(st.integers(0, len(idx))), None)
    return tuple(idx)


@op("getitem")
def _getitem(draw):
    x = _one(draw, min_dims=1, min_side=1)
    kind = draw(st.sampled_from(["basic", "intarray", "intarray_axis1", "mask", "mask_axis0", "ellipsis"]))
    n = x.shape[0]
    rng = np.random.default_rng(draw(seeds))
    if kind == "basic":
        index = draw(basic_index(x.shape))
    elif kind == "intarray":  # repeats accumulate
        index = rng.integers(-n, n, size=draw(st.integers(0, 5)))
    elif kind == "intarray_axis1" and x.ndim >= 2:
        index = (slice(None), rng.integers(0, x.shape[1], size=(2, 2)))
    elif kind == "mask":
        index = rng.random(x.shape) > 0.4
    elif kind == "mask_axis0":
        index = rng.random(n) > 0.4
    else:
        index = (Ellipsis, 0)

    def t(a):
        import torch

        idx = index if isinstance(index, tuple) else (index,)
        return a[tuple(torch.as_tensor(i) if isinstance(i, np.ndarray) else i for i in idx)]

    has_neg_step = isinstance(index, tuple) and any(isinstance(i, slice) and (i.step or 1) < 0 for i in index)
    return Case([x], lambda a: a[index], lambda a: a[index], None if has_neg_step else t)


@op("getitem_tensor_index")
def _getitem_tensor(draw):
    x = _one(draw, min_dims=1, min_side=1)
    idx = ag.Tensor(np.array([0, -1, 0]), dtype=np.int64)
    return Case([x], lambda a: a[idx], lambda a: a[np.array([0, -1, 0])],
                lambda a: a[__import__("torch").tensor([0, -1, 0])])


@op("pad")
def _pad(draw):
    x = _one(draw, min_side=0, min_dims=1)
    widths = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in x.shape)
    value = draw(st.sampled_from([0.0, 1.5]))

    def t(a):
        import torch

        flat = [w for pair in reversed(widths) for w in pair]
        return torch.nn.functional.pad(a, flat, value=value)

    return Case([x], lambda a: a.pad(widths, value), lambda a: np.pad(a, widths, constant_values=value), t)


@op("concatenate")
def _concatenate(draw):
    base = draw(shapes(min_dims=1, min_side=0))
    axis = draw(st.integers(-len(base), len(base) - 1))
    k = draw(st.integers(1, 3))
    arrs = []
    for _ in range(k):
        s = list(base)
        s[axis] = draw(st.integers(0, 3))
        arrs.append(draw(arrays(shape=tuple(s))))
    f = draw(st.sampled_from([ag.concatenate, ag.cat]))
    return Case(arrs, lambda *ts: f(list(ts), axis=axis), lambda *a: np.concatenate(a, axis=axis),
                lambda *ts: __import__("torch").cat(ts, dim=axis))


@op("stack")
def _stack(draw):
    s = draw(shapes(min_side=0))
    axis = draw(st.integers(-len(s) - 1, len(s)))
    arrs = [draw(arrays(shape=s)) for _ in range(draw(st.integers(1, 3)))]
    return Case(arrs, lambda *ts: ag.stack(list(ts), axis=axis), lambda *a: np.stack(a, axis=axis),
                lambda *ts: __import__("torch").stack(ts, dim=axis))


@op("split")
def _split(draw):
    x = _one(draw, min_dims=1, min_side=1)
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    n = x.shape[axis]
    how = draw(st.sampled_from([1, n, [1], [0, n]] if n > 1 else [1, [0]]))
    w = np.arange(1.0, 5.0)

    def combine(parts, cat):
        # a weighted recombination so each piece's gradient is distinguishable
        return cat([p * float(w[i % 4]) for i, p in enumerate(parts)], axis)

    def t(a):
        import torch

        sizes = [n // how] * how if isinstance(how, int) else np.diff([0, *how, n]).tolist()
        return combine(torch.split(a, sizes, dim=axis), lambda ps, ax: torch.cat(ps, dim=ax))

    return Case([x], lambda a: combine(a.split(how, axis), lambda ps, ax: ag.concatenate(ps, ax)),
                lambda a: combine(np.split(a, how, axis), np.concatenate), t)


@op("dropout")
def _dropout(draw):
    x = _one(draw, min_side=0)
    p = draw(st.sampled_from([0.0, 0.25, 0.5, 1.0]))
    seed = draw(seeds)

    def ref(a):
        if p == 1.0:
            return a * 0.0
        if p == 0.0:
            return a
        keep = np.random.default_rng(seed).random(a.shape) >= p
        return a * keep / (1 - p)

    return Case([x], lambda a: ag.dropout(a, p, rng=np.random.default_rng(seed)), ref, None)


@op("clone_astype")
def _clone(draw):
    x = _one(draw)
    f = draw(st.sampled_from([lambda a: a.clone(), lambda a: a.astype(np.float64), lambda a: +a]))
    return Case([x], f, lambda a: a.copy(), lambda a: a.clone())


@op("composite")
def _composite(draw):
    """A small network: linear -> tanh -> log_softmax, mean of a picked entry (fan-in via x)."""
    x, w = draw(arrays(shape=(2, 3))), draw(arrays(shape=(3, 3)))

    def f(a, b):
        h = (a @ b).tanh() + a
        return (h.log_softmax(-1)[np.arange(2), np.array([0, 2])]).mean()

    def ref(a, b):
        h = np.tanh(a @ b) + a
        ls = h - np.log(np.exp(h).sum(-1, keepdims=True))
        return ls[np.arange(2), np.array([0, 2])].mean()

    return Case([x, w], f, ref, None)


NAMES = sorted(OPS)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_forward_and_gradient(name, data):
    case = OPS[name](data.draw)
    out = check_grad(case.fn, *case.arrays)
    expected = case.ref(*case.arrays)
    assert out.shape == np.shape(expected), (out.shape, np.shape(expected))
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)


def test_catalogue_covers_every_public_op():
    documented = {
        "add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu",
        "maximum", "minimum", "where", "clip", "matmul", "linear", "sum", "mean", "var", "std", "max", "min",
        "logsumexp", "softmax", "log_softmax", "reshape", "flatten", "permute", "broadcast_to", "getitem", "pad",
        "concatenate", "stack", "split", "dropout",
    }
    assert documented <= set(NAMES)


def test_official_gradcheck_agrees():
    """The local finite-difference check and ``autograd.gradcheck`` agree on the same function and inputs."""
    x = np.random.default_rng(0).uniform(0.5, 2.0, (2, 3))

    def f(a):
        return (a.log() * a).sum(axis=1)

    check_grad(f, x)
    assert ag.gradcheck(f, ag.Tensor(x, requires_grad=True)) is True


# --- explicit regressions ----------------------------------------------------------------------
def test_getitem_repeated_indices_accumulate():
    x = ag.Tensor(np.arange(4.0), requires_grad=True)
    x[np.array([0, 0, 3, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 0.0, 1.0])


def test_getitem_rejects_float_index_with_a_hint():
    x = ag.Tensor(np.arange(4.0))
    with pytest.raises(IndexError, match="integer or boolean"):
        x[ag.Tensor([0, 1])]
    assert x[[]].shape == (0,)


def test_out_of_range_axes_raise_instead_of_wrapping():
    x = ag.Tensor(np.ones((2, 3)))
    for f in [lambda: x.permute(0, 5), lambda: ag.concatenate([x, x], axis=2), lambda: x.unsqueeze(7),
              lambda: ag.squeeze(x, 5), lambda: x.transpose(0, 4), lambda: ag.stack([x, x], axis=4),
              lambda: x.split(1, axis=2), lambda: x.flatten(0, 3)]:
        with pytest.raises(ValueError, match="out of range"):
            f()
    with pytest.raises(ValueError, match="permutation"):
        x.permute(0, 1, 2)


def test_split_count_must_be_positive_and_empty_axis_splits():
    with pytest.raises(ValueError, match="positive"):
        ag.Tensor(np.ones(4)).split(0)
    parts = ag.Tensor(np.ones((0, 2))).split(2)
    assert [p.shape for p in parts] == [(0, 2), (0, 2)]


def test_logsumexp_of_empty_axis_is_minus_inf():
    out = ag.logsumexp(ag.Tensor(np.zeros((0, 3))), axis=0)
    np.testing.assert_array_equal(out.data, [-np.inf] * 3)


def test_sigmoid_and_logsumexp_are_stable_for_huge_inputs():
    x = ag.Tensor(np.array([-1000.0, 0.0, 1000.0]), requires_grad=True)
    np.testing.assert_allclose(x.sigmoid().data, [0.0, 0.5, 1.0])
    s = x.logsumexp()
    s.backward()
    assert np.isfinite(s.data) and np.allclose(x.grad.data, [0, 0, 1])
    np.testing.assert_allclose(x.softmax().data, [0, 0, 1])


def test_distinct_pairs_put_the_larger_value_on_either_side():
    """The maximum/minimum catalogue entries must see a > b as well as a < b."""
    seen = set()

    @given(data=st.data())
    def collect(data):
        a, b = _distinct_pair(data.draw)
        assert not np.any(a[..., None] == np.reshape(b, -1))  # no ties anywhere
        diff = np.broadcast_arrays(a, b)
        seen.update(np.unique(np.sign(diff[0] - diff[1])).tolist())

    collect()
    assert seen == {-1.0, 1.0}


def test_max_ties_share_the_gradient():
    x = ag.Tensor(np.array([1.0, 3.0, 3.0]), requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.data, [0, 0.5, 0.5])
    y = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    ag.maximum(y, ag.Tensor(np.array([1.0, 0.0]))).sum().backward()
    np.testing.assert_allclose(y.grad.data, [0.5, 1.0])


def test_dropout_is_identity_in_eval_and_rejects_bad_p():
    x = ag.Tensor(np.ones(3))
    assert ag.dropout(x, 0.5, training=False) is x
    with pytest.raises(ValueError, match="p must be"):
        ag.dropout(x, 1.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_relu_forward_keeps_dtype_and_layout_whatever_path(dtype, monkeypatch):
    """relu compares float inputs with a shared read-only zeros array (numpy's fast loop) and others with 0."""
    from autograd.ops import elementwise

    rng = np.random.default_rng(0)
    base = rng.standard_normal((3, 5, 4)) * 3
    for a in (base.astype(dtype), base.astype(dtype).transpose(2, 0, 1), base.astype(dtype)[::2, :, 1],
              np.asarray(base[0, 0, 0]).astype(dtype), np.zeros((0, 3), dtype)):
        want = np.maximum(a, 0)
        got = ag.Tensor(a, dtype=a.dtype).relu().data
        assert got.dtype == want.dtype and got.shape == want.shape and got.strides == want.strides
        np.testing.assert_array_equal(got, want)
    monkeypatch.setattr(elementwise, "_ZEROS_MAX_BYTES", 8)  # the big-input form (scalar 0)
    a = base.astype(np.float32)
    np.testing.assert_array_equal(ag.Tensor(a).relu().data, np.maximum(a, 0))
    for z in elementwise._ZEROS.values():  # shared zeros: read-only, still zero
        assert not z.flags.writeable and not z.any()


_ARRAY_PATH_CASES = {  # ops whose backward has an array-only form without create_graph: (fn, input shapes)
    "linear": (ag.linear, [(5, 4), (3, 4), (3,)]), "linear_nobias": (ag.linear, [(5, 4), (3, 4)]),
    "matmul": (ag.matmul, [(5, 4), (4, 3)]), "batched_broadcast": (ag.matmul, [(2, 5, 4), (4, 3)]),
    "tanh": (ag.tanh, [(6, 7)]), "sigmoid": (ag.sigmoid, [(6, 7)]), "relu": (ag.relu, [(6, 7)]),
    "log_softmax": (lambda x: ag.log_softmax(x, axis=-1), [(6, 7)]),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("case", sorted(_ARRAY_PATH_CASES))
def test_array_backward_equals_recorded_backward(case, dtype):
    """Without create_graph these backwards compute on the arrays directly; the numbers must be exactly
    those of the recorded (create_graph=True) backward, which goes through Tensor ops."""
    from autograd.ops import elementwise

    rng = np.random.default_rng(3)
    fn, shapes = _ARRAY_PATH_CASES[case]
    arrays = [(rng.standard_normal(s) * 3).astype(dtype) for s in shapes]
    grads = []
    for create_graph in (False, True):
        ts = [ag.Tensor(a, requires_grad=True, dtype=dtype) for a in arrays]
        y = fn(*ts)
        y.backward(ag.Tensor(np.cos(np.arange(y.data.size)).reshape(y.shape), dtype=dtype),
                   create_graph=create_graph)
        grads.append([t.grad.data for t in ts])
    for fast, recorded in zip(*grads):
        assert fast.shape == recorded.shape and fast.dtype == recorded.dtype == dtype
        np.testing.assert_array_equal(fast, recorded)
    for one in elementwise._ONES.values():  # tanh's and sigmoid's shared 1s: read-only 0-d ones
        assert one.shape == () and one == 1 and not one.flags.writeable


def test_tanh_gradient_keeps_precision_where_it_saturates():
    """d tanh = g (1 - o^2): computing 1 - o^2 first is exact near |o| = 1, where g - g o o cancels."""
    x = ag.Tensor(np.array([4.0, 6.0, 8.0, -7.5], np.float32), requires_grad=True)
    x.tanh().backward(ag.Tensor(np.full(4, 3.0, np.float32)))
    o = np.tanh(x.data).astype(np.float64)
    np.testing.assert_allclose(x.grad.data, 3.0 * (1.0 - o * o), rtol=1e-4)  # g - g o o: off by up to 12% here
