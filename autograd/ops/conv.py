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
in chunks of the batch.  Each chunk is first transposed to (C, H, W, N) order,
with the batch as the fastest axis: with stride 1, each output row of a row of
the column matrix is one contiguous run of ``wo * N`` numbers (long copies), the
matrix has exactly ``ho * wo * N`` columns (no junk columns between image rows),
the product ``W (C_out, C_in*kH*kW) @ cols`` is one large matrix product per
chunk, and its (C_out, ho, wo, N) result is transposed back to NCHW.  Scratch
arrays are reused between calls (a large fresh temporary per call costs page
faults); the columns are rebuilt for the weight gradient rather than kept alive
between forward and backward.  Without ``create_graph``, with exactly two
threads and a batch of several chunks, the input and weight gradients are
computed side by side, one thread each; with more threads each gradient splits
its chunks over all of them (one chunk is done on the calling thread).
Pooling works on ``kH*kW`` strided views of the input (no window copy) and
max-pooling keeps a compact ``uint8`` index of the winner in each window;
2x2 max-pooling compares the whole array with itself shifted by a row (numpy is
slow on the short rows of window views).
"""

from __future__ import annotations

from threading import get_ident
from typing import Any

import numpy as np

from ..function import Function
from ..graph import _GradMode
from ..tensor import Tensor
from ..threads import gemm_threads, get_num_threads, parallel_for
from ._util import const, lift

__all__ = ["conv2d", "max_pool2d", "avg_pool2d"]

# Target size in bytes of one chunk's column matrix (fits in L2/L3 cache; the input gradient's
# scratch is about hp*wp / (ho*wo) times larger), and the size of the whole batch's columns below
# which the batch is one chunk.
_CHUNK_BYTES = 1 << 20
_SMALL_BYTES = 1 << 18

_buffers: dict[tuple, np.ndarray] = {}


def _buffer(shape: tuple, dtype: Any, slot: Any, zero: bool = False) -> np.ndarray:
    """A reused scratch array, one per (slot, shape, dtype, calling thread).

    Contents are whatever the last user left, except that ``zero`` buffers start as zeros: their
    users only ever write the same positions, leaving the rest zero, so ``slot`` must include
    everything (beyond ``shape``) that decides which positions are written.
    """
    key = (slot, zero, shape, np.dtype(dtype).str, get_ident())
    buf = _buffers.get(key)
    if buf is None:
        if len(_buffers) > 256:
            _buffers.clear()
        buf = _buffers[key] = (np.zeros if zero else np.empty)(shape, dtype)
    return buf


def _strided(buf: np.ndarray, shape: tuple, strides: tuple) -> np.ndarray:
    """A strided view of the contiguous scratch array ``buf`` (numpy's as_strided, without its
    Python-level overhead; the extent is checked against ``buf``)."""
    return np.ndarray(shape, buf.dtype, buf, 0, strides)


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

    @property
    def ckk(self) -> int:
        """Rows of the column matrix: C_in * kh * kw."""
        return self.wshape[1] * self.wshape[2] * self.wshape[3]


def _chunks(gm: _ConvGeom, itemsize: int) -> list[int]:
    """Batch bounds of the chunks, each with a column matrix of about _CHUNK_BYTES.

    A small problem is one chunk (threads would cost more than they save); otherwise the number
    of chunks is a multiple of 4 (at most the batch), so 1, 2 or 4 threads get equal shares.  It
    depends only on the shapes, and so does the order in which the chunks' weight gradients are
    summed; each chunk's product runs on one OpenBLAS thread, so a batch of several chunks gives the
    same numbers at any thread count.  A batch of one chunk (N = 1, say) is one product, which OpenBLAS
    splits over the intra-op threads once it is large (``gemm_threads``): its rounding then depends on
    the thread count (measured: up to ~6e-7 of the largest entry in float32), as it does when another
    program thread holds the pool and the chunks run serially.
    """
    n = gm.xshape[0]
    per_sample = gm.ckk * gm.ho * gm.wo * itemsize
    if n * per_sample <= _SMALL_BYTES:
        return [0, n]
    k = -(-n * per_sample // _CHUNK_BYTES)
    k = min(n, -(-k // 4) * 4)
    return [n * i // k for i in range(k + 1)]


def _chwn(a: np.ndarray, s: int, e: int, ph: int, pw: int, dtype: Any, slot: str) -> np.ndarray:
    """a[s:e] (m, C, H, W) as a (C, H + 2 ph, W + 2 pw, m) buffer with a zero border.

    Only the interior is ever written, so the border of a reused buffer stays zero (the padding
    is part of the buffer's key).
    """
    m, c, h, w = e - s, a.shape[1], a.shape[2], a.shape[3]
    t = _buffer((c, h + 2 * ph, w + 2 * pw, m), dtype, (slot, ph, pw), zero=True)
    np.copyto(t[:, ph : ph + h, pw : pw + w], a[s:e].transpose(1, 2, 3, 0))
    return t


def _cols(x: np.ndarray, s: int, e: int, gm: _ConvGeom, dtype: Any) -> np.ndarray:
    """Column matrix of x[s:e]: cols[(c, i, j), (r, q, n)] = xpad[n, c, i + sh*r, j + sw*q].

    Built from the (C, Hp, Wp, m) layout, where the batch is the fastest axis: for stride 1 each
    (c, i, j, r) row piece is one contiguous run of wo*m numbers, so the copy moves long runs, and
    the matrix has exactly ho*wo*m columns.
    """
    c, kh, kw = gm.wshape[1:]
    xt = _chwn(x, s, e, gm.ph, gm.pw, dtype, "xt")
    st = xt.strides
    shape = (c, kh, kw, gm.ho, gm.wo, e - s)
    view = _strided(xt, shape, (st[0], st[1], st[2], gm.sh * st[1], gm.sw * st[2], st[3]))
    cols = _buffer(view.shape, dtype, "cols")
    np.copyto(cols, view)
    return cols.reshape(gm.ckk, gm.ho * gm.wo * (e - s))


def _g_rows(g: np.ndarray, s: int, e: int, dtype: Any) -> np.ndarray:
    """g[s:e] (m, O, ho, wo) as the (O, ho*wo*m) matrix matching the columns' order."""
    return _chwn(g, s, e, 0, 0, dtype, "gt").reshape(g.shape[1], g.shape[2] * g.shape[3] * (e - s))


def _gemm_setup(gm: _ConvGeom, bounds: list[int]) -> None:
    """OpenBLAS threads for one chunk's product (a no-op inside a parallel region; parallel_for
    sets one BLAS thread itself when it runs the chunks on several threads)."""
    gemm_threads(gm.wshape[0] * gm.ckk * bounds[1] * gm.ho * gm.wo)


def _conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, gm: _ConvGeom) -> np.ndarray:
    """y = W (O, C*kh*kw) @ cols, per chunk of the batch, written back as NCHW (plus the bias)."""
    n = x.shape[0]
    o = w.shape[0]
    dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
    w2 = w.reshape(o, gm.ckk).astype(dtype, copy=False)
    y = np.empty((n, o, gm.ho, gm.wo), dtype)
    bias = None if b is None else b.astype(dtype, copy=False).reshape(1, o, 1, 1)
    bounds = _chunks(gm, y.itemsize)
    _gemm_setup(gm, bounds)

    def work(k: int) -> None:
        s, e = bounds[k], bounds[k + 1]
        yt = _buffer((o, gm.ho, gm.wo, e - s), dtype, "yt")
        np.matmul(w2, _cols(x, s, e, gm, dtype), out=yt.reshape(o, gm.ho * gm.wo * (e - s)))
        if bias is None:
            np.copyto(y[s:e], yt.transpose(3, 0, 1, 2))
        else:
            np.add(yt.transpose(3, 0, 1, 2), bias, out=y[s:e])

    parallel_for(len(bounds) - 1, work)
    return y


