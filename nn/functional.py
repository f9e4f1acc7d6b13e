"""Functional interface (``import nn.functional as F``), with PyTorch's names and arguments.

Activations, convolution, pooling, dropout and ``linear`` are autograd's
operations (arguments named ``dim`` as in PyTorch); this module adds ``step``,
``batch_norm``, ``flatten``, ``one_hot``, ``pad`` (PyTorch's flat ``pad`` tuple) and
the losses. Every loss takes ``reduction='mean'|'sum'|'none'``.

:func:`cross_entropy` and :func:`nll_loss` are composed from autograd's
``log_softmax`` (one stable node) and one weighted gather of the target entries
(:class:`PickNLL`: a -inf or NaN log-probability of another class, or of an
ignored row, stays out of the loss, as in PyTorch). The binary losses
(:func:`binary_cross_entropy`, :func:`binary_cross_entropy_with_logits`) are
fused :class:`~autograd.Function` subclasses: one stable numpy forward, and a
backward written in Tensor ops for every input (so ``create_graph=True`` still
gives second derivatives).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autograd
from autograd import Function, Tensor, is_grad_enabled, relu, sigmoid, tanh
from autograd import abs as _abs
from autograd import clip as _clip
from autograd import logsumexp as _logsumexp
from autograd import pad as _np_pad
from autograd import where as _where

__all__ = [
    "relu", "sigmoid", "tanh", "step", "softmax", "log_softmax", "logsumexp", "leaky_relu",
    "linear", "conv2d", "max_pool2d", "avg_pool2d", "dropout", "pad", "flatten", "one_hot",
    "batch_norm", "l1_loss", "mse_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
]

_REDUCTIONS = ("mean", "sum", "none")


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _const(a: np.ndarray) -> Tensor:
    return Tensor._wrap(a)


# --- activations ----------------------------------------------------------------------
class Step(Function):
    """Heaviside step 1[x > 0]: its derivative is 0 wherever it exists, so no gradient flows."""

    def forward(self, x):
        return (x > 0).astype(x.dtype)

    def backward(self, out, g):
        return (g * 0.0,)


def step(input: Tensor) -> Tensor:
    """The perceptron's step: 1 where ``input > 0``, else 0 (gradient 0)."""
    return Step.apply(_t(input))


def softmax(input: Tensor, dim: int = -1) -> Tensor:
    return autograd.softmax(input, dim)


def log_softmax(input: Tensor, dim: int = -1) -> Tensor:
    return autograd.log_softmax(input, dim)


