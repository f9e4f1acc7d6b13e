"""autograd.set_num_threads / get_num_threads: numpy's OpenBLAS thread count through ctypes."""

import numpy as np
import pytest

import autograd


def test_set_and_get_round_trip():
    before = autograd.get_num_threads()
    if before is None:
        pytest.skip("numpy does not use OpenBLAS here")
    try:
        assert autograd.set_num_threads(1) is True
        assert autograd.get_num_threads() == 1
        a = np.arange(12.0).reshape(3, 4)
        assert np.allclose(a @ a.T, np.einsum("ij,kj->ik", a, a))  # products still right
    finally:
        autograd.set_num_threads(before)
    assert autograd.get_num_threads() == before


def test_rejects_zero_threads():
    with pytest.raises(ValueError, match="at least 1"):
        autograd.set_num_threads(0)