def _conv_backward_input(g: np.ndarray, w: np.ndarray, gm: _ConvGeom) -> np.ndarray:
    """x-gradient of y = conv(x, w) given g = dL/dy: a transposed convolution, col2im(W^T g).

    col2im in two passes: the column gradients are copied into a zeroed "skewed" buffer z where
    row (c, i, j) is shifted by kernel offset (i, j) in the (Hp, Wp, m) layout, then one
    reduction over the kh*kw rows gives the padded x-gradient (no read-modify-write loop).
    """
    n, c, h, wd = gm.xshape
    o, _, kh, kw = w.shape
    ho, wo, sh, sw, ph, pw = gm.ho, gm.wo, gm.sh, gm.sw, gm.ph, gm.pw
    hp, wp = h + 2 * ph, wd + 2 * pw
    dtype = np.result_type(g, w)
    w2t = w.reshape(o, gm.ckk).T.astype(dtype, copy=False)
    gx = np.empty((n, c, h, wd), dtype)
    bounds = _chunks(gm, gx.itemsize)
    _gemm_setup(gm, bounds)

    def work(k: int) -> None:
        s, e = bounds[k], bounds[k + 1]
        m = e - s
        gc = _buffer((c, kh, kw, ho, wo, m), dtype, "gcols")
        np.matmul(w2t, _g_rows(g, s, e, dtype), out=gc.reshape(gm.ckk, ho * wo * m))
        # z (c, kh*kw, hp*wp*m) is C-contiguous; the skew view of it has gc's shape and these strides
        it = gc.itemsize
        row = hp * wp * m * it
        st = (kh * kw * row, kw * row + wp * m * it, row + m * it, sh * wp * m * it, sw * m * it, it)
        # the positions written are exactly those fixed by the view's shape and strides: the key
        z = _buffer((c, kh * kw, hp * wp * m), dtype, ("skew", gc.shape, st), zero=True)
        np.copyto(_strided(z, gc.shape, st), gc)
        gxt = _buffer((c, hp, wp, m), dtype, "gxt")
        np.add.reduce(z, axis=1, out=gxt.reshape(c, hp * wp * m))
        np.copyto(gx[s:e], gxt[:, ph : ph + h, pw : pw + wd].transpose(3, 0, 1, 2))

    parallel_for(len(bounds) - 1, work)
    return gx


