"""Scalar engine speed: one micrograd two-moons training step, chainrule vs micrograd 0.1.0.

The step is the classic micrograd demo: an MLP 2-16-16-1 on 100 two-moons
points (inputs wrapped as Values), max-margin loss ``(1 + -y*score).relu()``
averaged, plus ``1e-4 * sum(p*p)`` L2, then ``zero_grad`` + ``backward`` + an SGD
update.  The *same* step function runs on both libraries.

Each library is measured in its own fresh subprocess (alternating, several
repeats) with Python's garbage collector in its default state, and both
workers import numpy (to make the data) so they start from the same heap.

Run:  .venv/bin/python bench/scalar.py [--repeats 5] [--steps 6]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_moons(n: int = 100, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles (as sklearn's make_moons), labels -1/+1, as plain lists."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    X = np.vstack(
        [
            np.column_stack([np.cos(t_out), np.sin(t_out)]),
            np.column_stack([1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5]),
        ]
    )
    X += rng.normal(scale=noise, size=X.shape)
    y = np.hstack([-np.ones(n_out, dtype=int), np.ones(n_in, dtype=int)])
    return X.tolist(), y.tolist()


def step(Value, model, X, y, lr):
    """One full training step; identical code for both libraries. Returns the loss node."""
    inputs = [list(map(Value, row)) for row in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum(p * p for p in model.parameters())
    total = data_loss + reg_loss
    model.zero_grad()
    total.backward()
    for p in model.parameters():
        p.data -= lr * p.grad
    return total


def worker(lib: str, steps: int) -> None:
    import random

    X, y = make_moons()
    if lib == "micrograd":
        from micrograd.engine import Value
        from micrograd.nn import MLP

        random.seed(1337)
        model = MLP(2, [16, 16, 1])
    else:
        sys.path.insert(0, ROOT)
        from autograd import Value
        from nn.scalar import MLP

        model = MLP(2, [16, 16, 1], seed=1337)
    times = []
    loss = None
    for k in range(steps):
        lr = 1.0 - 0.9 * k / 100
        loss = None  # drop the previous graph before timing (both libraries alike)
        t0 = time.perf_counter()
        loss = step(Value, model, X, y, lr)
        times.append(time.perf_counter() - t0)
    out = {"times": times, "loss": float(loss.data)}
    if lib == "chainrule":
        from autograd.graph import toposort

        out["nodes"] = len(toposort(loss))
    print(json.dumps(out))


def run(lib: str, steps: int) -> dict:
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--worker", lib, "--steps", str(steps)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{lib} worker failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="subprocesses per library (alternating)")
    ap.add_argument("--steps", type=int, default=6, help="training steps per subprocess (the first is warm-up)")
    ap.add_argument("--worker", choices=["micrograd", "chainrule"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.steps)
        return
    try:
        import micrograd  # noqa: F401
    except ImportError:
        raise SystemExit("micrograd is not installed: pip install micrograd==0.1.0  (the 'bench' extra)") from None
    per = {"micrograd": [], "chainrule": []}
    nodes = 0
    losses = {}
    for _ in range(args.repeats):
        for lib in ("micrograd", "chainrule"):
            r = run(lib, args.steps)
            per[lib].extend(r["times"][1:])  # drop the warm-up step
            losses[lib] = r["loss"]
            nodes = r.get("nodes", nodes)
    mg = statistics.median(per["micrograd"])
    ours = statistics.median(per["chainrule"])
    print(f"two-moons training step (MLP 2-16-16-1, 100 points, {nodes} graph nodes), GC on")
    print(f"{args.repeats} fresh subprocesses per library, {args.steps - 1} timed steps each, median")
    print()
    print(f"{'library':<12}{'median ms':>12}{'min ms':>10}{'max ms':>10}{'nodes/s':>14}")
    for lib, med in (("micrograd", mg), ("chainrule", ours)):
        t = per[lib]
        print(f"{lib:<12}{med * 1e3:>12.1f}{min(t) * 1e3:>10.1f}{max(t) * 1e3:>10.1f}{nodes / med:>14,.0f}")
    print()
    print(f"speed-up (micrograd / chainrule, like for like): {mg / ours:.1f}x")
    print(f"chainrule graph nodes per second (full step): {nodes / ours:,.0f}")


if __name__ == "__main__":
    main()
