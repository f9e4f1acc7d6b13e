"""Shared test settings: a hypothesis profile for CI and a fast mode for notebooks; shared fixtures."""

import os

import pytest
from hypothesis import HealthCheck, settings

import autograd

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def restore_threads():
    """Put chainrule's intra-op thread count (autograd.set_num_threads) back as it was after the test."""
    before = autograd.get_num_threads()
    yield
    autograd.set_num_threads(before)
