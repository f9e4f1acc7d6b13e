"""Tensor engine speed against PyTorch (CPU), forward + backward, float32.

Cases (each a full forward + ``loss.backward()``, gradients reset each call):

* ``conv1``: LeNet-5's first block ``max_pool2d(relu(conv2d(x, w, b)), 2)``, x (B, 1, 32, 32),
  w (6, 1, 5, 5); x is input data (no gradient), w and b need gradients.
* ``conv2``: the second block, x (B, 6, 14, 14), w (16, 6, 5, 5); x needs a gradient too (in
  LeNet it is the previous block's output).
* ``mlp``: 784-256-128-10 with ReLU, fused ``linear`` layers, loss = cross-entropy
  ``-(log_softmax(logits) * one_hot).sum() / B`` written identically in both libraries.

at batch 64 and 256.  Timings are interleaved round-robin with torch in the same
process (torch's thread count left at its default); the ratio is the median over rounds
of ours/torch, robust to load from other processes.  Also: the overhead of one
elementwise op on a 10-element tensor, forward + backward, in microseconds.

Run:  .venv/bin/python bench/ops.py [--repeats 15] [--batches 64 256] [--cases conv1 conv2 mlp]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import blas_threads, compare, env_note, load_note, median_ms, paired_ratio  # noqa: E402

import autograd as ag  # noqa: E402
from autograd.ops.conv import conv2d, max_pool2d  # noqa: E402
from autograd.ops.linalg import linear  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

CONV_SHAPES = {"conv1": (1, 32, 6), "conv2": (6, 14, 16)}  # C_in, H=W, C_out; kernel 5
BARS = {"conv1": 1.5, "conv2": 1.5, "mlp": 1.0}


def conv_case(name: str, batch: int, rng: np.random.Generator):
    c, h, o = CONV_SHAPES[name]
    x = rng.standard_normal((batch, c, h, h)).astype(np.float32)
    w = (rng.standard_normal((o, c, 5, 5)) * 0.2).astype(np.float32)
    b = (rng.standard_normal(o) * 0.1).astype(np.float32)
    x_grad = name != "conv1"

    X = ag.Tensor(x, requires_grad=x_grad)
    W = ag.Tensor(w, requires_grad=True)
    B = ag.Tensor(b, requires_grad=True)

    def ours():
        X.grad = W.grad = B.grad = None
        y = max_pool2d(conv2d(X, W, B).relu(), 2)
        y.sum().backward()

    fns = {"ours": ours}
    if torch is not None:
        tx = torch.tensor(x, requires_grad=x_grad)
        tw = torch.tensor(w, requires_grad=True)
        tb = torch.tensor(b, requires_grad=True)

        def theirs():
            tx.grad = tw.grad = tb.grad = None
            y = F.max_pool2d(F.relu(F.conv2d(tx, tw, tb)), 2)
            y.sum().backward()

        fns["torch"] = theirs
    return fns


def mlp_case(batch: int, rng: np.random.Generator):
    sizes = [784, 256, 128, 10]
    x = rng.standard_normal((batch, 784)).astype(np.float32)
    labels = rng.integers(0, 10, batch)
    onehot = np.eye(10, dtype=np.float32)[labels]
    ws = [(rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32) for i, o in zip(sizes, sizes[1:])]
    bs = [np.zeros(o, np.float32) for o in sizes[1:]]

    X, Y = ag.Tensor(x), ag.Tensor(onehot)
    params = [(ag.Tensor(w, requires_grad=True), ag.Tensor(b, requires_grad=True)) for w, b in zip(ws, bs)]

    def ours():
        h = X
        for i, (w, b) in enumerate(params):
            w.grad = b.grad = None
            h = linear(h, w, b)
            if i < len(params) - 1:
                h = h.relu()
        loss = -(h.log_softmax(axis=-1) * Y).sum() / batch
        loss.backward()

    fns = {"ours": ours}
    if torch is not None:
        tX, tY = torch.tensor(x), torch.tensor(onehot)
        tparams = [(torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)) for w, b in zip(ws, bs)]

        def theirs():
            h = tX
            for i, (w, b) in enumerate(tparams):
                w.grad = b.grad = None
                h = F.linear(h, w, b)
                if i < len(tparams) - 1:
                    h = F.relu(h)
            loss = -(F.log_softmax(h, dim=-1) * tY).sum() / batch
            loss.backward()

        fns["torch"] = theirs
    return fns


def tiny_op_case():
    t = ag.Tensor(np.linspace(-1, 1, 10, dtype=np.float32), requires_grad=True)
    g = ag.Tensor(np.ones(10, np.float32))

    def ours():
        t.grad = None
        t.tanh().backward(g)

    fns = {"ours": ours}
    if torch is not None:
        tt = torch.linspace(-1, 1, 10, requires_grad=True)
        tg = torch.ones(10)

        def theirs():
            tt.grad = None
            torch.tanh(tt).backward(tg)

        fns["torch"] = theirs
    return fns


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15, help="interleaved rounds per case")
    ap.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--cases", nargs="+", default=["conv1", "conv2", "mlp"], choices=["conv1", "conv2", "mlp"])
    args = ap.parse_args(argv)

    print(f"numpy {np.__version__}; OpenBLAS threads: {blas_threads()}")
    print(f"environment: {env_note()}; {load_note()}")
    if torch is None:
        print("torch is not importable: skipping the comparison, printing our times only")
    else:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads (default)")
    rng = np.random.default_rng(0)

    print(f"\n{'case':<6} {'shape':<34} {'batch':>5} {'ours ms':>9} {'torch ms':>9} {'ratio':>6} {'bar':>5}")
    worst_ok = True
    for name in args.cases:
        for batch in args.batches:
            if name == "mlp":
                fns, shape = mlp_case(batch, rng), "784-256-128-10 relu, CE loss"
            else:
                fns = conv_case(name, batch, rng)
                c, h, o = CONV_SHAPES[name]
                shape = f"x({c},{h},{h}) w({o},{c},5,5) +relu+pool2"
            times = compare(fns, repeats=args.repeats)
            ours = median_ms(times["ours"])
            if "torch" in times:
                theirs = median_ms(times["torch"])
                ratio = paired_ratio(times["ours"], times["torch"])
                ok = ratio <= BARS[name]
                worst_ok &= ok
                print(f"{name:<6} {shape:<34} {batch:>5} {ours:>9.3f} {theirs:>9.3f} {ratio:>6.2f} "
                      f"{BARS[name]:>4.1f}{'' if ok else ' !'}", flush=True)
            else:
                print(f"{name:<6} {shape:<34} {batch:>5} {ours:>9.3f} {'-':>9} {'-':>6}", flush=True)

    times = compare(tiny_op_case(), repeats=args.repeats, number=2000)
    tiny = median_ms(times["ours"]) * 1e3
    extra = f" (torch {median_ms(times['torch']) * 1e3:.1f} us)" if "torch" in times else ""
    print(f"\nelementwise op on 10 elements, forward + backward: {tiny:.1f} us{extra}  (bar: <= 15 us)")
    print(f"{load_note()}")
    return 0 if worst_ok else 1


if __name__ == "__main__":
    sys.exit(main())
