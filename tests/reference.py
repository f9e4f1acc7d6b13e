"""Plain-numpy references for conv2d and 2-D pooling (NCHW), shared by the tests.

Each output position is read off a window of the padded input: ``sliding_window_view`` over the two
spatial axes, then every ``stride``-th window.  Nothing here calls autograd.

``conv2d_ref``            cross-correlation (as ``torch.nn.functional.conv2d``), optional bias
``conv2d_grads_ref``      its input, weight and bias gradients for an upstream gradient ``g``
``pool2d_ref``            max pooling (padding is -inf) or average pooling (padding counts as 0)
``max_pool2d_winners``    where each max window's first maximum (row-major) sits in the input
"""

from __future__ import annotations

import numpy as np


def pair(v) -> tuple[int, int]:
    """An int or a pair as a pair of ints."""
    return (int(v), int(v)) if np.isscalar(v) else (int(v[0]), int(v[1]))


def windows(x: np.ndarray, kernel, stride=1, padding=0, fill: float = 0.0) -> np.ndarray:
    """The (N, C, Ho, Wo, kh, kw) windows of ``x`` padded with ``fill`` on both sides (a read-only view)."""
    (kh, kw), (sh, sw), (ph, pw) = pair(kernel), pair(stride), pair(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    return np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def conv2d_ref(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride=1, padding=0) -> np.ndarray:
    """``y[n, o, p, q] = b[o] + sum_{c, i, j} xpad[n, c, p*sh + i, q*sw + j] * w[o, c, i, j]``."""
    y = np.einsum("ncpqij,ocij->nopq", windows(x, w.shape[2:], stride, padding), w)
    return y if b is None else y + np.asarray(b)[None, :, None, None]


def conv2d_grads_ref(x: np.ndarray, w: np.ndarray, g: np.ndarray, stride=1, padding=0):
    """``(dL/dx, dL/dw, dL/db)`` of ``conv2d_ref(x, w, b, stride, padding)`` for upstream gradient ``g``."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    kh, kw = w.shape[2:]
    gw = np.einsum("ncpqij,nopq->ocij", windows(x, (kh, kw), stride, padding), g)
    n, c, h, wd = x.shape
    gxp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), dtype=np.result_type(g, w))
    ho, wo = g.shape[2:]
    for i in range(kh):
        for j in range(kw):
            gxp[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw] += np.einsum("nopq,oc->ncpq", g, w[:, :, i, j])
    return gxp[:, :, ph : ph + h, pw : pw + wd], gw, g.sum(axis=(0, 2, 3))


def pool2d_ref(x: np.ndarray, kernel, stride=None, padding=0, kind: str = "max") -> np.ndarray:
    """Max or average pooling; ``stride`` defaults to the kernel; average pooling divides by the whole
    window (padding included, as torch's ``count_include_pad=True``)."""
    if kind not in ("max", "avg"):
        raise ValueError(kind)
    stride = kernel if stride is None else stride
    win = windows(x, kernel, stride, padding, fill=-np.inf if kind == "max" else 0.0)
    return win.max(axis=(-2, -1)) if kind == "max" else win.mean(axis=(-2, -1))


def max_pool2d_winners(x: np.ndarray, kernel, stride=None, padding=0) -> tuple[np.ndarray, ...]:
    """Index arrays into ``x`` (one per axis, each of the output's shape) of every window's first maximum
    in row-major order: ``x[idx]`` is the max pool, ``np.add.at(gx, idx, g)`` its input gradient."""
    (kh, kw), (ph, pw) = pair(kernel), pair(padding)
    (sh, sw) = pair(kernel if stride is None else stride)
    win = windows(x, (kh, kw), (sh, sw), (ph, pw), fill=-np.inf)
    n, c, ho, wo = win.shape[:4]
    k = win.reshape(n, c, ho, wo, kh * kw).argmax(axis=-1)
    i, j = np.divmod(k, kw)
    rows = np.arange(ho)[:, None] * sh + i - ph
    cols = np.arange(wo)[None, :] * sw + j - pw
    nn, cc = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    return nn[:, :, None, None] + 0 * k, cc[:, :, None, None] + 0 * k, rows, cols
