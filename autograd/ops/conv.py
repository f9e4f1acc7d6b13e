"""2-D convolution and pooling on NCHW tensors (batch, channels, height, width).

Every op is a :class:`~autograd.function.Function` whose backward is written
with other Functions of this module, so ``backward(create_graph=True)`` gives
gradients of gradients:

==========================  ==========================================  =================================
op (forward)                its backward                                that backward's backward
==========================  ==========================================  =================================
``Conv2d(x, w)``            ``Conv2dBackwardInput(g, w)`` (transposed    ``Conv2d`` and
                            convolution) and ``Conv2dBackwardWeight(x,   ``Conv2dBackward*`` again (the
                            g)``                                         three close under differentiation)
``MaxPool2d(x)``            ``MaxPool2dScatter(g)``: g to the argmax      ``MaxPool2dGather``: read the same
                            of each window                               argmax positions
``AvgPool2d(x)``            ``AvgPool2dBackward(g)``: g / k spread over   ``AvgPool2d`` (the two are adjoint)
                            each window
==========================  ==========================================  =================================

Speed notes (numpy only): the convolution is an im2col + matrix product, done
in chunks of the batch so that the column matrix of a chunk stays in the CPU
cache (one reused buffer instead of a large fresh temporary per call, which
costs page faults).  Forward is one batched product ``W (C_out, C_in*kH*kW) @
cols[n]`` per sample, which writes NCHW output directly.  The columns are
rebuilt (in cache) for the weight gradient rather than kept alive between
forward and backward.  Pooling works on ``kH*kW`` strided views of the input
(no window copy) and max-pooling keeps a compact ``uint8`` index of the winner
in each window.
"""

from __future__ import annotations

from threading import get_ident
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from ..function import Function
from ..tensor import Tensor
from ..threads import gemm_threads, get_num_threads, parallel_for
from ._util import lift

__all__ = ["conv2d", "max_pool2d", "avg_pool2d"]

# Target size in bytes of one chunk's column matrix (fits in L2/L3 cache).
_CHUNK_BYTES = 1 << 21

_buffers: dict[tuple, np.ndarray] = {}


def _buffer(shape: tuple, dtype: Any, slot: Any, zero: bool = False) -> np.ndarray:
    """A reused scratch array, one per (slot, shape, dtype, calling thread).

    Contents are whatever the last user left, except that ``zero`` buffers start as zeros (their
    users only ever write the same positions, leaving the rest zero).
    """
    key = (slot, shape, np.dtype(dtype).str, get_ident())
    buf = _buffers.get(key)
    if buf is None:
        if len(_buffers) > 256:
            _buffers.clear()
        buf = _buffers[key] = (np.zeros if zero else np.empty)(shape, dtype)
    return buf


def _pair(v: Any, name: str, op: str) -> tuple[int, int]:
    if isinstance(v, int | np.integer):
        return int(v), int(v)
    try:
        a, b = v
        return int(a), int(b)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}") from None


def _windows(a: np.ndarray, kh: int, kw: int, sh: int, sw: int, ho: int, wo: int):
    """For each kernel offset (i, j), the strided view a[..., i + sh*r, j + sw*c] of shape (..., ho, wo)."""
    for i in range(kh):
        for j in range(kw):
            yield i * kw + j, a[..., i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw]


def _pad(a: np.ndarray, ph: int, pw: int, value: float = 0.0) -> np.ndarray:
    if ph == 0 and pw == 0:
        return a
    n, c, h, w = a.shape
    out = np.empty((n, c, h + 2 * ph, w + 2 * pw), a.dtype)
    if value == 0.0:
        out[:, :, :ph] = 0
        out[:, :, h + ph :] = 0
        out[:, :, ph : h + ph, :pw] = 0
        out[:, :, ph : h + ph, w + pw :] = 0
    else:
        out[:, :, :ph] = value
        out[:, :, h + ph :] = value
        out[:, :, ph : h + ph, :pw] = value
        out[:, :, ph : h + ph, w + pw :] = value
    out[:, :, ph : h + ph, pw : w + pw] = a
    return out


