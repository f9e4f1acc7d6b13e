"""Losses: hand computations, reductions, stability, finite differences, PyTorch agreement."""

import re

import numpy as np
import pytest

import nn
import nn.functional as F
from autograd import Tensor, gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def t64(a, requires_grad=True):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def log_softmax_np(z):
    m = z.max(1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(1, keepdims=True))


# --- regression losses -------------------------------------------------------------------
def test_mse_and_l1_by_hand_and_reductions():
    o, y = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    for red, f in [("mean", np.mean), ("sum", np.sum), ("none", lambda a: a)]:
        np.testing.assert_allclose(F.mse_loss(t64(o), t64(y), red).data, f((o - y) ** 2))
        np.testing.assert_allclose(nn.L1Loss(red)(t64(o), y).data, f(np.abs(o - y)))
    gradcheck(lambda o, y: F.mse_loss(o, y), t64(o), t64(y))
    gradcheck(lambda o: F.l1_loss(o, t64(y, False), "sum"), t64(o))
    with pytest.raises(ValueError, match="equal shapes"):
        F.mse_loss(t64(o), t64(y[:, :1]))
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


def test_mse_relation_to_lecture_l2_loss():
    o, y = t64(RNG.normal(size=(5, 2))), RNG.normal(size=(5, 2))
    l2 = 0.5 * ((o.data - y) ** 2).sum()
    np.testing.assert_allclose((nn.MSELoss(reduction="sum")(o, y) / 2).data, l2)
    nn.MSELoss()(o, y).backward()
    np.testing.assert_allclose(o.grad.data, 2 / o.size * (o.data - y))


# --- cross-entropy -----------------------------------------------------------------------
def test_cross_entropy_by_hand_and_reductions():
    z = RNG.normal(size=(6, 4)) * 3
    t = np.array([0, 3, 1, 1, 2, 0])
    per = -log_softmax_np(z)[np.arange(6), t]
    np.testing.assert_allclose(F.cross_entropy(t64(z), t).data, per.mean())
    np.testing.assert_allclose(F.cross_entropy(t64(z), Tensor(t, dtype=np.int64), "sum").data, per.sum())
    np.testing.assert_allclose(nn.CrossEntropyLoss(reduction="none")(t64(z), t).data, per)
    ls = nn.LogSoftmax(dim=1)(t64(z))
    np.testing.assert_allclose(nn.NLLLoss()(ls, t).data, per.mean())
    np.testing.assert_allclose(F.nll_loss(ls, t, "none").data, per)
    one = F.cross_entropy(t64(z[0]), np.int64(0))
    np.testing.assert_allclose(one.data, per[0])


def test_cross_entropy_gradient_finite_differences():
    z = t64(RNG.normal(size=(5, 4)))
    t = np.array([0, 3, 1, 1, 2])
    for red in ("mean", "sum"):
        gradcheck(lambda z: F.cross_entropy(z, t, red, label_smoothing=0.1), z)
    gradcheck(lambda z: F.cross_entropy(z, t, "none") * t64(np.arange(5.0), False), z)
    gradgradcheck(lambda z: F.cross_entropy(z, t), z)
    gradcheck(lambda z: F.nll_loss(F.log_softmax(z, 1), t), z)
    z.grad = None
    F.cross_entropy(z, t).backward()
    p = np.exp(log_softmax_np(z.data))
    np.testing.assert_allclose(z.grad.data, (p - np.eye(4)[t]) / 5)


def test_label_smoothing_by_hand():
    z = RNG.normal(size=(3, 5))
    t = np.array([4, 0, 2])
    eps = 0.2
    q = np.eye(5)[t] * (1 - eps) + eps / 5
    expect = -(q * log_softmax_np(z)).sum(1).mean()
    np.testing.assert_allclose(nn.CrossEntropyLoss(label_smoothing=eps)(t64(z), t).data, expect)
    np.testing.assert_allclose(F.cross_entropy(t64(z), q).data, expect)  # probability targets


