"""LeNet-5 on full MNIST: chainrule vs PyTorch, same recipe, each in its own subprocess.

Both workers train the *same* network (``nn.models.LeNet5``: conv 6@5x5, max-pool, conv 16@5x5, max-pool,
conv 120@5x5, fc 84, fc 10, ReLU) from the *same* initial weights (chainrule's init, copied into the torch
model), with the same optimizer and schedule (the ``chainrule train`` default recipe: Adam lr 1e-3, cosine
annealing over the epochs, batch 64), on the same preprocessed arrays (pixels ``x/255`` zero-padded to
32 x 32, then standardised ``(x - 0.1307) / 0.3081``, so the border is about -0.42, not 0; see
``nn.datasets.MNIST.arrays``) in the same shuffled order (``np.random.default_rng(seed).permutation`` per epoch).

Reported per epoch: test accuracy, training seconds (the epoch's training loop) and evaluation seconds;
at the end: what each worker ran (PyTorch's version, or numpy's for chainrule, and the thread counts: torch's
``get_num_threads()``, chainrule's intra-op threads, ``OPENBLAS_NUM_THREADS``), the training time-per-epoch
ratio chainrule / torch and each worker's peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``: separate
processes, so separate figures).

Bars: >= 99.0% test accuracy within 5 epochs; time per epoch <= 1.5x torch; peak RSS below torch's.

The torch worker imports ``autograd`` too (to build the initial weights); it is started with
``CHAINRULE_MALLOPT=0`` so chainrule's glibc malloc tuning (``autograd/memory.py``) stays out of its process.

Run::

    .venv/bin/python bench/lenet.py --data-dir /path/to/mnist            # both frameworks, 5 epochs
    .venv/bin/python bench/lenet.py --limit 5000 --epochs 1              # quick check
    .venv/bin/python bench/lenet.py --framework ours --profile           # cProfile one epoch, by category

The data folder is ``--data-dir``, else ``$CHAINRULE_DATA`` (see ``nn.datasets.MNIST``).
Threads: each framework runs in its best configuration by default: chainrule with one OpenBLAS thread
(``--ours-threads``; LeNet-5's matrices are small and a second OpenBLAS thread costs more than it gains,
badly so when the machine is busy), torch with its own default (``--torch-threads``).  ``--threads N`` sets
OMP/OpenBLAS/MKL threads (and ``torch.set_num_threads``) to N in both workers.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import load_note, worker_env  # noqa: E402

RESULT_TAG = "@@RESULT "


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux (bytes on macOS)
    return kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024


def _data(args: argparse.Namespace):
    from nn.cli import input_spec
    from nn.datasets import MNIST

    spec = input_spec("lenet5")
    out = []
    for train in (True, False):
        ds = MNIST(root=args.data_dir, train=train)
        x, y = ds.arrays(normalize=True, pad=spec["pad"])
        if args.limit:
            x, y = x[:args.limit], y[:args.limit]
        out += [x, y]
    return out


def _recipe(args: argparse.Namespace) -> dict:
    from nn.cli import RECIPES

    r = dict(RECIPES["lenet5"])
    if args.batch_size:
        r["batch_size"] = args.batch_size
    if args.lr:
        r["lr"] = args.lr
    if args.optimizer:
        r["optimizer"] = args.optimizer
    r["epochs"] = args.epochs
    return r


def _categorise(stats) -> list[tuple[str, float]]:
    """Aggregate cProfile self-times into conv / pooling / linear / loss / optimizer / data / overhead."""
    cats: dict[str, float] = {}
    for (fname, _line, func), row in stats.stats.items():
        tt = row[2]
        f = fname.replace("\\", "/")
        if "autograd/ops/conv.py" in f:
            cat = "pooling (max_pool2d fwd/bwd)" if ("Pool" in func or "pool" in func or "scatter" in func) \
                else "conv2d forward/backward (im2col + matmul)"
        elif "autograd/ops/linalg.py" in f:
            cat = "linear layers (matmul)"
        elif "nn/functional.py" in f or "nn/losses.py" in f:
            cat = "loss / functional"
        elif "nn/optim/" in f:
            cat = "optimizer step"
        elif "nn/data/" in f:
            cat = "data loading"
        elif "autograd/ops/" in f:
            cat = "elementwise / shape ops (relu, reshape, sum...)"
        elif f.startswith("~") or "{" in func or "<built-in" in func or "<method" in func:
            cat = "numpy / builtins called from the above"
        else:
            cat = "graph + Python overhead (Function.apply, backward loop, modules)"
        cats[cat] = cats.get(cat, 0.0) + tt
    return sorted(cats.items(), key=lambda kv: -kv[1])


# ------------------------------------------------------------------------------------------------ workers
def worker_ours(args: argparse.Namespace) -> dict:
    import numpy as np

    import autograd
    from nn import functional as F
    from nn.cli import build_model, make_optimizer, make_scheduler

    t0 = time.perf_counter()
    xtr, ytr, xte, yte = _data(args)
    load_s = time.perf_counter() - t0
    r = _recipe(args)
    autograd.manual_seed(args.seed)
    net = build_model("lenet5")
    opt = make_optimizer(r["optimizer"], net.parameters(), r["lr"], r["momentum"], r["weight_decay"])
    sched = make_scheduler(r["scheduler"], opt, r["epochs"])
    rng = np.random.default_rng(args.seed)
    bs = r["batch_size"]
    Tensor = autograd.Tensor
    epochs = []
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(xtr))
        prof = None
        if args.profile and epoch == 1:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        t, c = time.perf_counter(), time.process_time()
        net.train()
        loss_sum = 0.0
        for i in range(0, len(xtr), bs):
            idx = order[i:i + bs]
            out = net(Tensor._wrap(xtr[idx]))
            loss = F.cross_entropy(out, ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += float(loss.data) * len(idx)
            if args.verbose and (i // bs) % 200 == 0:
                print(f"  ours epoch {epoch} batch {i // bs}: loss {float(loss.data):.4f} "
                      f"({time.perf_counter() - t:.1f}s)", flush=True)
        train_s, train_cpu_s = time.perf_counter() - t, time.process_time() - c
        if prof is not None:
            import pstats

            prof.disable()
            st = pstats.Stats(prof)
            print("profile of epoch 1 (self time by category):", flush=True)
            total = sum(v for _, v in _categorise(st))
            for cat, v in _categorise(st):
                print(f"  {v:8.2f}s  {100 * v / total:5.1f}%  {cat}", flush=True)
            print("top functions by self time:", flush=True)
            st.sort_stats("tottime").print_stats(15)
        if sched is not None:
            sched.step()
        t = time.perf_counter()
        net.eval()
        correct = 0
        with autograd.no_grad():
            for i in range(0, len(xte), 1000):
                correct += int((net(Tensor._wrap(xte[i:i + 1000])).data.argmax(1) == yte[i:i + 1000]).sum())
        eval_s = time.perf_counter() - t
        rec = dict(epoch=epoch, train_loss=loss_sum / len(xtr), test_acc=correct / len(xte), train_s=train_s,
                   train_cpu_s=train_cpu_s, eval_s=eval_s)
        epochs.append(rec)
        print(f"ours  epoch {epoch}: train loss {rec['train_loss']:.4f}  test acc {100 * rec['test_acc']:.2f}%  "
              f"train {train_s:.1f}s (CPU {train_cpu_s:.1f}s)  eval {eval_s:.1f}s  "
              f"(peak RSS so far {_peak_rss_mb():.0f} MB)", flush=True)
    return dict(framework="ours", recipe=r, epochs=epochs, load_s=load_s, peak_rss_mb=_peak_rss_mb(),
                n_train=len(xtr), n_test=len(xte), numpy_version=np.__version__,
                threads=autograd.get_num_threads(), openblas_threads=os.environ.get("OPENBLAS_NUM_THREADS"))


def worker_torch(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch
    import torch.nn as tnn
    import torch.nn.functional as tF

    import autograd
    from nn.cli import build_model

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    xtr, ytr, xte, yte = _data(args)
    load_s = time.perf_counter() - t0
    r = _recipe(args)

    class LeNet5(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1 = tnn.Conv2d(1, 6, 5)
            self.s2 = tnn.MaxPool2d(2)
            self.c3 = tnn.Conv2d(6, 16, 5)
            self.s4 = tnn.MaxPool2d(2)
            self.c5 = tnn.Conv2d(16, 120, 5)
            self.f6 = tnn.Linear(120, 84)
            self.output = tnn.Linear(84, 10)

        def forward(self, x):
            x = self.s2(tF.relu(self.c1(x)))
            x = self.s4(tF.relu(self.c3(x)))
            x = torch.flatten(tF.relu(self.c5(x)), 1)
            return self.output(tF.relu(self.f6(x)))

    net = LeNet5()
    autograd.manual_seed(args.seed)  # the same initial weights as the chainrule worker
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in build_model("lenet5").state_dict().items()})
    if r["optimizer"] == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=r["lr"], momentum=r["momentum"], weight_decay=r["weight_decay"])
    elif r["optimizer"] == "adamw":
        opt = torch.optim.AdamW(net.parameters(), lr=r["lr"], weight_decay=r["weight_decay"])
    else:
        opt = torch.optim.Adam(net.parameters(), lr=r["lr"], weight_decay=r["weight_decay"])
    sched = None
    if r["scheduler"] == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, r["epochs"]))
    elif r["scheduler"] == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, r["epochs"] // 3), gamma=0.1)
    xtr_t, ytr_t = torch.from_numpy(xtr), torch.from_numpy(ytr)
    xte_t, yte_t = torch.from_numpy(xte), torch.from_numpy(yte)
    rng = np.random.default_rng(args.seed)
    bs = r["batch_size"]
    epochs = []
    for epoch in range(1, args.epochs + 1):
        order = torch.from_numpy(rng.permutation(len(xtr)))
        t, c = time.perf_counter(), time.process_time()
        net.train()
        loss_sum = 0.0
        for i in range(0, len(xtr), bs):
            idx = order[i:i + bs]
            out = net(xtr_t[idx])
            loss = tF.cross_entropy(out, ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += float(loss.item()) * len(idx)
        train_s, train_cpu_s = time.perf_counter() - t, time.process_time() - c
        if sched is not None:
            sched.step()
        t = time.perf_counter()
        net.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(xte), 1000):
                correct += int((net(xte_t[i:i + 1000]).argmax(1) == yte_t[i:i + 1000]).sum())
        eval_s = time.perf_counter() - t
        rec = dict(epoch=epoch, train_loss=loss_sum / len(xtr), test_acc=correct / len(xte), train_s=train_s,
                   train_cpu_s=train_cpu_s, eval_s=eval_s)
        epochs.append(rec)
        print(f"torch epoch {epoch}: train loss {rec['train_loss']:.4f}  test acc {100 * rec['test_acc']:.2f}%  "
              f"train {train_s:.1f}s (CPU {train_cpu_s:.1f}s)  eval {eval_s:.1f}s  "
              f"(peak RSS so far {_peak_rss_mb():.0f} MB)", flush=True)
    return dict(framework="torch", recipe=r, epochs=epochs, load_s=load_s, peak_rss_mb=_peak_rss_mb(),
                n_train=len(xtr), n_test=len(xte), torch_version=torch.__version__, threads=torch.get_num_threads(),
                openblas_threads=os.environ.get("OPENBLAS_NUM_THREADS"))


# ------------------------------------------------------------------------------------------------ driver
def run_worker(framework: str, args: argparse.Namespace) -> dict | None:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework, "--epochs", str(args.epochs),
           "--seed", str(args.seed)]
    for flag, v in (("--data-dir", args.data_dir), ("--limit", args.limit), ("--batch-size", args.batch_size),
                    ("--lr", args.lr), ("--optimizer", args.optimizer), ("--threads", args.threads)):
        if v:
            cmd += [flag, str(v)]
    if args.profile:
        cmd.append("--profile")
    if args.verbose:
        cmd.append("--verbose")
    env = worker_env(framework)  # the torch worker imports autograd (for the initial weights): CHAINRULE_MALLOPT=0
    threads = args.threads or (args.ours_threads if framework == "ours" else args.torch_threads)
    if threads:
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(threads)
        if "--threads" not in cmd:
            cmd += ["--threads", str(threads)]
    result = None
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(RESULT_TAG):
                result = json.loads(line[len(RESULT_TAG):])
            else:
                print(line, end="", flush=True)
    if proc.returncode != 0:
        print(f"{framework} worker failed with exit code {proc.returncode}", flush=True)
    return result


def describe(res: dict) -> str:
    """What a worker ran: the library (torch's version, or numpy's for chainrule) and its thread counts."""
    blas = res.get("openblas_threads")
    blas_note = f"OPENBLAS_NUM_THREADS={blas}" if blas else "OPENBLAS_NUM_THREADS unset"
    if res["framework"] == "torch":
        return f"PyTorch {res.get('torch_version', '?')}, {res.get('threads', '?')} torch thread(s), {blas_note}"
    return (f"chainrule (numpy {res.get('numpy_version', '?')}), {res.get('threads', '?')} intra-op thread(s), "
            f"{blas_note}")


def summarise(results: dict[str, dict]) -> dict:
    summary: dict = {}
    for name, res in results.items():
        print(f"{name:5s}: {describe(res)}")
        eps = res["epochs"]
        accs = [e["test_acc"] for e in eps]
        s = dict(final_test_acc=accs[-1], best_test_acc=max(accs),
                 first_epoch_reaching_99=next((e["epoch"] for e in eps if e["test_acc"] >= 0.99), None),
                 train_s_per_epoch=sum(e["train_s"] for e in eps) / len(eps),
                 train_cpu_s_per_epoch=sum(e.get("train_cpu_s", 0.0) for e in eps) / len(eps),
                 eval_s_per_epoch=sum(e["eval_s"] for e in eps) / len(eps), peak_rss_mb=res["peak_rss_mb"])
        summary[name] = s
        print(f"{name:5s}: test accuracy per epoch " + ", ".join(f"{100 * a:.2f}%" for a in accs)
              + f"; train {s['train_s_per_epoch']:.1f} s/epoch (CPU {s['train_cpu_s_per_epoch']:.1f} s), "
              f"eval {s['eval_s_per_epoch']:.1f} s; "
              f"peak RSS {s['peak_rss_mb']:.0f} MB")
    if "ours" in summary:
        ok = summary["ours"]["best_test_acc"] >= 0.99
        print(f"bar: >= 99.0% test accuracy within {len(results['ours']['epochs'])} epochs: "
              f"{'PASS' if ok else 'FAIL'} ({100 * summary['ours']['best_test_acc']:.2f}%)")
    if "ours" in summary and "torch" in summary:
        ratio = summary["ours"]["train_s_per_epoch"] / summary["torch"]["train_s_per_epoch"]
        rss_o, rss_t = summary["ours"]["peak_rss_mb"], summary["torch"]["peak_rss_mb"]
        summary["time_ratio"] = ratio
        print(f"bar: time per epoch <= 1.5x torch: {'PASS' if ratio <= 1.5 else 'FAIL'} (ratio {ratio:.2f}: "
              f"{summary['ours']['train_s_per_epoch']:.1f}s vs {summary['torch']['train_s_per_epoch']:.1f}s)")
        cpu_ratio = summary["ours"]["train_cpu_s_per_epoch"] / max(summary["torch"]["train_cpu_s_per_epoch"], 1e-9)
        summary["cpu_time_ratio"] = cpu_ratio
        print(f"     CPU-time ratio {cpu_ratio:.2f} (less sensitive to other load on the machine; {load_note()} now)")
        print(f"bar: peak RSS below torch's: {'PASS' if rss_o < rss_t else 'FAIL'} "
              f"(ours {rss_o:.0f} MB, torch {rss_t:.0f} MB)")
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: $CHAINRULE_DATA)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--limit", type=int, default=None, help="use the first N training and test images")
    p.add_argument("--framework", choices=("ours", "torch", "both"), default="both")
    p.add_argument("--batch-size", type=int, default=None, help="default: the recipe's")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="BLAS/OpenMP threads in both workers")
    p.add_argument("--ours-threads", type=int, default=1,
                   help="OpenBLAS threads for chainrule (default 1: LeNet-5's matrices are small, and a second "
                        "OpenBLAS thread costs more than it gains; 0 = OpenBLAS's default)")
    p.add_argument("--torch-threads", type=int, default=None, help="torch threads (default: torch's default)")
    p.add_argument("--profile", action="store_true", help="cProfile our first epoch, by category")
    p.add_argument("--verbose", action="store_true", help="a line every 200 batches")
    p.add_argument("--json", default=None, help="also write all results to this JSON file")
    p.add_argument("--worker", choices=("ours", "torch"), default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        res = worker_ours(args) if args.worker == "ours" else worker_torch(args)
        print(RESULT_TAG + json.dumps(res), flush=True)
        return 0

    frameworks = ["ours", "torch"] if args.framework == "both" else [args.framework]
    if "torch" in frameworks:
        if importlib.util.find_spec("torch") is None:
            print("torch is not installed: running chainrule only (pip install -e '.[bench]' for the comparison)")
            frameworks = [f for f in frameworks if f != "torch"]
    print(f"{os.cpu_count()} CPUs; " + load_note(
        warn_above=0.5, hint="multi-threaded BLAS degrades badly when oversubscribed: compare the CPU-time ratio, "
                             "or use --threads 1"), flush=True)
    results: dict[str, dict] = {}
    for fw in frameworks:
        print(f"== {fw}: LeNet-5, {args.epochs} epochs ==", flush=True)
        res = run_worker(fw, args)
        if res is None:
            return 1
        results[fw] = res
    print("== summary ==")
    summary = summarise(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "summary": summary}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
