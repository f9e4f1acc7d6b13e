"""Neurons built from scalar :class:`~autograd.Value` objects.

This is the lecture's first network layer, one number at a time:

* :class:`Perceptron` - ``step(w . x + b)``, the 1950s neuron (weights, bias,
  Heaviside step); the step has zero gradient, so it cannot be trained by
  gradient descent;
* :class:`Neuron` - ``act(w . x + b)`` with a smooth (or piecewise linear)
  activation: ``linear``, ``step``, ``sigmoid``, ``tanh`` or ``relu``;
* :class:`Layer` - several neurons reading the same inputs;
* :class:`MLP` - layers in a chain (the last one linear by default).

Each neuron builds ``b + w0*x0 + w1*x1 + ...`` as one node per ``+`` and per
``*`` (the graph the lectures draw).  ``fused=True`` (off by default) builds it
instead as a single :meth:`Value.lincomb <autograd.Value.lincomb>` node with
``2n + 1`` parents: the same numbers and gradients, far fewer nodes, faster.

Every class has ``parameters()`` and ``zero_grad()``, so any of them can be
handed to :class:`nn.optim.SGD`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from autograd import Value

__all__ = ["Module", "Perceptron", "Neuron", "Layer", "MLP", "ACTIVATIONS"]

ACTIVATIONS = ("linear", "step", "sigmoid", "tanh", "relu")

Number = float | Value


def _weighted_sum(w: Sequence[Value], x: Sequence[Number], b: Value) -> Value:
    """b + sum_i w_i x_i, built left to right as one chain of + and * nodes.

    That is ``z = b; for wi, xi in zip(w, x): z = z + wi * xi``, with the two
    operators called as the functions they are (``Value.__add__``,
    ``Value.__mul__``): the same nodes, but a plain Python call is cheaper
    than the operator's dispatch.
    """
    if len(w) != len(x):
        raise ValueError(f"Neuron: expected {len(w)} inputs, got {len(x)}")
    add, mul = _add, _mul
    z = b
    for wi, xi in zip(w, x):
        z = add(z, mul(wi, xi))  # z + wi * xi
    return z


_add, _mul = Value.__add__, Value.__mul__


class Module:
    """Something with parameters."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """``act(sum_i w_i x_i + b)``.

    Weights start uniform in [-1, 1) from ``rng`` (a :class:`random.Random`,
    seedable), the bias at 0, as in the usual scalar demos.  ``fused`` computes
    the weighted sum as one :meth:`Value.lincomb <autograd.Value.lincomb>` node.
    """

    def __init__(
        self, n_inputs: int, activation: str = "relu", rng: random.Random | None = None, fused: bool = False
    ) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"Neuron: activation must be one of {ACTIVATIONS}, got {activation!r}")
        rng = rng or random.Random()
        self.w = [Value(rng.uniform(-1, 1), label=f"w{i}") for i in range(n_inputs)]
        self.b = Value(0.0, label="b")
        self.activation = activation
        self.fused = fused

    def __call__(self, x: Sequence[Number]) -> Value:
        if self.fused:
            z = Value.lincomb(self.w, x, self.b)
        else:
            z = _weighted_sum(self.w, x, self.b)
        if self.activation == "linear":
            return z
        return getattr(z, self.activation)()

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]

    def __repr__(self) -> str:
        fused = ", fused=True" if self.fused else ""
        return f"Neuron({len(self.w)}, activation={self.activation!r}{fused})"


class Perceptron(Neuron):
    """``1 if w . x + b > 0 else 0`` with the given (or random) weights and bias.

    ``Perceptron([-2, -2], 3)`` computes NAND of two bits.
    """

    def __init__(self, weights: Sequence[float] | int, bias: float = 0.0, rng: random.Random | None = None) -> None:
        if isinstance(weights, int):
            super().__init__(weights, "step", rng)
        else:
            super().__init__(0, "step", rng)
            self.w = [Value(float(w), label=f"w{i}") for i, w in enumerate(weights)]
        self.b = Value(float(bias), label="b")

    def __repr__(self) -> str:
        return f"Perceptron(weights={[w.data for w in self.w]}, bias={self.b.data})"


class Layer(Module):
    """``n_outputs`` neurons that each read the same ``n_inputs`` inputs."""

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        activation: str = "relu",
        rng: random.Random | None = None,
        fused: bool = False,
    ) -> None:
        rng = rng or random.Random()
        self.neurons = [Neuron(n_inputs, activation, rng, fused) for _ in range(n_outputs)]

    def __call__(self, x: Sequence[Number]) -> list[Value]:
        return [n(x) for n in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        n = self.neurons[0]
        fused = ", fused=True" if n.fused else ""
        return f"Layer({len(n.w)} -> {len(self.neurons)}, activation={n.activation!r}{fused})"


class MLP(Module):
    """A multi-layer perceptron: ``MLP(2, [16, 16, 1])`` maps 2 inputs to 1 output.

    Hidden layers use ``activation``; the last layer uses ``output_activation``
    (``linear`` by default, giving a raw score).  ``seed`` makes the initial
    weights reproducible (the same with or without ``fused``).
    """

    def __init__(
        self,
        n_inputs: int,
        sizes: Sequence[int],
        activation: str = "relu",
        output_activation: str = "linear",
        seed: int | None = None,
        fused: bool = False,
    ) -> None:
        rng = random.Random(seed)
        dims = [n_inputs, *sizes]
        self.layers = [
            Layer(dims[i], dims[i + 1], activation if i < len(sizes) - 1 else output_activation, rng, fused)
            for i in range(len(sizes))
        ]

    def __call__(self, x: Sequence[Number]) -> Value | list[Value]:
        out: Sequence[Number] = x
        for layer in self.layers:
            out = layer(out)
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return "MLP(" + ", ".join(repr(layer) for layer in self.layers) + ")"
