"""max_pool2d with NaN and -inf inputs, as PyTorch: a window holding a NaN gives NaN and sends its gradient
to its last NaN (row-major; PyTorch's CPU kernel updates on ``val > max || isnan(val)``), the gradient of the
gradient reads the same positions, and a padding cell never wins (a window whose real entries are all -inf
sends its gradient to the first of them).  The 2x2/stride-2 unpadded fast path propagates NaN in its output but
does not look for NaNs (for speed; documented in max_pool2d): its NaN-window gradients are pinned below as
documented, not as PyTorch's.

Every case is checked against hand-written expectations or a plain-Python loop that states the rule (so the
tests mean something without torch), and against torch when it is installed."""

from __future__ import annotations

import numpy as np
import pytest

import autograd as ag
from autograd.ops.conv import max_pool2d

nan, inf = np.nan, np.inf


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def winners_ref(x, k, s, p):
    """PyTorch's rule, one window at a time: flat (h, w) position of each window's winner, (N, C, ho, wo).

    Over the window's real entries in row-major order, starting from max = -inf at the first real entry,
    an entry replaces the winner when ``val > max or isnan(val)``."""
    (kh, kw), (sh, sw), (ph, pw) = pair(k), pair(s), pair(p)
    n, c, h, w = x.shape
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    win = np.zeros((n, c, ho, wo), np.intp)
    for a in range(n):
        for b in range(c):
            for r in range(ho):
                for q in range(wo):
                    i0, j0 = r * sh - ph, q * sw - pw
                    rows = range(max(i0, 0), min(i0 + kh, h))
                    cols = range(max(j0, 0), min(j0 + kw, w))
                    best, at = -inf, rows[0] * w + cols[0]
                    for i in rows:
                        for j in cols:
                            v = x[a, b, i, j]
                            if v > best or np.isnan(v):
                                best, at = v, i * w + j
                    win[a, b, r, q] = at
    return win


def expected(x, win, g, v):
    """(y, dL/dx, d<dL/dx, v>/dg) for L = sum(y * g), given the winners: y and the last one read x and v at
    the winners, dL/dx scatters g to them."""
    n, c, h, w = x.shape
    flat = x.reshape(n, c, h * w)
    y = np.take_along_axis(flat, win.reshape(n, c, -1), axis=2).reshape(win.shape)
    gx = np.zeros((n, c, h * w))
    for a in range(n):
        for b in range(c):
            np.add.at(gx[a, b], win[a, b].ravel(), g[a, b].ravel())
    vg = np.take_along_axis(v.reshape(n, c, h * w), win.reshape(n, c, -1), axis=2).reshape(win.shape)
    return y, gx.reshape(x.shape), vg


def run(x, k, s, p, seed=0):
    """chainrule's (y, dL/dx, d<dL/dx, v>/dg) for L = sum(max_pool2d(x) * g), and g, v."""
    rng = np.random.default_rng(seed)
    X = ag.Tensor(x, requires_grad=True)
    y = max_pool2d(X, k, s, p)
    g = rng.standard_normal(y.shape).astype(x.dtype)
    v = rng.standard_normal(x.shape).astype(x.dtype)
    G = ag.Tensor(g, requires_grad=True)
    gx, = ag.grad(y, [X], grad_outputs=[G], create_graph=True)  # (not sum(y * G): inf - inf would warn)
    vg, = ag.grad((gx * ag.Tensor(v)).sum(), [G])
    return y.data, gx.data, vg.data, g, v


def torch_run(x, k, s, p, g, v):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    tx = torch.tensor(x, requires_grad=True)
    tg = torch.tensor(g, requires_grad=True)
    ty = F.max_pool2d(tx, k, s, p)
    tgx, = torch.autograd.grad((ty * tg).sum(), [tx], create_graph=True)
    tvg, = torch.autograd.grad((tgx * torch.tensor(v)).sum(), [tg])
    return ty.detach().numpy(), tgx.detach().numpy(), tvg.numpy()


