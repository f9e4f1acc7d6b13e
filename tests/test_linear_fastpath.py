"""linear's backward outside create_graph (array path) equals the recorded (Tensor-op) path."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import autograd
from autograd.ops.linalg import linear


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("need", list(itertools.product([True, False], repeat=3)))
def test_linear_backward_array_path_matches_tensor_path(dtype, bias, need):
    if not any(need[:2] if not bias else need):
        pytest.skip("nothing needs a gradient")
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal((5, 4)).astype(dtype), rng.standard_normal((3, 4)).astype(dtype),
              rng.standard_normal(3).astype(dtype)]
    g = rng.standard_normal((5, 3)).astype(dtype)
    results = []
    for create_graph in (False, True):
        ts = [autograd.Tensor(a, requires_grad=r) for a, r in zip(arrays, need)]
        y = linear(ts[0], ts[1], ts[2] if bias else None)
        if not y.requires_grad:
            pytest.skip("nothing needs a gradient")
        y.backward(autograd.Tensor(g), create_graph=create_graph)
        results.append([None if t.grad is None else t.grad.data for t in ts])
    for a, b in zip(*results):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
