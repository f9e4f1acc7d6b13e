"""Small synthetic datasets for 2-d classification and linear regression demos (numpy arrays)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["make_moons", "make_spirals", "make_regression"]

SeedLike = int | np.random.Generator | None


def make_moons(n_samples: int = 100, noise: float = 0.1, seed: SeedLike = None,
               dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (as sklearn's ``make_moons``), shuffled.

    Upper moon ``(cos t, sin t)``, lower moon ``(1 - cos t, 0.5 - sin t)``, ``t in [0, pi]``, plus Gaussian noise of
    std ``noise``. Returns ``X`` (``n_samples x 2``, ``dtype``) and labels ``y`` int64: 0 = upper, 1 = lower moon.
    """
    rng = np.random.default_rng(seed)
    n_up = n_samples // 2
    n_low = n_samples - n_up
    t_up, t_low = np.linspace(0, np.pi, n_up), np.linspace(0, np.pi, n_low)
    x = np.concatenate([np.stack([np.cos(t_up), np.sin(t_up)], 1),
                        np.stack([1 - np.cos(t_low), 0.5 - np.sin(t_low)], 1)])
    y = np.concatenate([np.zeros(n_up, np.int64), np.ones(n_low, np.int64)])
    x = x + rng.normal(scale=noise, size=x.shape)
    perm = rng.permutation(n_samples)
    return x[perm].astype(dtype), y[perm]


def make_spirals(n_samples: int = 300, n_classes: int = 3, noise: float = 0.2, seed: SeedLike = None,
                 dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """``n_classes`` interleaved spiral arms (the CS231n toy set), shuffled.

    Arm ``k``: radius ``r in [0, 1]``, angle ``4k + 4r + noise * N(0, 1)`` radians, point ``r (sin a, cos a)``.
    Returns ``X`` (``n_samples x 2``) and labels ``y`` int64 in ``0..n_classes-1`` (arms differ in size by <= 1).
    """
    rng = np.random.default_rng(seed)
    counts = [n_samples // n_classes + (k < n_samples % n_classes) for k in range(n_classes)]
    xs, ys = [], []
    for k, n in enumerate(counts):
        r = np.linspace(0.0, 1.0, n)
        a = np.linspace(4.0 * k, 4.0 * (k + 1), n) + rng.normal(scale=noise, size=n)
        xs.append(np.stack([r * np.sin(a), r * np.cos(a)], 1))
        ys.append(np.full(n, k, np.int64))
    x, y = np.concatenate(xs), np.concatenate(ys)
    perm = rng.permutation(n_samples)
    return x[perm].astype(dtype), y[perm]


def make_regression(n_samples: int = 100, w: float | Sequence[float] = (2.0, -3.4), b: float = 4.2,
                    noise: float = 0.01, seed: SeedLike = None,
                    dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Linear data ``y = X w + b + noise * N(0, 1)`` with ``X ~ N(0, 1)``.

    Returns ``X`` (``n_samples x len(w)``) and ``y`` (``n_samples x 1``, matching a ``Linear(d, 1)`` output).
    """
    rng = np.random.default_rng(seed)
    w = np.atleast_1d(np.asarray(w, dtype=np.float64))
    x = rng.normal(size=(n_samples, w.size))
    y = x @ w + b + rng.normal(scale=noise, size=n_samples)
    return x.astype(dtype), y[:, None].astype(dtype)
