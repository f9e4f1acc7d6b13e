"""The training loop, written once: ``fit``, ``evaluate``, ``predict``, ``confusion_matrix``, ``overfit_check``.

One epoch of :func:`fit` is the loop every deep-learning course writes by hand::

    for x, y in train_loader:
        out = model(x)                  # forward
        loss = loss_fn(out, y)
        optimizer.zero_grad()           # forget the previous batch's gradients
        loss.backward()                 # backward: fill p.grad for every parameter
        optimizer.step()                # update: p.data -= lr * ... (the optimizer's rule)

plus bookkeeping (mean loss and accuracy weighted by batch size, time, learning rate), an optional
validation pass (:func:`evaluate`, in eval mode without building a graph), an optional learning-rate
``scheduler.step()`` per epoch and a progress display (tqdm when installed, else a printed line every
few batches).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .module import eval_mode

__all__ = ["fit", "evaluate", "predict", "confusion_matrix", "overfit_check", "accuracy"]


# ------------------------------------------------------------------------------------------------ small helpers
def _array(x: Any) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    data = getattr(x, "data", None)
    if isinstance(data, np.ndarray | np.generic):
        return np.asarray(data)
    return np.asarray(x)


def _as_tensor(x: Any) -> Any:
    from autograd import Tensor

    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind == "f" and arr.dtype != np.float32 and arr.dtype != np.float64:
        arr = arr.astype(np.float32)
    return Tensor._wrap(arr) if arr.dtype.kind == "f" else Tensor(arr)


def _n_correct(out: np.ndarray, y: np.ndarray) -> int | None:
    """Number of rows whose argmax equals the integer label, or None if this is not classification."""
    if out.ndim != 2 or y.ndim != 1 or y.dtype.kind not in "iu" or out.shape[0] != y.shape[0]:
        return None
    return int(np.count_nonzero(out.argmax(axis=1) == y))


def accuracy(output: Any, target: Any) -> float:
    """Fraction of rows of ``output`` (N x classes scores) whose argmax equals ``target`` (N integer labels)."""
    out, y = _array(output), _array(target)
    c = _n_correct(out, y)
    if c is None:
        raise ValueError(f"accuracy: expected N x C scores and N integer labels, got {out.shape} and {y.shape}")
    return c / max(1, len(y))


def _split_batch(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, tuple | list) and len(batch) >= 2:
        return batch[0], batch[1]
    raise ValueError("each batch must be a pair (inputs, targets)")


def _lr(optimizer: Any) -> float | None:
    groups = getattr(optimizer, "param_groups", None)
    return groups[0].get("lr") if groups else None


def _use_tqdm(progress: Any) -> Any:
    """tqdm's class if progress bars should be shown with tqdm (installed, and a terminal or notebook)."""
    if progress is False or progress is None or progress in ("plain", "epoch"):
        return None
    try:
        if "ipykernel" in sys.modules:
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm
    except ImportError:
        return None
    if progress == "tqdm" or "ipykernel" in sys.modules or sys.stderr.isatty():
        return tqdm
    return None


def _fmt(v: float | None, spec: str = ".4f") -> str:
    return "-" if v is None else format(v, spec)


