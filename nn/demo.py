"""Demos that run in seconds and show the library end to end.

:func:`scalar_moons` is the classic micrograd demo on chainrule's scalar
engine: an MLP 2-16-16-1 built from :class:`~autograd.Value` s learns to
separate 100 two-moons points with a max-margin loss, and the graph of one
neuron's forward pass is drawn as SVG.
"""

from __future__ import annotations

import os
import random
import time

from autograd import Value, draw, no_grad
from nn.datasets import make_moons
from nn.scalar import MLP, Neuron

__all__ = ["scalar_moons", "moons"]


def moons(n: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[list[list[float]], list[int]]:
    """100 two-moons points as plain lists, labels -1 (upper moon) / +1 (lower moon)."""
    X, y = make_moons(n_samples=n, noise=noise, seed=seed)
    return [[float(a), float(b)] for a, b in X.tolist()], [2 * int(t) - 1 for t in y.tolist()]


def _loss(model: MLP, X: list[list[float]], y: list[int], alpha: float = 1e-4) -> tuple[Value, float]:
    """Mean max-margin loss ``relu(1 - y * score)`` plus ``alpha * sum(p^2)``, and the accuracy."""
    scores = [model([Value(a), Value(b)]) for a, b in X]
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = alpha * sum(p * p for p in model.parameters())
    acc = sum((yi > 0) == (si.data > 0) for yi, si in zip(y, scores)) / len(y)
    return data_loss + reg_loss, acc


def scalar_moons(out_dir: str = "out", epochs: int = 40, seed: int = 0, verbose: bool = True) -> dict:
    """Train a scalar MLP 2-16-16-1 on two moons with full-batch SGD; draw one neuron's graph.

    Returns ``{"loss", "accuracy", "epochs", "seconds", "graph"}`` where
    ``graph`` is the path of the SVG drawing (``None`` if drawing was not
    possible, with the reason printed).
    """
    X, y = moons(100, 0.1, seed)
    model = MLP(2, [16, 16, 1], seed=seed)
    t0 = time.perf_counter()
    loss, acc = None, 0.0
    for k in range(epochs):
        loss, acc = _loss(model, X, y)
        model.zero_grad()
        loss.backward()
        lr = 1.0 - 0.9 * k / epochs
        with no_grad():
            for p in model.parameters():
                p.data -= lr * p.grad
        if verbose and (k % 10 == 0 or k == epochs - 1):
            print(f"epoch {k:3d}  loss {loss.data:.4f}  accuracy {acc:.0%}")
    loss, acc = _loss(model, X, y)  # after the last update
    seconds = time.perf_counter() - t0
    if verbose:
        print(f"final loss {loss.data:.4f}, training accuracy {acc:.0%} ({seconds:.1f} s)")
    graph = _draw_neuron(out_dir, seed, verbose)
    return {"loss": loss.data, "accuracy": acc, "epochs": epochs, "seconds": seconds, "graph": graph}


def _draw_neuron(out_dir: str, seed: int, verbose: bool) -> str | None:
    """Draw ``tanh(w0 x0 + w1 x1 + b)`` after backward, as ``out_dir/neuron.svg``."""
    n = Neuron(2, "tanh", random.Random(seed))
    x0, x1 = Value(2.0, label="x0"), Value(0.0, label="x1")
    out = n([x0, x1])
    out.label = "out"
    out.backward()
    dot = draw(out)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "neuron")
    try:
        written = dot.render(path, format="svg", cleanup=True)
    except Exception as e:  # graphviz's `dot` missing: keep the DOT source
        with open(path + ".dot", "w") as f:
            f.write(dot.source)
        print(f"note: could not render SVG ({type(e).__name__}: {e}); wrote {path}.dot (install Graphviz)")
        return None
    if verbose:
        print(f"drew one neuron's forward pass: {written}")
    return written


if __name__ == "__main__":  # pragma: no cover
    scalar_moons()
