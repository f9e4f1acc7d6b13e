"""DataLoader: iterate over a dataset in (optionally shuffled) minibatches.

One epoch = one pass over a partition of ``range(len(dataset))`` into consecutive chunks of ``batch_size``
indices, taken from a fresh random permutation each epoch when ``shuffle=True``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from autograd import Tensor

from .dataset import Dataset, Subset, TensorDataset

__all__ = ["DataLoader", "default_collate", "to_batch_output"]


def to_batch_output(array: np.ndarray, as_tensor: bool = True) -> Any:
    """Wrap one collated field: floating arrays -> ``autograd.Tensor`` (if ``as_tensor``),
    integer arrays (labels) -> numpy ``int64``, anything else -> numpy unchanged."""
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    if array.dtype.kind == "f" and as_tensor:
        return Tensor(array, requires_grad=False)
    return array


def default_collate(samples: Sequence[Any], _field: str = "") -> Any:
    """Stack a list of samples into numpy arrays: tuples/lists field by field, ``np.stack`` along a new axis 0."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate([s[k] for s in samples], f"{_field}[{k}]") for k in range(len(first)))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples], f"{_field}[{k!r}]") for k in first}
    arrays = [np.asarray(_unwrap(s)) for s in samples]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        where = f" in field {_field}" if _field else ""
        raise ValueError(f"default_collate: samples differ in shape{where}: {', '.join(map(str, sorted(shapes)))}; "
                         f"stacking needs one shape (pad or crop them, or pass a collate_fn)")
    return np.stack(arrays)


def _unwrap(x: Any) -> Any:
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return x
    if hasattr(x, "numpy") and callable(x.numpy):
        return x.numpy()
    return x


class DataLoader:
    """Minibatches of ``dataset``: ``for x, y in DataLoader(ds, batch_size=64, shuffle=True, seed=0): ...``.

    Each batch is the samples stacked along axis 0. Floating fields come back as ``autograd.Tensor``
    (``requires_grad=False``; numpy arrays if ``as_tensor=False``), integer fields
    (class labels) as numpy ``int64`` arrays so they stay exact integers.

    - ``shuffle``: new permutation every epoch from ``np.random.default_rng(seed)``; the sequence of epochs is
      reproducible for a fixed ``seed``.
    - ``drop_last``: drop the final batch if it is smaller than ``batch_size``.
    - ``transform``: applied to the first field (the input) of every sample. If it has a ``batch(x)`` method
      (all of ``nn.data.transforms`` do) it is applied to the whole stacked batch at once.

    Fast path: for a ``TensorDataset`` (or a ``Subset`` of one) batches are gathered with one fancy-indexing
    operation per array instead of a Python loop over samples.
    """

    def __init__(self, dataset: Dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: int | np.random.Generator | None = None, transform: Callable[[Any], Any] | None = None,
                 collate_fn: Callable[[Sequence[Any]], Any] | None = None, as_tensor: bool = True) -> None:
        if not isinstance(batch_size, int | np.integer) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}"
                             + (" (for single samples iterate over the dataset itself)" if batch_size is None else ""))
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.transform = transform
        self.collate_fn = collate_fn or default_collate
        self.as_tensor = as_tensor
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def batch_indices(self) -> list[np.ndarray]:
        """The index batches of one epoch (advances the shuffling generator when ``shuffle=True``)."""
        n = len(self.dataset)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        stop = (n // self.batch_size) * self.batch_size if self.drop_last else n
        return [order[i:i + self.batch_size] for i in range(0, stop, self.batch_size)]

    def _fast_arrays(self) -> tuple[tuple[np.ndarray, ...], np.ndarray | None] | None:
        ds = self.dataset
        if type(ds) is TensorDataset:
            return ds.arrays, None
        if type(ds) is Subset and type(ds.dataset) is TensorDataset:
            return ds.dataset.arrays, ds.indices
        return None

    def _apply_transform(self, x: Any) -> Any:
        batch_fn = getattr(self.transform, "batch", None)
        if callable(batch_fn):
            return batch_fn(x)
        return np.stack([np.asarray(self.transform(xi)) for xi in x])

    def __iter__(self) -> Iterator[Any]:
        fast = self._fast_arrays() if self.collate_fn is default_collate else None
        for idx in self.batch_indices():
            if fast is not None:
                arrays, base = fast
                rows = idx if base is None else base[idx]
                fields = [a[rows] for a in arrays]
                if self.transform is not None:
                    fields[0] = self._apply_transform(fields[0])
                batch: Any = tuple(fields)
            else:
                samples = [self.dataset[int(i)] for i in idx]
                if self.transform is not None:
                    samples = [self._transform_sample(s) for s in samples]
                batch = self.collate_fn(samples)
            yield self._wrap(batch)

    def _transform_sample(self, sample: Any) -> Any:
        if isinstance(sample, tuple):
            return (self.transform(sample[0]),) + sample[1:]
        if isinstance(sample, list):
            return [self.transform(sample[0])] + sample[1:]
        return self.transform(sample)

    def _wrap(self, batch: Any) -> Any:
        if isinstance(batch, tuple):
            return tuple(self._wrap(b) for b in batch)
        if isinstance(batch, list):
            return [self._wrap(b) for b in batch]
        if isinstance(batch, dict):
            return {k: self._wrap(v) for k, v in batch.items()}
        if isinstance(batch, np.ndarray):
            return to_batch_output(batch, self.as_tensor)
        return batch
