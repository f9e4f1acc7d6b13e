"""Helpers for the benchmarks: interleaved timing, per-round ratios, environment and load notes."""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable


def per_call(fn: Callable[[], object], number: int) -> float:
    """Seconds per call of ``fn`` over ``number`` back-to-back calls."""
    t = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t) / number


def compare(fns: dict[str, Callable[[], object]], repeats: int = 15, number: int = 0,
            budget: float = 0.05) -> dict[str, list[float]]:
    """Time several callables interleaved (round-robin, order rotated each round).

    Returns ``{name: [seconds per call for each round]}``.  ``number`` calls per round
    (0: chosen so one round of the slowest takes about ``budget`` seconds).  Interleaving
    means a burst of load from other processes hits every contender alike; compare the
    per-round ratios (:func:`paired_ratio`), not the raw times.
    """
    names = list(fns)
    for f in fns.values():  # warm up (buffers, BLAS threads, caches)
        for _ in range(3):
            f()
    if number <= 0:
        slowest = max(per_call(f, 2) for f in fns.values())
        number = max(1, min(200, int(budget / max(slowest, 1e-7))))
    times: dict[str, list[float]] = {n: [] for n in names}
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeats):
            order = names[r % len(names):] + names[: r % len(names)]
            for n in order:
                times[n].append(per_call(fns[n], number))
    finally:
        if gc_was:
            gc.enable()
    return times


def paired_ratio(a: list[float], b: list[float]) -> float:
    """Median over rounds of a[i] / b[i] (robust to load that drifts between rounds)."""
    return statistics.median(x / y for x, y in zip(a, b))


def median_ms(ts: list[float]) -> float:
    return statistics.median(ts) * 1e3


def worker_env(framework: str) -> dict[str, str]:
    """The environment for a benchmark's worker process timing ``framework`` ("ours" or "torch").

    A copy of this process's environment; for the torch worker with ``CHAINRULE_MALLOPT=0``: the benchmark
    scripts import ``autograd``, whose glibc malloc tuning (``autograd/memory.py``) would otherwise apply in
    torch's process too.
    """
    env = dict(os.environ)
    if framework == "torch":
        env["CHAINRULE_MALLOPT"] = "0"
    return env


def env_note() -> str:
    names = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
    return ", ".join(f"{n}={os.environ[n]!r}" if n in os.environ else f"{n} unset" for n in names)


def load_note(warn_above: float | None = None, hint: str = "") -> str:
    """``load average 1m 5m 15m``; with a warning (and ``hint``) when the 1-minute figure exceeds ``warn_above``."""
    try:
        load = os.getloadavg()
    except OSError:  # pragma: no cover
        return "load average unknown"
    note = "load average " + " ".join(f"{v:.2f}" for v in load)
    if warn_above is not None and load[0] > warn_above:
        note += (f"\nwarning: load average above {warn_above:g}: other processes compete for the CPU, "
                 "so timings are noisy")
        note += f"; {hint}" if hint else ""
    return note
