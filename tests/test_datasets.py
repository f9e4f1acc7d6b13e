"""Tests for nn.datasets: IDX parsing, md5 checks, root resolution, atomic download (no network), toy data."""

import gzip
import hashlib
import io
import os
import struct
import urllib.error
import urllib.request

import numpy as np
import pytest

from nn._atomic import atomic_write
from nn.data import DataLoader
from nn.datasets import MNIST, FashionMNIST, ImageDataset, make_moons, make_regression, make_spirals, mnist_sample

FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz"]


def idx_bytes(arr, magic=None):
    arr = np.asarray(arr, np.uint8)
    magic = magic if magic is not None else 0x0800 | arr.ndim
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return gzip.compress(header + arr.tobytes(), mtime=0)


def fake_files(n_train=6, n_test=4, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        FILES[0]: rng.integers(0, 256, (n_train, 28, 28)), FILES[1]: rng.integers(0, 10, n_train),
        FILES[2]: rng.integers(0, 256, (n_test, 28, 28)), FILES[3]: rng.integers(0, 10, n_test),
    }
    return {f: idx_bytes(a) for f, a in arrays.items()}, {f: np.asarray(a, np.uint8) for f, a in arrays.items()}


def md5(b):
    return hashlib.md5(b).hexdigest()


def install(monkeypatch, cls, blobs):
    """Point cls's md5 table at the fake files."""
    table = {f: (cls.resources[f][0], md5(b)) for f, b in blobs.items()}
    monkeypatch.setattr(cls, "resources", table)


def write(folder, blobs):
    folder.mkdir(parents=True, exist_ok=True)
    for f, b in blobs.items():
        (folder / f).write_bytes(b)


@pytest.fixture(autouse=True)
def no_env(monkeypatch, tmp_path):
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def no_network(*a, **k):
        raise AssertionError("tests must not touch the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)


def test_parse_fake_idx(tmp_path, monkeypatch):
    blobs, arrays = fake_files()
    install(monkeypatch, MNIST, blobs)
    write(tmp_path / "m", blobs)
    ds = MNIST(tmp_path / "m", train=True)
    assert ds.data.dtype == np.uint8 and ds.data.shape == (6, 28, 28)
    assert ds.targets.dtype == np.int64
    np.testing.assert_array_equal(ds.data, arrays[FILES[0]])
    np.testing.assert_array_equal(ds.targets, arrays[FILES[1]])
    x, y = ds[2]
    assert x.shape == (1, 28, 28) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert isinstance(y, int) and y == arrays[FILES[1]][2]
    np.testing.assert_allclose(x[0] * 255, arrays[FILES[0]][2], atol=1e-3)
    test = MNIST(tmp_path / "m", train=False, transform=lambda im: im.shape)
    assert len(test) == 4 and test[0][0] == (28, 28)
    xa, ya = ds.arrays(normalize=False, pad=2)
    assert xa.shape == (6, 1, 32, 32) and xa.dtype == np.float32 and ya.dtype == np.int64
    np.testing.assert_allclose(xa[:, 0, 2:30, 2:30] * 255, arrays[FILES[0]], atol=1e-3)
    xn, _ = ds.arrays()
    np.testing.assert_allclose(xn, (xa[:, :, 2:30, 2:30] - MNIST.mean) / MNIST.std, atol=1e-5)
    batches = list(DataLoader(ds.tensor_dataset(), batch_size=4))
    assert len(batches) == 2


@pytest.mark.parametrize("bad,match", [
    (idx_bytes(np.zeros((3, 28, 28)), magic=0x0801), "magic"),
    (idx_bytes(np.zeros((3, 28, 28)), magic=0x1234), "magic"),
    (gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">III", 3, 28, 28) + b"\x00" * 100, mtime=0), "payload"),
    (b"not gzip at all", "gzip"),
], ids=["label-magic", "unknown-magic", "short-payload", "not-gzip"])
def test_malformed_idx_is_clear_error(tmp_path, monkeypatch, bad, match):
    blobs, _ = fake_files()
    blobs[FILES[0]] = bad
    install(monkeypatch, MNIST, blobs)
    write(tmp_path, blobs)
    with pytest.raises(ValueError, match=match) as e:
        MNIST(tmp_path)
    assert FILES[0] in str(e.value)


def test_label_count_mismatch(tmp_path, monkeypatch):
    blobs, _ = fake_files()
    blobs[FILES[1]] = idx_bytes(np.zeros(5))
    install(monkeypatch, MNIST, blobs)
    write(tmp_path, blobs)
    with pytest.raises(ValueError, match="labels"):
        MNIST(tmp_path)


def test_md5_mismatch_names_file_expected_and_actual(tmp_path, monkeypatch):
    blobs, _ = fake_files()
    install(monkeypatch, MNIST, blobs)
    tampered = dict(blobs)
    tampered[FILES[1]] = idx_bytes(np.ones(6))
    write(tmp_path, tampered)
    with pytest.raises(ValueError) as e:
        MNIST(tmp_path)
    msg = str(e.value)
    assert FILES[1] in msg and md5(blobs[FILES[1]]) in msg and md5(tampered[FILES[1]]) in msg


