"""MNIST and Fashion-MNIST from the four standard gzip IDX files, checked by md5, optional download.

IDX format (big-endian): 2 zero bytes, a type byte (0x08 = uint8), a byte with the number of dimensions ``d``,
``d`` int32 sizes, then the data in C order. Images: magic 0x00000803, ``N x 28 x 28``; labels: 0x00000801, ``N``.

Where the files are looked for (first match wins):

1. ``root`` if given;
2. ``$CHAINRULE_DATA/<name>`` if that folder exists, else ``$CHAINRULE_DATA`` if it holds the files (and, for
   MNIST and Fashion-MNIST, whose files have the same names, their md5 sums are this dataset's);
3. ``$XDG_CACHE_HOME/chainrule/<name>`` (default ``~/.cache/chainrule/<name>``).

``<name>`` is ``mnist`` or ``fashion-mnist``. ``download=True`` fetches missing files into that folder.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write
from ..data.dataset import Dataset, TensorDataset

__all__ = ["ImageDataset", "MNIST", "FashionMNIST", "mnist_sample", "read_idx", "resolve_root"]

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | os.PathLike[str], ndim: int | None = None, raw: bytes | None = None) -> np.ndarray:
    """Parse a (gzip-compressed if named ``*.gz``) IDX file into an array; ``ndim`` = expected number of dims.

    Raises ``ValueError`` naming the file when the header or the payload size is wrong.
    """
    path = Path(path)
    if raw is None:
        raw = path.read_bytes()
    if path.suffix == ".gz" or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{path}: not a valid gzip file ({e})") from e
    expect = f"magic 0x000008{ndim:02x} (uint8, {ndim} dims)" if ndim else "an IDX magic number 0x0000TTDD"
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: malformed IDX header: expected {expect}, got bytes {raw[:4].hex()}")
    code, d = raw[2], raw[3]
    if ndim is not None and (d != ndim or code != 0x08):
        raise ValueError(f"{path}: malformed IDX header: expected {expect}, got magic 0x{raw[:4].hex()}")
    if len(raw) < 4 + 4 * d:
        raise ValueError(f"{path}: truncated IDX header: expected {d} int32 dimension sizes")
    dims = tuple(int(v) for v in np.frombuffer(raw, dtype=">i4", count=d, offset=4))
    dtype = np.dtype(_IDX_TYPES[code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    payload = len(raw) - 4 - 4 * d
    if payload != expected:
        raise ValueError(f"{path}: IDX payload has {payload} bytes, expected {expected} for shape {dims}")
    arr = np.frombuffer(raw, dtype=dtype, offset=4 + 4 * d).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def _cache_home() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) if xdg else Path.home() / ".cache"


def resolve_root(name: str, root: str | os.PathLike[str] | None, filenames: list[str]) -> tuple[Path, list[Path]]:
    """Folder to use for dataset ``name`` and the list of places considered (see the module docstring)."""
    if root is not None:
        p = Path(root).expanduser()
        return p, [p]
    tried: list[Path] = []
    env = os.environ.get("CHAINRULE_DATA")
    if env:
        base = Path(env).expanduser()
        sub = base / name
        tried += [sub, base]
        if sub.is_dir():
            return sub, tried
        if all((base / f).is_file() for f in filenames):
            return base, tried
        return sub, tried
    cache = _cache_home() / "chainrule" / name
    return cache, tried + [cache]


class ImageDataset(Dataset):
    """In-memory image classification set: ``data`` uint8 ``N x H x W``, ``targets`` int64 ``N``.

    ``ds[i]`` is ``(transform(data[i]), int(targets[i]))`` — the transform gets the raw uint8 ``H x W`` image —
    or, without a transform, ``(data[i] / 255 as float32 1 x H x W, label)``.
    """

    mean: float = 0.1307  # pixel mean / std of the MNIST training set in [0, 1] units
    std: float = 0.3081
    classes: tuple[str, ...] = tuple(str(d) for d in range(10))

    def __init__(self, data: np.ndarray, targets: np.ndarray, transform: Callable[[np.ndarray], Any] | None = None,
                 mean: float | None = None, std: float | None = None) -> None:
        data = np.asarray(data)
        if data.dtype != np.uint8:  # integers in 0..255 are cast; anything else would be silently wrapped or zeroed
            lo, hi = (data.min(), data.max()) if data.size and data.dtype.kind in "biuf" else (None, None)
            if data.dtype.kind not in "iu" or (lo is not None and (lo < 0 or hi > 255)):
                raise ValueError(f"ImageDataset: expected uint8 pixels 0..255, got {data.dtype} images"
                                 + (f" with values {lo}..{hi}" if lo is not None else "")
                                 + "; scale floats in [0, 1] with (x * 255).round().astype(np.uint8)")
            data = data.astype(np.uint8)
        self.data = data
        self.targets = np.asarray(targets).astype(np.int64)
        if self.data.ndim != 3 or len(self.data) != len(self.targets):
            raise ValueError(f"ImageDataset: expected N x H x W images and N labels, got {self.data.shape} and "
                             f"{self.targets.shape}")
        self.transform = transform
        if mean is not None:
            self.mean = mean
        if std is not None:
            self.std = std

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        img = self.data[index]
        label = int(self.targets[index])
        if self.transform is not None:
            return self.transform(img), label
        return (img.astype(np.float32) / np.float32(255.0))[None], label

    def arrays(self, normalize: bool = True, pad: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The whole set at once: float32 ``N x 1 x (H+2 pad) x (W+2 pad)`` images and int64 labels.

        Pixels are ``x / 255`` in [0, 1], zero-padded by ``pad`` on every side (LeNet-5 uses ``pad=2`` -> 32 x 32),
        then standardised ``(x - mean) / std`` with the dataset constants if ``normalize``.
        """
        n, h, w = self.data.shape
        x = np.zeros((n, 1, h + 2 * pad, w + 2 * pad), np.float32)
        np.multiply(self.data, np.float32(1.0 / 255.0), out=x[:, 0, pad:pad + h, pad:pad + w])
        if normalize:
            x -= np.float32(self.mean)
            x /= np.float32(self.std)
        return x, self.targets.copy()

    def tensor_dataset(self, normalize: bool = True, pad: int = 0) -> TensorDataset:
        """``TensorDataset(*self.arrays(normalize, pad))`` for the DataLoader fast path."""
        return TensorDataset(*self.arrays(normalize, pad))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={len(self)}, shape={self.data.shape[1:]}, transform={self.transform!r})"


