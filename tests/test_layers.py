"""Layers: forward against numpy references, gradients against finite differences (float64)."""

import math

import numpy as np
import pytest
from reference import conv2d_ref, pool2d_ref

import autograd
import nn
import nn.functional as F
from autograd import Tensor, gradcheck, gradgradcheck


def t64(shape, seed=0, requires_grad=True):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad)


def params_of(m):
    return [p for p in m.parameters()]


# --- Linear -------------------------------------------------------------------------
def test_linear_forward_and_gradients():
    lin = nn.Linear(4, 3).double()
    x = t64((5, 4))
    np.testing.assert_allclose(lin(x).data, x.data @ lin.weight.data.T + lin.bias.data)
    gradcheck(lambda x, w, b: lin(x), x, lin.weight, lin.bias)
    nb = nn.Linear(4, 3, bias=False).double()
    assert nb.bias is None and [n for n, _ in nb.named_parameters()] == ["weight"]
    gradcheck(lambda x, w: nb(x), x, nb.weight)
    assert lin(t64((2, 6, 4))).shape == (2, 6, 3)  # leading axes


def test_linear_default_init_is_pytorch():
    autograd.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = lin.weight.data
    assert w.dtype == np.float32 and lin.bias.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(lin.bias.data).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    autograd.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(400, 300).weight.data, w)  # seedable


# --- Conv / pool ------------------------------------------------------------------------
@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1)])
def test_conv2d_forward_and_gradients(stride, padding):
    conv = nn.Conv2d(2, 3, 3, stride=stride, padding=padding).double()
    x = t64((2, 2, 5, 5))
    np.testing.assert_allclose(conv(x).data, conv2d_ref(x.data, conv.weight.data, conv.bias.data, stride, padding),
                               atol=1e-12)
    gradcheck(lambda x, w, b: conv(x), x, conv.weight, conv.bias, mode="random")


def test_conv2d_init_shape_and_errors():
    autograd.manual_seed(0)
    conv = nn.Conv2d(16, 120, 5)
    assert conv.weight.shape == (120, 16, 5, 5) and conv.kernel_size == (5, 5)
    bound = 1 / math.sqrt(16 * 25)
    assert np.abs(conv.weight.data).max() <= bound and abs(conv.weight.data.std() - bound / math.sqrt(3)) < 0.02 * bound
    with pytest.raises(ValueError, match=r"\(N, 16, H, W\)"):
        conv(autograd.randn(1, 3, 8, 8))


def test_pools_forward_and_gradients():
    x = t64((2, 3, 6, 6))
    np.testing.assert_allclose(nn.MaxPool2d(2)(x).data, pool2d_ref(x.data, 2, 2, kind="max"))
    np.testing.assert_allclose(nn.AvgPool2d(3, stride=1)(x).data, pool2d_ref(x.data, 3, 1, kind="avg"), atol=1e-12)
    gradcheck(lambda x: nn.MaxPool2d(2)(x), x)
    gradcheck(lambda x: nn.AvgPool2d(2)(x), x)


def test_flatten_identity():
    x = t64((2, 3, 4, 5))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(2)(x).shape == (2, 3, 20)
    assert F.flatten(x).shape == (120,)
    assert nn.Identity(3, foo=1)(x) is x


# --- Dropout -----------------------------------------------------------------------------
def test_dropout_statistics_and_eval():
    autograd.manual_seed(0)
    d = nn.Dropout(0.3)
    x = Tensor(np.ones((200, 500)), requires_grad=True)
    y = d(x)
    zero = y.data == 0
    assert abs(zero.mean() - 0.3) < 0.01
    np.testing.assert_allclose(y.data[~zero], 1 / 0.7)
    assert abs(y.data.mean() - 1) < 0.02
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, y.data)  # gradient uses the same mask
    d.eval()
    assert d(x) is x
    assert nn.Dropout(0.0)(x) is x
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


# --- activations ------------------------------------------------------------------------------
def test_activations_forward_and_gradients():
    x = t64((4, 5))
    a = x.data
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-a)))
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(a))
    np.testing.assert_allclose(nn.ReLU()(x).data, np.maximum(a, 0))
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x).data, np.where(a > 0, a, 0.1 * a))
    e = np.exp(a - a.max(1, keepdims=True))
    np.testing.assert_allclose(nn.Softmax(dim=1)(x).data, e / e.sum(1, keepdims=True))
    np.testing.assert_allclose(nn.LogSoftmax()(x).data, np.log(e / e.sum(1, keepdims=True)))
    np.testing.assert_allclose(nn.Softmax(dim=0)(x).data.sum(0), 1)
    for m in (nn.Sigmoid(), nn.Tanh(), nn.Softmax(), nn.LogSoftmax(), nn.LeakyReLU()):
        gradcheck(m, x)