def test_real_md5_table_rejects_fake_files(tmp_path):
    blobs, _ = fake_files()
    write(tmp_path, blobs)
    with pytest.raises(ValueError, match="f68b3c2dcbeaaa9fbdd348bbdeb94873"):
        MNIST(tmp_path)
    with pytest.raises(ValueError, match="8d4fb7e6c68d591d4c3dfef9ec88bf0d"):
        FashionMNIST(tmp_path)


def test_missing_files_error_says_where_and_how(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        MNIST(tmp_path / "nowhere")
    msg = str(e.value)
    assert "nowhere" in msg and "download=True" in msg and "CHAINRULE_DATA" in msg
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "cache" / "chainrule" / "mnist")):
        MNIST()


def test_root_resolution(tmp_path, monkeypatch):
    blobs, _ = fake_files()
    install(monkeypatch, MNIST, blobs)
    write(tmp_path / "cache" / "chainrule" / "mnist", blobs)
    assert MNIST().root == tmp_path / "cache" / "chainrule" / "mnist"
    flat = tmp_path / "flat"
    write(flat, blobs)
    monkeypatch.setenv("CHAINRULE_DATA", str(flat))
    assert MNIST().root == flat
    write(flat / "mnist", blobs)
    assert MNIST().root == flat / "mnist"
    assert MNIST(root=tmp_path / "cache" / "chainrule" / "mnist").root == tmp_path / "cache" / "chainrule" / "mnist"


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def test_download_tries_mirrors_verifies_and_writes_atomically(tmp_path, monkeypatch):
    blobs, arrays = fake_files()
    install(monkeypatch, MNIST, blobs)
    calls = []

    def urlopen(url, timeout=None):
        calls.append(url)
        name = url.rsplit("/", 1)[1]
        if url.startswith(MNIST.mirrors[0]):
            if name.startswith("train-images"):
                raise urllib.error.URLError("mirror down")
            if name.startswith("train-labels"):
                return FakeResponse(b"corrupted")  # wrong md5: must fall through to the next mirror
        return FakeResponse(blobs[name])

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    root = tmp_path / "dl"
    ds = MNIST(root, download=True)
    np.testing.assert_array_equal(ds.data, arrays[FILES[0]])
    assert sorted(p.name for p in root.iterdir()) == sorted(FILES[:2])  # no temp files left behind
    assert calls[0].startswith(MNIST.mirrors[0]) and calls[1].startswith(MNIST.mirrors[1])
    assert (root / FILES[1]).read_bytes() == blobs[FILES[1]]
    calls.clear()
    MNIST(root, download=True)  # already present: no network
    assert calls == []


def test_download_failure_leaves_nothing(tmp_path, monkeypatch):
    blobs, _ = fake_files()
    install(monkeypatch, FashionMNIST, blobs)
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(b"garbage"))
    with pytest.raises(RuntimeError, match="could not download"):
        FashionMNIST(tmp_path / "f", download=True)
    assert not (tmp_path / "f").exists() or list((tmp_path / "f").iterdir()) == []


def test_atomic_write_cleans_up_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "x.gz"
    target.write_bytes(b"old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write(target, lambda f: f.write(b"new"))
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["x.gz"]


def test_fashion_mnist_uses_its_own_name_and_table(tmp_path, monkeypatch):
    blobs, _ = fake_files()
    install(monkeypatch, FashionMNIST, blobs)
    write(tmp_path / "cache" / "chainrule" / "fashion-mnist", blobs)
    ds = FashionMNIST(train=False)
    assert len(ds) == 4 and len(ds.classes) == 10 and ds.classes[9] == "Ankle boot"
    assert MNIST.resources[FILES[0]][1] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"


def test_mnist_sample():
    tr, te = mnist_sample(train=True), mnist_sample(train=False)
    assert isinstance(tr, ImageDataset)
    assert tr.data.shape == (3000, 28, 28) and te.data.shape == (1000, 28, 28)
    assert tr.data.dtype == np.uint8 and tr.targets.dtype == np.int64
    assert np.all(np.bincount(tr.targets, minlength=10) == 300)
    assert np.all(np.bincount(te.targets, minlength=10) == 100)
    x, y = tr[0]
    assert x.shape == (1, 28, 28) and x.dtype == np.float32 and 0 <= y <= 9
    assert 0.05 < x.mean() < 0.5  # a digit, not blank


def test_toy_moons_spirals_regression():
    x, y = make_moons(101, noise=0.05, seed=0)
    assert x.shape == (101, 2) and x.dtype == np.float32 and set(np.unique(y)) == {0, 1}
    assert np.bincount(y).tolist() == [50, 51]
    assert x[y == 0, 1].mean() > x[y == 1, 1].mean()  # label 0 = upper moon
    np.testing.assert_array_equal(make_moons(101, noise=0.05, seed=0)[0], x)
    xs, ys = make_spirals(100, n_classes=4, noise=0.1, seed=1)
    assert xs.shape == (100, 2) and np.bincount(ys).tolist() == [25, 25, 25, 25]
    assert np.abs(xs).max() <= 1.5
    xr, yr = make_regression(500, w=[2.0, -3.4], b=4.2, noise=0.01, seed=2)
    assert xr.shape == (500, 2) and yr.shape == (500, 1)
    sol, *_ = np.linalg.lstsq(np.c_[xr, np.ones(500)], yr[:, 0], rcond=None)
    np.testing.assert_allclose(sol, [2.0, -3.4, 4.2], atol=0.01)


def test_sample_with_augmentation_pipeline_and_loader():
    from nn.data import transforms as T

    aug = T.Compose([T.RandomRotation(10, seed=0), T.ToTensor(), T.Pad(2), T.Normalize(MNIST.mean, MNIST.std)])
    ds = mnist_sample(train=False, transform=aug)
    x, y = ds[0]
    assert x.shape == (1, 32, 32) and x.dtype == np.float32 and isinstance(y, int)
    loader = DataLoader(ds, batch_size=256, shuffle=True, seed=0)
    n = 0
    for xb, yb in loader:
        xb = xb.numpy() if hasattr(xb, "numpy") else np.asarray(xb)
        assert xb.shape[1:] == (1, 32, 32) and yb.dtype == np.int64
        n += len(yb)
    assert n == 1000 and len(loader) == 4
    fast = DataLoader(mnist_sample().tensor_dataset(pad=2), batch_size=500, shuffle=True, seed=1,
                      transform=T.RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1), seed=2))
    assert sum(len(yb) for _, yb in fast) == 3000