def _chunk(n: int, per_sample: int) -> int:
    return max(1, min(n, _CHUNK_BYTES // max(per_sample, 1)))


# --- convolution ------------------------------------------------------------------------------------------
class _ConvGeom:
    """Static shapes of one convolution: x (N, C, H, W), w (O, C, kh, kw), y (N, O, ho, wo)."""

    __slots__ = ("xshape", "wshape", "sh", "sw", "ph", "pw", "ho", "wo")

    def __init__(self, xshape, wshape, stride, padding):
        self.xshape = tuple(xshape)
        self.wshape = tuple(wshape)
        self.sh, self.sw = stride
        self.ph, self.pw = padding
        _, _, h, w = xshape
        kh, kw = wshape[2:]
        self.ho = (h + 2 * self.ph - kh) // self.sh + 1
        self.wo = (w + 2 * self.pw - kw) // self.sw + 1


def _im2col(xp: np.ndarray, gm: _ConvGeom, out: np.ndarray) -> np.ndarray:
    """Columns of a (padded) chunk xp (n, C, Hp, Wp) into out (n, C, kh, kw, ho, wo)."""
    kh, kw = gm.wshape[2:]
    v = sliding_window_view(xp, (kh, kw), axis=(2, 3))
    v = v[:, :, : (gm.ho - 1) * gm.sh + 1 : gm.sh, : (gm.wo - 1) * gm.sw + 1 : gm.sw]
    np.copyto(out, v.transpose(0, 1, 4, 5, 2, 3))
    return out


def _flat_geometry(gm: _ConvGeom) -> tuple[int, int, int]:
    """(Hp, Wp, L) of the stride-1 "flat rows" layout, L = (ho - 1) * Wp + wo."""
    hp, wp = gm.xshape[2] + 2 * gm.ph, gm.xshape[3] + 2 * gm.pw
    return hp, wp, (gm.ho - 1) * wp + gm.wo


def _flat_cols(xp: np.ndarray, gm: _ConvGeom, out: np.ndarray) -> np.ndarray:
    """Stride-1 columns: out[c, i, j, n, q] = xp[n, c].flat[i*Wp + j + q] for q < L.

    Each row of the column matrix is one contiguous run of the padded image, so the copy moves
    long runs (positions q = ho*Wp + wo with wo >= wo_max are junk, never read back).
    """
    m, c, hp, wp = xp.shape
    kh, kw = gm.wshape[2:]
    _, _, L = _flat_geometry(gm)
    s = xp.strides
    v = as_strided(xp, (c, kh, kw, m, L), (s[1], wp * s[3], s[3], s[0], s[3]), writeable=False)
    np.copyto(out, v)
    return out


def _ext_view(buf: np.ndarray, m: int, gm: _ConvGeom) -> np.ndarray:
    """The (m, O, ho, wo) positions of an (O, nb, L) flat-rows buffer."""
    wp = _flat_geometry(gm)[1]
    s = buf.strides
    return as_strided(buf, (m, buf.shape[0], gm.ho, gm.wo), (s[1], s[0], wp * s[2], s[2]))


def _ext_view3(buf: np.ndarray, m: int, gm: _ConvGeom) -> np.ndarray:
    """The (m, O, ho, wo) positions of an (nb, O, L) per-sample flat-rows buffer."""
    wp = _flat_geometry(gm)[1]
    s = buf.strides
    return as_strided(buf, (m, buf.shape[1], gm.ho, gm.wo), (s[0], s[1], wp * s[2], s[2]))


def _plan(gm: _ConvGeom, itemsize: int) -> tuple[int, list[int], int]:
    """(buffer size nb, chunk bounds, L) for the stride-1 path.

    The number of chunks is a multiple of 4 (at most the batch), so 1, 2 or 4 threads get equal
    shares; it does not depend on the thread count, so results do not either.
    """
    _, _, L = _flat_geometry(gm)
    c, kh, kw = gm.wshape[1:]
    n = gm.xshape[0]
    nb = _chunk(n, c * kh * kw * L * itemsize)
    k = -(-n // nb)
    k = min(n, -(-k // 4) * 4)
    bounds = [n * i // k for i in range(k + 1)]
    return -(-n // k), bounds, L


def _padded(x: np.ndarray, gm: _ConvGeom) -> np.ndarray:
    xp = _pad(x, gm.ph, gm.pw)
    return xp if xp.flags.c_contiguous else np.ascontiguousarray(xp)


def _conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, gm: _ConvGeom) -> np.ndarray:
    n, c = x.shape[:2]
    o, _, kh, kw = w.shape
    ho, wo = gm.ho, gm.wo
    dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
    x = x.astype(dtype, copy=False)
    w2 = w.reshape(o, -1).astype(dtype, copy=False)
    xp = _padded(x, gm)
    y = np.empty((n, o, ho, wo), dtype)
    ckk = c * kh * kw
    bias = None if b is None else b.astype(dtype, copy=False).reshape(1, o, 1, 1)
    if gm.sh == gm.sw == 1:
        nb, bounds, L = _plan(gm, y.itemsize)
        gemm_threads(o * ckk * nb * L)

        def work(k: int) -> None:
            s, e = bounds[k], bounds[k + 1]
            m = e - s
            cols = _buffer((c, kh, kw, nb, L), dtype, "cols")
            ye = _buffer((o, nb, L), dtype, "yext")
            cc = _flat_cols(xp[s:e], gm, cols[:, :, :, :m]).reshape(ckk, m * L)
            np.matmul(w2, cc, out=ye[:, :m].reshape(o, m * L))
            if bias is None:
                np.copyto(y[s:e], _ext_view(ye, m, gm))
            else:
                np.add(_ext_view(ye, m, gm), bias, out=y[s:e])

        parallel_for(len(bounds) - 1, work)
        return y
    y3 = y.reshape(n, o, ho * wo)
    p = ho * wo
    nb = _chunk(n, ckk * p * y.itemsize)
    cols = _buffer((nb, c, kh, kw, ho, wo), dtype, "cols6")
    for s in range(0, n, nb):
        e = min(n, s + nb)
        cc = _im2col(xp[s:e], gm, cols[: e - s])
        np.matmul(w2, cc.reshape(e - s, ckk, p), out=y3[s:e])
    if bias is not None:
        y += bias
    return y


def _g_ext(g: np.ndarray, s: int, e: int, nb: int, L: int, gm: _ConvGeom) -> np.ndarray:
    """g[s:e] copied into a zero-junk (O, nb, L) flat-rows buffer; returns the (O, m*L) matrix."""
    o = g.shape[1]
    # zero junk positions depend on (Wp, wo), not only on L: they are part of the key
    buf = _buffer((o, nb, L), g.dtype, ("gext", _flat_geometry(gm)[1], gm.wo), zero=True)
    np.copyto(_ext_view(buf, e - s, gm), g[s:e])
    return buf[:, : e - s].reshape(o, (e - s) * L)


def _conv_backward_input(g: np.ndarray, w: np.ndarray, gm: _ConvGeom) -> np.ndarray:
    """x-gradient of y = conv(x, w) given g = dL/dy: a transposed convolution (col2im of W^T g)."""
    n, c, h, wd = gm.xshape
    o, _, kh, kw = w.shape
    ho, wo = gm.ho, gm.wo
    dtype = np.result_type(g, w)
    g = g.astype(dtype, copy=False)
    ph, pw = gm.ph, gm.pw
    hp, wp = h + 2 * ph, wd + 2 * pw
    w2t = w.reshape(o, -1).T.astype(dtype, copy=False)
    ckk = c * kh * kw
    if gm.sh == gm.sw == 1:
        gxp = np.empty((n, c, hp, wp), dtype)
        nb, bounds, L = _plan(gm, gxp.itemsize)
        gemm_threads(o * ckk * nb * L)
        flat = gxp.reshape(n, c, hp * wp)
        r = hp * wp

        def work(k: int) -> None:
            # col2im in two passes: the columns are copied into a "skewed" zero buffer z where
            # kernel offset (i, j) of channel c is row z[., c, i*kw + j] shifted right by
            # i*Wp + j, then one reduction over the kh*kw rows gives the padded x-gradient.
            s, e = bounds[k], bounds[k + 1]
            m = e - s
            ge = _buffer((nb, o, L), dtype, ("gext3", wp, gm.wo), zero=True)
            np.copyto(_ext_view3(ge, m, gm), g[s:e])
            gc = _buffer((nb, c, kh, kw, L), dtype, "gcols3")
            np.matmul(w2t, ge[:m], out=gc[:m].reshape(m, ckk, L))
            z = _buffer((nb, c, kh * kw, r), dtype, ("skew", wp, L, kh, kw), zero=True)
            zs = z.strides
            it = z.itemsize
            skew = as_strided(z, (m, c, kh, kw, L), (zs[0], zs[1], kw * zs[2] + wp * it, zs[2] + it, it))
            np.copyto(skew, gc[:m])
            np.add.reduce(z[:m], axis=2, out=flat[s:e])

        parallel_for(len(bounds) - 1, work)
    else:
        gxp = np.zeros((n, c, hp, wp), dtype)
        g3 = g.reshape(n, o, ho * wo)
        p = ho * wo
        nb = _chunk(n, ckk * p * gxp.itemsize)
        buf = _buffer((nb, ckk, p), dtype, "gcols")
        for s in range(0, n, nb):
            e = min(n, s + nb)
            gc = np.matmul(w2t, g3[s:e], out=buf[: e - s]).reshape(e - s, c, kh, kw, ho, wo)
            dst = gxp[s:e]
            for k, view in _windows(dst, kh, kw, gm.sh, gm.sw, ho, wo):
                view += gc[:, :, k // kw, k % kw]
    if ph or pw:
        gxp = gxp[:, :, ph : ph + h, pw : pw + wd]
    return gxp


def _conv_backward_weight(x: np.ndarray, g: np.ndarray, gm: _ConvGeom) -> np.ndarray:
    """w-gradient of y = conv(x, w): sum over samples and positions of g (outer) columns of x."""
    n, c = x.shape[:2]
    o, _, kh, kw = gm.wshape
    ho, wo = gm.ho, gm.wo
    dtype = np.result_type(x, g)
    x = x.astype(dtype, copy=False)
    g = g.astype(dtype, copy=False)
    xp = _padded(x, gm)
    ckk = c * kh * kw
    gw = np.zeros((o, ckk), dtype)
    if gm.sh == gm.sw == 1:
        nb, bounds, L = _plan(gm, gw.itemsize)
        gemm_threads(o * ckk * nb * L)
        parts = np.empty((len(bounds) - 1, o, ckk), dtype)

        def work(k: int) -> None:
            s, e = bounds[k], bounds[k + 1]
            m = e - s
            cols = _buffer((c, kh, kw, nb, L), dtype, "cols")
            cc = _flat_cols(xp[s:e], gm, cols[:, :, :, :m]).reshape(ckk, m * L)
            ge = _g_ext(g, s, e, nb, L, gm)
            np.matmul(ge, cc.T, out=parts[k])

        parallel_for(len(bounds) - 1, work)
        # summed in chunk order whatever the thread count, so results do not depend on it
        return np.add.reduce(parts, axis=0).reshape(gm.wshape)
    g3 = g.reshape(n, o, ho * wo)
    p = ho * wo
    nb = _chunk(n, ckk * p * gw.itemsize)
    cols = _buffer((nb, c, kh, kw, ho, wo), dtype, "cols6")
    part = _buffer((nb, o, ckk), dtype, "wpart3")
    for s in range(0, n, nb):
        e = min(n, s + nb)
        cc = _im2col(xp[s:e], gm, cols[: e - s]).reshape(e - s, ckk, p)
        np.matmul(g3[s:e], cc.transpose(0, 2, 1), out=part[: e - s])
        gw += part[: e - s].sum(axis=0)
    return gw.reshape(gm.wshape)


class Conv2d(Function):
    """y[n,o] = b[o] + sum_c x[n,c] (cross-correlated with) w[o,c]  (im2col + matrix product).

    dL/dx = Conv2dBackwardInput(g, w) (transposed convolution), dL/dw = Conv2dBackwardWeight(x, g),
    dL/db = sum of g over batch and positions.
    """

    def forward(self, x, w, b=None):
        return _conv_forward(x, w, b, self.gm)

    def backward(self, out, g):
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_grad
        gx = Conv2dBackwardInput.apply(g, w, gm=self.gm) if need[0] else None
        gw = Conv2dBackwardWeight.apply(x, g, gm=self.gm) if need[1] else None
        if len(self.inputs) == 2:
            return gx, gw
        gb = g.reshape(g.shape[0], g.shape[1], -1).sum(axis=2).sum(axis=0) if need[2] else None
        return gx, gw, gb


class Conv2dBackwardInput(Function):
    """gx = T(g, w), the adjoint of x -> conv(x, w); bilinear in (g, w).

    <v, T(g, w)> = <conv(v, w), g>, so d/dg = conv(v, w) and d/dw = Conv2dBackwardWeight(v, g).
    """

    def forward(self, g, w):
        return _conv_backward_input(g, w, self.gm)

    def backward(self, out, v):
        g, w = self.inputs
        need = self.needs_grad
        gg = Conv2d.apply(v, w, gm=self.gm) if need[0] else None
        gw = Conv2dBackwardWeight.apply(v, g, gm=self.gm) if need[1] else None
        return gg, gw


class Conv2dBackwardWeight(Function):
    """gw = U(x, g), the adjoint of w -> conv(x, w); bilinear in (x, g).

    <v, U(x, g)> = <conv(x, v), g>, so d/dx = Conv2dBackwardInput(g, v) and d/dg = conv(x, v).
    """

    def forward(self, x, g):
        return _conv_backward_weight(x, g, self.gm)

    def backward(self, out, v):
        x, g = self.inputs
        need = self.needs_grad
        gx = Conv2dBackwardInput.apply(g, v, gm=self.gm) if need[0] else None
        gg = Conv2d.apply(x, v, gm=self.gm) if need[1] else None
        return gx, gg


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0) -> Tensor:
    """2-D cross-correlation (PyTorch's ``conv2d``) of NCHW ``x`` with ``weight`` (C_out, C_in, kH, kW).

    ``bias`` has shape (C_out,); ``stride`` and ``padding`` (zeros) are ints or (height, width)
    pairs.  The output has shape (N, C_out, (H + 2 pH - kH) // sH + 1, (W + 2 pW - kW) // sW + 1).
    """
    x = lift(x)
    weight = lift(weight)
    stride = _pair(stride, "stride", "conv2d")
    padding = _pair(padding, "padding", "conv2d")
    if x.ndim != 4:
        raise ValueError(f"conv2d: expected a 4-D input (N, C, H, W), got shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected a 4-D weight (C_out, C_in, kH, kW), got shape {weight.shape}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"conv2d: input has {x.shape[1]} channels but weight expects {weight.shape[1]} "
            f"(input shape {x.shape}, weight shape {weight.shape})"
        )
    if min(stride) < 1:
        raise ValueError(f"conv2d: stride must be positive, got {stride}")
    if min(padding) < 0:
        raise ValueError(f"conv2d: padding must be non-negative, got {padding}")
    hp, wp = x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]
    if weight.shape[2] > hp or weight.shape[3] > wp or 0 in weight.shape:
        raise ValueError(
            f"conv2d: kernel size {tuple(weight.shape[2:])} is bigger than the padded input size {(hp, wp)} "
            f"(input shape {x.shape}, padding {padding})"
        )
    gm = _ConvGeom(x.shape, weight.shape, stride, padding)
    if bias is None:
        return Conv2d.apply(x, weight, gm=gm)
    bias = lift(bias)
    if bias.shape != (weight.shape[0],):
        raise ValueError(
            f"conv2d: bias has shape {bias.shape} but weight shape {weight.shape} expects ({weight.shape[0]},)"
        )
    return Conv2d.apply(x, weight, bias, gm=gm)


# --- pooling ----------------------------------------------------------------------------------------------
class _PoolGeom:
    __slots__ = ("xshape", "kh", "kw", "sh", "sw", "ph", "pw", "ho", "wo")

    def __init__(self, xshape, kernel, stride, padding):
        self.xshape = tuple(xshape)
        self.kh, self.kw = kernel
        self.sh, self.sw = stride
        self.ph, self.pw = padding
        _, _, h, w = xshape
        self.ho = (h + 2 * self.ph - self.kh) // self.sh + 1
        self.wo = (w + 2 * self.pw - self.kw) // self.sw + 1

    @property
    def overlapping(self) -> bool:
        return self.sh < self.kh or self.sw < self.kw


def _pool_args(op: str, x: Any, kernel_size: Any, stride: Any, padding: Any) -> tuple[Tensor, _PoolGeom]:
    x = lift(x)
    kernel = _pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else _pair(stride, "stride", op)
    padding = _pair(padding, "padding", op)
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape {x.shape}")
    if min(kernel) < 1 or min(stride) < 1:
        raise ValueError(f"{op}: kernel_size and stride must be positive, got {kernel} and {stride}")
    if min(padding) < 0 or padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} must be between 0 and half the kernel size {kernel}")
    hp, wp = x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]
    if kernel[0] > hp or kernel[1] > wp:
        raise ValueError(
            f"{op}: kernel size {kernel} is bigger than the padded input size {(hp, wp)} "
            f"(input shape {x.shape}, padding {padding})"
        )
    return x, _PoolGeom(x.shape, kernel, stride, padding)


def _scatter(g: np.ndarray, gm: _PoolGeom, idx: np.ndarray | None) -> np.ndarray:
    """Adjoint of reading windows: each window's value(s) of g added back to the input positions.

    With ``idx`` only the winner of each window (window offset idx) receives g; without, all of it.
    """
    n, c, h, w = gm.xshape
    ph, pw = gm.ph, gm.pw
    if idx is not None and _is_2x2(gm):
        return _scatter2x2(g, idx, gm)
    gxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), g.dtype)
    add = gm.overlapping
    for k, view in _windows(gxp, gm.kh, gm.kw, gm.sh, gm.sw, gm.ho, gm.wo):
        if idx is None:
            if add:
                view += g
            else:
                view[...] = g
        elif add:
            view += np.where(idx == k, g, 0)
        else:
            np.copyto(view, g, where=idx == k)
    if ph or pw:
        gxp = gxp[:, :, ph : ph + h, pw : pw + w]
    return gxp


def _is_2x2(gm: _PoolGeom) -> bool:
    return gm.kh == gm.kw == gm.sh == gm.sw == 2 and gm.ph == gm.pw == 0


# 2x2 pooling splits the batch into one part per intra-op thread, run by parallel_for, once the
# pooled output has at least _POOL_PARALLEL elements (below that the hand-off costs more than it
# saves); the work is elementwise, so results do not depend on the split.
_POOL_PARALLEL = 1 << 16


def _batch_parts(n: int, size: int) -> list[int]:
    k = min(n, get_num_threads()) if size >= _POOL_PARALLEL else 1
    return [n * i // k for i in range(k + 1)]


def _max2x2(x: np.ndarray, gm: _PoolGeom) -> tuple[np.ndarray, np.ndarray]:
    """2x2 stride-2 max-pool via a (N, C, ho, 2, 2*wo) view: row pairs first, then column pairs.

    Row pairs first makes every pass a long loop (the column pairs of a contiguous (.., 2*wo)
    array are one stride-2 run), which matters for small maps.  The window index (0..3,
    row-major) is the first maximum in row-major order, assembled with uint8 bit operations:
    the bottom entry wins its column only if strictly bigger; the right column wins if its
    maximum is strictly bigger, or equal with its winner in the top row and the left one's in
    the bottom row.  Parts of the batch run on the intra-op threads (ufuncs release the GIL).
    """
    n, c = x.shape[:2]
    ho, wo = gm.ho, gm.wo
    x5 = x[:, :, : 2 * ho, : 2 * wo].reshape(n, c, ho, 2, 2 * wo)
    y = np.empty((n, c, ho, wo), x.dtype)
    idx = np.empty((n, c, ho, wo), np.uint8)
    bounds = _batch_parts(n, y.size)

    def work(k: int) -> None:
        s, e = bounds[k], bounds[k + 1]
        top, bottom = x5[s:e, :, :, 0], x5[s:e, :, :, 1]
        mr = np.maximum(top, bottom)  # (m, c, ho, 2*wo): max of each column of the window
        ih = np.greater(bottom, top).view(np.uint8)  # the bottom one wins only if strictly bigger
        left, right = mr[..., 0::2], mr[..., 1::2]
        np.maximum(left, right, out=y[s:e])
        iw = np.greater(right, left).view(np.uint8)
        ihl, ihr = ih[..., 0::2], ih[..., 1::2]
        tie = np.equal(right, left).view(np.uint8)
        tie &= np.greater(ihl, ihr).view(np.uint8)  # equal maxima: right only if its winner is higher
        iw |= tie
        out = idx[s:e]
        np.bitwise_xor(ihl, ihr, out=out)
        out &= iw
        out ^= ihl  # the winning column's row bit
        out <<= 1
        out |= iw

    if len(bounds) == 2:
        work(0)
    else:
        parallel_for(len(bounds) - 1, work)
    return y, idx


def _flat_pos_base(gm: _PoolGeom) -> np.ndarray:
    """2x2 path: flat position in the input of each window's top-left entry (cached per shape)."""
    n, c, h, w = gm.xshape
    key = ("pos2x2", gm.xshape)
    base = _buffers.get(key)
    if base is None:
        ho, wo = gm.ho, gm.wo
        base = (np.arange(n * c, dtype=np.intp).reshape(n, c, 1, 1) * (h * w)
                + np.arange(ho, dtype=np.intp).reshape(ho, 1) * (2 * w) + 2 * np.arange(wo, dtype=np.intp))
        _buffers[key] = base
    return base


def _flat_pos(idx: np.ndarray, gm: _PoolGeom) -> np.ndarray:
    """2x2 path: flat position in the input of each window's winner."""
    w = gm.xshape[3]
    return _flat_pos_base(gm) + np.array([0, 1, w, w + 1], np.intp).take(idx)


def _scatter2x2(g: np.ndarray, idx: np.ndarray, gm: _PoolGeom) -> np.ndarray:
    gx = np.zeros(gm.xshape, g.dtype)
    flat = gx.reshape(-1)
    n = gm.xshape[0]
    bounds = _batch_parts(n, g.size)
    if len(bounds) == 2:
        flat[_flat_pos(idx, gm)] = g
        return gx
    pos = _flat_pos_base(gm)
    steps = np.array([0, 1, gm.xshape[3], gm.xshape[3] + 1], np.intp)

    def work(k: int) -> None:
        s, e = bounds[k], bounds[k + 1]
        flat[pos[s:e] + steps.take(idx[s:e])] = g[s:e]

    parallel_for(len(bounds) - 1, work)
    return gx


class MaxPool2d(Function):
    """y = max over each window; dL/dx = g at the (first, row-major) argmax of each window, 0 elsewhere."""

    def forward(self, x):
        gm = self.gm
        if _is_2x2(gm):
            y, self.idx = _max2x2(x, gm)
            return y
        xp = _pad(x, gm.ph, gm.pw, -np.inf)
        views = _windows(xp, gm.kh, gm.kw, gm.sh, gm.sw, gm.ho, gm.wo)
        _, first = next(views)
        y = first.copy()
        idx = np.zeros(y.shape, np.uint8 if gm.kh * gm.kw <= 256 else np.int32)
        for k, view in views:
            better = np.greater(view, y)  # strict: ties keep the earlier (row-major) position
            np.copyto(y, view, where=better)
            np.copyto(idx, k, where=better, casting="unsafe")
        self.idx = idx
        return y

    def backward(self, out, g):
        return (MaxPool2dScatter.apply(g, gm=self.gm, idx=self.idx),)


class MaxPool2dScatter(Function):
    """gx = g placed at each window's argmax (summed where windows overlap); its adjoint is the gather."""

    def forward(self, g):
        return _scatter(g, self.gm, self.idx)

    def backward(self, out, v):
        return (MaxPool2dGather.apply(v, gm=self.gm, idx=self.idx),)


class MaxPool2dGather(Function):
    """y = v read at each window's stored argmax (max-pool with frozen winners); its adjoint is the scatter."""

    def forward(self, v):
        gm = self.gm
        if _is_2x2(gm):
            return np.ascontiguousarray(v).reshape(-1)[_flat_pos(self.idx, gm)]
        vp = _pad(v, gm.ph, gm.pw)
        views = [view for _, view in _windows(vp, gm.kh, gm.kw, gm.sh, gm.sw, gm.ho, gm.wo)]
        if len(views) <= 32:
            return np.choose(self.idx, views)
        y = np.zeros(views[0].shape, v.dtype)
        for k, view in enumerate(views):
            np.copyto(y, view, where=self.idx == k)
        return y

    def backward(self, out, g):
        return (MaxPool2dScatter.apply(g, gm=self.gm, idx=self.idx),)


class AvgPool2d(Function):
    """y = mean over each window (padding counts as zeros); dL/dx = AvgPool2dBackward(g)."""

    def forward(self, x):
        gm = self.gm
        xp = _pad(x, gm.ph, gm.pw)
        views = _windows(xp, gm.kh, gm.kw, gm.sh, gm.sw, gm.ho, gm.wo)
        _, first = next(views)
        y = first.copy()
        for _, view in views:
            y += view
        y *= y.dtype.type(1.0 / (gm.kh * gm.kw))
        return y

    def backward(self, out, g):
        return (AvgPool2dBackward.apply(g, gm=self.gm),)


class AvgPool2dBackward(Function):
    """gx = g / (kh kw) spread over each window; its adjoint is avg-pooling again."""

    def forward(self, g):
        gm = self.gm
        return _scatter(g * g.dtype.type(1.0 / (gm.kh * gm.kw)), gm, None)

    def backward(self, out, v):
        return (AvgPool2d.apply(v, gm=self.gm),)


def max_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Max over kH x kW windows of NCHW ``x`` (PyTorch's ``max_pool2d``, floor mode).

    ``stride`` defaults to ``kernel_size``; ``padding`` pads with -inf (at most half the kernel).
    Ties: the whole gradient of a window goes to **one** of its maxima, the first in row-major
    order within the window, as in PyTorch (so ``max_pool2d`` of a constant image sends each
    window's gradient to its top-left entry).  NaN inputs are not propagated.
    """
    x, gm = _pool_args("max_pool2d", x, kernel_size, stride, padding)
    return MaxPool2d.apply(x, gm=gm)


def avg_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Mean over kH x kW windows of NCHW ``x`` (PyTorch's ``avg_pool2d`` with count_include_pad=True).

    ``stride`` defaults to ``kernel_size``; zero ``padding`` counts in the mean (at most half the kernel).
    """
    x, gm = _pool_args("avg_pool2d", x, kernel_size, stride, padding)
    return AvgPool2d.apply(x, gm=gm)