def _conv_backward_weight(x: np.ndarray, g: np.ndarray, gm: _ConvGeom) -> np.ndarray:
    """w-gradient of y = conv(x, w): g (O, positions) @ cols^T, summed over the chunks in order."""
    o = gm.wshape[0]
    dtype = np.result_type(x, g)
    bounds = _chunks(gm, np.dtype(dtype).itemsize)
    _gemm_setup(gm, bounds)
    parts = np.empty((len(bounds) - 1, o, gm.ckk), dtype)

    def work(k: int) -> None:
        s, e = bounds[k], bounds[k + 1]
        np.matmul(_g_rows(g, s, e, dtype), _cols(x, s, e, gm, dtype).T, out=parts[k])

    parallel_for(len(bounds) - 1, work)
    # summed in chunk order whatever the thread count, so the split over threads does not change the sum
    gw = np.empty(gm.wshape, dtype)  # an array of its own (not a reshaped view), so a leaf can adopt it
    np.add.reduce(parts, axis=0, out=gw.reshape(o, gm.ckk))
    return gw


def _conv_grads(x: np.ndarray, w: np.ndarray, g: np.ndarray, gm: _ConvGeom, bias: bool) -> list:
    """[x-gradient, w-gradient, bias gradient or None] of conv(x, w) + b, computed side by side.

    They are independent, so one thread computes the x-gradient and another the w-gradient and
    then the bias gradient (the lighter side), each with its chunks in order (the same arithmetic
    as the ops above, so the same numbers): one parallel region instead of two (each costs thread
    wake-ups), and each thread keeps its own data in cache.  Used with exactly two intra-op
    threads only: it runs on two threads whatever the count.
    """
    grads: list = [None, None, None]

    def work(k: int) -> None:
        if k == 0:
            grads[0] = _conv_backward_input(g, w, gm)  # nested in parallel_for: its chunks run serially
        else:
            grads[1] = _conv_backward_weight(x, g, gm)
            if bias:
                grads[2] = g.sum(axis=(0, 2, 3))

    parallel_for(2, work)
    return grads


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
        bias = len(self.inputs) == 3 and need[2]
        if (need[0] and need[1] and not _GradMode.enabled and get_num_threads() == 2
                and len(_chunks(self.gm, np.result_type(x.data, w.data, g.data).itemsize)) > 2):
            # no graph recorded (no create_graph), two threads, a batch of several chunks: the same ops'
            # arithmetic, side by side (with more threads, the per-chunk ops below use all of them; side by
            # side would use 2; a one-chunk batch is done faster by one thread than handed to two)
            gx, gw, gb = (None if a is None else const(a) for a in _conv_grads(x.data, w.data, g.data, self.gm, bias))
        else:
            gx = Conv2dBackwardInput.apply(g, w, gm=self.gm) if need[0] else None
            gw = Conv2dBackwardWeight.apply(x, g, gm=self.gm) if need[1] else None
            gb = g.sum(axis=(0, 2, 3)) if bias else None
        return (gx, gw) if len(self.inputs) == 2 else (gx, gw, gb)


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
    if 0 in weight.shape[2:]:
        raise ValueError(
            f"conv2d: kernel size {tuple(weight.shape[2:])} must be at least 1 x 1 (weight shape {weight.shape})"
        )
    if weight.shape[2] > hp or weight.shape[3] > wp:
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
    """2x2 stride-2 max-pool of a contiguous x by shifted whole-array passes.

    numpy is slow on the short rows of window views, so the two passes that touch every input
    run over the flat array against itself shifted by one image row (each entry against the
    one below it: ``rm`` their max, ``ih`` whether the lower one is strictly bigger; half the
    results are never used, but the loops are long and contiguous); the values for each window's
    two columns are then gathered at its top-left position q and q + 1 within its image (an odd
    last row or column belongs to no window and is never gathered).  The gathers index each image
    (a row of ``rm`` viewed as (images, h*w)) with the same ho*wo positions, so their index array
    is tiny and stays in cache.  The window index (0..3, row-major) is the first maximum in
    row-major order, assembled with uint8 bit operations: the bottom entry wins its column only if
    strictly bigger; the right column wins if its maximum is strictly bigger, or equal with its
    winner in the top row and the left one's in the bottom row.  Parts of the batch run on the
    intra-op threads (ufuncs release the GIL).
    """
    n, c, h, w = x.shape
    ho, wo = gm.ho, gm.wo
    hw = h * w
    xf = x.reshape(-1)
    y = np.empty((n, c, ho, wo), x.dtype)
    idx = np.empty((n, c, ho, wo), np.uint8)
    y2, idx2 = y.reshape(n * c, ho * wo), idx.reshape(n * c, ho * wo)
    q = _corners(gm)
    q1 = q + 1
    bounds = _batch_parts(n, y.size)

    def work(k: int) -> None:
        s, e = bounds[k] * c, bounds[k + 1] * c  # the images of this part
        xs = xf[s * hw : e * hw]
        size = xs.size
        # the last image row has no row below it: those entries of rm and ih are left unset and never read
        rm = np.empty(size, x.dtype)
        np.maximum(xs[:-w], xs[w:], out=rm[: size - w])
        ihb = np.empty(size, np.bool_)
        np.greater(xs[w:], xs[:-w], out=ihb[: size - w])
        rm2, ih2 = rm.reshape(e - s, hw), ihb.view(np.uint8).reshape(e - s, hw)
        ml, mr = rm2.take(q, axis=1, mode="clip"), rm2.take(q1, axis=1, mode="clip")  # "clip": never out of range
        ihl, ihr = ih2.take(q, axis=1, mode="clip"), ih2.take(q1, axis=1, mode="clip")
        np.maximum(ml, mr, out=y2[s:e])
        iw = np.greater(mr, ml).view(np.uint8)
        tie = np.equal(mr, ml).view(np.uint8)
        tie &= np.greater(ihl, ihr).view(np.uint8)  # equal maxima: right only if its winner is higher
        iw |= tie
        out = idx2[s:e]
        np.bitwise_xor(ihl, ihr, out=out)
        out &= iw
        out ^= ihl  # the winning column's row bit
        out <<= 1
        out |= iw

    parallel_for(len(bounds) - 1, work)
    return y, idx