def test_mnist_sample_is_md5_verified(tmp_path, monkeypatch):
    import nn.datasets.mnist as mnist_mod

    good = mnist_mod._SAMPLE
    bad = tmp_path / "mnist_sample.npz"
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(mnist_mod, "_SAMPLE", bad)
    with pytest.raises(ValueError, match=r"mnist_sample\.npz: md5 mismatch \(expected \w{32}, got \w{32}\)"):
        mnist_sample()
    assert md5(good.read_bytes()) == mnist_mod._SAMPLE_MD5


def test_flat_data_folder_of_the_other_dataset_is_left_alone(tmp_path, monkeypatch):
    """MNIST and Fashion-MNIST share file names: $CHAINRULE_DATA holding MNIST's files must not be read as (or
    reported as corrupt) Fashion-MNIST; that dataset is looked for and downloaded in $CHAINRULE_DATA/fashion-mnist."""
    mnist_blobs, _ = fake_files(seed=0)
    fashion_blobs, fashion = fake_files(seed=1)
    install(monkeypatch, MNIST, mnist_blobs)
    install(monkeypatch, FashionMNIST, fashion_blobs)
    flat = tmp_path / "data"
    write(flat, mnist_blobs)
    monkeypatch.setenv("CHAINRULE_DATA", str(flat))
    assert MNIST().root == flat
    with pytest.raises(FileNotFoundError, match=r"fashion-mnist.*md5 is not FashionMNIST's") as e:
        FashionMNIST()
    assert "Delete" not in str(e.value)
    served = {}

    def fake_urlopen(url, timeout=None):
        served[url] = True
        return FakeResponse(fashion_blobs[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    ds = FashionMNIST(train=False, download=True)
    assert ds.root == flat / "fashion-mnist" and len(served) == 2
    np.testing.assert_array_equal(ds.data, fashion[FILES[2]])
    assert all((flat / f).read_bytes() == b for f, b in mnist_blobs.items())  # MNIST's files untouched
    assert MNIST().root == flat


def test_image_dataset_refuses_pixels_it_cannot_keep():
    floats = np.random.default_rng(0).random((2, 4, 4)).astype(np.float32)
    with pytest.raises(ValueError, match=r"ImageDataset: expected uint8 pixels 0..255, got float32 images with values"):
        ImageDataset(floats, [0, 1])
    with pytest.raises(ValueError, match=r"got int64 images with values 0..300"):
        ImageDataset(np.array([[[0, 300]], [[1, 2]]]), [0, 1])
    ds = ImageDataset(np.array([[[0, 255]], [[1, 2]]], dtype=np.int64), [0, 1])  # integers in range are cast
    assert ds.data.dtype == np.uint8 and ds.data[0, 0, 1] == 255
    with pytest.raises(ValueError, match="ImageDataset: expected N x H x W images"):
        ImageDataset(np.zeros((2, 4), np.uint8), [0, 1])


def test_read_idx_names_the_file_when_the_deflate_stream_is_corrupt(tmp_path):
    from nn.datasets import read_idx

    good = idx_bytes(np.zeros((3, 2, 2)))
    bad = bytearray(good)
    bad[12] ^= 0xFF  # inside the deflate stream, past the gzip header
    (tmp_path / "x.gz").write_bytes(bytes(bad))
    with pytest.raises(ValueError, match=r"x.gz: not a valid gzip file"):
        read_idx(tmp_path / "x.gz")