# (1, 1, 4, 6): NaNs at every position of a 2x2 window, several NaNs in one window, a NaN-free window with a
# tie, a window of -inf entries
X46 = np.array([[[[1.0, nan, 0.0, 2.0, 3.0, 3.0],
                  [0.0, 0.0, nan, nan, 3.0, 1.0],
                  [nan, 5.0, 7.0, 1.0, -inf, -inf],
                  [0.0, 0.0, 1.0, nan, -inf, -inf]]]])
# (2, 2, 5, 7): NaNs and -infs scattered over overlapping windows and the borders
_rng = np.random.default_rng(3)
X57 = np.round(_rng.standard_normal((2, 2, 5, 7)) * 2)
X57[_rng.random(X57.shape) < 0.15] = nan
X57[_rng.random(X57.shape) < 0.15] = -inf
X57[0, 0] = -inf  # a whole image of -inf (padding ties)
X57[1, 1, :2, :2] = nan  # a block of NaNs

CASES = [
    (X46, 3, 1, 0),
    (X46, (2, 2), (2, 1), 0),
    (X46, 2, 2, 1),  # 2x2 with padding: the general path
    (X46, 3, 1, 1),
    (X46, (3, 2), (2, 1), (1, 1)),
    (X57, 3, 1, 0),
    (X57, 3, 1, 1),
    (X57, (2, 2), (2, 1), 0),
    (X57, 3, 2, 1),
    (X57, (2, 3), (1, 2), (1, 1)),
]
IDS = [f"{'x46' if x is X46 else 'x57'}-k{k}-s{s}-p{p}" for x, k, s, p in CASES]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x,k,s,p", CASES, ids=IDS)
def test_max_pool_nan_and_inf_follow_pytorchs_rule(x, k, s, p, dtype):
    """Values, gradient and gradient of the gradient vs the plain-Python statement of PyTorch's rule."""
    x = x.astype(dtype)
    y, gx, vg, g, v = run(x, k, s, p)
    ey, egx, evg = expected(x, winners_ref(x, k, s, p), g, v)
    np.testing.assert_array_equal(y, ey)  # (NaN where the window holds one: assert_array_equal matches NaNs)
    np.testing.assert_allclose(gx, egx, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(vg, evg)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x,k,s,p", CASES, ids=IDS)
def test_max_pool_nan_and_inf_match_torch(x, k, s, p, dtype):
    pytest.importorskip("torch")
    x = x.astype(dtype)
    y, gx, vg, g, v = run(x, k, s, p)
    ty, tgx, tvg = torch_run(x, k, s, p, g, v)
    np.testing.assert_array_equal(y, ty)
    np.testing.assert_allclose(gx, tgx, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(vg, tvg)


def test_max_pool_2x2_fast_path_nan_as_documented():
    """The 2x2 fast path on X46: NaN windows are NaN (as PyTorch); their gradient goes to a left-column entry
    (the top-left one if that column holds a NaN, else its larger entry), the documented deviation."""
    X = ag.Tensor(X46, requires_grad=True)
    y = max_pool2d(X, 2)
    g = np.array([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]]])
    y.backward(ag.Tensor(g))
    np.testing.assert_array_equal(y.data[0, 0], [[nan, nan, 3.0], [nan, nan, -inf]])
    np.testing.assert_array_equal(
        X.grad.data[0, 0],
        [[1, 0, 2, 0, 3, 0],  # windows 0 and 1 hold NaNs only in the right / left column; window 2: first tied 3
         [0, 0, 0, 0, 0, 0],
         [4, 0, 5, 0, 6, 0],  # window 3: top-left (a NaN); window 4: left column's larger (7); window 5: all -inf
         [0, 0, 0, 0, 0, 0]],
    )


@pytest.mark.torch
def test_max_pool_2x2_fast_path_nan_values_match_torch():
    torch = pytest.importorskip("torch")
    for x in (X46, X57):
        np.testing.assert_array_equal(
            max_pool2d(ag.Tensor(x), 2).data, torch.nn.functional.max_pool2d(torch.tensor(x), 2).numpy()
        )


