"""Tensor engine speed against PyTorch (CPU), forward + backward, float32.

Cases (each a full forward + ``loss.backward()``, gradients reset each call):

* ``conv1``: LeNet-5's first block ``max_pool2d(relu(conv2d(x, w, b)), 2)``, x (B, 1, 32, 32),
  w (6, 1, 5, 5); x is input data (no gradient), w and b need gradients.
* ``conv2``: the second block, x (B, 6, 14, 14), w (16, 6, 5, 5); x needs a gradient too (in
  LeNet it is the previous block's output).
* ``mlp``: 784-256-128-10 with ReLU, fused ``linear`` layers, loss = cross-entropy
  ``-(log_softmax(logits) * one_hot).sum() / B`` written identically in both libraries.

at batch 64 and 256.  Also: the overhead of one elementwise op on a 10-element tensor,
forward + backward, in microseconds.

Protocol (default): each framework runs in its **own worker process** (same cases, same seeds),
so neither one's thread pool (torch's OpenMP threads, numpy's spinning OpenBLAS threads)
disturbs the other.  Per case, each worker warms up, then the parent runs ``--repeats`` rounds
alternating between the chainrule worker and the torch worker (order swapped each round, a short
quiet gap between them so spinning threads go back to sleep); a round is 0.1 s of untimed calls
(after an idle gap this machine's CPUs take tens of milliseconds to come back to full speed; a
training loop never idles, so the steady state is what we compare) followed by one timed batch of
calls, whose result comes back as JSON.  The ratio is the median over rounds of ours/torch (paired
rounds, robust to load drifting between rounds).  chainrule uses ``--threads`` intra-op threads
(``autograd.set_num_threads``, default: chainrule's default), torch its default thread count.
The torch worker is started with ``CHAINRULE_MALLOPT=0``: this script imports ``autograd``, whose glibc
malloc tuning (``autograd/memory.py``) would otherwise apply in torch's process too.
``--in-process`` is the old protocol: both timed interleaved in this one process (with chainrule's malloc
tuning, unless ``CHAINRULE_MALLOPT=0`` is set); it has no idle gaps and no warm-up calls before each round, so
``--warm`` belongs to the worker protocol only: given with ``--in-process`` it is an error, and without torch
(our times only, in this process) it is not used.

Run:  .venv/bin/python bench/ops.py [--repeats 15] [--batches 64 256] [--cases conv1 conv2 mlp]
                                    [--threads N] [--warm 0.1] [--in-process]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import compare, env_note, load_note, median_ms, paired_ratio, per_call, worker_env  # noqa: E402

import autograd as ag  # noqa: E402
from autograd.memory import malloc_tuned  # noqa: E402
from autograd.ops.conv import conv2d, max_pool2d  # noqa: E402
from autograd.ops.linalg import linear  # noqa: E402
from autograd.threads import blas_threads  # noqa: E402

CONV_SHAPES = {"conv1": (1, 32, 6), "conv2": (6, 14, 16)}  # C_in, H=W, C_out; kernel 5
BARS = {"conv1": 1.5, "conv2": 1.5, "mlp": 1.0}
TINY_BAR_US = 15.0  # the 10-element op, forward + backward
MISSED_BAR = 3  # exit status when a figure misses its bar (a crash exits 1)
FRAMEWORKS = ("ours", "torch")


def label(name: str) -> str:
    """The shape column of case ``name``."""
    if name == "mlp":
        return "784-256-128-10 relu, CE loss"
    c, h, o = CONV_SHAPES[name]
    return f"x({c},{h},{h}) w({o},{c},5,5) +relu+pool2"


def import_torch():
    """``torch`` or None if it is not importable.  Imported only by the processes that time torch."""
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return torch


def _ours_ops() -> dict:
    return dict(tensor=ag.Tensor, conv2d=conv2d, relu=ag.relu, max_pool2d=max_pool2d, linear=linear,
                log_softmax=lambda h: ag.log_softmax(h, axis=-1), tanh=ag.tanh)


def _torch_ops() -> dict:
    import torch
    import torch.nn.functional as F

    return dict(tensor=torch.tensor, conv2d=F.conv2d, relu=F.relu, max_pool2d=F.max_pool2d, linear=F.linear,
                log_softmax=lambda h: F.log_softmax(h, dim=-1), tanh=torch.tanh)


# The tensor constructor and the ops the cases use, per framework; each step below is written once.
FRAMEWORK_OPS = {"ours": _ours_ops, "torch": _torch_ops}


def _conv_step(X, W, B, conv2d, relu, max_pool2d):
    """One forward + backward of a conv block, written once for both frameworks (their ops passed in)."""
    X.grad = W.grad = B.grad = None
    max_pool2d(relu(conv2d(X, W, B)), 2).sum().backward()


def conv_case(name: str, batch: int, rng: np.random.Generator, ops: dict):
    c, h, o = CONV_SHAPES[name]
    x = rng.standard_normal((batch, c, h, h)).astype(np.float32)
    w = (rng.standard_normal((o, c, 5, 5)) * 0.2).astype(np.float32)
    b = (rng.standard_normal(o) * 0.1).astype(np.float32)
    tensor = ops["tensor"]
    X = tensor(x, requires_grad=name != "conv1")  # conv1's x is input data; conv2's is a layer's output
    W, B = tensor(w, requires_grad=True), tensor(b, requires_grad=True)
    conv, relu, pool = ops["conv2d"], ops["relu"], ops["max_pool2d"]
    return lambda: _conv_step(X, W, B, conv, relu, pool)


def _mlp_step(X, Y, params, batch: int, linear, relu, log_softmax):
    """One forward + backward of the MLP, written once for both frameworks (their ops passed in)."""
    h = X
    for i, (w, b) in enumerate(params):
        w.grad = b.grad = None
        h = linear(h, w, b)
        if i < len(params) - 1:
            h = relu(h)
    loss = -(log_softmax(h) * Y).sum() / batch
    loss.backward()


def mlp_case(batch: int, rng: np.random.Generator, ops: dict):
    sizes = [784, 256, 128, 10]
    x = rng.standard_normal((batch, 784)).astype(np.float32)
    labels = rng.integers(0, 10, batch)
    onehot = np.eye(10, dtype=np.float32)[labels]
    ws = [(rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32) for i, o in zip(sizes, sizes[1:])]
    bs = [np.zeros(o, np.float32) for o in sizes[1:]]
    tensor = ops["tensor"]
    X, Y = tensor(x), tensor(onehot)
    params = [(tensor(w, requires_grad=True), tensor(b, requires_grad=True)) for w, b in zip(ws, bs)]
    linear_, relu, log_softmax = ops["linear"], ops["relu"], ops["log_softmax"]
    return lambda: _mlp_step(X, Y, params, batch, linear_, relu, log_softmax)


def _tiny_step(t, g, tanh):
    """One elementwise op on a small tensor, forward + backward (the per-op overhead)."""
    t.grad = None
    tanh(t).backward(g)


def tiny_op_case(ops: dict):
    tensor = ops["tensor"]
    t = tensor(np.linspace(-1, 1, 10, dtype=np.float32), requires_grad=True)
    g = tensor(np.ones(10, np.float32))
    tanh = ops["tanh"]
    return lambda: _tiny_step(t, g, tanh)


def make_case(name: str, batch: int, framework: str):
    """One case's callable for ``framework`` ("ours" or "torch"; "torch" imports torch).

    Its data depends only on (name, batch): the same in every process and for either framework.
    """
    ops = FRAMEWORK_OPS[framework]()
    rng = np.random.default_rng([batch, sum(map(ord, name))])
    if name == "mlp":
        return mlp_case(batch, rng, ops)
    if name == "tiny":
        return tiny_op_case(ops)
    return conv_case(name, batch, rng, ops)


def process_info(torch) -> dict:
    """This process's thread counts and malloc tuning (what a worker reports when it starts)."""
    return {"threads": ag.get_num_threads(), "blas_threads": blas_threads(), "malloc_tuned": malloc_tuned(),
            "torch_threads": torch.get_num_threads() if torch is not None else None}


