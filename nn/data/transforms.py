"""Image transforms in pure numpy (torchvision-like names).

Images are ``H x W`` or ``C x H x W`` arrays; batches are ``N x C x H x W``. Every transform is a callable on one
image and has a vectorised ``batch(x)`` for a whole ``N x C x H x W`` batch (used by ``DataLoader``).

Geometry: pixel ``(row, col)`` has coordinates ``x = col - (W-1)/2``, ``y = row - (H-1)/2`` about the image centre.
Resampling is inverse mapping + bilinear interpolation with ``fill`` (default 0) outside the image. Positive angles
rotate counter-clockwise as the image is displayed (row 0 at the top), as in torchvision. Apply geometric
transforms before ``Normalize`` so that the zero fill is the background.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["Compose", "ToTensor", "Normalize", "Pad", "RandomRotation", "RandomCrop", "RandomAffine",
           "RandomHorizontalFlip", "affine", "affine_batch", "rotate", "hflip", "pad"]

SeedLike = int | np.random.Generator | None


# ----------------------------------------------------------------------------------------------------------- helpers
def _as_batch(img: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """View one ``H x W`` or ``C x H x W`` image as a ``1 x C x H x W`` batch, plus the inverse reshape."""
    img = np.asarray(img)
    if img.ndim == 2:
        return img[None, None], lambda b: b[0, 0]
    if img.ndim == 3:
        return img[None], lambda b: b[0]
    raise ValueError(f"expected an H x W or C x H x W image, got shape {img.shape}")


def _check_batch(x: np.ndarray, who: str) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """View a batch as ``N x C x H x W`` (an ``N x H x W`` batch as one channel), plus the inverse reshape: a
    batch comes back in its own layout, as calling the transform on each of its images would give it."""
    x = np.asarray(x)
    if x.ndim == 3:
        return x[:, None], lambda b: b[:, 0]
    if x.ndim != 4:
        raise ValueError(f"{who}: expected an N x C x H x W or N x H x W batch, got shape {x.shape}")
    return x, lambda b: b


def _restore_dtype(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Cast resampled floats back to an integer input dtype (rounded and clipped), else float32/float64."""
    if like.dtype.kind in "iu":
        info = np.iinfo(like.dtype)
        return np.clip(np.rint(out), info.min, info.max).astype(like.dtype)
    return out.astype(like.dtype if like.dtype.kind == "f" else np.float32, copy=False)


def _two(v: Any, who: str, name: str) -> tuple[float, float]:
    """``v`` as a pair of numbers, or a ValueError naming ``who``, ``name`` and what was given."""
    try:
        pair = tuple(float(t) for t in v)
    except TypeError:
        pair = ()
    if len(pair) != 2:
        raise ValueError(f"{who}: {name} must be a pair of numbers, got {v!r}")
    return pair[0], pair[1]


def _pair(v: float | Sequence[float], who: str, name: str) -> tuple[float, float]:
    """A range given as ``d`` (meaning ``(-d, d)``) or as ``(min, max)``."""
    if isinstance(v, numbers.Number):
        if v < 0:
            raise ValueError(f"{who}: {name} must be non-negative when given as a single number, got {v}")
        return -float(v), float(v)
    lo, hi = _two(v, who, name)
    if lo > hi:
        raise ValueError(f"{who}: {name} range must be (min, max) with min <= max, got {v}")
    return lo, hi


