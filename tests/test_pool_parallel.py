"""2x2 max-pooling split over the batch on the intra-op threads (outputs large enough for it)."""

from __future__ import annotations

import numpy as np
import pytest
from reference import max_pool2d_winners, pool2d_ref

import autograd
from autograd.ops import conv as conv_mod
from autograd.ops.conv import max_pool2d


def _reference(x: np.ndarray, g: np.ndarray, v: np.ndarray):
    """Max, x-gradient for upstream g, and v read at the winners, from the (first) argmax of each window."""
    win = max_pool2d_winners(x, 2)
    gx = np.zeros_like(x)
    gx[win] = g  # 2x2 windows with stride 2 do not overlap: one winner per input position at most
    return pool2d_ref(x, 2), gx, v[win]


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("shape", [(3, 8, 100, 111), (11, 16, 41, 40)])
def test_parallel_max_pool_2x2_matches_reference(restore_threads, threads, shape):
    rng = np.random.default_rng(sum(shape))
    x = np.round(rng.standard_normal(shape) * 2).astype(np.float32)  # many ties
    x[:, :, ::3] = 0.0
    n, c, h, w = shape
    assert n * c * (h // 2) * (w // 2) >= conv_mod._POOL_PARALLEL  # the split path runs
    autograd.set_num_threads(threads)
    X = autograd.Tensor(x, requires_grad=True)
    y = max_pool2d(X, 2)
    g = autograd.Tensor(rng.standard_normal(y.shape).astype(np.float32), requires_grad=True)
    (gx,) = autograd.grad(y, [X], g, create_graph=True)
    v = rng.standard_normal(shape).astype(np.float32)
    (gg,) = autograd.grad(gx, [g], autograd.Tensor(v))  # the gather: v read at the winners
    ry, rgx, rvy = _reference(x, g.data, v)
    np.testing.assert_array_equal(y.data, ry)
    np.testing.assert_array_equal(gx.data, rgx)
    np.testing.assert_array_equal(gg.data, rvy)
    gm = conv_mod._PoolGeom(shape, (2, 2), (2, 2), (0, 0))
    assert not conv_mod._flat_pos_base(gm).flags.writeable  # the cached positions are shared: read-only