def describe(info: dict, chainrule: bool, torch: bool) -> str:
    """``info``'s thread counts (chainrule's and/or torch's) and malloc tuning, for the header."""
    parts = [f"chainrule intra-op threads {info['threads']}"] if chainrule else []
    if torch:
        parts.append(f"torch threads {info['torch_threads']} (its default)")
    parts += [f"OpenBLAS threads {info['blas_threads']}",
              f"chainrule malloc tuning {'on' if info['malloc_tuned'] else 'off'}"]
    return ", ".join(parts)


def worker(framework: str) -> int:
    """Serve timing requests on stdin, one JSON object a line; answer one JSON line each.

    ``{"case", "batch", "number", "warm"}``: seconds per call over ``number`` calls, after
    ``warm`` seconds of untimed calls (the first request of a case builds it and warms it up;
    ``number`` 0 calibrates: seconds per call of 2 calls).
    """
    cases: dict = {}
    torch = import_torch() if framework == "torch" else None
    print(json.dumps({"ready": True, **process_info(torch)}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        key = (req["case"], req["batch"])
        if key not in cases:
            cases[key] = make_case(*key, framework)
            for _ in range(3):
                cases[key]()
        fn = cases[key]
        gc_was = gc.isenabled()
        gc.disable()
        try:
            until = time.perf_counter() + req.get("warm", 0.0)
            while time.perf_counter() < until:
                fn()
            t = per_call(fn, req["number"] or 2)
        finally:
            if gc_was:
                gc.enable()
        print(json.dumps({"seconds": t}), flush=True)
    return 0


class _Worker:
    def __init__(self, framework: str, threads: int):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework, "--threads", str(threads)]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  env=worker_env(framework))
        self.info = json.loads(self.p.stdout.readline())

    def time(self, case: str, batch: int, number: int, warm: float = 0.0) -> float:
        self.p.stdin.write(json.dumps({"case": case, "batch": batch, "number": number, "warm": warm}) + "\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())["seconds"]

    def close(self) -> None:
        self.p.stdin.close()
        self.p.wait()


def timed_apart(workers: dict, case: str, batch: int, repeats: int, number: int = 0,
                budget: float = 0.05, gap: float = 0.15, warm: float = 0.1) -> dict[str, list[float]]:
    """Seconds per call of each worker's case, rounds alternating between the worker processes."""
    names = list(workers)
    if number <= 0:
        slowest = max(workers[n].time(case, batch, 0) for n in names)
        number = max(1, min(200, int(budget / max(slowest, 1e-7))))
    for n in names:  # warm-up round
        workers[n].time(case, batch, number)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for n in names[r % len(names):] + names[: r % len(names)]:
            time.sleep(gap)  # let the other process's spinning threads go to sleep
            times[n].append(workers[n].time(case, batch, number, warm))
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15, help="rounds per case")
    ap.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--cases", nargs="+", default=["conv1", "conv2", "mlp"], choices=["conv1", "conv2", "mlp"])
    ap.add_argument("--threads", type=int, default=0,
                    help="chainrule's intra-op threads (autograd.set_num_threads); 0 = chainrule's default")
    ap.add_argument("--warm", type=float, default=None,
                    help="seconds of untimed calls before each timed round (default 0.1; 0: time straight after the "
                         "idle gap); worker protocol only: an error with --in-process, unused without torch")
    ap.add_argument("--in-process", action="store_true",
                    help="old protocol: time both frameworks interleaved in this one process (no --warm)")
    ap.add_argument("--worker", choices=["ours", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.in_process and args.warm is not None:
        ap.error("--warm applies to the worker protocol only (each round's untimed calls after an idle gap); "
                 "--in-process times rounds back to back, with no warm-up per round")
    warm = 0.1 if args.warm is None else args.warm
    if args.threads:
        ag.set_num_threads(args.threads)
    if args.worker:
        return worker(args.worker)

    torch = import_torch()  # this process needs torch for the version and, with --in-process, the cases
    frameworks = FRAMEWORKS if torch is not None else ("ours",)
    apart = not args.in_process and torch is not None
    print(f"numpy {np.__version__}; {os.cpu_count()} CPUs; chainrule intra-op threads "
          f"{'--threads ' + str(args.threads) if args.threads else 'its default'}")
    print(f"environment: {env_note()}; {load_note()}")
    if torch is None:
        print("torch is not importable: skipping the comparison, printing our times only")
    else:
        print(f"torch {torch.__version__}")
    workers = {}
    if apart:
        workers = {"ours": _Worker("ours", args.threads), "torch": _Worker("torch", 0)}
        print("protocol: each framework in its own worker process, rounds alternating")
        print(f"  ours worker:  {describe(workers['ours'].info, chainrule=True, torch=False)}")
        print(f"  torch worker: {describe(workers['torch'].info, chainrule=False, torch=True)}")
    else:
        print("protocol: " + ("both interleaved in this process" if torch is not None else "this process only"))
        print(f"  this process: {describe(process_info(torch), chainrule=True, torch=torch is not None)}")

    def measure(name: str, batch: int, number: int = 0) -> dict[str, list[float]]:
        if apart:
            return timed_apart(workers, name, batch, args.repeats, number, warm=warm)
        return compare({fw: make_case(name, batch, fw) for fw in frameworks}, repeats=args.repeats, number=number)

    print("\nms: each framework's median over rounds; ratio: median over rounds of ours/torch in the same round")
    print(f"{'case':<6} {'shape':<34} {'batch':>5} {'ours ms':>9} {'torch ms':>9} {'ratio':>6} {'bar':>5}")
    worst_ok = True
    try:
        for name in args.cases:
            for batch in args.batches:
                shape = label(name)
                times = measure(name, batch)
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

        times = measure("tiny", 10, number=2000)
    finally:
        for w in workers.values():
            w.close()
    tiny = median_ms(times["ours"]) * 1e3
    tiny_ok = tiny <= TINY_BAR_US
    extra = f" (torch {median_ms(times['torch']) * 1e3:.1f} us)" if "torch" in times else ""
    print(f"\nelementwise op on 10 elements, forward + backward: {tiny:.1f} us{extra}  "
          f"(bar: <= {TINY_BAR_US:g} us){'' if tiny_ok else ' !'}")
    print(f"{load_note()}")
    return 0 if worst_ok and tiny_ok else MISSED_BAR


if __name__ == "__main__":
    sys.exit(main())
