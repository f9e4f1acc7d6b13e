"""Weight initialisation, as ``torch.nn.init``: fill a Tensor's array in place and return the Tensor.

Random values come from the library generator (``autograd.manual_seed``) unless
``generator`` (a ``numpy.random.Generator``) is given.

* He / Kaiming (ReLU nets): std = gain / sqrt(fan), gain = sqrt(2 / (1 + a^2)) for leaky ReLU of slope a;
  uniform version on [-b, b] with b = sqrt(3) std.
* Glorot / Xavier (tanh, sigmoid nets): std = gain * sqrt(2 / (fan_in + fan_out)).

For a weight of shape (out, in, *kernel): fan_in = in * prod(kernel), fan_out = out * prod(kernel).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograd import Tensor, get_rng

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_", "eye_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for an activation (PyTorch's table).

    linear/conv/sigmoid: 1, tanh: 5/3, relu: sqrt(2), leaky_relu: sqrt(2 / (1 + slope^2)) (slope 0.01
    by default), selu: 3/4.
    """
    linear_fns = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, int | float):
            raise ValueError(f"calculate_gain: negative_slope {param} is not a valid number")
        else:
            slope = param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Any) -> tuple[int, int]:
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions {shape}")
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor: Any, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, please use one of 'fan_in', 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _arr(tensor: Any) -> np.ndarray:
    return tensor.data if isinstance(tensor, Tensor) else tensor


def _fill(tensor: Any, values: np.ndarray) -> Any:
    a = _arr(tensor)
    a[...] = values
    return tensor


def _rng(generator: np.random.Generator | None) -> np.random.Generator:
    return generator if generator is not None else get_rng()


def uniform_(tensor: Any, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Any:
    """Fill with U(a, b)."""
    return _fill(tensor, _rng(generator).uniform(a, b, _arr(tensor).shape))


def normal_(tensor: Any, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Any:
    """Fill with N(mean, std^2)."""
    return _fill(tensor, _rng(generator).normal(mean, std, _arr(tensor).shape))


def trunc_normal_(tensor: Any, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator: Any = None) -> Any:
    """Fill with N(mean, std^2) restricted to [a, b].

    Values outside are drawn again while [a, b] holds at least 5% of the distribution; a window with less
    (far in a tail, or narrow) is sampled by :func:`_tail_normal` instead, whose draws are accepted often
    whatever the window.
    """
    if not a < b or not std > 0:
        raise ValueError(f"trunc_normal_: need a < b and std > 0, got a={a}, b={b}, std={std}")
    rng = _rng(generator)
    shape = _arr(tensor).shape
    lo, hi = (a - mean) / std, (b - mean) / std
    if (math.erf(hi / math.sqrt(2)) - math.erf(lo / math.sqrt(2))) / 2 < 0.05:
        return _fill(tensor, mean + std * _tail_normal(rng, lo, hi, math.prod(shape)).reshape(shape))
    out = rng.normal(mean, std, shape)
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = rng.normal(mean, std, int(bad.sum()))
        bad = (out < a) | (out > b)
    return _fill(tensor, out)


def _tail_normal(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` draws of N(0, 1) restricted to [lo, hi], by rejection from an exponential proposal (Robert, 1995).

    On a window with ``lo >= 0`` the proposal ``x = lo + Exp(lam)`` cut at ``hi``, ``lam = (lo + sqrt(lo^2 + 4)) / 2``,
    is accepted with probability ``exp(-((x - lam)^2 - (c - lam)^2) / 2)``, ``c`` = lam clipped to the window (the
    density ratio over its maximum).  A window below 0 is mirrored; one around 0 holding little mass is narrow, and
    there a uniform proposal accepted with probability ``exp(-x^2 / 2)`` is used.
    """
    if hi <= 0:
        return -_tail_normal(rng, -hi, -lo, n)
    out = np.empty(n)
    done = 0
    while done < n:
        m = 2 * (n - done) + 16
        u = rng.random(m)
        if lo < 0:  # (lo < 0 < hi)
            x = lo + (hi - lo) * u
            keep = rng.random(m) < np.exp(-x * x / 2)
        else:
            lam = (lo + math.sqrt(lo * lo + 4)) / 2
            x = lo - np.log1p(-u * -math.expm1(-lam * (hi - lo))) / lam
            c = min(max(lam, lo), hi)
            keep = rng.random(m) < np.exp(-((x - lam) ** 2 - (c - lam) ** 2) / 2)
        x = x[keep & (x >= lo) & (x <= hi)][: n - done]
        out[done:done + len(x)] = x
        done += len(x)
    return out


def constant_(tensor: Any, val: float) -> Any:
    return _fill(tensor, val)


def zeros_(tensor: Any) -> Any:
    return _fill(tensor, 0.0)


def ones_(tensor: Any) -> Any:
    return _fill(tensor, 1.0)


def eye_(tensor: Any) -> Any:
    a = _arr(tensor)
    if a.ndim != 2:
        raise ValueError("eye_: only 2-D tensors are supported")
    return _fill(tensor, np.eye(*a.shape))


def xavier_uniform_(tensor: Any, gain: float = 1.0, generator: Any = None) -> Any:
    """U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Any, gain: float = 1.0, generator: Any = None) -> Any:
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: Any = None) -> Any:
    """U(-b, b), b = sqrt(3) * gain / sqrt(fan) (He et al. 2015); ``a`` is the leaky ReLU slope.

    ``a=sqrt(5)`` (the Linear/Conv2d default) gives b = 1 / sqrt(fan_in).
    """
    if 0 in _arr(tensor).shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: Any = None) -> Any:
    """N(0, std^2), std = gain / sqrt(fan) (He et al. 2015): sqrt(2 / fan_in) for ReLU."""
    if 0 in _arr(tensor).shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)
