"""Datasets: an indexable collection of samples ``dataset[i] -> (x_i, y_i, ...)``."""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "as_numpy"]


def as_numpy(x: Any) -> np.ndarray:
    """Return ``x`` as an ndarray: ndarrays as-is, ``x.numpy()`` for Tensors, ``x.data`` if it is an ndarray."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "numpy") and callable(x.numpy):
        return np.asarray(x.numpy())
    data = getattr(x, "data", None)
    if isinstance(data, np.ndarray):
        return data
    return np.asarray(x)


class Dataset(abc.ABC):
    """Abstract dataset: subclasses implement ``__len__`` and ``__getitem__(i)`` for ``0 <= i < len``."""

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def __getitem__(self, index: int) -> Any: ...


class TensorDataset(Dataset):
    """Dataset wrapping arrays that share their first dimension: ``ds[i] = (a[i], b[i], ...)``.

    Arrays may be numpy arrays or anything with ``.numpy()`` / ``__array__`` (converted once, no copy when possible).
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays: tuple[np.ndarray, ...] = tuple(as_numpy(a) for a in arrays)
        for k, a in enumerate(self.arrays):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: array {k} is a scalar; every array needs a first (sample) dimension")
        sizes = [a.shape[0] for a in self.arrays]
        if len(set(sizes)) != 1:
            shapes = ", ".join(str(a.shape) for a in self.arrays)
            raise ValueError(f"TensorDataset: all arrays must have the same first dimension (number of samples); "
                             f"got shapes {shapes}")

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        return tuple(a[index] for a in self.arrays)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (in that order)."""

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray) -> None:
        idx = np.asarray(indices)
        if idx.size == 0:
            idx = idx.astype(np.int64)
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            hint = " (for a boolean mask pass np.flatnonzero(mask))" if idx.dtype.kind == "b" else ""
            raise TypeError(f"Subset: indices must be a 1-d sequence of integers, got {idx.dtype} of shape "
                            f"{idx.shape}{hint}")
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"Subset: index {idx.max() if idx.max() >= n else idx.min()} is out of range for a "
                             f"dataset of {n} samples")
        self.dataset = dataset
        self.indices = idx.astype(np.int64, copy=False)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]


def random_split(dataset: Dataset, lengths: Sequence[int | float],
                 seed: int | np.random.Generator | None = None) -> list[Subset]:
    """Split ``dataset`` into disjoint random subsets of the given lengths (summing to ``len(dataset)``).

    ``lengths`` may also be fractions summing to 1 (as in PyTorch): subset ``i`` gets ``floor(f_i n)`` samples and
    the ``r`` left over go one each to the first ``r`` subsets.
    """
    n = len(dataset)
    lengths = list(lengths)
    if any(not isinstance(k, int | np.integer) for k in lengths):
        if not all(isinstance(f, int | float | np.number) and 0 <= f <= 1 for f in lengths) \
                or not math.isclose(sum(lengths), 1.0, abs_tol=1e-9):
            raise ValueError(f"random_split: lengths must be non-negative integers summing to {n} or fractions in "
                             f"[0, 1] summing to 1, got {lengths}")
        counts = [math.floor(n * f) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(k < 0 for k in lengths):
        raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: lengths sum to {sum(lengths)} but the dataset has {n} samples")
    perm = np.random.default_rng(seed).permutation(n)
    out, start = [], 0
    for n in lengths:
        out.append(Subset(dataset, perm[start:start + n]))
        start += n
    return out