def _corners(gm: _PoolGeom) -> np.ndarray:
    """2x2 path: position of each window's top-left entry within its (h, w) image, (ho*wo,)."""
    w = gm.xshape[3]
    return (np.arange(gm.ho, dtype=np.intp).reshape(-1, 1) * (2 * w) + 2 * np.arange(gm.wo, dtype=np.intp)).reshape(-1)


def _flat_pos_base(gm: _PoolGeom) -> np.ndarray:
    """2x2 path: flat position of each window's top-left entry in the input, (N, C, ho, wo);
    cached per input shape (read-only: it is shared)."""
    n, c, h, w = gm.xshape
    key = ("pos2x2", gm.xshape)
    base = _buffers.get(key)
    if base is None:
        base = np.arange(n * c, dtype=np.intp).reshape(n * c, 1) * (h * w) + _corners(gm)
        base = base.reshape(n, c, gm.ho, gm.wo)
        base.flags.writeable = False
        _buffers[key] = base
    return base


def _flat_pos(idx: np.ndarray, gm: _PoolGeom, part: tuple[int, int] | None = None) -> np.ndarray:
    """2x2 path: flat position in the input of each window's winner (of samples s:e only, for
    ``part=(s, e)``; idx is the whole batch's window index either way)."""
    base = _flat_pos_base(gm)
    if part is not None:
        s, e = part
        base, idx = base[s:e], idx[s:e]
    w = gm.xshape[3]
    return base + np.array([0, 1, w, w + 1], np.intp).take(idx, mode="clip")