def test_cross_entropy_ignore_index_and_spatial():
    z = RNG.normal(size=(4, 3))
    t = np.array([0, -100, 2, 1])
    per = -log_softmax_np(z)[np.arange(4), np.maximum(t, 0)]
    np.testing.assert_allclose(F.cross_entropy(t64(z), t).data, per[[0, 2, 3]].mean())
    zz = RNG.normal(size=(2, 3, 4, 4))
    tt = RNG.integers(0, 3, size=(2, 4, 4))
    flat = zz.transpose(0, 2, 3, 1).reshape(-1, 3)
    per = -log_softmax_np(flat)[np.arange(32), tt.reshape(-1)]
    np.testing.assert_allclose(F.cross_entropy(t64(zz), tt, "none").data, per.reshape(2, 4, 4))
    gradcheck(lambda z: F.cross_entropy(z, tt), t64(zz), mode="random")
    # nll_loss takes the same (N, C, d1, ...) layout, and says what target it needs
    ls = zz - np.log(np.exp(zz).sum(1, keepdims=True))
    per = -ls.transpose(0, 2, 3, 1).reshape(-1, 3)[np.arange(32), tt.reshape(-1)]
    np.testing.assert_allclose(F.nll_loss(t64(ls), tt, "none").data, per.reshape(2, 4, 4))
    np.testing.assert_allclose(F.nll_loss(t64(ls), tt).data, per.mean())
    gradcheck(lambda a: F.nll_loss(a, tt, "sum"), t64(ls))
    with pytest.raises(ValueError, match=r"nll_loss: input of shape \(2, 3, 4, 4\) needs a target of shape"):
        F.nll_loss(t64(ls), tt[:, :2])


def test_cross_entropy_is_stable_for_huge_logits():
    z = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], np.float32), requires_grad=True)
    loss = F.cross_entropy(z, np.array([1, 0]), label_smoothing=0.1)
    loss.backward()
    assert np.isfinite(loss.data) and np.isfinite(z.grad.data).all()
    np.testing.assert_allclose(F.cross_entropy(z, np.array([0, 1]), "none").data, [0, np.log(2)], rtol=1e-6)


def test_cross_entropy_target_errors():
    z = t64(RNG.normal(size=(2, 3)))
    with pytest.raises(TypeError, match="int64"):
        F.cross_entropy(z, np.array([0.0, 1.0]))
    with pytest.raises(IndexError, match="out of range"):
        F.cross_entropy(z, np.array([0, 3]))
    with pytest.raises(ValueError, match="shape"):
        F.cross_entropy(z, np.array([0, 1, 2]))


# --- binary cross-entropy -----------------------------------------------------------------
def test_bce_by_hand_clamp_and_gradients():
    p = RNG.uniform(0.05, 0.95, size=(4, 2))
    y = RNG.uniform(size=(4, 2))
    expect = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(nn.BCELoss(reduction="none")(t64(p), y).data, expect)
    gradcheck(lambda p, y: F.binary_cross_entropy(p, y), t64(p), t64(y))
    edge = t64([0.0, 1.0, 0.0, 1.0])
    loss = F.binary_cross_entropy(edge, t64([1.0, 0.0, 0.0, 1.0], False), "none")
    np.testing.assert_allclose(loss.data, [100, 100, 0, 0])  # logs clamped at -100
    loss.sum().backward()
    assert np.isfinite(edge.grad.data).all()
    with pytest.raises(ValueError, match="probabilities"):
        F.binary_cross_entropy(t64([1.5]), t64([1.0]))