class _Plain:
    """The fallback progress display: a line every ``every`` batches and at the end of the epoch."""

    def __init__(self, total: int, desc: str, every: int | None, stream: Any) -> None:
        self.total, self.desc, self.stream = total, desc, stream
        self.every = every or max(1, total // 5)
        self.t0 = time.perf_counter()

    def update(self, i: int, loss: float, acc: float | None) -> None:
        if i % self.every == 0 or i == self.total:
            rate = i / max(time.perf_counter() - self.t0, 1e-9)
            acc_s = "" if acc is None else f" acc {acc:.4f}"
            print(f"{self.desc} [{i}/{self.total}] loss {loss:.4f}{acc_s} ({rate:.1f} batch/s)",
                  file=self.stream, flush=True)


# ------------------------------------------------------------------------------------------------ fit
def fit(model: Any, train_loader: Iterable[Any], loss_fn: Callable[[Any, Any], Any], optimizer: Any,
        epochs: int = 1, val_loader: Iterable[Any] | None = None, scheduler: Any = None,
        progress: bool | str = True, callbacks: Sequence[Callable[[dict[str, Any]], Any]] | None = None,
        log_every: int | None = None, clip_grad_norm: float | None = None,
        stream: Any = None, initial_epoch: int = 0) -> list[dict[str, Any]]:
    """Train ``model`` for ``epochs`` passes over ``train_loader``; returns the history, one dict per epoch.

    Each record has ``epoch`` (counted from ``initial_epoch + 1``: pass the epochs already done when
    resuming), ``train_loss`` (mean over samples), ``train_acc`` (None unless the outputs are N x C scores
    and the targets integer labels), ``val_loss``/``val_acc`` (None without ``val_loader``), ``seconds``
    (training + validation time) and ``lr`` (the rate used during the epoch).

    * ``scheduler``: its ``step()`` is called after every epoch.
    * ``progress``: True -> tqdm bars in a terminal/notebook when tqdm is installed, else a printed line
      every ``log_every`` batches (default: 5 lines per epoch) plus one per epoch; ``"plain"`` forces the
      printed lines; ``"epoch"`` prints only the line per epoch; False prints nothing.
    * ``callbacks``: functions called with each epoch's record after it is complete; one returning
      ``True`` stops training early (e.g. early stopping, checkpointing the best model).
    * ``clip_grad_norm``: if set, gradients are clipped to this total norm before each step.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    stream = stream if stream is not None else sys.stdout
    bar_cls = _use_tqdm(progress)
    params = list(model.parameters()) if clip_grad_norm is not None else None
    if clip_grad_norm is not None:
        from .utils import clip_grad_norm_
    history: list[dict[str, Any]] = []
    last = initial_epoch + epochs
    for epoch in range(initial_epoch + 1, last + 1):
        t0 = time.perf_counter()
        lr = _lr(optimizer)
        model.train()
        try:
            n_batches: int | None = len(train_loader)  # type: ignore[arg-type]
        except TypeError:
            n_batches = None
        desc = f"epoch {epoch}/{last}"
        bar = plain = None
        batches: Iterable[Any] = train_loader
        if bar_cls is not None:
            bar = bar_cls(train_loader, total=n_batches, desc=desc, leave=True, dynamic_ncols=True, file=sys.stderr,
                          mininterval=0.5)
            batches = bar
        elif progress and progress != "epoch":
            plain = _Plain(n_batches or 0, desc, log_every, stream)

        loss_sum = 0.0
        n_seen = 0
        correct = 0
        classify = True
        for i, batch in enumerate(batches, 1):
            x, y = _split_batch(batch)
            out = model(x)
            loss = loss_fn(out, y)
            optimizer.zero_grad()
            loss.backward()
            if params is not None:
                clip_grad_norm_(params, clip_grad_norm)
            optimizer.step()

            yd = _array(y)
            n = len(yd)
            loss_sum += float(loss.data) * n
            n_seen += n
            if classify:
                c = _n_correct(out.data, yd)
                if c is None:
                    classify = False
                else:
                    correct += c
            if bar is not None and (i % 20 == 0 or i == n_batches):
                post = {"loss": f"{loss_sum / n_seen:.4f}"}
                if classify:
                    post["acc"] = f"{correct / n_seen:.4f}"
                bar.set_postfix(post, refresh=False)
            elif plain is not None:
                plain.total = plain.total or i
                plain.update(i, loss_sum / n_seen, correct / n_seen if classify else None)
        if bar is not None:
            bar.close()

        record: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": loss_sum / n_seen if n_seen else float("nan"),
            "train_acc": correct / n_seen if (classify and n_seen) else None,
            "val_loss": None,
            "val_acc": None,
            "seconds": 0.0,
            "lr": lr,
        }
        if val_loader is not None:
            val = evaluate(model, val_loader, loss_fn)
            record["val_loss"], record["val_acc"] = val["loss"], val["accuracy"]
        if scheduler is not None:
            scheduler.step()
        record["seconds"] = time.perf_counter() - t0
        history.append(record)
        if progress:
            msg = f"epoch {epoch}/{last}: train loss {_fmt(record['train_loss'])}"
            if record["train_acc"] is not None:
                msg += f" acc {_fmt(record['train_acc'])}"
            if val_loader is not None:
                msg += f" | val loss {_fmt(record['val_loss'])} acc {_fmt(record['val_acc'])}"
            msg += f" | {record['seconds']:.1f}s lr {_fmt(lr, '.3g')}"
            print(msg, file=stream, flush=True)
        stop = False
        for cb in callbacks or ():
            if cb(record) is True:
                stop = True
        if stop:
            break
    return history


# ------------------------------------------------------------------------------------------------ evaluation
def evaluate(model: Any, loader: Iterable[Any], loss_fn: Callable[[Any, Any], Any] | None = None) -> dict[str, Any]:
    """Mean loss (None without ``loss_fn``) and accuracy (None unless classification) over ``loader``.

    Runs in eval mode (Dropout off, BatchNorm running statistics) under ``autograd.no_grad()`` (no graph is
    built); every sub-module's previous train/eval mode is restored afterwards (:func:`nn.module.eval_mode`).
    """
    from autograd import no_grad

    loss_sum, n_seen, correct, classify = 0.0, 0, 0, True
    with eval_mode(model), no_grad():
        for batch in loader:
            x, y = _split_batch(batch)
            out = model(x)
            yd = _array(y)
            n = len(yd)
            if loss_fn is not None:
                loss_sum += float(_array(loss_fn(out, y))) * n
            n_seen += n
            if classify:
                c = _n_correct(_array(out), yd)
                if c is None:
                    classify = False
                else:
                    correct += c
    return {
        "loss": loss_sum / n_seen if (loss_fn is not None and n_seen) else None,
        "accuracy": correct / n_seen if (classify and n_seen) else None,
        "n": n_seen,
    }


def predict(model: Any, x: Any, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for all inputs ``x`` (array or Tensor, samples along axis 0) as one ndarray.

    Batches of ``batch_size``, eval mode, no graph.  For class labels: ``predict(model, x).argmax(1)``.
    """
    from autograd import no_grad

    arr = _array(x)
    outs = []
    with eval_mode(model), no_grad():
        for i in range(0, len(arr), batch_size):
            outs.append(np.array(_array(model(_as_tensor(arr[i:i + batch_size])))))
    if not outs:
        return np.zeros((0,), np.float32)
    return np.concatenate(outs, axis=0)


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int | None = None) -> np.ndarray:
    """``C[i, j]`` = number of samples of true class ``i`` predicted as class ``j`` (int64, n_classes x n_classes).

    ``y_pred`` may be labels (N,) or scores (N x C, argmax taken).  Rows sum to the class counts;
    the diagonal holds the correct predictions.
    """
    yt = np.asarray(_array(y_true)).astype(np.int64).ravel()
    yp = np.asarray(_array(y_pred))
    if yp.ndim == 2:
        yp = yp.argmax(axis=1)
    yp = yp.astype(np.int64).ravel()
    if yt.shape != yp.shape:
        raise ValueError(f"confusion_matrix: {yt.shape[0]} true labels but {yp.shape[0]} predictions")
    if n_classes is None:
        n_classes = int(max(yt.max(initial=-1), yp.max(initial=-1))) + 1
    if yt.size and (min(yt.min(), yp.min()) < 0 or max(yt.max(), yp.max()) >= n_classes):
        raise ValueError(f"confusion_matrix: labels must be in 0..{n_classes - 1}")
    return np.bincount(yt * n_classes + yp, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


# ------------------------------------------------------------------------------------------------ sanity check
def overfit_check(model: Any, dataset: Any, n: int = 50, epochs: int = 200, lr: float = 3e-3,
                  loss_fn: Callable[[Any, Any], Any] | None = None, optimizer: Any = None,
                  target_loss: float = 1e-2, verbose: bool = False) -> float:
    """Can the network memorise ``n`` training samples?  Returns the final accuracy on them (expect 1.0).

    The classic first debugging step (Karpathy's "overfit one batch"): if a network cannot drive the loss on
    50 samples to ~0, something is wrong (a bug in the model, the loss, the data or the gradients) and
    training on the full set would be wasted time.  Trains full-batch with Adam(``lr``) for up to ``epochs``
    steps (stopping once the loss is below ``target_loss``), then scores the samples in eval mode.
    ``dataset`` is any dataset of ``(input, label)`` pairs; the first ``n`` samples are used.
    """
    from autograd import Tensor

    from .data import default_collate

    n = min(n, len(dataset))
    samples = [dataset[i] for i in range(n)]
    x, y = default_collate(samples)[:2]
    x = Tensor(np.asarray(x, dtype=np.float32) if np.asarray(x).dtype != np.float64 else np.asarray(x))
    y = np.asarray(y).astype(np.int64)
    if loss_fn is None:
        from . import functional as F

        loss_fn = F.cross_entropy
    if optimizer is None:
        from .optim import Adam

        optimizer = Adam(model.parameters(), lr=lr)
    model.train()
    loss_value = float("nan")
    for step in range(epochs):
        out = model(x)
        loss = loss_fn(out, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_value = float(loss.data)
        if verbose and (step % 20 == 0):
            print(f"overfit_check step {step}: loss {loss_value:.5f}", flush=True)
        if loss_value < target_loss:
            break
    res = evaluate(model, [(x, y)], loss_fn)
    if verbose:
        print(f"overfit_check: loss {res['loss']:.5f}, accuracy {res['accuracy']:.4f} on {n} samples", flush=True)
    return float(res["accuracy"])
