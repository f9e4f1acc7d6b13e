"""nn.init: gains, fans, empirical standard deviations against the formulas, in-place semantics."""

import math

import numpy as np
import pytest

import autograd
import nn
from autograd import Tensor
from nn import init
from nn.init import _calculate_fan_in_and_fan_out


def big(shape=(400, 300, 3, 3)):
    return Tensor(np.empty(shape, np.float32))


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError):
        init.calculate_gain("swish")


def test_fans():
    assert _calculate_fan_in_and_fan_out(Tensor(np.empty((3, 5)))) == (5, 3)
    assert _calculate_fan_in_and_fan_out(Tensor(np.empty((6, 2, 5, 5)))) == (50, 150)
    with pytest.raises(ValueError):
        _calculate_fan_in_and_fan_out(Tensor(np.empty(4)))


def test_kaiming_and_xavier_std_match_formulas():
    autograd.manual_seed(0)
    fan_in, fan_out = 300 * 9, 400 * 9
    cases = [
        (lambda t: init.kaiming_normal_(t, nonlinearity="relu"), math.sqrt(2 / fan_in)),
        (lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), math.sqrt(2 / fan_out)),
        (lambda t: init.kaiming_uniform_(t, nonlinearity="relu"), math.sqrt(2 / fan_in)),
        (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), 1 / math.sqrt(fan_in) / math.sqrt(3)),
        (lambda t: init.xavier_normal_(t), math.sqrt(2 / (fan_in + fan_out))),
        (lambda t: init.xavier_uniform_(t, gain=5 / 3), 5 / 3 * math.sqrt(2 / (fan_in + fan_out))),
        (lambda t: init.normal_(t, 1.0, 0.5), 0.5),
        (lambda t: init.uniform_(t, -2, 2), 4 / math.sqrt(12)),
        (lambda t: init.trunc_normal_(t, std=0.02, a=-0.04, b=0.04), None),
    ]
    for fill, std in cases:
        t = big()
        arr = t.data
        assert fill(t) is t and t.data is arr and t.dtype == np.float32  # in place, returns the tensor
        if std is not None:
            assert abs(arr.std() - std) < 0.01 * std
    assert np.abs(t.data).max() <= 0.04
    t = big((50, 40))
    init.kaiming_uniform_(t, nonlinearity="relu")
    assert np.abs(t.data).max() <= math.sqrt(3) * math.sqrt(2 / 40)


def test_constant_fills_and_seeding():
    t = Tensor(np.empty((3, 4), np.float32))
    assert init.zeros_(t) is t and not t.data.any()
    init.ones_(t)
    assert (t.data == 1).all()
    init.constant_(t, 0.25)
    assert (t.data == 0.25).all()
    init.eye_(t)
    np.testing.assert_array_equal(t.data, np.eye(3, 4))
    p = nn.Parameter(np.empty((20, 30)))
    autograd.manual_seed(3)
    a = init.xavier_uniform_(p).data.copy()
    autograd.manual_seed(3)
    np.testing.assert_array_equal(init.xavier_uniform_(p).data, a)
    g = np.random.default_rng(5)
    b = init.normal_(p, generator=g).data.copy()
    np.testing.assert_array_equal(init.normal_(p, generator=np.random.default_rng(5)).data, b)


def test_matches_torch_gains_and_fans():
    torch = pytest.importorskip("torch")
    for nl in ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu"):
        assert init.calculate_gain(nl) == pytest.approx(torch.nn.init.calculate_gain(nl))
    for shape in [(3, 5), (6, 2, 5, 5), (4, 3, 2)]:
        assert _calculate_fan_in_and_fan_out(Tensor(np.empty(shape))) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def _truncated_moments(a, b):
    x = np.linspace(a, b, 200001)
    w = np.exp(-x * x / 2)
    m = (x * w).sum() / w.sum()
    return m, math.sqrt(((x - m) ** 2 * w).sum() / w.sum())


@pytest.mark.parametrize("a, b", [(6.0, 7.0), (-7.0, -6.0), (4.0, 5.0), (3.0, 40.0), (-0.01, 0.02), (2.5, 2.6)])
def test_trunc_normal_samples_windows_with_little_mass_quickly_and_correctly(a, b):
    """A window far in a tail (which plain redrawing almost never hits) is sampled with the right distribution."""
    import time

    t = Tensor(np.zeros(20000))
    start = time.perf_counter()
    init.trunc_normal_(t, mean=1.0, std=2.0, a=1.0 + 2.0 * a, b=1.0 + 2.0 * b, generator=np.random.default_rng(0))
    assert time.perf_counter() - start < 2.0
    z = (t.data - 1.0) / 2.0
    assert z.min() >= a - 1e-12 and z.max() <= b + 1e-12
    m, s = _truncated_moments(a, min(b, 12.0))
    assert z.mean() == pytest.approx(m, abs=4 * s / math.sqrt(len(z)))
    assert z.std() == pytest.approx(s, rel=0.05)


def test_trunc_normal_of_a_wide_window_draws_as_before():
    """The usual case (+-2 std) keeps drawing from N(mean, std) and redrawing the values outside: same numbers."""
    rng = np.random.default_rng(3)
    expect = rng.normal(0.5, 1.5, (50, 40))
    bad = (expect < -1.0) | (expect > 2.0)
    while bad.any():
        expect[bad] = rng.normal(0.5, 1.5, int(bad.sum()))
        bad = (expect < -1.0) | (expect > 2.0)
    t = Tensor(np.zeros((50, 40)))
    init.trunc_normal_(t, mean=0.5, std=1.5, a=-1.0, b=2.0, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(t.data, expect)
    with pytest.raises(ValueError, match="trunc_normal_: need a < b and std > 0"):
        init.trunc_normal_(t, a=1.0, b=1.0)
