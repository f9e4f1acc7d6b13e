"""Datasets: an indexable collection of samples ``dataset[i] -> (x_i, y_i, ...)``."""

from __future__ import annotations

import abc
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
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]


def random_split(dataset: Dataset, lengths: Sequence[int],
                 seed: int | np.random.Generator | None = None) -> list[Subset]:
    """Split ``dataset`` into disjoint random subsets of the given lengths (must sum to ``len(dataset)``)."""
    if sum(lengths) != len(dataset):
        raise ValueError(f"random_split: lengths sum to {sum(lengths)} but the dataset has {len(dataset)} samples")
    perm = np.random.default_rng(seed).permutation(len(dataset))
    out, start = [], 0
    for n in lengths:
        out.append(Subset(dataset, perm[start:start + n]))
        start += n
    return out
