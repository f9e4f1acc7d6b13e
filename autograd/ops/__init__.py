"""All Tensor operations, each a Function with forward and backward side by side."""

from .activation import dropout, log_softmax, softmax
from .conv import avg_pool2d, conv2d, max_pool2d
from .elementwise import (
    abs,
    add,
    astype,
    clip,
    clone,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    sqrt,
    sub,
    tanh,
    where,
)
from .linalg import linear, matmul
from .reduce import argmax, argmin, logsumexp, max, mean, min, std, sum, var
from .shape import (
    broadcast_to,
    cat,
    concatenate,
    expand,
    flatten,
    getitem,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