def test_step_is_heaviside_with_zero_gradient():
    x = Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    y = nn.Step()(x)
    np.testing.assert_array_equal(y.data, [0, 0, 1])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, 0)


# --- BatchNorm ----------------------------------------------------------------------------------
def bn_ref(x, gamma, beta, eps, axes):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


@pytest.mark.parametrize("record", [True, False])
def test_batchnorm1d_training_and_running_stats_by_hand(record):
    """Also under no_grad (training mode, no graph kept: e.g. re-estimating the statistics)."""
    bn = nn.BatchNorm1d(3, momentum=0.1).double()
    rng = np.random.default_rng(0)
    bn.weight.data[:] = [1.0, 2.0, 0.5]
    bn.bias.data[:] = [0.0, -1.0, 3.0]
    xs = [rng.normal(2, 3, (8, 3)) for _ in range(2)]
    rm, rv = np.zeros(3), np.ones(3)
    for xa in xs:
        with autograd.set_grad_enabled(record):
            y = bn(Tensor(xa))
        assert (y.grad_fn is not None) == record
        np.testing.assert_allclose(y.data, bn_ref(xa, bn.weight.data, bn.bias.data, 1e-5, (0,)), atol=1e-12)
        rm = 0.9 * rm + 0.1 * xa.mean(0)
        rv = 0.9 * rv + 0.1 * xa.var(0, ddof=1)  # unbiased for the running estimate
    np.testing.assert_allclose(bn.running_mean.data, rm)
    np.testing.assert_allclose(bn.running_var.data, rv)
    assert int(bn.num_batches_tracked.data) == 2
    bn.eval()
    x = rng.normal(size=(4, 3))
    expect = (x - rm) / np.sqrt(rv + 1e-5) * bn.weight.data + bn.bias.data
    np.testing.assert_allclose(bn(Tensor(x)).data, expect, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean.data, rm)  # eval does not update