def _scatter2x2(g: np.ndarray, idx: np.ndarray, gm: _PoolGeom) -> np.ndarray:
    gx = np.zeros(gm.xshape, g.dtype)
    flat = gx.reshape(-1)
    bounds = _batch_parts(gm.xshape[0], g.size)

    def work(k: int) -> None:
        s, e = bounds[k], bounds[k + 1]
        flat[_flat_pos(idx, gm, (s, e))] = g[s:e]

    parallel_for(len(bounds) - 1, work)
    return gx


def _real_winners(y: np.ndarray, idx: np.ndarray, gm: _PoolGeom) -> None:
    """General path with padding: a window whose real entries are all -inf ties with its -inf padding and
    keeps window index 0, a padding cell when the window starts in the top or left padding; PyTorch gives
    it the window's first real entry (row-major).  Only windows of the first ceil(ph/sh) rows or
    ceil(pw/sw) columns start in the padding, so only those are looked at."""
    if y.dtype.kind != "f":
        return
    rt, ct = -(-gm.ph // gm.sh), -(-gm.pw // gm.sw)
    i0 = np.maximum(gm.ph - gm.sh * np.arange(gm.ho), 0)  # first real row of each window row, in the window
    j0 = np.maximum(gm.pw - gm.sw * np.arange(gm.wo), 0)
    first = i0.reshape(-1, 1) * gm.kw + j0  # (ho, wo): window index of each window's first real entry
    for rows, cols in ((slice(0, rt), slice(None)), (slice(None), slice(0, ct))):
        ys = y[:, :, rows, cols]
        np.copyto(idx[:, :, rows, cols], first[rows, cols], where=ys == -np.inf, casting="unsafe")


class MaxPool2d(Function):
    """y = max over each window; dL/dx = g at each window's winner, 0 elsewhere (rules: max_pool2d)."""

    def forward(self, x):
        gm = self.gm
        if _is_2x2(gm):
            y, self.idx = _max2x2(np.ascontiguousarray(x), gm)
            return y
        xp = _pad(x, gm.ph, gm.pw, -np.inf)
        views = _windows(xp, gm.kh, gm.kw, gm.sh, gm.sw, gm.ho, gm.wo)
        _, first = next(views)
        y = first.copy()
        idx = np.zeros(y.shape, np.uint8 if gm.kh * gm.kw <= 256 else np.int32)
        # a NaN never wins a strict comparison (and one in y is never displaced), so the loop below is exact
        # only for NaN-free input: one reduction over x (np.maximum propagates NaN) decides
        nan = x.dtype.kind == "f" and x.size > 0 and np.isnan(np.maximum.reduce(x, axis=None))
        for k, view in views:
            better = np.greater(view, y)  # strict: ties keep the earlier (row-major) position
            if nan:
                better |= np.isnan(view)  # PyTorch's `val > max || isnan(val)`: the last NaN wins
            np.copyto(y, view, where=better)
            np.copyto(idx, k, where=better, casting="unsafe")
        if gm.ph or gm.pw:
            _real_winners(y, idx, gm)
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
            return np.ascontiguousarray(v).reshape(-1).take(_flat_pos(self.idx, gm), mode="clip")
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
    window's gradient to its top-left entry); a padding cell never wins (a window whose real
    entries are all -inf sends its gradient to the first of them).

    NaN: a window holding a NaN gives NaN, as in PyTorch.  Its gradient goes to that NaN (the last
    one in row-major order if there are several), as in PyTorch, and the gradient of the gradient
    reads the same positions -- except on the 2x2, stride-2, unpadded path (kernel_size=2 with the
    default stride), which does not look for NaNs, since the check would cost a few percent of the
    pool's time on NaN-free input: there a NaN window's gradient goes to one of its left-column
    entries (the top-left one if that column holds a NaN, else the column's larger entry, the top
    one on a tie), so not necessarily to a NaN.
    """
    x, gm = _pool_args("max_pool2d", x, kernel_size, stride, padding)
    return MaxPool2d.apply(x, gm=gm)


def avg_pool2d(x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Mean over kH x kW windows of NCHW ``x`` (PyTorch's ``avg_pool2d`` with count_include_pad=True).

    ``stride`` defaults to ``kernel_size``; zero ``padding`` counts in the mean (at most half the kernel).
    """
    x, gm = _pool_args("avg_pool2d", x, kernel_size, stride, padding)
    return AvgPool2d.apply(x, gm=gm)