def test_bce_with_logits_stable_and_consistent():
    x = RNG.normal(size=(5, 3)) * 2
    y = RNG.integers(0, 2, size=(5, 3)).astype(float)
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(nn.BCEWithLogitsLoss()(t64(x), y).data,
                               F.binary_cross_entropy(t64(sig), y).data, rtol=1e-10)
    gradcheck(lambda x, y: F.binary_cross_entropy_with_logits(x, y, "sum"), t64(x), t64(y))
    pw = t64([1.0, 2.0, 3.0])
    expect = -(pw.data * y * np.log(sig) + (1 - y) * np.log(1 - sig)).mean()
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(t64(x), y, pos_weight=pw).data, expect)
    gradcheck(lambda x, pw: F.binary_cross_entropy_with_logits(x, t64(y, False), pos_weight=pw), t64(x), pw)
    module = nn.BCEWithLogitsLoss(pos_weight=[1.0, 2.0, 3.0])  # a buffer: saved with the module, used by it
    np.testing.assert_array_equal(module.state_dict()["pos_weight"], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(module(t64(x), y).data, expect)
    big = Tensor(np.array([1e4, -1e4, 1e4, 0.0], np.float32), requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(big, np.array([0.0, 1.0, 1.0, 1.0]), "none")
    np.testing.assert_allclose(loss.data, [1e4, 1e4, 0, np.log(2)], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(big.grad.data, [1, -1, 0, -0.5])  # sigmoid(x) - y, exact at 0 too


def test_one_hot():
    oh = F.one_hot(np.array([2, 0]), 4)
    assert oh.dtype == np.int64 and oh.data.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0]]
    assert F.one_hot(Tensor(np.array([[1], [2]]), dtype=np.int64)).shape == (2, 1, 3)
    with pytest.raises(ValueError):
        F.one_hot(np.array([5]), 3)


# --- PyTorch ---------------------------------------------------------------------------------
def test_losses_match_torch():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    z = RNG.normal(size=(6, 5)) * 4
    t = RNG.integers(0, 5, size=6)
    t[2] = -100
    p = RNG.uniform(0.01, 0.99, size=(6, 5))
    y = RNG.uniform(size=(6, 5))
    pw = RNG.uniform(0.5, 2, size=5)
    cases = [
        (lambda a, r: F.cross_entropy(a, t, r, label_smoothing=0.15),
         lambda a, r: tF.cross_entropy(a, torch.tensor(t), reduction=r, label_smoothing=0.15), z),
        (lambda a, r: F.nll_loss(a, t, r), lambda a, r: tF.nll_loss(a, torch.tensor(t), reduction=r), z),
        (lambda a, r: F.mse_loss(a, y, r), lambda a, r: tF.mse_loss(a, torch.tensor(y), reduction=r), z),
        (lambda a, r: F.l1_loss(a, y, r), lambda a, r: tF.l1_loss(a, torch.tensor(y), reduction=r), z),
        (lambda a, r: F.binary_cross_entropy(a, y, r),
         lambda a, r: tF.binary_cross_entropy(a, torch.tensor(y), reduction=r), p),
        (lambda a, r: F.binary_cross_entropy_with_logits(a, y, r, pos_weight=pw),
         lambda a, r: tF.binary_cross_entropy_with_logits(a, torch.tensor(y), reduction=r,
                                                          pos_weight=torch.tensor(pw)), z),
    ]
    for ours, theirs, data in cases:
        _torch_agrees(torch, ours, theirs, data)


def _torch_agrees(torch, ours, theirs, data, reductions=("mean", "sum", "none")):
    """Values, shapes and gradients (with a random weighting of the outputs) agree with PyTorch."""
    for red in reductions:
        a, at = t64(data), torch.tensor(data, requires_grad=True)
        lo, lt = ours(a, red), theirs(at, red)
        assert lo.shape == tuple(lt.shape), (red, lo.shape, tuple(lt.shape))
        np.testing.assert_allclose(lo.data, lt.detach().numpy(), rtol=1e-10, atol=1e-12)
        w = RNG.normal(size=lo.shape)
        (lo * t64(w, False)).sum().backward()
        (lt * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(a.grad.data, at.grad.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_and_nll_on_1d_input_match_torch(smoothing):
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    z = RNG.normal(size=5) * 3
    q = RNG.uniform(size=5)
    q /= q.sum()
    for t in (np.int64(2), np.array(3)):
        _torch_agrees(torch, lambda a, r: F.cross_entropy(a, t, r, label_smoothing=smoothing),
                      lambda a, r: tF.cross_entropy(a, torch.tensor(t), reduction=r, label_smoothing=smoothing), z)
        _torch_agrees(torch, lambda a, r: F.nll_loss(a, t, r),
                      lambda a, r: tF.nll_loss(a, torch.tensor(t), reduction=r), z)
    _torch_agrees(torch, lambda a, r: F.cross_entropy(a, q, r, label_smoothing=smoothing),
                  lambda a, r: tF.cross_entropy(a, torch.tensor(q), reduction=r, label_smoothing=smoothing), z)
    ignored = F.nll_loss(t64(z), np.int64(-100), "none")
    assert ignored.shape == () and ignored.data == 0.0


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_probability_targets_and_spatial_match_torch(smoothing):
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    z = RNG.normal(size=(4, 3)) * 2
    q = RNG.uniform(size=(4, 3))
    q /= q.sum(1, keepdims=True)
    _torch_agrees(torch, lambda a, r: F.cross_entropy(a, q, r, label_smoothing=smoothing),
                  lambda a, r: tF.cross_entropy(a, torch.tensor(q), reduction=r, label_smoothing=smoothing), z)
    zz = RNG.normal(size=(2, 3, 2, 2))
    tt = RNG.integers(0, 3, size=(2, 2, 2))
    tt[0, 1, 0] = -100
    _torch_agrees(torch, lambda a, r: F.cross_entropy(a, tt, r, label_smoothing=smoothing),
                  lambda a, r: tF.cross_entropy(a, torch.tensor(tt), reduction=r, label_smoothing=smoothing), zz)


def test_cross_entropy_second_derivatives():
    z = t64(RNG.normal(size=(4, 3)))
    t = np.array([0, -100, 2, 1])
    q = RNG.uniform(size=(4, 3))
    assert gradgradcheck(lambda z: F.cross_entropy(z, t, label_smoothing=0.1), (z,))
    assert gradgradcheck(lambda z: F.cross_entropy(z, q / q.sum(1, keepdims=True), "none"), (z,))
    assert gradgradcheck(lambda z: F.nll_loss(F.log_softmax(z, 1), t, "sum"), (z,))


def test_cross_entropy_keeps_precision_for_large_float32_logits():
    z = (RNG.normal(size=(8, 10)) + 1e3).astype(np.float32)
    t = RNG.integers(0, 10, size=8)
    loss = F.cross_entropy(Tensor(z), t, "none")
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss.data, -log_softmax_np(z.astype(np.float64))[np.arange(8), t], atol=2e-6)


def test_1d_input_with_a_wrong_target_explains():
    for f in (F.cross_entropy, F.nll_loss):
        msg = rf"{f.__name__}: input of shape \(4,\) needs a target of shape \(\) or \(1,\)"
        with pytest.raises(ValueError, match=msg):
            f(t64(RNG.normal(size=4)), np.array([0, 1]))


@pytest.mark.parametrize("f", [F.cross_entropy, F.nll_loss])
def test_class_target_of_the_wrong_shape_explains(f):
    """Both losses check the class target against the input's layout (PyTorch refuses these too)."""
    name = f.__name__
    z, zz = t64(RNG.normal(size=(3, 4))), t64(RNG.normal(size=(2, 4, 3, 5)))
    cases = [(z, np.array([[0], [1], [2]]), r"\(3,\)"), (z, np.array([0, 1]), r"\(3,\)"),
             (zz, RNG.integers(0, 4, size=(2, 5, 3)), r"\(2, 3, 5\)"),
             (zz, RNG.integers(0, 4, size=30), r"\(2, 3, 5\)"),
             (t64(np.float64(1.0)), np.int64(0), None)]
    for inp, tgt, need in cases:
        if need is None:
            msg = rf"{name}: expected input of shape \(N, C\), \(C,\) or \(N, C, d1, \.\.\.\), got \(\)"
        else:
            shape = re.escape(str(inp.shape))
            msg = rf"{name}: input of shape {shape} needs a target of shape {need} \(class indices\)"
            if name == "cross_entropy":  # and says that probabilities take the input's shape
                msg += rf" or {shape} \(class probabilities\)"
            msg += rf", got {re.escape(str(tgt.shape))}"
        with pytest.raises(ValueError, match=msg):
            f(inp, tgt)
    # a float target of the input's shape is probabilities; of the class shape, a dtype error
    with pytest.raises(TypeError, match="int64"):
        f(z, np.array([0.0, 1.0, 2.0]))


# --- per-class weight ------------------------------------------------------------------------
def _weighted_ce_np(z, t, w, eps=0.0, ignore_index=-100):
    """PyTorch's weighted cross-entropy by hand: per-row losses and the 'mean' divisor sum w[y_i]."""
    ls = log_softmax_np(z)
    keep = t != ignore_index
    y = np.where(keep, t, 0)
    nll = -w[y] * ls[np.arange(len(t)), y]
    smooth = -(ls * w).sum(1)
    per = np.where(keep, (1 - eps) * nll + eps / z.shape[1] * smooth, 0.0)
    return per, w[y][keep].sum()


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_weighted_cross_entropy_by_hand_and_finite_differences(smoothing):
    z = RNG.normal(size=(6, 4)) * 2
    t = np.array([0, 3, 1, -1, 2, 3])
    w = np.array([0.5, 2.0, 1.0, 3.0])
    per, wsum = _weighted_ce_np(z, t, w, smoothing, ignore_index=-1)
    assert not np.isclose(wsum, (t != -1).sum())  # so dividing by the row count would fail below
    ce = lambda z, r: F.cross_entropy(z, t, r, smoothing, -1, weight=w)  # noqa: E731
    np.testing.assert_allclose(ce(t64(z), "mean").data, per.sum() / wsum, rtol=1e-12)
    np.testing.assert_allclose(ce(t64(z), "sum").data, per.sum(), rtol=1e-12)
    np.testing.assert_allclose(ce(t64(z), "none").data, per, rtol=1e-12)
    np.testing.assert_allclose(nn.CrossEntropyLoss(t64(w, False), label_smoothing=smoothing, ignore_index=-1)(
        t64(z), t).data, per.sum() / wsum, rtol=1e-12)
    gradcheck(lambda z: ce(z, "mean"), t64(z))
    gradcheck(lambda z: ce(z, "sum"), t64(z))
    gradcheck(lambda z: ce(z, "none") * t64(np.arange(6.0), False), t64(z))
    assert gradgradcheck(lambda z: ce(z, "mean"), (t64(z),))
    # nll_loss: -w[y_i] logp[i, y_i], 'mean' over sum w[y_i]
    nll, _ = _weighted_ce_np(z, t, w, 0.0, ignore_index=-1)
    ls = log_softmax_np(z)
    np.testing.assert_allclose(F.nll_loss(t64(ls), t, "mean", -1, weight=w).data, nll.sum() / wsum, rtol=1e-12)
    np.testing.assert_allclose(nn.NLLLoss(w, reduction="none", ignore_index=-1)(t64(ls), t).data, nll, rtol=1e-12)
    gradcheck(lambda a: F.nll_loss(a, t, ignore_index=-1, weight=w), t64(ls))
    assert gradgradcheck(lambda z: F.nll_loss(F.log_softmax(z, 1), t, "mean", -1, weight=w), (t64(z),))
    # (C,) input, (N, C, d) input and probability targets ('mean' divides by N for those)
    np.testing.assert_allclose(F.cross_entropy(t64(z[1]), np.int64(3), "none", smoothing, weight=w).data, per[1])
    zz, tt = np.stack([z[:3], z[3:]], 2), np.stack([t[:3], t[3:]], 1)  # (3, 4, 2) and (3, 2)
    np.testing.assert_allclose(F.cross_entropy(t64(zz), tt, "none", smoothing, -1, weight=w).data,
                               np.stack([per[:3], per[3:]], 1), rtol=1e-12)
    q = np.eye(4)[[0, 3, 1, 2]]
    qper, _ = _weighted_ce_np(z[[0, 1, 2, 4]], np.array([0, 3, 1, 2]), w, smoothing)
    np.testing.assert_allclose(F.cross_entropy(t64(z[[0, 1, 2, 4]]), q, label_smoothing=smoothing, weight=w).data,
                               qper.mean(), rtol=1e-12)
    # the weight is a constant: a Tensor that requires grad gets none
    wt = t64(w)
    F.cross_entropy(t64(z), t, ignore_index=-1, weight=wt).backward()
    assert wt.grad is None


@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_weighted_cross_entropy_and_nll_match_torch(smoothing):
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    C = 5
    w = RNG.uniform(0.2, 3.0, size=C)
    tw = torch.tensor(w)
    z = RNG.normal(size=(7, C)) * 3
    t = RNG.integers(0, C, size=7)
    t[[1, 4]] = -100
    for ii, tgt in ((-100, t), (2, np.where(t == -100, 2, t))):  # default and a class used as ignore_index
        _torch_agrees(torch, lambda a, r: F.cross_entropy(a, tgt, r, smoothing, ii, weight=w),
                      lambda a, r: tF.cross_entropy(a, torch.tensor(tgt), weight=tw, reduction=r,
                                                    label_smoothing=smoothing, ignore_index=ii), z)
        _torch_agrees(torch, lambda a, r: F.nll_loss(a, tgt, r, ii, weight=w),
                      lambda a, r: tF.nll_loss(a, torch.tensor(tgt), weight=tw, reduction=r, ignore_index=ii), z)
        _torch_agrees(torch, lambda a, r: nn.CrossEntropyLoss(w, r, smoothing, ii)(a, tgt),
                      lambda a, r: torch.nn.CrossEntropyLoss(tw, reduction=r, label_smoothing=smoothing,
                                                             ignore_index=ii)(a, torch.tensor(tgt)), z)
        _torch_agrees(torch, lambda a, r: nn.NLLLoss(t64(w, False), r, ii)(a, tgt),
                      lambda a, r: torch.nn.NLLLoss(tw, reduction=r, ignore_index=ii)(a, torch.tensor(tgt)), z)
    # spatial (N, C, d1, d2), 1-D input (C,) and probability targets ('mean' divides by N there)
    zz = RNG.normal(size=(2, C, 3, 2))
    tt = RNG.integers(0, C, size=(2, 3, 2))
    tt[1, 0, 1] = -100
    _torch_agrees(torch, lambda a, r: F.cross_entropy(a, tt, r, smoothing, weight=w),
                  lambda a, r: tF.cross_entropy(a, torch.tensor(tt), weight=tw, reduction=r,
                                                label_smoothing=smoothing), zz)
    _torch_agrees(torch, lambda a, r: F.nll_loss(a, tt, r, weight=w),
                  lambda a, r: tF.nll_loss(a, torch.tensor(tt), weight=tw, reduction=r), zz)
    _torch_agrees(torch, lambda a, r: F.cross_entropy(a, np.int64(3), r, smoothing, weight=w),
                  lambda a, r: tF.cross_entropy(a, torch.tensor(3), weight=tw, reduction=r,
                                                label_smoothing=smoothing), z[0])
    _torch_agrees(torch, lambda a, r: F.nll_loss(a, np.int64(1), r, weight=w),
                  lambda a, r: tF.nll_loss(a, torch.tensor(1), weight=tw, reduction=r), z[0])
    q = RNG.uniform(size=(7, C))
    q /= q.sum(1, keepdims=True)
    _torch_agrees(torch, lambda a, r: F.cross_entropy(a, q, r, smoothing, weight=w),
                  lambda a, r: tF.cross_entropy(a, torch.tensor(q), weight=tw, reduction=r,
                                                label_smoothing=smoothing), z)


def test_weight_of_the_wrong_shape_or_in_the_wrong_place_explains():
    z, t = t64(RNG.normal(size=(3, 4))), np.array([0, 1, 3])
    for bad in (np.ones(3), np.ones(5), np.ones((1, 4)), np.float64(1.0)):
        shape = re.escape(str(np.shape(bad)))
        with pytest.raises(ValueError, match=rf"cross_entropy: weight .* expected shape \(4,\) .* got shape {shape}"):
            F.cross_entropy(z, t, weight=bad)
        with pytest.raises(ValueError, match=rf"nll_loss: weight .* expected shape \(4,\) .* got shape {shape}"):
            F.nll_loss(z, t, weight=bad)
    with pytest.raises(ValueError, match=r"nll_loss: weight .* got shape \(3,\)"):
        nn.NLLLoss(weight=np.ones(3))(z, t)
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: weight must be a 1-D .* got shape \(2, 2\)"):
        nn.CrossEntropyLoss(np.ones((2, 2)))
    with pytest.raises(TypeError, match=r"weight="):  # PyTorch's positional weight lands in reduction here
        F.cross_entropy(z, t, np.ones(4))
    with pytest.raises(TypeError, match=r"reduction='sum'"):
        nn.NLLLoss("sum")


def test_every_loss_refuses_a_reduction_that_is_not_a_string():
    """Not only the losses with a weight: a non-string reduction is a TypeError (was numpy's ambiguous truth value)."""
    x, y = t64(RNG.uniform(0.1, 0.9, size=3)), RNG.uniform(size=3)
    for f in (F.l1_loss, F.mse_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits):
        with pytest.raises(TypeError, match=rf"{f.__name__}: reduction must be one of .*, got ndarray; .*weight="):
            f(x, y, np.ones(3))
    with pytest.raises(TypeError, match=r"MSELoss: reduction must be one of .*, got ndarray"):
        nn.MSELoss(np.ones(3))


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_mean_over_no_counted_rows_is_nan_with_zero_gradient(fn):
    """An empty batch or a batch whose targets are all ignore_index: 'mean' is 0/0 = NaN, and no row
    sends a gradient; 'sum' is 0 (all as PyTorch)."""
    rng = np.random.default_rng(0)
    for z, t in ((rng.standard_normal((4, 3)), np.full(4, -100)), (np.zeros((0, 3)), np.zeros(0, np.int64)),
                 (rng.standard_normal((2, 3, 5)), np.full((2, 5), -100))):
        x = t64(z, True)
        loss = getattr(F, fn)(x, t)
        assert np.isnan(loss.item())
        loss.backward()
        np.testing.assert_array_equal(x.grad.data, np.zeros_like(z))
        assert getattr(F, fn)(t64(z), t, reduction="sum").item() == 0.0
    w = np.array([0.0, 1.0, 1.0])  # counted rows whose class weights sum to 0: 0/0 reaches the gradient
    x = t64(rng.standard_normal((3, 3)), True)
    loss = getattr(F, fn)(x, np.zeros(3, np.int64), weight=w)
    assert np.isnan(loss.item())
    loss.backward()
    assert np.isnan(x.grad.data[:, 0]).all()


def test_mean_over_no_counted_rows_matches_torch():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    rng = np.random.default_rng(1)
    for z, t in ((rng.standard_normal((4, 3)), np.full(4, -100)), (np.zeros((0, 3)), np.zeros(0, np.int64))):
        for ours, theirs in ((F.cross_entropy, tF.cross_entropy), (F.nll_loss, tF.nll_loss)):
            x, tx = t64(z, True), torch.tensor(z, requires_grad=True)
            loss, tloss = ours(x, t), theirs(tx, torch.tensor(t))
            loss.backward()
            tloss.backward()
            np.testing.assert_array_equal(loss.data, tloss.detach().numpy())  # NaN == NaN here
            np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())