def logsumexp(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return _logsumexp(input, dim, keepdim)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    x = _t(input)
    return _where(x.data > 0, x, x * negative_slope)


# --- layers' functions -------------------------------------------------------------------
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` (one fused node for 2-D input)."""
    return autograd.linear(input, weight, bias)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0) -> Tensor:
    """2-D convolution (cross-correlation) of (N, C_in, H, W) with weight (C_out, C_in, kH, kW)."""
    return autograd.conv2d(input, weight, bias, stride=stride, padding=padding)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    return autograd.max_pool2d(input, kernel_size, stride=stride, padding=padding)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    return autograd.avg_pool2d(input, kernel_size, stride=stride, padding=padding)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout (``training=True`` by default, as ``torch.nn.functional.dropout``)."""
    return autograd.dropout(input, p, training)


def pad(input: Tensor, pad: tuple | list, mode: str = "constant", value: float = 0.0) -> Tensor:
    """PyTorch's ``F.pad``: ``pad = (left, right, top, bottom, ...)`` pairs starting from the *last* axis.

    ``F.pad(x, (2, 2, 2, 2))`` pads the last two axes by 2 on each side. Only ``mode='constant'``.
    Negative widths crop, as in PyTorch: ``F.pad(x, (-1, 2))`` drops the first entry of the last axis,
    then appends 2 (the crop is a slice, so its gradient is the input's part of g, 0 for what was cut).
    """
    if mode != "constant":
        raise NotImplementedError(f"pad: only mode='constant' is supported, got {mode!r}")
    x = _t(input)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: expected an even number of at most {2 * x.ndim} sizes, got {pad}")
    width = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        width[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if min(pad, default=0) >= 0:
        return _np_pad(x, width, value)
    crop = []
    for ax, ((lo, hi), n) in enumerate(zip(width, x.shape)):
        cut = max(-lo, 0) + max(-hi, 0)
        if cut > n:
            raise ValueError(
                f"pad: the negative widths {(lo, hi)} crop {cut} entries from axis {ax} of size {n} "
                f"(input of shape {x.shape}, pad {pad}); expected at most {n}"
            )
        crop.append(slice(max(-lo, 0), n - max(-hi, 0)))
    x = x[tuple(crop)]
    width = [(max(lo, 0), max(hi, 0)) for lo, hi in width]
    return _np_pad(x, width, value) if any(lo or hi for lo, hi in width) else x


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim..end_dim`` into one (``torch.flatten``; ``nn.Flatten`` starts at 1)."""
    return _t(input).flatten(start_dim, end_dim)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Integer class indices -> int64 one-hot Tensor with a new last axis of size ``num_classes``."""
    idx = np.asarray(_raw_buf(tensor))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices, got dtype {idx.dtype}")
    if num_classes < 0:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got [{idx.min()}, {idx.max()}]")
    out = np.zeros((*idx.shape, num_classes), np.int64)
    np.put_along_axis(out, idx[..., None].astype(np.intp), 1, axis=-1)
    return Tensor(out, dtype=np.int64)


# --- batch normalisation ---------------------------------------------------------------------
class BatchNormTrain(Function):
    """y = xhat * gamma + beta with xhat = (x - mean) / sqrt(var + eps), batch statistics over ``axes``.

    With m values per channel, dxhat = g gamma:
        dL/dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
        dL/dgamma = sum(g xhat),  dL/dbeta = sum(g)
    """

    def forward(self, x, weight=None, bias=None):
        axes = self.axes
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = np.mean(xc * xc, axis=axes, keepdims=True)
        invstd = 1.0 / np.sqrt(var + self.eps)
        xhat = xc * invstd
        self.mean, self.invstd, self.xhat = mean, invstd, xhat
        self.stats[:] = [mean, var]  # handed to the caller even when no graph keeps this node
        if weight is None:
            return xhat
        shape = mean.shape
        return xhat * weight.reshape(shape) + bias.reshape(shape)

    def backward(self, out, g):
        x = self.inputs[0]
        axes = self.axes
        m = x.data.size // self.mean.size
        if is_grad_enabled():  # create_graph=True: rebuild xhat from x so second derivatives are right
            xc = x - x.mean(axes, keepdims=True)
            invstd = ((xc * xc).mean(axes, keepdims=True) + self.eps) ** -0.5
            xhat = xc * invstd
        else:
            invstd, xhat = _const(self.invstd), _const(self.xhat)
        affine = len(self.inputs) == 3
        shape = self.mean.shape
        gw = gb = None
        if affine:
            w = self.inputs[1].reshape(shape)
            dxhat = g * w
            gxw = (g * xhat).sum(axes, keepdims=True)
            if self.needs_grad[1]:
                gw = gxw.reshape(self.inputs[1].shape)
            if self.needs_grad[2]:
                gb = g.sum(axes).reshape(self.inputs[2].shape)
            s2 = gxw * w
        else:
            dxhat = g
            s2 = (g * xhat).sum(axes, keepdims=True)
        gx = None
        if self.needs_grad[0]:
            s1 = dxhat.sum(axes, keepdims=True)
            gx = invstd * (dxhat - s1 * (1.0 / m) - xhat * (s2 * (1.0 / m)))
        return (gx, gw, gb) if affine else (gx,)


def _bn_axes(x: Tensor) -> tuple[int, ...]:
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, ...), got {x.shape}")
    return (0, *range(2, x.ndim))


def _raw_buf(b: Any) -> np.ndarray | None:
    """A Tensor's array; anything else as it is (None stays None)."""
    if b is None:
        return None
    return b.data if isinstance(b, Tensor) else b


def batch_norm(input: Tensor, running_mean: Any, running_var: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float | None = 0.1,
               eps: float = 1e-5, num_batches_tracked: Any = None) -> Tensor:
    """Batch normalisation over every axis but 1 (channels), as ``torch.nn.functional.batch_norm``.

    ``training=True``: normalise with the batch mean and *biased* variance, and (if given)
    update ``running_mean``/``running_var`` in place with the batch mean and the *unbiased*
    variance: ``running = (1 - momentum) * running + momentum * batch``. ``momentum=None``
    uses a cumulative average (needs ``num_batches_tracked``, already incremented).
    ``training=False``: normalise with the running statistics.
    """
    x = _t(input)
    axes = _bn_axes(x)
    C = x.shape[1]
    shape = (1, C) + (1,) * (x.ndim - 2)
    rm, rv = _raw_buf(running_mean), _raw_buf(running_var)
    if training:
        m = x.data.size // C
        if m <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {x.shape}")
        ins = (x,) if weight is None else (x, weight, bias if bias is not None else _const(np.zeros(C, x.dtype)))
        stats: list = []
        out = BatchNormTrain.apply(*ins, axes=axes, eps=eps, stats=stats)
        mean, var = stats[0].reshape(C), stats[1].reshape(C)
        if rm is not None:
            if momentum is None:
                n = int(_raw_buf(num_batches_tracked))
                factor = 1.0 / max(n, 1)
            else:
                factor = momentum
            rm *= 1.0 - factor
            rm += factor * mean
            rv *= 1.0 - factor
            rv += factor * var * (m / (m - 1))
        return out
    if rm is None or rv is None:
        raise ValueError("batch_norm: training=False needs running_mean and running_var")
    invstd = (1.0 / np.sqrt(rv.astype(x.dtype) + eps)).reshape(shape)
    mean = rm.astype(x.dtype).reshape(shape)
    if weight is None:
        scale = _const(invstd)
        shift = _const(-mean * invstd)
    else:
        scale = weight.reshape(shape) * _const(invstd)
        shift = (bias.reshape(shape) if bias is not None else 0.0) - scale * _const(mean)
    return x * scale + shift


# --- losses ----------------------------------------------------------------------------------
def _check_reduction(reduction: Any, name: str) -> None:
    if not isinstance(reduction, str):  # e.g. PyTorch's positional per-class weight
        raise TypeError(
            f"{name}: reduction must be one of {_REDUCTIONS}, got {type(reduction).__name__}; "
            "per-class weights (for the losses that take them) go in the keyword argument weight=..."
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(loss: Tensor, reduction: str, name: str) -> Tensor:
    _check_reduction(reduction, name)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _same_shape(input: Tensor, target: Tensor, name: str) -> None:
    if input.shape != target.shape:
        raise ValueError(
            f"{name}: input of shape {input.shape} and target of shape {target.shape} differ; "
            "expected equal shapes (reshape one of them, e.g. target.reshape(-1, 1))"
        )


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """|input - target|, averaged (``'mean'``), summed or per element (``'none'``)."""
    input, target = _t(input), _t(target)
    _same_shape(input, target, "l1_loss")
    return _reduce(_abs(input - target), reduction, "l1_loss")


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """(input - target)^2 averaged over all elements (``'mean'``), summed or per element.

    The lecture's L2 loss 1/2 ||o - y||^2 is ``mse_loss(o, y, reduction='sum') / 2``
    (gradient o - y); ``'mean'`` divides by the number of elements n, so its gradient is 2/n (o - y).
    """
    input, target = _t(input), _t(target)
    _same_shape(input, target, "mse_loss")
    d = input - target
    return _reduce(d * d, reduction, "mse_loss")


def _class_rows(input: Tensor, target: np.ndarray, probs: bool, name: str, allow_probs: bool = False,
                ) -> tuple[Tensor, np.ndarray, tuple[int, ...]]:
    """The layouts of :func:`cross_entropy` and :func:`nll_loss` as rows with the class axis last.

    Input (C,), (N, C) or (N, C, d1, ...) -> (M, C), and the target likewise: class indices of shape
    () or (1,), (N,) or (N, d1, ...) -> (M,), or (``probs``) probabilities of the input's shape -> (M, C).
    Also returns the shape of the ``'none'`` loss: (), (N,) or (N, d1, ...). ``allow_probs``: the loss also takes
    probabilities, which the wrong-shape error then mentions.
    """
    x = input
    if x.ndim == 0:
        raise ValueError(f"{name}: expected input of shape (N, C), (C,) or (N, C, d1, ...), got {x.shape}")
    if x.ndim == 1:
        out_shape: tuple[int, ...] = ()
        shapes: tuple[tuple[int, ...], ...] = ((), (1,))
    else:
        out_shape = (x.shape[0], *x.shape[2:])
        shapes = (out_shape,)
    if not probs and target.shape not in shapes:
        need = " or ".join(map(str, shapes)) + " (class indices)"
        if allow_probs:
            need += f" or {x.shape} (class probabilities)"
        raise ValueError(f"{name}: input of shape {x.shape} needs a target of shape {need}, got {target.shape}")
    C = x.shape[0] if x.ndim == 1 else x.shape[1]
    if x.ndim > 2:  # (N, C, d1, ...) -> (N * d1 * ..., C)
        perm = (0, *range(2, x.ndim), 1)
        x = x.permute(perm).reshape(-1, C)
        target = target.transpose(perm) if probs else target
    elif x.ndim == 1:
        x = x.reshape(1, C)
    return x, target.reshape(-1, C) if probs else target.reshape(-1), out_shape


def _class_targets(t: np.ndarray, C: int, ignore_index: int, name: str) -> np.ndarray:
    """Check integer classes ``t`` (N,) against ``C`` classes; return the rows that count
    (a boolean (N,), False where the target is ``ignore_index``)."""
    if t.dtype.kind not in "iu":
        if t.dtype.kind == "f" and np.all(t == np.round(t)):
            raise TypeError(
                f"{name}: target must hold integer class indices (dtype int64), got dtype {t.dtype}; "
                "convert with target.astype(np.int64)"
            )
        raise TypeError(f"{name}: target must hold integer class indices, got dtype {t.dtype}")
    valid = t != ignore_index
    tv = t[valid]
    if tv.size and (tv.min() < 0 or tv.max() >= C):
        bad = tv[(tv < 0) | (tv >= C)][0]
        raise IndexError(f"{name}: target {bad} is out of range for {C} classes (expected 0..{C - 1})")
    return valid


class PickNLL(Function):
    """A linear map of x (N, C) reading only the rows ``rows`` (r_k, distinct) and, without ``dense``,
    only the entries (r_k, t_k): v_k = c_k x[r_k, t_k] + sum_c d_c x[r_k, c] (the sum only with ``dense`` = d).

    y = sum_k v_k (``n`` None), or the vector y of size ``n`` with y[r_k] = v_k and 0 in the other rows.
    An entry that is not read (a -inf or NaN in another class or row) stays out of y, where a product
    with a one-hot or row mask would give 0 * -inf = NaN. dy/dx is the transpose, :class:`PutNLL`.
    (Composed of getitem, where and sum instead, cross_entropy took 1.2-1.65x as long at 256 x 10.)
    """

    def forward(self, x):
        v = x[self.rows, self.cols] * self.coef
        if self.dense is not None:
            v += (x if self.rows.size == x.shape[0] else x[self.rows]) @ self.dense
        if self.n is None:
            return np.asarray(v.sum(), x.dtype)
        if self.rows.size == self.n:  # every row, in order
            return v
        out = np.zeros(self.n, x.dtype)
        out[self.rows] = v
        return out

    def backward(self, out, g):
        return (PutNLL.apply(g, rows=self.rows, cols=self.cols, coef=self.coef, dense=self.dense, n=self.n,
                             shape=self.inputs[0].shape),)


class PutNLL(Function):
    """The transpose of :class:`PickNLL`: z = zeros(shape) with z[r_k, t_k] = c_k g_k, plus d g_k in row r_k
    (with ``dense`` = d), where g_k = g (``n`` None: g a scalar) or g[r_k]; dz/dg is that pick again."""

    def forward(self, g):
        gk = g if self.n is None else g[self.rows]
        z = np.zeros(self.shape, g.dtype)
        if self.dense is not None:
            z[self.rows] = np.multiply.outer(gk, self.dense) if gk.ndim else gk * self.dense
        z[self.rows, self.cols] += self.coef * gk
        return z

    def backward(self, out, v):
        return (PickNLL.apply(v, rows=self.rows, cols=self.cols, coef=self.coef, dense=self.dense, n=self.n),)


def _class_nll(logp: Tensor, t: np.ndarray, valid: np.ndarray, w: np.ndarray | None, reduction: str,
               out_shape: tuple[int, ...], eps: float = 0.0) -> Tensor:
    """loss_i = -(1 - eps) w[t_i] logp[i, t_i] - eps / C sum_c w_c logp[i, c] for log-probabilities ``logp``
    (N, C) in the rows that count (``valid``), 0 in the others; ``w`` None = all ones, ``eps`` the label smoothing.

    One :class:`PickNLL` node reads the target entries (a gather) and, with smoothing, the rows that
    count: a -inf or NaN log-probability elsewhere (a masked class, an ignored row) stays out of the loss,
    as in PyTorch, where a product with a one-hot matrix would give 0 * -inf = NaN; smoothing reads every
    class of the counted rows (a -inf there makes the loss inf, as in PyTorch).
    d loss / d logp[i, t_i] = -(1 - eps) w[t_i], plus -eps w_c / C in every class c with smoothing
    (divided by ``'mean'``'s total).

    ``'mean'`` divides the sum by the total of ``w[t_i]`` over the rows that count (their number without
    ``w``). With no row that counts (an empty batch, every target ignored) the loss is 0/0 = NaN and every
    gradient 0 (as in PyTorch); with counted rows whose class weights sum to 0 the NaN reaches the
    gradients of the target entries too (as in PyTorch). ``'none'`` gives the losses in ``out_shape``.
    """
    N, C = logp.shape
    rows = np.flatnonzero(valid)
    cols = t[rows]
    scale, undefined = 1.0, False
    if reduction == "mean":
        total = rows.size if w is None else float(w[cols].sum())
        if total:
            scale = 1.0 / total
        elif rows.size:
            scale = float("nan")
        else:
            undefined = True
    a = -(1.0 - eps) * scale
    coef = np.full(rows.size, a, logp.dtype) if w is None else (w[cols] * a).astype(logp.dtype, copy=False)
    dense = None
    if eps:
        b = -eps / C * scale
        dense = np.full(C, b, logp.dtype) if w is None else (w * b).astype(logp.dtype, copy=False)
    loss = PickNLL.apply(logp, rows=rows, cols=cols, coef=coef, dense=dense, n=N if reduction == "none" else None)
    if undefined:
        loss = loss + float("nan")
    if reduction == "none" and loss.shape != out_shape:
        loss = loss.reshape(out_shape)
    return loss


def _prob_nll(logp: Tensor, q: np.ndarray, w: np.ndarray | None, reduction: str, out_shape: tuple[int, ...],
              ) -> Tensor:
    """loss_i = -sum_c w_c q_ic logp_ic for probability targets ``q`` (N, C) (every class counts: a -inf
    log-probability gives NaN where q_ic = 0, as in PyTorch); ``'mean'`` divides by N."""
    if w is not None:
        q = q * w
    if reduction == "mean" and q.shape[0]:
        q = q / q.shape[0]
    c = _const((-q).astype(logp.dtype, copy=False))
    if reduction == "none":
        loss = (logp * c).sum(axis=1)
        return loss if loss.shape == out_shape else loss.reshape(out_shape)
    loss = (logp * c).sum()
    return loss + float("nan") if reduction == "mean" and not q.shape[0] else loss


def _weight_vector(weight: Any, C: int | None, dtype: Any, name: str) -> np.ndarray | None:
    """``weight`` as a constant float array of shape (C,) in ``dtype`` (None stays None); no gradient flows to it.

    ``C=None`` checks only that it is 1-D and real (the loss modules, before the class count is known).
    """
    if weight is None:
        return None
    w = np.asarray(_raw_buf(weight))
    if w.ndim != 1 or (C is not None and w.shape != (C,)):
        expected = "" if C is None else f"expected shape ({C},) for {C} classes, "
        raise ValueError(
            f"{name}: weight must be a 1-D array with one entry per class, {expected}got shape {w.shape}"
        )
    if w.dtype.kind not in "biuf":
        raise TypeError(f"{name}: weight must hold real numbers, got dtype {w.dtype}")
    return w if dtype is None else w.astype(dtype)


def cross_entropy(input: Tensor, target: Any, reduction: str = "mean", label_smoothing: float = 0.0,
                  ignore_index: int = -100, *, weight: Any = None) -> Tensor:
    """Softmax cross-entropy of logits ``input`` (N, C) against integer classes ``target`` (N,).

    ``-sum_c q_c log_softmax(input)_c`` per row, with ``q`` the one-hot target; the
    :func:`autograd.log_softmax` node keeps it exact for logits of any size, and its
    gradient is ``softmax(input) - q`` (times the reduction's weight). Class targets read
    only ``log_softmax(input)[i, y_i]`` (a gather), so a -inf logit in another class or a
    -inf/NaN row that is ignored leaves the loss finite, as in PyTorch.
    ``target`` may also be class probabilities of the same shape as ``input``.
    ``label_smoothing`` = eps mixes the target with the uniform distribution:
    ``q = (1 - eps) q + eps / C``. Rows whose target is ``ignore_index`` count for nothing
    (``'mean'`` divides by the number of other rows). Input (C,) with a scalar target (or
    probabilities (C,)), and (N, C, d1, ...) with target (N, d1, ...), work as in PyTorch.

    ``weight`` (keyword only; a constant of shape (C,), no gradient) weighs the classes as
    PyTorch does: row i's loss is ``-sum_c w_c q_ic logp_ic``, i.e.
    ``-w[y_i] logp[i, y_i]`` without smoothing, and with smoothing
    ``(1 - eps) (-w[y_i] logp[i, y_i]) + eps / C sum_c (-w_c logp[i, c])``.
    For class targets ``'mean'`` divides the sum by ``sum_i w[y_i]`` over the rows that
    are not ignored (not by their number); for probability targets ``'mean'`` divides by N.
    """
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    z = _t(input)
    tgt = np.asarray(_raw_buf(target))
    probs = tgt.shape == z.shape and tgt.dtype.kind == "f"
    z, tgt, out_shape = _class_rows(z, tgt, probs, "cross_entropy", allow_probs=True)
    C = z.shape[1]
    w = _weight_vector(weight, C, z.dtype, "cross_entropy")
    if probs:
        q = tgt.astype(z.dtype)
        if label_smoothing:
            q = q * (1.0 - label_smoothing) + label_smoothing / C
        return _prob_nll(autograd.log_softmax(z, 1), q, w, reduction, out_shape)
    valid = _class_targets(tgt, C, ignore_index, "cross_entropy")
    return _class_nll(autograd.log_softmax(z, 1), tgt, valid, w, reduction, out_shape, label_smoothing)


def nll_loss(input: Tensor, target: Any, reduction: str = "mean", ignore_index: int = -100, *,
             weight: Any = None) -> Tensor:
    """-input[i, target_i] for log-probabilities ``input`` (N, C) (or (C,) with a scalar target,
    or (N, C, d1, ...) with target (N, d1, ...), as PyTorch).

    ``'mean'`` averages over the rows whose target is not ``ignore_index``.
    ``weight`` (keyword only; a constant of shape (C,), no gradient) makes row i's loss
    ``-w[y_i] input[i, y_i]``, and ``'mean'`` then divides by ``sum_i w[y_i]`` over those
    rows (PyTorch's weighted mean), not by their number.
    """
    _check_reduction(reduction, "nll_loss")
    x, t, out_shape = _class_rows(_t(input), np.asarray(_raw_buf(target)), False, "nll_loss")
    C = x.shape[1]
    w = _weight_vector(weight, C, x.dtype, "nll_loss")
    valid = _class_targets(t, C, ignore_index, "nll_loss")
    return _class_nll(x, t, valid, w, reduction, out_shape)


def _clamped_log_np(p: np.ndarray, one_minus: bool) -> np.ndarray:
    """max(log p, -100) (``one_minus``: max(log(1 - p), -100), as log1p(-p)): BCE's logs, as PyTorch clamps them."""
    with np.errstate(divide="ignore"):
        return np.maximum(np.log1p(-p) if one_minus else np.log(p), -100.0)


class ClampedLog(Function):
    """y = max(log p, -100) (``one_minus``: max(log(1 - p), -100)); the logs of :class:`BinaryCrossEntropy`.

    dy/dp = 1/p (``one_minus``: -1/(1 - p)) where the log is above -100, 0 where it is clamped
    (written in Tensor ops, so it is differentiable again).
    """

    def forward(self, p):
        out = _clamped_log_np(p, self.one_minus)
        self.keep = out > -100.0
        return out

    def backward(self, out, g):
        p = self.inputs[0]
        q = 1.0 - p if self.one_minus else p
        d = g / _where(self.keep, q, 1.0)  # 1 where clamped: no 1/0 there, even in higher derivatives
        return (_where(self.keep, -d if self.one_minus else d, 0.0),)


class BinaryCrossEntropy(Function):
    """loss = -(y log p + (1 - y) log(1 - p)), logs clamped at -100 (as PyTorch).

    dL/dp = g (p - y) / max(p (1 - p), 1e-12);  dL/dy = g (log(1 - p) - log p) (clamped logs, as
    :class:`ClampedLog` ops on p, so d/dp of dL/dy is kept with ``create_graph=True``).
    """

    def forward(self, p, y):
        return -(y * _clamped_log_np(p, False) + (1.0 - y) * _clamped_log_np(p, True))

    def backward(self, out, g):
        p, y = self.inputs
        gp = gy = None
        if self.needs_grad[0]:
            gp = g * (p - y) / _clip(p * (1.0 - p), 1e-12, None)
        if self.needs_grad[1]:
            gy = g * (ClampedLog.apply(p, one_minus=True) - ClampedLog.apply(p, one_minus=False))
        return gp, gy


def binary_cross_entropy(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Cross-entropy of probabilities ``input`` in [0, 1] and targets in [0, 1] (logs clamped at -100)."""
    p = _t(input)
    y = target if isinstance(target, Tensor) else Tensor(np.asarray(target, dtype=p.dtype))
    _same_shape(p, y, "binary_cross_entropy")
    if p.data.size and (p.data.min() < 0 or p.data.max() > 1):
        raise ValueError("binary_cross_entropy: input must be probabilities in [0, 1] (use ..._with_logits)")
    return _reduce(BinaryCrossEntropy.apply(p, y), reduction, "binary_cross_entropy")


def _softplus_np(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


class Softplus(Function):
    """y = log(1 + e^x) = max(x, 0) + log(1 + e^-|x|) (stable); dy/dx = sigmoid(x)."""

    def forward(self, x):
        return _softplus_np(x)

    def backward(self, out, g):
        return (g * sigmoid(self.inputs[0]),)


class BCEWithLogits(Function):
    """loss = pw y softplus(-x) + (1 - y) softplus(x)  (= BCE(sigmoid(x), y), stable; pw = pos_weight).

    dL/dx = g ((pw y + 1 - y) sigmoid(x) - pw y);  dL/dy = g (pw softplus(-x) - softplus(x));
    dL/dpw = g y softplus(-x): all Tensor ops on x, y and pw (:class:`Softplus`), so differentiable again.
    """

    def forward(self, x, y, pw):
        return pw * y * _softplus_np(-x) + (1.0 - y) * _softplus_np(x)

    def backward(self, out, g):
        x, y, pw = self.inputs
        gx = gy = gpw = None
        if self.needs_grad[0]:
            gx = g * ((pw * y + 1.0 - y) * sigmoid(x) - pw * y)
        if self.needs_grad[1] or self.needs_grad[2]:
            spn = Softplus.apply(-x)
            if self.needs_grad[1]:
                gy = g * (pw * spn - Softplus.apply(x))
            if self.needs_grad[2]:
                gpw = g * y * spn
        return gx, gy, gpw


def binary_cross_entropy_with_logits(input: Tensor, target: Any, reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """``binary_cross_entropy(sigmoid(input), target)`` computed stably from logits (any size).

    ``pos_weight`` (broadcast over the last axis) weighs the positive term, as in PyTorch.
    """
    x = _t(input)
    y = target if isinstance(target, Tensor) else Tensor(np.asarray(target, dtype=x.dtype))
    _same_shape(x, y, "binary_cross_entropy_with_logits")
    pw = _const(np.ones((), x.dtype)) if pos_weight is None else _t(pos_weight)
    try:
        fits = np.broadcast_shapes(pw.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"binary_cross_entropy_with_logits: pos_weight of shape {pw.shape} does not broadcast to the "
            f"input's shape {x.shape}; expected a shape that broadcasts to {x.shape}"
            + (f", e.g. ({x.shape[-1]},): one weight per class of the last axis" if x.ndim else "")
        )
    return _reduce(BCEWithLogits.apply(x, y, pw), reduction, "binary_cross_entropy_with_logits")