class MNIST(ImageDataset):
    """The MNIST digits (60000 train / 10000 test, 28 x 28 uint8, labels 0-9) from the standard IDX files."""

    name = "mnist"
    mirrors: tuple[str, ...] = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
    resources: dict[str, tuple[str, str]] = {
        "train-images-idx3-ubyte.gz": ("train", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "train-labels-idx1-ubyte.gz": ("train", "d53e105ee54ea40749a09fcbcd1e9432"),
        "t10k-images-idx3-ubyte.gz": ("test", "9fb629c4189551a2d022fa330f9573f3"),
        "t10k-labels-idx1-ubyte.gz": ("test", "ec29112dd5afa0611ce80d1b7f02629c"),
    }
    mean, std = 0.1307, 0.3081

    def __init__(self, root: str | os.PathLike[str] | None = None, train: bool = True, download: bool = False,
                 transform: Callable[[np.ndarray], Any] | None = None) -> None:
        prefix = "train" if train else "t10k"
        files = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
        self.root, tried = resolve_root(self.name, root, files)
        skipped = ""
        if root is None and self.root == tried[-1] != tried[0] and not all(self._md5_ok(self.root / f) for f in files):
            # $CHAINRULE_DATA holds files of these names directly, but not this dataset's (MNIST and Fashion-MNIST
            # use the same names; they are left alone): look in (or download to) $CHAINRULE_DATA/<name> instead
            skipped = f" ({self.root} has files of these names, but their md5 is not {type(self).__name__}'s)"
            self.root = tried[0]
        self.train = train
        missing = [f for f in files if not (self.root / f).is_file()]
        if missing and download:
            for f in missing:
                self._download(f)
            missing = []
        if missing:
            places = ", ".join(str(p) for p in tried)
            raise FileNotFoundError(
                f"{type(self).__name__}: missing {', '.join(missing)} in {self.root} (looked in: {places}){skipped}. "
                f"Pass download=True to fetch them from {self.mirrors[0]}, or copy the four IDX .gz files into a "
                f"folder and pass root=... or set CHAINRULE_DATA.")
        raw = {f: (self.root / f).read_bytes() for f in files}
        for f, data in raw.items():  # verify everything before using anything
            self._check_md5(self.root / f, data)
        images = read_idx(self.root / files[0], ndim=3, raw=raw[files[0]])
        labels = read_idx(self.root / files[1], ndim=1, raw=raw[files[1]])
        if len(images) != len(labels):
            raise ValueError(f"{self.root}: {files[0]} has {len(images)} images "
                             f"but {files[1]} has {len(labels)} labels")
        if labels.size and labels.max() >= len(self.classes):
            raise ValueError(f"{self.root / files[1]}: label {labels.max()} out of range 0..{len(self.classes) - 1}")
        super().__init__(images, labels, transform)

    def _md5_ok(self, path: Path) -> bool:
        return hashlib.md5(path.read_bytes()).hexdigest() == self.resources[path.name][1]

    def _check_md5(self, path: Path, data: bytes) -> None:
        """``data`` (the bytes read from ``path``) against the file's known md5."""
        expected = self.resources[path.name][1]
        actual = hashlib.md5(data).hexdigest()
        if actual != expected:
            raise ValueError(f"{path}: md5 mismatch (expected {expected}, got {actual}); the file is corrupt or not "
                             f"the official {type(self).__name__} file. Delete it and download it again.")

    def _download(self, filename: str) -> None:
        """Fetch ``filename`` from the mirrors in order; keep the first copy whose md5 matches (atomic write)."""
        expected = self.resources[filename][1]
        errors = []
        for mirror in self.mirrors:
            url = mirror + filename
            try:
                with urllib.request.urlopen(url, timeout=60) as resp:
                    data = resp.read()
            except Exception as e:  # network errors: try the next mirror
                errors.append(f"{url}: {e}")
                continue
            actual = hashlib.md5(data).hexdigest()
            if actual != expected:
                errors.append(f"{url}: md5 {actual} != expected {expected}")
                continue
            atomic_write(self.root / filename, lambda f, data=data: f.write(data))
            return
        raise RuntimeError(f"{type(self).__name__}: could not download {filename}:\n  " + "\n  ".join(errors))


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST (same format and sizes as MNIST, 10 clothing classes)."""

    name = "fashion-mnist"
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    resources = {
        "train-images-idx3-ubyte.gz": ("train", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "train-labels-idx1-ubyte.gz": ("train", "25c81989df183df01b3e8a0aad5dffbe"),
        "t10k-images-idx3-ubyte.gz": ("test", "bef4ecab320f06d8554ea6380940ec79"),
        "t10k-labels-idx1-ubyte.gz": ("test", "bb300cfdad3c16e7a12a480ee83cd310"),
    }
    mean, std = 0.2860, 0.3530
    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot")


_SAMPLE = Path(__file__).with_name("_data") / "mnist_sample.npz"
_SAMPLE_MD5 = "0c31f42d9478d13f7cd79199ae300931"  # update together with the bundled file


def mnist_sample(train: bool = True, transform: Callable[[np.ndarray], Any] | None = None) -> ImageDataset:
    """A small class-balanced MNIST subset bundled with the package (3000 train / 1000 test images), md5-checked."""
    split = "train" if train else "test"
    data = _SAMPLE.read_bytes()
    actual = hashlib.md5(data).hexdigest()
    if actual != _SAMPLE_MD5:
        raise ValueError(f"{_SAMPLE}: md5 mismatch (expected {_SAMPLE_MD5}, got {actual}); the bundled MNIST sample "
                         f"is corrupt or was changed. Reinstall the package or restore the file from git.")
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return ImageDataset(z[f"{split}_images"], z[f"{split}_labels"], transform,
                            mean=MNIST.mean, std=MNIST.std)