def _size2(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    h, w = size
    return int(h), int(w)


def _padding4(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    """torchvision convention -> (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral):
        p = int(padding)
        return p, p, p, p
    p = [int(v) for v in padding]
    if len(p) == 2:
        return p[0], p[1], p[0], p[1]
    if len(p) == 4:
        return p[0], p[1], p[2], p[3]
    raise ValueError(f"padding must be an int, (left/right, top/bottom) or (left, top, right, bottom); got {padding}")


# -------------------------------------------------------------------------------------------------------- functional
def pad(x: np.ndarray, padding: int | Sequence[int], fill: float = 0.0) -> np.ndarray:
    """Pad the last two (H, W) axes with the constant ``fill``; padding as in torchvision."""
    left, top, right, bottom = _padding4(padding)
    x = np.asarray(x)
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
    return np.pad(x, widths, mode="constant", constant_values=fill)


def hflip(x: np.ndarray) -> np.ndarray:
    """Mirror the last (width) axis: ``out[..., j] = x[..., W-1-j]``."""
    return np.ascontiguousarray(np.asarray(x)[..., ::-1])


def affine_batch(x: np.ndarray, angles: np.ndarray | float = 0.0, translations: np.ndarray | Sequence[float] = (0, 0),
                 scales: np.ndarray | float = 1.0, fill: float = 0.0) -> np.ndarray:
    """Rotate by ``angles`` degrees (counter-clockwise), scale by ``scales`` about the centre, then translate by
    ``translations = (tx, ty)`` pixels (right, down): one set of parameters per image of ``x`` (N x C x H x W).

    Inverse mapping: output point ``p`` (centred, y down) samples the input at ``R(-a) (p - t) / s`` with
    ``R(-a) = [[cos a, -sin a], [sin a, cos a]]`` in y-down coordinates; bilinear interpolation, ``fill`` outside.
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"affine_batch expects N x C x H x W, got shape {x.shape}")
    n, c, h, w = x.shape
    ang = np.deg2rad(np.broadcast_to(np.asarray(angles, dtype=np.float64), (n,)))
    sc = np.broadcast_to(np.asarray(scales, dtype=np.float64), (n,))
    tr = np.broadcast_to(np.asarray(translations, dtype=np.float64), (n, 2))
    if np.any(sc <= 0):
        raise ValueError("scale factors must be positive")
    # src = A p + b per image, with A = R(-a) / s and b = centre - A t (float32 grid is plenty for pixel coords)
    cos, sin = np.cos(ang) / sc, np.sin(ang) / sc
    bx = (w - 1) / 2.0 - (cos * tr[:, 0] - sin * tr[:, 1])
    by = (h - 1) / 2.0 - (sin * tr[:, 0] + cos * tr[:, 1])
    ys = (np.arange(h) - (h - 1) / 2.0).astype(np.float32)[None, :, None]
    xs = (np.arange(w) - (w - 1) / 2.0).astype(np.float32)[None, None, :]
    f32 = lambda v: v.astype(np.float32)[:, None, None]  # noqa: E731
    src_x = f32(cos) * xs - f32(sin) * ys + f32(bx)
    src_y = f32(sin) * xs + f32(cos) * ys + f32(by)
    return _bilinear(x, src_x, src_y, fill)


def _bilinear(x: np.ndarray, src_x: np.ndarray, src_y: np.ndarray, fill: float, chunk: int = 256) -> np.ndarray:
    """Sample ``x`` (N x C x H x W) at float pixel coordinates ``src_x, src_y`` (N x H' x W'), ``fill`` outside:
    ``out = (1-fy)((1-fx) x[y0,x0] + fx x[y0,x1]) + fy((1-fx) x[y1,x0] + fx x[y1,x1])``."""
    if len(x) > chunk:  # cache-sized pieces are much faster than one huge gather
        return np.concatenate([_bilinear(x[i:i + chunk], src_x[i:i + chunk], src_y[i:i + chunk], fill, chunk)
                               for i in range(0, len(x), chunk)])
    n, c, h, w = x.shape
    work = np.float64 if x.dtype == np.float64 else np.float32
    # a border of `fill` (1 pixel before, 2 after) makes every corner read in range and `fill` outside the image
    xp = np.pad(x.astype(work, copy=False), ((0, 0), (0, 0), (1, 2), (1, 2)), constant_values=fill)
    hp, wp = h + 3, w + 3
    table = np.ascontiguousarray(xp.transpose(0, 2, 3, 1)).reshape(n * hp * wp, c)  # one row per pixel
    if c == 1:
        table = table[:, 0]
    sx = np.clip(src_x.astype(work), -1.0, float(w)).reshape(-1)
    sy = np.clip(src_y.astype(work), -1.0, float(h)).reshape(-1)
    sx += 1.0
    sy += 1.0
    x0f, y0f = np.floor(sx), np.floor(sy)
    fx, fy = sx - x0f, sy - y0f
    base = (np.arange(n, dtype=np.intp) * (hp * wp)).repeat(sx.size // n)
    base += y0f.astype(np.intp) * wp
    base += x0f.astype(np.intp)
    if c > 1:
        fx, fy = fx[:, None], fy[:, None]
    top = table[base]
    top += (table[base + 1] - top) * fx
    base += wp
    bot = table[base]
    bot += (table[base + 1] - bot) * fx
    out = top + (bot - top) * fy  # (N * H' * W') x C
    return np.ascontiguousarray(out.reshape(n, *src_x.shape[1:], c).transpose(0, 3, 1, 2))


def affine(img: np.ndarray, angle: float = 0.0, translate: Sequence[float] = (0.0, 0.0), scale: float = 1.0,
           fill: float = 0.0) -> np.ndarray:
    """Affine-transform one image (see ``affine_batch``); keeps the shape and (integer) dtype."""
    b, back = _as_batch(img)
    return back(_restore_dtype(affine_batch(b, angle, translate, scale, fill), b))


def rotate(img: np.ndarray, angle: float, fill: float = 0.0) -> np.ndarray:
    """Rotate one image by ``angle`` degrees counter-clockwise about its centre (bilinear, ``fill`` outside)."""
    return affine(img, angle=angle, fill=fill)


# -------------------------------------------------------------------------------------------------------- transforms
class Transform:
    """Base class: ``__call__`` on one image, ``batch`` on N x C x H x W (default: per-image loop)."""

    def __call__(self, img: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def batch(self, x: np.ndarray) -> np.ndarray:
        return np.stack([self(xi) for xi in np.asarray(x)])

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_") and k != "rng")
        return f"{type(self).__name__}({args})"


class RandomTransform(Transform):
    """A transform drawing its parameters from ``rng = np.random.default_rng(seed)`` (reproducible)."""

    def __init__(self, seed: SeedLike = None) -> None:
        self.rng = np.random.default_rng(seed)


class Compose(Transform):
    """Apply ``transforms`` in order: ``Compose([f, g])(x) = g(f(x))``."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img

    def batch(self, x: np.ndarray) -> np.ndarray:
        for t in self.transforms:
            fn = getattr(t, "batch", None)
            x = fn(x) if callable(fn) else np.stack([np.asarray(t(xi)) for xi in x])
        return x


class ToTensor(Transform):
    """uint8 ``H x W``, ``H x W x C`` or ``C x H x W`` -> float32 ``C x H x W`` in [0, 1] (``x / 255``).

    A 3-d array is read as ``H x W x C`` when its last axis has at most 4 entries and its first more than 4.
    Float inputs are assumed to be in [0, 1] already and only cast/transposed.
    """

    def __call__(self, img: Any) -> np.ndarray:
        a = np.asarray(img)
        if a.ndim == 2:
            a = a[None]
        elif a.ndim == 3:
            if a.shape[-1] <= 4 < a.shape[0]:
                a = a.transpose(2, 0, 1)
        else:
            raise ValueError(f"ToTensor expects H x W, H x W x C or C x H x W, got shape {a.shape}")
        return self._scale(a)

    def batch(self, x: np.ndarray) -> np.ndarray:
        """``N x H x W`` -> ``N x 1 x H x W``; ``N x H x W x C`` (C <= 4 < H) -> ``N x C x H x W``; scaled."""
        a = np.asarray(x)
        if a.ndim == 3:
            a = a[:, None]
        elif a.ndim == 4 and a.shape[-1] <= 4 < a.shape[1]:
            a = a.transpose(0, 3, 1, 2)
        return self._scale(np.ascontiguousarray(a))

    @staticmethod
    def _scale(a: np.ndarray) -> np.ndarray:
        if a.dtype == np.uint8:
            return a.astype(np.float32) / np.float32(255.0)
        return a.astype(np.float32, copy=False)


class Normalize(Transform):
    """Per-channel standardisation ``out[c] = (x[c] - mean[c]) / std[c]`` on ``C x H x W`` (or batches)."""

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float32))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float32))
        if self.mean.ndim != 1 or self.std.ndim != 1 or len(self.mean) != len(self.std):
            raise ValueError(f"Normalize: mean and std need one entry per channel, got {len(self.mean)} means and "
                             f"{len(self.std)} stds")
        if np.any(self.std == 0):
            raise ValueError("Normalize: std must be non-zero")

    def __call__(self, img: np.ndarray) -> np.ndarray:
        """One ``C x H x W`` image (or ``H x W``, one channel); also ``... x C x H x W``, as in torchvision."""
        a = np.asarray(img)
        if a.ndim < 2:
            raise ValueError(f"Normalize: expected an H x W or C x H x W image, got shape {a.shape}")
        channels = 1 if a.ndim == 2 else a.shape[-3]
        if len(self.mean) != channels:
            raise ValueError(f"Normalize: the image has {channels} channel(s) (shape {a.shape}) but {len(self.mean)} "
                             f"means and stds were given")
        m, s = self.mean.reshape(-1, 1, 1), self.std.reshape(-1, 1, 1)
        if a.ndim == 2:
            m, s = m[0], s[0]
        out = (a - m) / s
        return out.astype(a.dtype if a.dtype.kind == "f" else np.float32, copy=False)

    def batch(self, x: np.ndarray) -> np.ndarray:
        b, back = _check_batch(x, "Normalize")
        return back(self(b))  # the channel axis is -3 in N x C x H x W too


class Pad(Transform):
    """Constant padding of the H, W axes: ``padding`` is an int, (left/right, top/bottom) or (l, t, r, b)."""

    def __init__(self, padding: int | Sequence[int], fill: float = 0.0) -> None:
        self.padding = padding
        self.fill = fill

    def __call__(self, img: np.ndarray) -> np.ndarray:
        return pad(img, self.padding, self.fill)

    def batch(self, x: np.ndarray) -> np.ndarray:
        return pad(x, self.padding, self.fill)


class RandomHorizontalFlip(RandomTransform):
    """Mirror left-right with probability ``p`` (exact, no resampling)."""

    def __init__(self, p: float = 0.5, seed: SeedLike = None) -> None:
        super().__init__(seed)
        self.p = p

    def __call__(self, img: np.ndarray) -> np.ndarray:
        return hflip(img) if self.rng.random() < self.p else np.asarray(img)

    def batch(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        flip = self.rng.random(len(x)) < self.p
        out = x.copy()
        out[flip] = x[flip][..., ::-1]
        return out


class RandomAffine(RandomTransform):
    """Random rotation (uniform in ``degrees``), translation and zoom about the centre, bilinear, ``fill`` outside.

    ``degrees``: ``d`` means ``U(-d, d)``, or a ``(min, max)`` pair; counter-clockwise positive.
    ``translate=(a, b)``: shifts ``tx ~ U(-a W, a W)``, ``ty ~ U(-b H, b H)`` pixels (right/down positive).
    ``scale=(lo, hi)``: zoom ``s ~ U(lo, hi)``; ``s > 1`` enlarges the content (second moments grow by ``s^2``).
    """

    def __init__(self, degrees: float | Sequence[float], translate: Sequence[float] | None = None,
                 scale: Sequence[float] | None = None, fill: float = 0.0, seed: SeedLike = None) -> None:
        super().__init__(seed)
        who = type(self).__name__
        self.degrees = _pair(degrees, who, "degrees")
        self.translate = None if translate is None else _two(translate, who, "translate")
        if self.translate is not None and not all(0.0 <= t <= 1.0 for t in self.translate):
            raise ValueError(f"{who}: translate fractions must be in [0, 1], got {translate}")
        self.scale = None if scale is None else _two(scale, who, "scale")
        if self.scale is not None and not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"{who}: scale must be (lo, hi) with 0 < lo <= hi, got {scale}")
        self.fill = fill

    def sample_params(self, n: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``n`` (angle degrees, (tx, ty) pixels, scale) parameter sets."""
        angles = self.rng.uniform(self.degrees[0], self.degrees[1], size=n)
        if self.translate is not None:
            shifts = self.rng.uniform(-1.0, 1.0, size=(n, 2)) * np.array([self.translate[0] * w, self.translate[1] * h])
        else:
            shifts = np.zeros((n, 2))
        scales = self.rng.uniform(*self.scale, size=n) if self.scale is not None else np.ones(n)
        return angles, shifts, scales

    def __call__(self, img: np.ndarray) -> np.ndarray:
        b, back = _as_batch(img)
        return back(self._apply(b))

    def batch(self, x: np.ndarray) -> np.ndarray:
        b, back = _check_batch(x, type(self).__name__)
        return back(self._apply(b))

    def _apply(self, b: np.ndarray) -> np.ndarray:
        angles, shifts, scales = self.sample_params(b.shape[0], b.shape[-2], b.shape[-1])
        return _restore_dtype(affine_batch(b, angles, shifts, scales, self.fill), b)


class RandomRotation(RandomAffine):
    """Rotate by an angle drawn uniformly from ``degrees`` (``d`` -> ``U(-d, d)``), counter-clockwise positive."""

    def __init__(self, degrees: float | Sequence[float], fill: float = 0.0, seed: SeedLike = None) -> None:
        super().__init__(degrees, fill=fill, seed=seed)


class RandomCrop(RandomTransform):
    """Pad by ``padding`` (optional, ``fill``) then cut a ``size`` window at a uniformly random position (exact)."""

    def __init__(self, size: int | Sequence[int], padding: int | Sequence[int] | None = None, fill: float = 0.0,
                 seed: SeedLike = None) -> None:
        super().__init__(seed)
        self.size = _size2(size)
        self.padding = padding
        self.fill = fill

    def __call__(self, img: np.ndarray) -> np.ndarray:
        b, back = _as_batch(img)
        return back(self.batch(b))

    def batch(self, x: np.ndarray) -> np.ndarray:
        x, back = _check_batch(x, "RandomCrop")
        if self.padding is not None:
            x = pad(x, self.padding, self.fill)
        n, _, h, w = x.shape
        th, tw = self.size
        if th > h or tw > w:
            raise ValueError(f"RandomCrop: crop size {self.size} larger than the (padded) image {(h, w)}")
        top = self.rng.integers(0, h - th + 1, size=n)
        left = self.rng.integers(0, w - tw + 1, size=n)
        rows = (top[:, None] + np.arange(th))[:, :, None]  # N x th x 1
        cols = (left[:, None] + np.arange(tw))[:, None, :]  # N x 1 x tw
        out = x.transpose(0, 2, 3, 1)[np.arange(n)[:, None, None], rows, cols]  # N x th x tw x C
        return back(np.ascontiguousarray(out.transpose(0, 3, 1, 2)))
