"""Tests for autograd.detect_anomaly: NaN/Inf in forward or backward raise, naming the operation."""

from __future__ import annotations

import numpy as np
import pytest

import autograd
from autograd import Function, Tensor


@pytest.fixture(autouse=True)
def _quiet_numpy():
    with np.errstate(all="ignore"):
        yield


class NanBackward(Function):
    """Identity forward, a backward that returns NaN."""

    def forward(self, x):
        return x.copy()

    def backward(self, out, g):
        return (Tensor._wrap(np.full(out.shape, np.nan)),)  # no Tensor op, so the check after backward sees it


def test_forward_inf_raises_naming_the_op_and_shapes():
    x = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    with autograd.detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"forward of Log .*\(2,\)"):
            x.log()
    # and as a decorator
    f = autograd.detect_anomaly()(lambda t: t.log())
    with pytest.raises(FloatingPointError, match="Log"):
        f(x)


def test_backward_nan_raises_naming_the_op():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with autograd.detect_anomaly():
        y = (NanBackward.apply(x) * 2.0).sum()  # forward is finite
        with pytest.raises(FloatingPointError, match="backward of NanBackward"):
            y.backward()
    assert x.grad is None


def test_sqrt_at_zero_forward_fine_backward_raises():
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with autograd.detect_anomaly():
        y = x.sqrt().sum()  # sqrt(0) = 0: no error here
        with pytest.raises(FloatingPointError, match="backward|Div"):
            y.backward()  # d sqrt/dx = 1/(2 sqrt x) = inf at 0


def test_sqrt_backward_anomaly_names_sqrt():
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with autograd.detect_anomaly():
        y = x.sqrt().sum()
        with pytest.raises(FloatingPointError, match="Sqrt"):
            y.backward()


def test_no_error_outside_the_context():
    x = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    y = x.log()
    assert np.isneginf(y.data[0])
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    x.sqrt().sum().backward()
    assert np.isinf(x.grad.data[0]) and x.grad.data[1] == pytest.approx(0.25)
    with autograd.detect_anomaly():
        pass
    assert not autograd.is_anomaly_enabled()
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    NanBackward.apply(x).sum().backward()
    assert np.isnan(x.grad.data).all()


def test_finite_graphs_are_unaffected_and_state_restored_after_error():
    x = Tensor(np.array([0.5, 1.5]), requires_grad=True)
    with autograd.detect_anomaly():
        (x.log() * x.exp()).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp(x.data) * (1 / x.data + np.log(x.data)))
    with pytest.raises(FloatingPointError):
        with autograd.detect_anomaly():
            Tensor(np.array([-1.0])).log()
    assert not autograd.is_anomaly_enabled()


def test_set_detect_anomaly_decorator_sets_the_mode_only_during_each_call():
    seen = []

    @autograd.set_detect_anomaly(True)
    def on():
        seen.append(autograd.is_anomaly_enabled())

    assert not autograd.is_anomaly_enabled()  # decorating turns nothing on
    on()
    assert seen == [True] and not autograd.is_anomaly_enabled()

    @autograd.set_detect_anomaly(False)
    def off():
        seen.append(autograd.is_anomaly_enabled())

    with autograd.detect_anomaly():
        off()  # off inside the call, even within detect_anomaly
        assert autograd.is_anomaly_enabled()
    assert seen == [True, False] and not autograd.is_anomaly_enabled()


def test_set_detect_anomaly_as_call_and_context_manager():
    with autograd.set_detect_anomaly(True):
        assert autograd.is_anomaly_enabled()
        with autograd.set_detect_anomaly(False):
            assert not autograd.is_anomaly_enabled()
        assert autograd.is_anomaly_enabled()
    assert not autograd.is_anomaly_enabled()
    autograd.set_detect_anomaly(True)  # the plain call switches at once, like torch
    try:
        assert autograd.is_anomaly_enabled()
    finally:
        autograd.set_detect_anomaly(False)
    assert not autograd.is_anomaly_enabled()


def test_decorated_function_restores_the_mode_after_an_error():
    @autograd.detect_anomaly()
    def f():
        raise KeyError("boom")

    with pytest.raises(KeyError):
        f()
    assert not autograd.is_anomaly_enabled()
