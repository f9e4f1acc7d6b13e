"""nn.Conv2d validates its size arguments with autograd's messages (naming the op and the argument)."""

import pytest

import nn


@pytest.mark.parametrize("kwargs, name", [
    ({"kernel_size": 2.5}, "kernel_size"),
    ({"kernel_size": (1, 2, 3)}, "kernel_size"),
    ({"kernel_size": 3, "stride": "2"}, "stride"),
    ({"kernel_size": 3, "padding": None}, "padding"),
])
def test_conv2d_bad_size_argument_names_op_and_argument(kwargs, name):
    with pytest.raises(TypeError, match=rf"Conv2d: {name} must be an int or a pair of ints"):
        nn.Conv2d(1, 6, **kwargs)


def test_conv2d_accepts_ints_and_pairs():
    c = nn.Conv2d(1, 6, (3, 5), stride=2, padding=(1, 0))
    assert c.kernel_size == (3, 5) and c.stride == (2, 2) and c.padding == (1, 0)
    assert c.weight.shape == (6, 1, 3, 5)