def test_max_pool_2x2_windows_on_the_general_path_nan_by_hand():
    """2x2 windows with padding take the general path: X46 with padding 1, each NaN window's gradient goes to
    its last NaN."""
    X = ag.Tensor(X46, requires_grad=True)
    y = max_pool2d(X, 2, 2, 1)  # windows rows {-1,0},{1,2},{3,4}; cols {-1,0},{1,2},{3,4},{5,6}
    y.sum().backward()
    np.testing.assert_array_equal(
        y.data[0, 0], [[1.0, nan, 3.0, 3.0], [nan, nan, nan, 1.0], [0.0, 1.0, nan, -inf]]
    )
    np.testing.assert_array_equal(
        X.grad.data[0, 0],
        [[1, 1, 0, 0, 1, 1],
         [0, 0, 1, 1, 0, 1],
         [1, 0, 0, 0, 0, 0],
         [1, 0, 1, 1, 0, 1]],  # the last window: its only real entry is -inf (it was a padding cell's)
    )


def test_max_pool_3x3_stride1_nan_by_hand():
    """The reviewer's example: every window holding the NaN at (0, 1) or (2, 0) is NaN, and their gradients
    go to the NaN each one holds last."""
    x = np.array([[[[1.0, nan, 0.0, 0.0],
                    [0.0, 0.0, 0.0, 0.0],
                    [nan, 5.0, 0.0, 0.0],
                    [0.0, 0.0, 0.0, 0.0]]]])
    X = ag.Tensor(x, requires_grad=True)
    y = max_pool2d(X, 3, 1)
    y.sum().backward()
    np.testing.assert_array_equal(y.data[0, 0], [[nan, nan], [nan, 5.0]])
    # windows (0, 0) and (1, 0) hold the NaN at (2, 0) (after the one at (0, 1)); window (0, 1) only (0, 1)
    assert X.grad.data[0, 0, 2, 0] == 2 and X.grad.data[0, 0, 0, 1] == 1 and X.grad.data[0, 0, 2, 1] == 1
    assert X.grad.data.sum() == 4


def test_max_pool_all_neg_inf_with_padding_never_picks_a_padding_cell():
    """4x4 of -inf, kernel 3, stride 1, padding 1: all 16 windows send their gradient to their first real
    entry (PyTorch's map); it was 9, the 7 windows starting in the padding lost theirs."""
    X = ag.Tensor(np.full((1, 1, 4, 4), -inf), requires_grad=True)
    y = max_pool2d(X, 3, 1, 1)
    y.sum().backward()
    np.testing.assert_array_equal(y.data, np.full((1, 1, 4, 4), -inf))
    assert X.grad.data.sum() == 16
    np.testing.assert_array_equal(X.grad.data[0, 0], [[4, 2, 2, 0], [2, 1, 1, 0], [2, 1, 1, 0], [0, 0, 0, 0]])


@pytest.mark.torch
@pytest.mark.parametrize("k,s,p", [(3, 1, 1), (2, 2, 1), ((3, 2), (2, 1), (1, 1)), (3, 2, 1)])
def test_max_pool_all_neg_inf_with_padding_matches_torch(k, s, p):
    torch = pytest.importorskip("torch")
    x = np.full((1, 2, 5, 4), -inf)
    x[0, 1, 3, 2] = 0.0  # one finite entry in the second image
    X = ag.Tensor(x, requires_grad=True)
    max_pool2d(X, k, s, p).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(tx, k, s, p).sum().backward()
    np.testing.assert_array_equal(X.grad.data, tx.grad.numpy())
    win = winners_ref(x, k, s, p)
    ho, wo = win.shape[2:]
    np.testing.assert_array_equal(X.grad.data.sum(axis=(2, 3)), [[ho * wo, ho * wo]])


@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, 1, 1), ((2, 2), (2, 1), 0), (3, 2, 1)])
def test_max_pool_finite_gradgradcheck_still_passes(k, s, p):
    """Second derivatives of a finite case (distinct values, no ties) still check against finite differences."""
    rng = np.random.default_rng(0)
    x = ag.Tensor((rng.permutation(2 * 2 * 6 * 7).reshape(2, 2, 6, 7) - 40) * 0.05, requires_grad=True)
    assert ag.gradgradcheck(lambda t: max_pool2d(t, k, s, p) ** 2, x)