def test_batchnorm2d_and_3d_input_statistics_per_channel():
    rng = np.random.default_rng(1)
    x = rng.normal(1, 2, (4, 3, 5, 5))
    bn = nn.BatchNorm2d(3).double()
    np.testing.assert_allclose(bn(Tensor(x)).data, bn_ref(x, 1, 0, 1e-5, (0, 2, 3)), atol=1e-12)
    n = 4 * 25
    np.testing.assert_allclose(bn.running_var.data, 0.9 + 0.1 * x.var((0, 2, 3)) * n / (n - 1))
    x3 = rng.normal(size=(4, 3, 7))
    np.testing.assert_allclose(nn.BatchNorm1d(3).double()(Tensor(x3)).data, bn_ref(x3, 1, 0, 1e-5, (0, 2)),
                               atol=1e-12)
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\).*\(N, C, H, W\)"):
        bn(Tensor(x3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(autograd.randn(1, 3))


@pytest.mark.parametrize("shape,cls", [((6, 3), nn.BatchNorm1d), ((3, 2, 3, 3), nn.BatchNorm2d)])
def test_batchnorm_gradients_finite_differences(shape, cls):
    bn = cls(shape[1]).double()
    rng = np.random.default_rng(2)
    bn.weight.data[:] = rng.normal(size=shape[1])
    bn.bias.data[:] = rng.normal(size=shape[1])
    x = t64(shape, seed=3)
    gradcheck(lambda x, w, b: bn(x) * Tensor(np.arange(x.size).reshape(x.shape) % 5), x, bn.weight, bn.bias)
    gradgradcheck(lambda x, w, b: bn(x), x, bn.weight, bn.bias, mode="random")
    plain = cls(shape[1], affine=False).double()
    gradcheck(lambda x: plain(x) ** 3, x)
    bn.eval()
    gradcheck(lambda x, w, b: bn(x), x, bn.weight, bn.bias)


def test_batchnorm_fused_matches_composition():
    x = t64((16, 4), seed=5)
    g = Tensor(np.random.default_rng(6).normal(size=4), requires_grad=True)
    b = Tensor(np.zeros(4), requires_grad=True)
    w = Tensor(np.random.default_rng(7).normal(size=(16, 4)))
    y = F.batch_norm(x, None, None, g, b, training=True)
    (y * w).sum().backward()
    grads = [x.grad.data, g.grad.data, b.grad.data]
    for t in (x, g, b):
        t.grad = None
    mean = x.mean(0, keepdims=True)
    xc = x - mean
    y2 = xc / ((xc * xc).mean(0, keepdims=True) + 1e-5).sqrt() * g + b
    (y2 * w).sum().backward()
    np.testing.assert_allclose(y.data, y2.data, atol=1e-12)
    for a, e in zip(grads, [x.grad.data, g.grad.data, b.grad.data]):
        np.testing.assert_allclose(a, e, atol=1e-10)


def test_batchnorm_options():
    x = Tensor(np.random.default_rng(0).normal(size=(10, 2)))
    cma = nn.BatchNorm1d(2, momentum=None).double()
    cma(x)
    cma(x * 2.0)
    np.testing.assert_allclose(cma.running_mean.data, (x.data.mean(0) + 2 * x.data.mean(0)) / 2)
    free = nn.BatchNorm1d(2, track_running_stats=False)
    assert free.running_mean is None and [n for n, _ in free.named_buffers()] == []
    free.eval()
    np.testing.assert_allclose(free(x).data, bn_ref(x.data, 1, 0, 1e-5, (0,)), atol=1e-6)  # batch stats in eval
    noaff = nn.BatchNorm2d(2, affine=False)
    assert noaff.num_parameters() == 0 and len(list(noaff.buffers())) == 3
    bn = nn.BatchNorm1d(2)
    assert bn.weight.data.tolist() == [1, 1] and bn.bias.data.tolist() == [0, 0] and bn.weight.dtype == np.float32
    with autograd.no_grad():
        bn(x.float())
    assert int(bn.num_batches_tracked.data) == 1 and bn.running_mean.data.any()


# --- PyTorch comparisons ---------------------------------------------------------------------------
def test_batchnorm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    ours, theirs = nn.BatchNorm2d(3, momentum=0.2).double(), torch.nn.BatchNorm2d(3, momentum=0.2).double()
    g, b = rng.normal(size=3), rng.normal(size=3)
    ours.weight.data[:], ours.bias.data[:] = g, b
    with torch.no_grad():
        theirs.weight[:], theirs.bias[:] = torch.tensor(g), torch.tensor(b)
    for _ in range(3):
        xa = rng.normal(1, 2, (4, 3, 5, 5))
        w = rng.normal(size=xa.shape)
        x = Tensor(xa, requires_grad=True)
        xt = torch.tensor(xa, requires_grad=True)
        y, yt = ours(x), theirs(xt)
        np.testing.assert_allclose(y.data, yt.detach().numpy(), atol=1e-10)
        (y * Tensor(w)).sum().backward()
        (yt * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), atol=1e-9)
    sd = theirs.state_dict()
    for k, v in ours.state_dict().items():
        np.testing.assert_allclose(v, sd[k].numpy(), atol=1e-12)
    ours.eval()
    theirs.eval()
    xa = rng.normal(size=(2, 3, 4, 4))
    np.testing.assert_allclose(ours(Tensor(xa)).data, theirs(torch.tensor(xa)).detach().numpy(), atol=1e-10)


def test_default_init_distributions_match_torch():
    torch = pytest.importorskip("torch")
    for ours, theirs in [(nn.Linear(300, 200), torch.nn.Linear(300, 200)),
                         (nn.BatchNorm1d(7), torch.nn.BatchNorm1d(7))] + (
            [(nn.Conv2d(8, 64, 3), torch.nn.Conv2d(8, 64, 3))] if hasattr(autograd, "conv2d") else []):
        ts = theirs.state_dict()
        assert list(ours.state_dict()) == list(ts)
        for k, v in ours.state_dict().items():
            tv = ts[k].numpy()
            assert v.shape == tv.shape and v.dtype == tv.dtype, k
            if v.dtype.kind == "f" and v.size > 1000:
                assert np.abs(v).max() <= np.abs(tv).max() * 1.01 + 1e-7, k
                assert abs(v.std() - tv.std()) < 0.05 * tv.std(), k
