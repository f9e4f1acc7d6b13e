"""Build nn/datasets/_data/mnist_sample.npz: a deterministic, class-balanced subset of MNIST.

Usage: python tools/make_mnist_sample.py --src DIR [--train 3000] [--test 1000] [--seed 0] [--out PATH]

DIR holds the four official gzip IDX files (md5-checked). For each split, ``n / 10`` images per digit are drawn
without replacement with ``np.random.default_rng(seed)``, then shuffled. Output keys: ``train_images``,
``train_labels``, ``test_images``, ``test_labels`` (all uint8), written with ``np.savez_compressed``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nn.datasets.mnist import MNIST  # noqa: E402


def balanced(ds: MNIST, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    per_class, extra = divmod(n, 10)
    picks = []
    for c in range(10):
        idx = np.flatnonzero(ds.targets == c)
        picks.append(rng.choice(idx, size=per_class + (c < extra), replace=False))
    sel = rng.permutation(np.concatenate(picks))
    return ds.data[sel].astype(np.uint8), ds.targets[sel].astype(np.uint8)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", required=True, help="folder with the four MNIST .gz IDX files")
    p.add_argument("--train", type=int, default=3000)
    p.add_argument("--test", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    default_out = Path(__file__).resolve().parents[1] / "nn" / "datasets" / "_data" / "mnist_sample.npz"
    p.add_argument("--out", type=Path, default=default_out)
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    out = {}
    for split, n in (("train", args.train), ("test", args.test)):
        out[f"{split}_images"], out[f"{split}_labels"] = balanced(MNIST(args.src, train=split == "train"), n, rng)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes): "
          + ", ".join(f"{k} {v.shape}" for k, v in out.items()))


if __name__ == "__main__":
    main()
