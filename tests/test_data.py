"""Tests for nn.data: Dataset, TensorDataset, DataLoader (no network, fast)."""

import numpy as np
import pytest

from autograd import Tensor
from nn.data import DataLoader, Dataset, Subset, TensorDataset, random_split
from nn.data import transforms as T


def to_np(x):
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full((2,), i * i, dtype=np.float32), i


def test_dataset_is_abstract():
    with pytest.raises(TypeError):
        Dataset()


def test_tensor_dataset_indexing_and_len():
    x = np.arange(12.0).reshape(6, 2)
    y = np.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[4]
    np.testing.assert_array_equal(xi, [8.0, 9.0])
    assert yi == 4


def test_tensor_dataset_accepts_numpy_like_objects():
    class HasNumpy:
        def __init__(self, a):
            self.a = a

        def numpy(self):
            return self.a

    class HasArray:
        def __array__(self, dtype=None, copy=None):
            return np.ones((3, 1))

    ds = TensorDataset(HasNumpy(np.zeros((3, 2))), HasArray())
    assert ds.arrays[0].shape == (3, 2) and ds.arrays[1].shape == (3, 1)


def test_tensor_dataset_mismatched_first_dim():
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))


def test_loader_len_and_drop_last():
    ds = TensorDataset(np.zeros((10, 3), np.float32), np.zeros(10, np.int64))
    assert len(DataLoader(ds, batch_size=3)) == 4
    assert len(DataLoader(ds, batch_size=3, drop_last=True)) == 3
    sizes = [len(to_np(x)) for x, _ in DataLoader(ds, batch_size=3)]
    assert sizes == [3, 3, 3, 1]
    sizes = [len(to_np(x)) for x, _ in DataLoader(ds, batch_size=3, drop_last=True)]
    assert sizes == [3, 3, 3]
    with pytest.raises(ValueError):
        DataLoader(ds, batch_size=0)


def test_loader_no_shuffle_is_in_order_and_types():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10, dtype=np.int32)
    xs, ys = zip(*DataLoader(TensorDataset(x, y), batch_size=4))
    np.testing.assert_array_equal(np.concatenate([to_np(b) for b in xs]), x)
    labels = np.concatenate(ys)
    assert all(isinstance(b, np.ndarray) and b.dtype == np.int64 for b in ys)
    np.testing.assert_array_equal(labels, y)


@pytest.mark.parametrize("fast", [True, False])
def test_shuffle_is_partition_new_each_epoch_and_reproducible(fast):
    n = 23
    ds = TensorDataset(np.arange(n, dtype=np.float32)[:, None], np.arange(n)) if fast else Squares(n)

    def epoch_labels(loader):
        return np.concatenate([to_np(y) for _, y in loader])

    loader = DataLoader(ds, batch_size=5, shuffle=True, seed=123)
    e1, e2 = epoch_labels(loader), epoch_labels(loader)
    assert sorted(e1) == list(range(n)) and sorted(e2) == list(range(n))
    assert not np.array_equal(e1, e2)
    again = DataLoader(ds, batch_size=5, shuffle=True, seed=123)
    np.testing.assert_array_equal(epoch_labels(again), e1)
    np.testing.assert_array_equal(epoch_labels(again), e2)


def test_generic_dataset_collates_by_stacking():
    (x, y), = list(DataLoader(Squares(3), batch_size=3))
    np.testing.assert_array_equal(to_np(x), [[0, 0], [1, 1], [4, 4]])
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, [0, 1, 2])


def test_fast_path_matches_generic_path():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(17, 3)).astype(np.float32)
    y = rng.integers(0, 5, size=17)
    fast = list(DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=7))

    class Plain(Dataset):
        def __len__(self):
            return 17

        def __getitem__(self, i):
            return x[i], y[i]

    slow = list(DataLoader(Plain(), batch_size=4, shuffle=True, seed=7))
    for (xf, yf), (xs, ys) in zip(fast, slow):
        np.testing.assert_array_equal(to_np(xf), to_np(xs))
        np.testing.assert_array_equal(yf, ys)


