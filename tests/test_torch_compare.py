"""Forward values and gradients of every op against PyTorch (float64), when torch is installed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import arrays
from test_tensor_ops import NAMES, OPS

import autograd as ag
from autograd import Tensor

torch = pytest.importorskip("torch", reason="PyTorch is not installed: the comparison with torch is skipped")
pytestmark = pytest.mark.torch

NO_TWIN = {"dropout", "composite"}  # dropout: torch cannot draw the same mask; composite: a numpy-only check
SOME_TWINS = {"getitem"}  # negative slice steps, which torch does not support, have no twin


def _compare(fn, tfn, arrs, seed=0, rtol=1e-10, atol=1e-12):
    ours = [Tensor(a, requires_grad=True) for a in arrs]
    theirs = [torch.tensor(np.array(a, order="C"), dtype=torch.float64, requires_grad=True) for a in arrs]
    out, tout = fn(*ours), tfn(*theirs)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward")
    v = np.random.default_rng(seed).uniform(-1, 1, out.shape)
    if out.requires_grad:
        (out * Tensor(v)).sum().backward()
    if tout.requires_grad:
        (tout * torch.from_numpy(v)).sum().backward()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        ga = np.zeros(a.shape) if a.grad is None else a.grad.data
        gb = np.zeros(a.shape) if b.grad is None else b.grad.numpy()
        np.testing.assert_allclose(ga, gb, rtol=1e-9, atol=1e-11, err_msg=f"gradient of input {i}")


def test_exemptions_name_catalogued_ops():
    assert NO_TWIN | SOME_TWINS <= set(NAMES)


@pytest.mark.parametrize("name", sorted(SOME_TWINS))
def test_partly_twinned_ops_have_twins_for_most_cases(name):
    twins = []

    @given(data=st.data())
    def collect(data):
        twins.append(OPS[name](data.draw).torch is not None)

    collect()
    assert sum(twins) > len(twins) / 2, f"{name}: only {sum(twins)} of {len(twins)} cases compared with torch"


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_matches_torch(name, data):
    """Every catalogued op against its torch twin; only exempt ops lack one (and an exempt op really has none)."""
    case = OPS[name](data.draw)
    if name in NO_TWIN:
        assert case.torch is None, f"{name} has a torch twin now: take it out of NO_TWIN"
        return
    if case.torch is None:
        assert name in SOME_TWINS, f"{name} drew a case without a torch twin"
        return
    _compare(case.fn, case.torch, case.arrays)


def test_dropout_scaling_matches_torch_in_expectation():
    x = Tensor(np.ones(20000), requires_grad=True)
    y = ag.dropout(x, 0.3, rng=np.random.default_rng(0))
    t = torch.nn.functional.dropout(torch.ones(20000, dtype=torch.float64), 0.3)
    kept = y.data[y.data != 0]
    np.testing.assert_allclose(kept, 1 / 0.7)
    np.testing.assert_allclose(np.unique(t.numpy())[1:], [1 / 0.7])
    assert abs((y.data != 0).mean() - 0.7) < 0.02


# --- conv2d and pooling ------------------------------------------------------------------------------
conv_params = st.tuples(st.integers(1, 2), st.integers(0, 2), st.integers(1, 3))  # stride, padding, kernel


@given(data=st.data(), p=conv_params, bias=st.booleans())
def test_conv2d_matches_torch(data, p, bias):
    stride, padding, k = p
    n, cin, cout = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3))
    h, w = data.draw(st.integers(max(1, k - 2 * padding), 5)), data.draw(st.integers(max(1, k - 2 * padding), 5))
    x = data.draw(arrays(shape=(n, cin, h, w)))
    wt = data.draw(arrays(shape=(cout, cin, k, k)))
    arrs = [x, wt] + ([data.draw(arrays(shape=(cout,)))] if bias else [])

    def ours(*ts):
        return ag.conv2d(ts[0], ts[1], ts[2] if bias else None, stride=stride, padding=padding)

    def theirs(*ts):
        return torch.nn.functional.conv2d(ts[0], ts[1], ts[2] if bias else None, stride=stride, padding=padding)

    _compare(ours, theirs, arrs, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
@given(data=st.data())
def test_pooling_matches_torch(pool, data):
    fn = getattr(ag, pool)
    k = data.draw(st.integers(1, 3))
    stride = data.draw(st.sampled_from([None, 1, 2]))
    padding = data.draw(st.integers(0, k // 2))
    h, w = data.draw(st.integers(k, 6)), data.draw(st.integers(k, 6))
    # distinct values: no ties inside a max window
    x = data.draw(arrays(shape=(data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)), h, w), domain="distinct"))

    def ours(t):
        return fn(t, k, stride=stride, padding=padding)

    def theirs(t):
        kw = {"count_include_pad": True} if pool == "avg_pool2d" else {}
        return getattr(torch.nn.functional, pool)(t, k, stride=stride, padding=padding, **kw)

    _compare(ours, theirs, [x], rtol=1e-9, atol=1e-10)
