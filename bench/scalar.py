"""Scalar engine speed: one micrograd two-moons training step, chainrule vs micrograd 0.1.0.

The step is the classic micrograd demo: an MLP 2-16-16-1 on 100 two-moons
points (inputs wrapped as Values), max-margin loss ``(1 + -y*score).relu()``
averaged, plus ``1e-4 * sum(p*p)`` L2, then ``zero_grad`` + ``backward`` + an SGD
update.  The *same* step function runs on both libraries.

Two figures are printed.  The like-for-like one (THE figure) compares the same
graph: one node per ``+`` and ``*``, inputs and constants as leaf Values, as in
micrograd.  The second, clearly labelled, runs the same step on chainrule's
opt-in fused neuron (``MLP(..., fused=True)``: each ``b + sum w_i x_i`` is one
``Value.lincomb`` node), which builds a much smaller graph.

Each library is measured in its own fresh subprocess (alternating, several
repeats) with Python's garbage collector in its default state, and both
workers import numpy (to make the data) so they start from the same heap.

Run:  .venv/bin/python bench/scalar.py [--repeats 5] [--steps 6]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import load_note  # noqa: E402


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


def step(Value, model, X, y, lr, marks=None):
    """One full training step; identical code for both libraries. Returns the loss node.

    ``marks`` (a list) receives the time after the forward pass, to split
    forward from zero_grad + backward + update.
    """
    inputs = [list(map(Value, row)) for row in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum(p * p for p in model.parameters())
    total = data_loss + reg_loss
    if marks is not None:
        marks.append(time.perf_counter())
    model.zero_grad()
    total.backward()
    for p in model.parameters():
        p.data -= lr * p.grad
    return total


LIBS = ("micrograd", "chainrule", "chainrule-fused")


def count_nodes(root) -> int:
    """Nodes reachable from ``root`` through ``_prev`` (iterative: the graph is too deep to recurse)."""
    seen = {id(root)}
    stack = [root]
    while stack:
        for parent in stack.pop()._prev:
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return len(seen)


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

        model = MLP(2, [16, 16, 1], seed=1337, fused=lib == "chainrule-fused")
    # Observe (never change) the collector: time spent in collections per step, and the full
    # (generation-2) collections among them, counted and timed separately.
    gc_time = [0.0]
    full_times: list = []
    started = [0.0]

    def on_gc(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            dt = time.perf_counter() - started[0]
            gc_time[0] += dt
            if info["generation"] == 2:
                full_times.append(dt)

    gc.callbacks.append(on_gc)
    times, fwd, gcs, fulls = [], [], [], []
    loss = None
    for k in range(steps):
        lr = 1.0 - 0.9 * k / 100
        loss = None  # drop the previous graph before timing (both libraries alike)
        marks: list = []
        gc_time[0] = 0.0
        full_times.clear()
        t0 = time.perf_counter()
        loss = step(Value, model, X, y, lr, marks)
        times.append(time.perf_counter() - t0)
        fwd.append(marks[0] - t0)
        gcs.append(gc_time[0])
        fulls.append(list(full_times))
    gc.callbacks.remove(on_gc)
    out = {"times": times, "fwd": fwd, "gc": gcs, "full": fulls, "loss": float(loss.data)}
    if lib == "micrograd":
        out["nodes"] = count_nodes(loss)  # micrograd's own graph, walked through its _prev sets
    else:
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
    ap.add_argument("--worker", choices=LIBS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.steps)
        return
    try:
        import micrograd  # noqa: F401
    except ImportError:
        raise SystemExit("micrograd is not installed: pip install micrograd==0.1.0  (the 'bench' extra)") from None
    per: dict = {lib: {"times": [], "fwd": [], "gc": []} for lib in LIBS}
    full: dict = {lib: [] for lib in LIBS}  # per timed step: the durations of its full collections
    nodes: dict = {}
    for _ in range(args.repeats):
        for lib in LIBS:
            r = run(lib, args.steps)
            for key in ("times", "fwd", "gc"):
                per[lib][key].extend(r[key][1:])  # drop the warm-up step
            full[lib].extend(r["full"][1:])
            nodes[lib] = r["nodes"]
    med = {lib: {k: statistics.median(v) for k, v in d.items()} for lib, d in per.items()}
    mg = med["micrograd"]["times"]
    print("two-moons training step (MLP 2-16-16-1, 100 points), GC on (default thresholds)")
    print(f"{args.repeats} fresh subprocesses per library, alternating, {args.steps - 1} timed steps each; medians")
    print(f"{os.cpu_count()} CPUs; {load_note(warn_above=os.cpu_count() or 1)}")
    print()
    print(
        f"{'library':<16}{'nodes':>7}{'step ms':>9}{'min ms':>8}{'forward':>9}{'backward':>10}{'in GC':>8}"
        f"{'full/step':>10}{'ms/full':>9}{'nodes/s':>12}"
    )
    for lib in LIBS:
        m, t = med[lib], per[lib]["times"]
        durations = [d for s in full[lib] for d in s]
        per_step = len(durations) / max(1, len(full[lib]))
        ms_full = f"{statistics.median(durations) * 1e3:>9.1f}" if durations else f"{'-':>9}"
        print(
            f"{lib:<16}{nodes[lib]:>7}{m['times'] * 1e3:>9.1f}{min(t) * 1e3:>8.1f}{m['fwd'] * 1e3:>9.1f}"
            f"{(m['times'] - m['fwd']) * 1e3:>10.1f}{m['gc'] * 1e3:>8.1f}{per_step:>10.2f}{ms_full}"
            f"{nodes[lib] / m['times']:>12,.0f}"
        )
    print()
    print("(forward = building the loss; backward = zero_grad + toposort + backward + SGD update;")
    print(" 'in GC' = median time inside garbage collections during the step, part of the other columns;")
    print(" full/step = full (generation-2) collections per timed step, on average; ms/full = median")
    print(" duration of one full collection; nodes = the loss's graph, counted in each library's worker)")
    print()
    ours, fused = med["chainrule"]["times"], med["chainrule-fused"]["times"]
    best = min(per["micrograd"]["times"])
    graphs = (f"same {nodes['chainrule']}-node graph" if nodes["micrograd"] == nodes["chainrule"]
              else f"graphs differ: micrograd {nodes['micrograd']} nodes, chainrule {nodes['chainrule']}")
    print(
        f"like for like ({graphs}), median micrograd / median chainrule: {mg / ours:.1f}x"
        f"  (fastest steps: {best / min(per['chainrule']['times']):.1f}x); "
        f"{nodes['chainrule'] / ours:,.0f} nodes/s"
    )
    print(
        f"fused neurons (MLP(..., fused=True), {nodes['chainrule-fused']}-node graph, not like for like): "
        f"{mg / fused:.1f}x  (fastest steps: {best / min(per['chainrule-fused']['times']):.1f}x); "
        f"{nodes['chainrule-fused'] / fused:,.0f} nodes/s"
    )

if __name__ == "__main__":
    main()