def test_floats_wrapped_as_tensor():
    ds = TensorDataset(np.arange(8, dtype=np.float32).reshape(4, 2), np.arange(4))
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert isinstance(x, Tensor) and not x.requires_grad and x.dtype == np.float32
    np.testing.assert_array_equal(x.numpy(), np.arange(8).reshape(4, 2))
    assert isinstance(y, np.ndarray) and y.dtype == np.int64
    x, _ = next(iter(DataLoader(ds, batch_size=4, as_tensor=False)))
    assert isinstance(x, np.ndarray) and not isinstance(x, Tensor)


def test_transform_batch_and_per_sample():
    imgs = np.random.default_rng(0).random((6, 1, 4, 4)).astype(np.float32)
    ds = TensorDataset(imgs, np.arange(6))
    x, _ = next(iter(DataLoader(ds, batch_size=6, transform=T.RandomHorizontalFlip(p=1.0), as_tensor=False)))
    np.testing.assert_array_equal(x, imgs[..., ::-1])
    x, _ = next(iter(DataLoader(ds, batch_size=6, transform=lambda im: im * 2, as_tensor=False)))
    np.testing.assert_array_equal(x, imgs * 2)


def test_subset_and_random_split():
    ds = TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
    a, b = random_split(ds, [7, 3], seed=0)
    ids = np.concatenate([np.concatenate([y for _, y in DataLoader(s, batch_size=4)]) for s in (a, b)])
    assert sorted(ids) == list(range(10))
    assert isinstance(a, Subset) and len(a) == 7 and a[0][1] == a.indices[0]
    with pytest.raises(ValueError):
        random_split(ds, [5, 4])


def test_random_split_refuses_negative_lengths_and_takes_fractions():
    ds = TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
    with pytest.raises(ValueError, match=r"random_split: lengths must be non-negative, got \[-1, 11\]"):
        random_split(ds, [-1, 11])
    parts = random_split(ds, [0.8, 0.2], seed=0)
    assert [len(p) for p in parts] == [8, 2]
    assert sorted(np.concatenate([p.indices for p in parts]).tolist()) == list(range(10))
    assert [len(p) for p in random_split(ds, [0.34, 0.33, 0.33], seed=0)] == [4, 3, 3]  # 3+3+3, one left over
    assert [len(p) for p in random_split(TensorDataset(np.zeros(11)), [0.5, 0.5])] == [6, 5]
    with pytest.raises(ValueError, match="fractions in \\[0, 1\\] summing to 1"):
        random_split(ds, [0.5, 0.2])
    with pytest.raises(ValueError, match="fractions"):
        random_split(ds, [1.5, -0.5])


def test_subset_refuses_masks_floats_and_out_of_range_indices():
    ds = TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
    mask = np.arange(10) % 3 == 0
    with pytest.raises(TypeError, match=r"Subset: indices must be .* integers, got bool .*np.flatnonzero\(mask\)"):
        Subset(ds, mask)
    with pytest.raises(TypeError, match="got float64"):
        Subset(ds, [0.0, 1.0])
    with pytest.raises(IndexError, match="Subset: index 10 is out of range for a dataset of 10 samples"):
        Subset(ds, [1, 10])
    with pytest.raises(IndexError, match="index -11"):
        Subset(ds, [-11])
    s = Subset(ds, np.flatnonzero(mask))
    assert [int(y) for _, y in s] == [0, 3, 6, 9]
    assert len(Subset(ds, [])) == 0 and Subset(ds, [-1])[0][1] == 9


def test_loader_errors_name_the_problem():
    ds = TensorDataset(np.zeros((4, 2), np.float32))
    for bad in (None, 0, 2.0, True):
        with pytest.raises(ValueError, match="DataLoader: batch_size must be a positive integer"):
            DataLoader(ds, batch_size=bad)
    assert len(DataLoader(ds, batch_size=np.int64(3))) == 2

    class Ragged(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return np.zeros(3 + (i == 2), np.float32), i

    with pytest.raises(ValueError, match=r"default_collate: samples differ in shape in field \[0\]: \(3,\), \(4,\)"):
        list(DataLoader(Ragged(), batch_size=3))
