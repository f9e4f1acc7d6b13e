"""The lecture's scalar networks: perceptron logic, linear regression by gradient descent, a two-moons MLP."""

from __future__ import annotations

import itertools
import math
import os
import random
import shutil

import pytest

from autograd import Value
from nn.optim import SGD
from nn.scalar import MLP, Layer, Neuron, Perceptron

BITS = list(itertools.product([0, 1], repeat=2))


def fire(p: Perceptron, *x: float) -> int:
    return int(p([float(v) for v in x]).data)


# --- perceptrons -----------------------------------------------------------------------------
def test_perceptron_computes_nand():
    nand = Perceptron([-2, -2], 3)
    assert [fire(nand, a, b) for a, b in BITS] == [1, 1, 1, 0]


def test_two_bit_adder_from_nand_perceptrons():
    nand = Perceptron([-2, -2], 3)

    def add(x1, x2):
        n1 = fire(nand, x1, x2)
        s = fire(nand, fire(nand, x1, n1), fire(nand, x2, n1))
        carry = fire(nand, n1, n1)
        return s, carry

    assert [add(a, b) for a, b in BITS] == [(0, 0), (1, 0), (1, 0), (0, 1)]
    assert all(add(a, b) == ((a + b) % 2, (a + b) // 2) for a, b in BITS)


def test_cheese_festival_follows_the_weather():
    festival = Perceptron([6, 2, 2], -5)  # weather, partner comes, transit nearby; threshold 5
    for weather, partner, transit in itertools.product([0, 1], repeat=3):
        assert fire(festival, weather, partner, transit) == weather
    # with a lower threshold the other two factors can outvote bad weather
    assert fire(Perceptron([6, 2, 2], -3), 0, 1, 1) == 1


def test_perceptron_step_passes_no_gradient():
    p = Perceptron([1.0, -1.0], 0.5)
    out = p([Value(2.0), Value(1.0)])
    out.backward()
    assert all(w.grad == 0.0 for w in p.parameters())


def test_neuron_layer_mlp_shapes_and_seeding():
    m1, m2 = MLP(3, [4, 4, 1], seed=7), MLP(3, [4, 4, 1], seed=7)
    assert [p.data for p in m1.parameters()] == [p.data for p in m2.parameters()]
    assert len(m1.parameters()) == (3 * 4 + 4) + (4 * 4 + 4) + (4 + 1)
    x = [1.0, -2.0, 0.5]
    assert m1(x).data == m2(x).data
    assert len(Layer(3, 5, rng=random.Random(0))(x)) == 5
    with pytest.raises(ValueError):
        Neuron(2, "swish")
    with pytest.raises(ValueError):
        Neuron(2, rng=random.Random(0))([1.0])


@pytest.mark.parametrize("act", ["linear", "sigmoid", "tanh", "relu"])
def test_neuron_matches_formula_and_gradient(act):
    n = Neuron(2, act, random.Random(3))
    n.b.data = 0.3
    x = [Value(0.5), Value(-1.5)]
    out = n(x)
    z = n.w[0].data * 0.5 + n.w[1].data * -1.5 + 0.3
    expected = {"linear": z, "sigmoid": 1 / (1 + math.exp(-z)),
                "tanh": math.tanh(z), "relu": max(0.0, z)}[act]
    assert out.data == pytest.approx(expected)
    out.backward()
    dz = {"linear": 1.0, "sigmoid": expected * (1 - expected), "tanh": 1 - expected**2,
          "relu": 1.0 if z > 0 else 0.0}[act]
    assert n.w[0].grad == pytest.approx(dz * 0.5)
    assert x[1].grad == pytest.approx(dz * n.w[1].data)


# --- linear regression -------------------------------------------------------------------------
W_TRUE, B_TRUE = 2.5, -1.0


def _line_data(n=40, seed=0):
    rng = random.Random(seed)
    xs = [rng.uniform(-1, 1) for _ in range(n)]
    ys = [W_TRUE * x + B_TRUE + rng.gauss(0, 0.01) for x in xs]
    return xs, ys


def _mse_half(w, b, xs, ys):
    """1/(2n) sum (w x_i + b - y_i)^2 as a Value."""
    total = Value(0.0)
    for x, y in zip(xs, ys):
        r = w * x + b - y
        total = total + r * r
    return total * (1.0 / (2 * len(xs)))


def test_linear_regression_full_batch_gradient_descent():
    xs, ys = _line_data()
    w, b = Value(0.0, label="w"), Value(0.0, label="b")
    first = None
    for _ in range(200):
        loss = _mse_half(w, b, xs, ys)
        first = first if first is not None else loss.data
        w.zero_grad()
        b.zero_grad()
        loss.backward()
        # the gradient of 1/(2n) sum r^2 is the mean residual (times x for w)
        n = len(xs)
        r = [w.data * x + b.data - y for x, y in zip(xs, ys)]
        assert w.grad == pytest.approx(sum(ri * x for ri, x in zip(r, xs)) / n)
        assert b.grad == pytest.approx(sum(r) / n)
        SGD([w, b], 0.9).step()
    assert w.data == pytest.approx(W_TRUE, abs=1e-2)
    assert b.data == pytest.approx(B_TRUE, abs=1e-2)
    assert _mse_half(w, b, xs, ys).data < first / 1000


def test_linear_regression_minibatch_sgd():
    xs, ys = _line_data(seed=1)
    w, b = Value(0.0), Value(0.0)
    rng = random.Random(0)
    idx = list(range(len(xs)))
    for epoch in range(60):
        rng.shuffle(idx)
        for start in range(0, len(idx), 8):
            batch = idx[start:start + 8]
            loss = _mse_half(w, b, [xs[i] for i in batch], [ys[i] for i in batch])
            w.zero_grad()
            b.zero_grad()
            loss.backward()
            SGD([w, b], 0.5 if epoch < 40 else 0.05).step()
    assert w.data == pytest.approx(W_TRUE, abs=1e-2)
    assert b.data == pytest.approx(B_TRUE, abs=1e-2)


# --- two moons ----------------------------------------------------------------------------------
def test_scalar_mlp_learns_two_moons():
    from nn.demo import _loss, moons

    X, y = moons(100, 0.1, seed=0)
    model = MLP(2, [8, 8, 1], seed=0)
    epochs = 40
    losses = []
    for k in range(epochs):
        loss, _ = _loss(model, X, y)
        losses.append(loss.data)
        model.zero_grad()
        loss.backward()
        SGD(model.parameters(), 1.0 - 0.9 * k / epochs).step()
    loss, acc = _loss(model, X, y)
    assert losses[-1] < losses[0] / 3
    assert acc >= 0.97


def test_scalar_moons_demo_runs_and_draws(tmp_path):
    from nn.demo import scalar_moons

    res = scalar_moons(str(tmp_path), epochs=2, verbose=False)
    assert set(res) >= {"loss", "accuracy", "graph"}
    assert res["loss"] > 0 and 0 <= res["accuracy"] <= 1
    if shutil.which("dot"):
        assert res["graph"] and os.path.exists(res["graph"]) and res["graph"].endswith(".svg")
        svg = open(res["graph"]).read()
        assert "tanh" in svg and "x0" in svg


# --- the opt-in fused neuron ----------------------------------------------------------------
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
def test_fused_mlp_gives_identical_outputs_and_gradients(activation):
    from autograd.graph import toposort

    rng = random.Random(3)
    X = [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(20)]
    y = [rng.choice([-1, 1]) for _ in X]
    models = [MLP(3, [8, 6, 1], activation=activation, seed=7, fused=f) for f in (False, True)]
    assert [p.data for p in models[0].parameters()] == [p.data for p in models[1].parameters()]
    for _ in range(3):  # a few SGD steps: still bit-for-bit the same
        losses, sizes = [], []
        for model in models:
            inputs = [[Value(v) for v in row] for row in X]
            scores = [model(row) for row in inputs]
            loss = sum((1 + -yi * s).relu() for yi, s in zip(y, scores)) * (1.0 / len(X))
            loss = loss + 1e-4 * sum(p * p for p in model.parameters())
            model.zero_grad()
            loss.backward()
            losses.append((loss.data, [s.data for s in scores], [v.grad for row in inputs for v in row]))
            sizes.append(len(toposort(loss)))
            SGD(model.parameters(), 0.1).step()
        assert losses[0] == losses[1]
        assert [p.grad for p in models[0].parameters()] == [p.grad for p in models[1].parameters()]
        assert [p.data for p in models[0].parameters()] == [p.data for p in models[1].parameters()]
        assert sizes[1] < sizes[0] / 3


def test_fused_neuron_and_layer_on_plain_numbers():
    plain, fused = Neuron(3, "tanh", random.Random(1)), Neuron(3, "tanh", random.Random(1), fused=True)
    assert "fused=True" in repr(fused) and "fused" not in repr(plain)
    a, b = plain([0.5, -1.0, 2]), fused([0.5, -1.0, 2])
    assert a.data == b.data and b._prev[0]._op == "lincomb"
    a.backward()
    b.backward()
    assert [p.grad for p in plain.parameters()] == [p.grad for p in fused.parameters()]
    layer = Layer(2, 3, "relu", random.Random(2), fused=True)
    assert "fused=True" in repr(layer) and len(layer([1.0, 2.0])) == 3
    with pytest.raises(ValueError):
        fused([1.0, 2.0])
