"""Losses and F.pad at the edges: -inf/NaN log-probabilities outside the targets, second derivatives
through the binary losses' target gradients, pos_weight and negative pad widths."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import check_grad, check_grad2, seeds, values
from test_losses import log_softmax_np, t64  # (a -inf logit gives a -inf entry)

import nn.functional as F
from autograd import Tensor, grad, gradcheck, gradgradcheck

RNG = np.random.default_rng(4)
INF = np.inf


# --- cross_entropy / nll_loss: only the target entries are read ------------------------------
def test_cross_entropy_is_finite_with_neg_inf_logits_outside_the_targets():
    z = np.array([[0.0, -INF, 1.0], [2.0, 0.5, -INF]])
    t = np.array([0, 1])
    ls = log_softmax_np(z)
    per = -ls[[0, 1], t]
    for red, expect in (("mean", per.mean()), ("sum", per.sum()), ("none", per)):
        x = t64(z)
        loss = F.cross_entropy(x, t, red)
        np.testing.assert_allclose(loss.data, expect, rtol=1e-14)
        loss.sum().backward()
        scale = 0.5 if red == "mean" else 1.0
        np.testing.assert_allclose(x.grad.data, scale * (np.exp(ls) - np.eye(3)[t]), rtol=1e-14, atol=0)
    np.testing.assert_allclose(F.cross_entropy(t64(z), t).data, 1.5073374827504877, rtol=1e-14)  # PyTorch's value
    w = np.array([0.5, 2.0, 3.0])
    np.testing.assert_allclose(F.cross_entropy(t64(z), t, weight=w).data, (w[t] * per).sum() / w[t].sum(), rtol=1e-14)
    # (N, C, d) layout: the same rows along a trailing axis
    np.testing.assert_allclose(F.cross_entropy(t64(z.T[None]), t[None], "none").data, per[None], rtol=1e-14)
    # label smoothing sums the log-probabilities of every class, -inf included: inf (PyTorch's rule)
    assert F.cross_entropy(t64(z), t, label_smoothing=0.1).item() == INF
    np.testing.assert_array_equal(F.cross_entropy(t64(z), t, "none", 0.1).data, [INF, INF])


def test_ignored_rows_of_neg_inf_or_nan_logits_count_for_nothing():
    z = np.array([[0.0, 1.0, 2.0], [-INF, -INF, -INF], [0.5, np.nan, 1.0], [1.0, -1.0, 0.0]])
    t = np.array([2, -100, -100, 0])
    per = -log_softmax_np(z[[0, 3]])[[0, 1], [2, 0]]
    np.testing.assert_allclose(F.cross_entropy(t64(z), t).data, per.mean(), rtol=1e-14)
    np.testing.assert_allclose(F.cross_entropy(t64(z), t, "sum").data, per.sum(), rtol=1e-14)
    np.testing.assert_array_equal(F.cross_entropy(t64(z), t, "none").data, [per[0], 0.0, 0.0, per[1]])
    np.testing.assert_allclose(F.cross_entropy(t64(z[:2]), t[:2]).data, 0.4076059644443804, rtol=1e-14)  # PyTorch's
    x = t64(z)
    F.cross_entropy(x, t).backward()
    ls = log_softmax_np(z[[0, 3]])
    np.testing.assert_allclose(x.grad.data[[0, 3]], (np.exp(ls) - np.eye(3)[[2, 0]]) / 2, rtol=1e-14)
    # with smoothing every class of a counted row is read, but an ignored row still is not
    eps = 0.1
    smooth = -(log_softmax_np(z[[0, 3]])).mean(1)
    np.testing.assert_allclose(F.cross_entropy(t64(z), t, "none", eps).data,
                               [(1 - eps) * per[0] + eps * smooth[0], 0, 0, (1 - eps) * per[1] + eps * smooth[1]],
                               rtol=1e-14)
    np.testing.assert_allclose(F.cross_entropy(t64(z), t, "mean", eps).data,
                               ((1 - eps) * per + eps * smooth).mean(), rtol=1e-14)


def test_nll_loss_reads_only_the_target_entries():
    with np.errstate(divide="ignore"):
        lp = np.log(np.array([[0.7, 0.3, 0.0], [0.0, 0.5, 0.5]]))
    np.testing.assert_allclose(F.nll_loss(t64(lp[:1]), np.array([0])).data, -np.log(0.7), rtol=1e-14)
    for red, expect in (("mean", -np.log([0.7, 0.5]).mean()), ("sum", -np.log([0.7, 0.5]).sum()),
                        ("none", -np.log([0.7, 0.5]))):
        x = t64(lp)
        loss = F.nll_loss(x, np.array([0, 2]), red, weight=np.array([1.0, 1.0, 1.0]))
        np.testing.assert_allclose(loss.data, expect, rtol=1e-14)
        loss.sum().backward()
        g = np.zeros((2, 3))
        g[[0, 1], [0, 2]] = -0.5 if red == "mean" else -1.0
        np.testing.assert_array_equal(x.grad.data, g)
    x = t64([[-INF, 0.0], [0.0, -1.0]])
    loss = F.nll_loss(x, np.array([-100, 1]), "none")
    np.testing.assert_array_equal(loss.data, [0.0, 1.0])
    loss.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 0], [0, -1]])


@pytest.mark.parametrize("red", ["mean", "sum", "none"])
def test_masked_logits_gradients_by_finite_differences(red):
    """Logits z + mask with -inf in the mask outside the targets: the loss is smooth in z (a masked
    entry sends no gradient), to second order, with weights, ignored rows and smoothing too."""
    N, C = 5, 4
    t = np.array([0, 3, -100, 1, 2])
    mask = np.zeros((N, C))
    mask[0, 1] = mask[1, [0, 2]] = mask[3, 3] = mask[4, 0] = -INF
    mask[2, [1, 2]] = -INF  # an ignored row (one with no finite logit has NaN gradients, as in PyTorch)
    m = t64(mask, False)
    w = np.array([0.5, 2.0, 1.0, 3.0])
    z = t64(RNG.normal(size=(N, C)))
    weigh = t64(RNG.normal(size=N), False)

    def out(loss):
        return loss * weigh if red == "none" else loss

    fns = [lambda z: out(F.cross_entropy(z + m, t, red)),
           lambda z: out(F.cross_entropy(z + m, t, red, weight=w)),
           lambda z: out(F.nll_loss(F.log_softmax(z + m, 1), t, red, weight=w))]
    for fn in fns:
        assert np.isfinite(fn(z).data).all()
        assert gradcheck(fn, (z,))
        assert gradgradcheck(fn, (z,))
    m2 = t64(np.where(np.arange(N)[:, None] == 2, mask, 0.0), False)  # smoothing reads counted rows: -inf in row 2

    def smooth(z):
        return out(F.cross_entropy(z + m2, t, red, 0.2, weight=w))

    assert np.isfinite(smooth(z).data).all()
    assert gradcheck(smooth, (z,)) and gradgradcheck(smooth, (z,))


def test_cross_entropy_with_neg_inf_and_nan_matches_torch():
    """Values (NaN and inf where PyTorch has them: smoothing, probability targets) and gradients."""
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    z = np.array([[0.0, -INF, 1.0], [2.0, 0.5, -INF], [-INF, -INF, -INF], [0.3, np.nan, 1.0], [1.0, 2.0, 3.0]])
    t = np.array([0, 1, -100, -100, 2])
    w = np.array([0.5, 2.0, 3.0])
    q = np.array([[1.0, 0, 0], [0, 1.0, 0], [0.2, 0.3, 0.5], [0.2, 0.3, 0.5], [0, 0, 1.0]])
    tw = torch.tensor(w)
    cases = [  # (ours, PyTorch's), each called with (input, rows, reduction)
        (lambda a, i, r: F.cross_entropy(a, t[i], r),
         lambda a, i, r: tF.cross_entropy(a, torch.tensor(t[i]), reduction=r)),
        (lambda a, i, r: F.cross_entropy(a, t[i], r, weight=w),
         lambda a, i, r: tF.cross_entropy(a, torch.tensor(t[i]), reduction=r, weight=tw)),
        (lambda a, i, r: F.cross_entropy(a, t[i], r, 0.1, weight=w),
         lambda a, i, r: tF.cross_entropy(a, torch.tensor(t[i]), reduction=r, label_smoothing=0.1, weight=tw)),
        (lambda a, i, r: F.nll_loss(a, t[i], r, weight=w),
         lambda a, i, r: tF.nll_loss(a, torch.tensor(t[i]), reduction=r, weight=tw)),
        (lambda a, i, r: F.cross_entropy(a, q[i], r),
         lambda a, i, r: tF.cross_entropy(a, torch.tensor(q[i]), reduction=r)),
    ]
    for ours, theirs in cases:
        for rows in ([0, 1, 2, 3, 4], [0, 1, 4], [2, 4], [0, 3]):
            for red in ("mean", "sum", "none"):
                a, at = t64(z[rows]), torch.tensor(z[rows], requires_grad=True)
                with np.errstate(invalid="ignore"):
                    lo = ours(a, rows, red)
                lt = theirs(at, rows, red)
                np.testing.assert_allclose(lo.data, lt.detach().numpy(), rtol=1e-12, equal_nan=True)
                if np.isfinite(lo.data).all():
                    with np.errstate(invalid="ignore"):
                        lo.sum().backward()
                    lt.sum().backward()
                    np.testing.assert_allclose(a.grad.data, at.grad.numpy(), rtol=1e-12, atol=1e-15, equal_nan=True)


# --- binary losses: the target's (and pos_weight's) gradient is differentiable ----------------
@pytest.mark.parametrize("red", ["mean", "sum", "none"])
def test_bce_gradgradcheck_every_input(red):
    p = t64(RNG.uniform(0.05, 0.95, size=(3, 2)))
    y = t64(RNG.uniform(size=(3, 2)))
    assert gradgradcheck(lambda p, y: F.binary_cross_entropy(p, y, red), (p, y))
    x = t64(RNG.normal(size=(3, 2)) * 2)
    pw = t64(RNG.uniform(0.5, 2.0, size=2))
    assert gradgradcheck(lambda x, y, pw: F.binary_cross_entropy_with_logits(x, y, red, pos_weight=pw), (x, y, pw))
    assert gradgradcheck(lambda x, y: F.binary_cross_entropy_with_logits(x, y, red), (x, y))


def test_bce_target_gradient_by_hand_second_derivatives():
    """d/dp sum(dL/dy) = -1/(1 - p) - 1/p, and with logits -(pw (1 - s) + s), s = sigmoid(x); the clamped
    logs (p = 0 or 1) keep dL/dy = +-100 and contribute 0 there."""
    p0, y0 = np.array([0.3, 0.8, 0.0, 1.0]), np.array([0.6, 0.1, 0.3, 0.3])
    p, y = t64(p0), t64(y0)
    (gy,) = grad(F.binary_cross_entropy(p, y, "sum"), [y], create_graph=True)
    np.testing.assert_allclose(gy.data[:2], np.log1p(-p0[:2]) - np.log(p0[:2]), rtol=1e-14)
    np.testing.assert_array_equal(gy.data[2:], [100.0, -100.0])
    (d2,) = grad(gy.sum(), [p])
    np.testing.assert_allclose(d2.data, [-1 / 0.7 - 1 / 0.3, -1 / 0.2 - 1 / 0.8, -1.0, -1.0], rtol=1e-14)
    np.testing.assert_allclose(d2.data[:2], [-4.76190476, -6.25], rtol=1e-8)  # PyTorch's values
    x0, pw0 = np.array([0.3, 0.8, -2.0]), np.array([1.0, 2.5, 0.5])
    x, y, pw = t64(x0), t64(y0[:3]), t64(pw0)
    gy, gpw = grad(F.binary_cross_entropy_with_logits(x, y, "sum", pos_weight=pw), [y, pw], create_graph=True)
    s = 1 / (1 + np.exp(-x0))
    dx, dpw = grad(gy.sum(), [x, pw], retain_graph=True)  # gpw's graph shares softplus(-x) with it
    np.testing.assert_allclose(dx.data, -(pw0 * (1 - s) + s), rtol=1e-14)
    np.testing.assert_allclose(dpw.data, np.log1p(np.exp(-x0)), rtol=1e-14)  # softplus(-x)
    dx, dy = grad(gpw.sum(), [x, y])
    np.testing.assert_allclose(dx.data, -y0[:3] * (1 - s), rtol=1e-14)
    np.testing.assert_allclose(dy.data, np.log1p(np.exp(-x0)), rtol=1e-14)


def test_bce_second_derivatives_match_torch():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    p0, y0 = RNG.uniform(0.05, 0.95, size=(4, 3)), RNG.uniform(size=(4, 3))
    x0, pw0 = RNG.normal(size=(4, 3)) * 2, RNG.uniform(0.5, 2.0, size=3)
    cases = [(lambda p, y, r: F.binary_cross_entropy(p, y, r),
              lambda p, y, r: tF.binary_cross_entropy(p, y, reduction=r), [p0, y0]),
             (lambda x, y, r: F.binary_cross_entropy_with_logits(x, y, r, pos_weight=pw0),  # PyTorch: pos_weight
              lambda x, y, r: tF.binary_cross_entropy_with_logits(x, y, reduction=r,  # gets no gradient
                                                                  pos_weight=torch.tensor(pw0)),
              [x0, y0])]
    for ours, theirs, data in cases:
        for red in ("mean", "sum", "none"):
            a = [t64(d) for d in data]
            at = [torch.tensor(d, requires_grad=True) for d in data]
            lo, lt = ours(*a, red), theirs(*at, red)
            gw = RNG.normal(size=lo.shape)
            g1 = grad((lo * t64(gw, False)).sum(), a, create_graph=True)
            g1t = torch.autograd.grad((lt * torch.tensor(gw)).sum(), at, create_graph=True)
            v = [RNG.normal(size=d.shape) for d in data]
            g2 = grad(sum((g * t64(vv, False)).sum() for g, vv in zip(g1, v)), a)
            g2t = torch.autograd.grad(sum((g * torch.tensor(vv)).sum() for g, vv in zip(g1t, v)), at)
            for ours_g, theirs_g in zip(g1 + g2, g1t + g2t):
                np.testing.assert_allclose(ours_g.data, theirs_g.detach().numpy(), rtol=1e-8, atol=1e-9)


# --- clear errors / PyTorch's cropping ------------------------------------------------------------
def test_pos_weight_that_does_not_broadcast_explains():
    x, y = t64(np.zeros((2, 3))), np.ones((2, 3))
    for bad, shape in (([1.0, 2.0], (2,)), (np.ones((4, 3)), (4, 3)), (np.ones((2, 2, 3)), (2, 2, 3))):
        msg = (rf"binary_cross_entropy_with_logits: pos_weight of shape {re.escape(str(shape))} does not broadcast "
               r"to the input's shape \(2, 3\); expected a shape that broadcasts to \(2, 3\), e\.g\. \(3,\)")
        with pytest.raises(ValueError, match=msg):
            F.binary_cross_entropy_with_logits(x, y, pos_weight=bad)
    for ok in ([1.0, 2.0, 3.0], np.ones((1, 3)), np.ones((2, 1)), 2.0):
        assert F.binary_cross_entropy_with_logits(x, y, "none", pos_weight=ok).shape == (2, 3)


PADS = [(-1, 0), (-3, -1), (-4, 0), (0, -4), (-4, 2), (2, -3), (-1, -1, -1, -1), (-1, 2, 1, -2),
        (1, 1, -1, 0, -1, 1), (0, 0, -3, 0)]


def _pad_np(a, pad, value):
    """PyTorch's rule by hand: crop by the negative widths, then pad by the positive ones."""
    width = [(0, 0)] * a.ndim
    for i in range(len(pad) // 2):
        width[a.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    a = a[tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(width, a.shape))]
    return np.pad(a, [(max(lo, 0), max(hi, 0)) for lo, hi in width], constant_values=value)


@pytest.mark.parametrize("pad", PADS)
def test_pad_with_negative_widths_crops(pad):
    a = np.arange(24.0).reshape(2, 3, 4)
    out = F.pad(t64(a), pad, value=-7.0)
    expect = _pad_np(a, pad, -7.0)
    assert out.shape == expect.shape
    np.testing.assert_array_equal(out.data, expect)
    x = t64(RNG.normal(size=(2, 3, 4)))
    assert gradcheck(lambda x: F.pad(x, pad, value=2.0), (x,))
    assert gradgradcheck(lambda x: F.pad(x, pad) ** 2, (x,))


def test_pad_cropping_more_than_the_axis_explains():
    x = t64(np.zeros((2, 3, 4)))
    for pad, cut, ax, n in (((-5, 2), 5, 2, 4), ((-3, -2), 5, 2, 4), ((0, 0, -2, -2), 4, 1, 3)):
        with pytest.raises(ValueError, match=rf"pad: the negative widths .* crop {cut} entries from axis {ax} of size "
                                             rf"{n} \(input of shape \(2, 3, 4\), .*expected at most {n}"):
            F.pad(x, pad)


def test_pad_with_negative_widths_matches_torch():
    torch = pytest.importorskip("torch")
    a = RNG.normal(size=(2, 3, 4))
    for pad in PADS:
        x, xt = t64(a), torch.tensor(a, requires_grad=True)
        out, outt = F.pad(x, pad, value=1.5), torch.nn.functional.pad(xt, pad, value=1.5)
        np.testing.assert_array_equal(out.data, outt.detach().numpy())
        g = RNG.normal(size=out.shape)
        (out * t64(g, False)).sum().backward()
        (outt * torch.tensor(g)).sum().backward()
        np.testing.assert_array_equal(x.grad.data, xt.grad.numpy())


# --- property tests of the losses' own nodes (PickNLL/PutNLL, ClampedLog, Softplus) -----------------


@given(n=st.integers(1, 4), c=st.integers(1, 4), seed=seeds, reduction=st.sampled_from(["mean", "sum", "none"]),
       weighted=st.booleans(), eps=st.sampled_from([0.0, 0.2]), ignore=st.booleans())
def test_class_losses_match_finite_differences(n, c, seed, reduction, weighted, eps, ignore):
    """cross_entropy / nll_loss over drawn shapes, targets (some ignored), class weights, smoothing: first and
    second order against central differences (the gather node and its transpose, through log_softmax)."""
    rng = np.random.default_rng(seed)
    z = values(rng, (n, c))
    t = rng.integers(0, c, n)
    if ignore:
        t[rng.random(n) < 0.4] = -100
    if reduction == "mean" and (t == -100).all():
        t[0] = 0  # (all ignored: the mean is 0/0 = NaN by definition)
    w = rng.uniform(0.5, 2.0, c) if weighted else None
    probe = Tensor(rng.uniform(-1, 1, n)) if reduction == "none" else 1.0

    def ce(x):
        return F.cross_entropy(x, t, reduction, weight=w, label_smoothing=eps) * probe

    def nll(x):
        return F.nll_loss(x, t, reduction, weight=w) * probe

    for f in (ce, nll):
        check_grad(f, z)
        check_grad2(f, z)


@given(shape=st.sampled_from([(3,), (2, 3), (2, 1, 2)]), seed=seeds, reduction=st.sampled_from(["mean", "sum", "none"]))
def test_binary_losses_match_finite_differences_in_every_input(shape, seed, reduction):
    """binary_cross_entropy (p away from 0 and 1, so the clamped logs are smooth there) and the logits form with
    pos_weight: first and second order in every input, targets included."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.1, 0.9, shape)
    y = rng.uniform(0.0, 1.0, shape)
    x = values(rng, shape)
    pw = rng.uniform(0.5, 2.0, shape[-1:])
    check_grad(lambda a, b: F.binary_cross_entropy(a, b, reduction), p, y)
    check_grad2(lambda a, b: F.binary_cross_entropy(a, b, reduction), p, y)
    check_grad(lambda a, b, c: F.binary_cross_entropy_with_logits(a, b, reduction, pos_weight=c), x, y, pw)
    check_grad2(lambda a, b, c: F.binary_cross_entropy_with_logits(a, b, reduction, pos_weight=c), x, y, pw)
