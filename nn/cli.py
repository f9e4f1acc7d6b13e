"""The ``chainrule`` command line (also ``python -m nn``): train, eval, graph, demo.

::

    chainrule train --model lenet5 --dataset mnist --data-dir DIR --out runs/lenet5
    chainrule train --resume runs/lenet5 --epochs 10 --data-dir DIR
    chainrule eval  --checkpoint runs/lenet5 --dataset mnist --data-dir DIR
    chainrule graph --model lenet5 --out lenet5.svg
    chainrule demo  --out out

Training writes, after every epoch, ``checkpoint.npz`` (the model's ``state_dict`` via :func:`nn.save`),
``optimizer.npz`` (the optimizer's ``state_dict`` via :func:`nn.serialization.save_optimizer_state`, same safe
format), a JSON sidecar ``checkpoint.json`` (model name and arguments, input preprocessing, training arguments,
epoch reached, the states of the random generators: shuffling and augmentation; sha256 of both ``.npz``
files), ``metrics.json`` (one record per epoch), and at the end ``curves.png`` (when matplotlib is installed).

An epoch's save is one commit, so that a hard kill (SIGKILL, the OOM killer, a power loss) at any instant leaves
the folder resumable at the previous epoch or at the new one, never neither. Every file is written atomically
(temporary file, fsync, rename, fsync of the folder), in this order:

1. the new weights and optimizer state to hidden staging files in the folder, ``.checkpoint.npz.next`` and
   ``.optimizer.npz.next`` (the previous epoch's ``checkpoint.npz`` and ``optimizer.npz`` are untouched);
2. ``checkpoint.json``, whose sha256 entries are the staged files': its rename is the commit point;
3. each staged file renamed over ``checkpoint.npz`` / ``optimizer.npz``, then the folder fsynced;
4. ``metrics.json``.

A kill before the commit point leaves the previous epoch's files as they were (staged files that match no sidecar
are ignored, and overwritten by the next save); a kill after it leaves the new sidecar with some staged files not
yet in place, and whatever reads the folder next (``train --resume``, ``eval``, the next save into it) first
finishes the save: each staged file whose sha256 is the sidecar's goes over its live file when that one does not
match (a one-line note says so). A kill before ``metrics.json`` is written leaves that epoch without its record
(a resume notes it). A kill during a run's first save, before its commit point, leaves no checkpoint of that
run. Against a power loss this holds where fsync and rename keep their POSIX promises (on Windows folders are
not fsynced). A write killed mid-way leaves its hidden temporary file (``.NAME.xxxxxxxx.part``); the next
run's saves remove those of the files they write (those older than the run itself).
Ctrl-C during a save takes effect once the save is complete.

Resuming (``train --resume DIR`` or ``--resume DIR/checkpoint.npz``) loads the weights, optimizer state, epoch
and generator states and trains on up to ``--epochs`` in total (default: the number the run was started with),
writing into the checkpoint's folder unless ``--out`` is given; earlier records of ``metrics.json`` are kept.

* Options that fix what a run computes (model, dataset, augment, seed, limit, optimizer, lr, batch size,
  momentum, weight decay, scheduler) are taken from the checkpoint; giving one with a different value is an
  error, not an override. ``--data-dir``, ``--download``, ``--threads`` and ``--no-progress`` are free.
* Exactness: continuing an interrupted run to the epochs it was started with gives bit-for-bit the weights of an
  uninterrupted run (same data order, augmentation and learning-rate schedule), on the same machine with the
  same ``--threads`` (the thread count changes how matrix products and convolutions are split, hence the
  rounding; the sidecar records it and a resume with another count prints a note). Asking for more epochs than
  planned is exact too with ``--scheduler none``; with ``cosine``/``step`` the schedule is rebuilt for the new
  length and fast-forwarded, so the earlier epochs followed a different schedule than a fresh longer run (a note
  is printed).
* Refused with a clear error: a checkpoint without ``optimizer.npz`` (older runs), files that fail their sha256
  checks or do not match the sidecar's digests (a file replaced, corrupted or copied from another save; not a
  killed save, which is finished or left at its previous epoch as above), weights that do not fit the model,
  optimizer state that does not fit the optimizer or the model, and ``--epochs`` not above the epoch already
  reached.

``eval --checkpoint`` takes a run folder or its ``checkpoint.npz``, as ``--resume`` does.

Default recipes (used for any option not given on the command line) are in :data:`RECIPES`.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from autograd.threads import get_num_threads, set_num_threads

from ._atomic import atomic_write, file_digest, fsync_dir

__all__ = ["main", "RECIPES", "build_model", "load_data", "train", "make_graph", "read_resume_info"]

MODELS = ("lenet5", "mlp")
DATASETS = ("mnist", "fashion-mnist", "sample")

# The default recipe per model: LeNet-5 reaches >= 99.0% test accuracy on MNIST within 5 epochs, the MLP
# >= 98.0% (see bench/lenet.py).  Inputs are standardised with the training set's mean/std; LeNet-5 gets
# the 28 x 28 digits zero-padded to 32 x 32 (as in LeCun et al. 1998).
RECIPES: dict[str, dict[str, Any]] = {
    "lenet5": dict(optimizer="adam", lr=1e-3, batch_size=64, epochs=5, momentum=0.9, weight_decay=0.0,
                   scheduler="cosine"),
    "mlp": dict(optimizer="adam", lr=1e-3, batch_size=64, epochs=5, momentum=0.9, weight_decay=0.0,
                scheduler="cosine"),
}
MLP_SIZES = [784, 256, 128, 10]
EVAL_BATCH = 1000


# ------------------------------------------------------------------------------------------------ building blocks
def build_model(name: str, **kwargs: Any) -> Any:
    """``lenet5`` -> ``nn.models.LeNet5()``; ``mlp`` -> ``nn.models.MLP([784, 256, 128, 10])``."""
    from . import models

    if name == "lenet5":
        return models.LeNet5(**kwargs)
    if name == "mlp":
        kwargs = dict(kwargs)
        sizes = kwargs.pop("sizes", MLP_SIZES)
        return models.MLP(list(sizes), **kwargs)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")


def input_spec(model: str) -> dict[str, Any]:
    """How images are fed to ``model``: zero padding (pixels) and whether to flatten to vectors."""
    return {"pad": 2, "flatten": False} if model == "lenet5" else {"pad": 0, "flatten": True}


def _image_dataset(dataset: str, train: bool, data_dir: str | None, download: bool) -> Any:
    from . import datasets

    if dataset == "sample":
        return datasets.mnist_sample(train=train)
    cls = {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST}.get(dataset)
    if cls is None:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    return cls(root=data_dir, train=train, download=download)


class _FlattenBatch:
    """Transform: ``N x C x H x W`` -> ``N x (C H W)`` (for the MLP, after augmentation)."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x).reshape(-1)

    def batch(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x).reshape(len(x), -1)


def _arrays(ds: Any, spec: dict[str, Any], normalize: bool, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    if limit is not None and limit < len(ds):
        from .datasets import ImageDataset

        ds = ImageDataset(ds.data[:limit], ds.targets[:limit], mean=ds.mean, std=ds.std)
    x, y = ds.arrays(normalize=normalize, pad=spec["pad"])
    if spec["flatten"] and normalize:
        x = x.reshape(len(x), -1)
    return x, y


def load_data(dataset: str, model: str, data_dir: str | None = None, download: bool = False,
              limit: int | None = None, augment: bool = False, batch_size: int = 64, seed: int = 0,
              train: bool = True) -> tuple[Any, Any]:
    """``(train_loader or None, test_loader)`` with the whole set preprocessed once into arrays.

    Images become float32, ``(x / 255 - mean) / std``, padded/flattened as the model needs.  With ``augment``
    the training images go through ``RandomAffine`` (rotation +-10 degrees, shift +-10%, zoom 0.9-1.1)
    batch by batch, before normalisation, drawing from a stream of its own (spawned from ``seed``; the
    shuffling draws from ``default_rng(seed)``).  ``limit`` keeps the first ``limit`` images of each split.
    """
    from .data import DataLoader, TensorDataset, transforms

    spec = input_spec(model)
    test_ds = _image_dataset(dataset, False, data_dir, download)
    test_loader = DataLoader(TensorDataset(*_arrays(test_ds, spec, True, limit)), batch_size=EVAL_BATCH)
    if not train:
        return None, test_loader
    train_ds = _image_dataset(dataset, True, data_dir, download)
    if augment:
        x, y = _arrays(train_ds, spec, False, limit)
        # its own stream, spawned from the seed: seeded with `seed` itself it would draw the very numbers the
        # loader's shuffling draws (same generator, same state)
        augment_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
        steps: list[Any] = [transforms.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1),
                                                    seed=augment_rng),
                            transforms.Normalize(train_ds.mean, train_ds.std)]
        if spec["flatten"]:
            steps.append(_FlattenBatch())
        tf = transforms.Compose(steps)
        loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, seed=seed, transform=tf)
    else:
        loader = DataLoader(TensorDataset(*_arrays(train_ds, spec, True, limit)), batch_size=batch_size,
                            shuffle=True, seed=seed)
    return loader, test_loader


def make_optimizer(name: str, params: Any, lr: float, momentum: float = 0.9, weight_decay: float = 0.0) -> Any:
    from . import optim

    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}")


def make_scheduler(name: str | None, optimizer: Any, epochs: int) -> Any:
    from .optim import lr_scheduler

    if name in (None, "none"):
        return None
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs))
    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1)
    raise ValueError(f"unknown scheduler {name!r}")


def plot_curves(metrics: list[dict[str, Any]], path: str | os.PathLike[str], title: str = "") -> bool:
    """Loss and accuracy per epoch (train and test) as a PNG, written atomically; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    ep = [m["epoch"] for m in metrics]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(ep, [m["train_loss"] for m in metrics], "o-", label="train")
    if any(m.get("test_loss") is not None for m in metrics):
        ax1.plot(ep, [m["test_loss"] for m in metrics], "s-", label="test")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy loss")
    ax1.legend()
    ax1.grid(alpha=0.3)
    if any(m.get("train_acc") is not None for m in metrics):
        ax2.plot(ep, [100 * (m["train_acc"] or 0) for m in metrics], "o-", label="train")
    if any(m.get("test_acc") is not None for m in metrics):
        ax2.plot(ep, [100 * (m["test_acc"] or 0) for m in metrics], "s-", label="test")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy (%)")
    ax2.legend()
    ax2.grid(alpha=0.3)
    from matplotlib.ticker import MaxNLocator

    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    try:  # complete or absent, like the run's other files (a kill mid-write leaves the previous picture)
        atomic_write(path, lambda f: fig.savefig(f, dpi=100, format="png"))
    finally:
        plt.close(fig)
    return True


def _write_json(path: Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2) + "\n"  # serialise first: a TypeError leaves the old file untouched
    atomic_write(path, lambda f: f.write(text.encode()))


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) back while the body runs, then hand it to the previous handler (``KeyboardInterrupt``).

    Used around an epoch's save so an interrupt cannot leave files of two different epochs. Handlers can only be
    set in the main thread: elsewhere (or if the current handler was not set from Python) the body just runs.
    """
    previous = signal.getsignal(signal.SIGINT)  # None: set outside Python, so it could not be put back
    caught: list[int] = []
    try:
        if previous is not None:
            signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    except ValueError:  # not the main thread (of the main interpreter)
        previous = None
    if previous is None:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        signal.raise_signal(signal.SIGINT)  # the previous handler's turn: KeyboardInterrupt by default


def sidecar_path(checkpoint: str | os.PathLike[str]) -> Path:
    """``checkpoint.npz`` -> ``checkpoint.json`` (the JSON written next to a checkpoint by ``train``)."""
    return Path(checkpoint).with_suffix(".json")


# ------------------------------------------------------------------------------------------------ resume
OPTIMIZER_FILE = "optimizer.npz"
# The options that fix what a run computes: a resumed run must use the checkpoint's values (only epochs may change).
# The data options, then the recipe's (the same keys for every model) but epochs.
DATA_OPTIONS = ("model", "dataset", "augment", "seed", "limit")
RUN_OPTIONS = (*DATA_OPTIONS, *(k for k in RECIPES["lenet5"] if k != "epochs"))


def _generators(loader: Any) -> dict[str, np.random.Generator]:
    """Every random generator a training epoch draws from: the loader's shuffling and those of the loader's random
    transforms (augmentation). Their states are saved so a resumed run is exact. (Autograd's generator, which
    dropout draws from, is not: no model of the CLI has dropout.)"""
    gens = {"loader": loader.rng}
    tf = loader.transform
    for i, t in enumerate(getattr(tf, "transforms", [] if tf is None else [tf])):
        if isinstance(getattr(t, "rng", None), np.random.Generator):
            gens[f"transform.{i}"] = t.rng
    return gens


def staged_path(path: str | os.PathLike[str]) -> Path:
    """``DIR/checkpoint.npz`` -> ``DIR/.checkpoint.npz.next``: where a save puts the new file until it is committed."""
    path = Path(path)
    return path.with_name(f".{path.name}.next")


def _place_staged(live: Path, want: str | None) -> bool:
    """The last step of a save: move ``live``'s staged file over it. False when the staged file is gone because
    someone else (a reader finishing the save, or the save itself) moved it and ``live`` has the digest ``want``;
    ``FileNotFoundError`` when neither holds."""
    try:
        os.replace(staged_path(live), live)
        return True
    except FileNotFoundError:
        if live.is_file() and file_digest(live, "sha256") == want:
            return False
        raise


def _remove_stale_parts(folder: Path, names: list[str], before: float) -> None:
    """Delete the temporary files (``.NAME.xxxxxxxx.part``, see ``atomic_write``) of these files last modified before
    ``before`` (the run's start): left by writes killed mid-way, not by a write in progress. Called after each save
    (its own writes of them have finished), not as the run starts: a second run writing into the same folder has
    its in-progress files newer than this run's start only once this run has been going a while."""
    for name in names:
        for part in folder.glob(f".{glob.escape(name)}.{'[0-9a-f]' * 8}.part"):
            with contextlib.suppress(OSError):
                if part.stat().st_mtime < before:
                    part.unlink()


def _finish_interrupted_save(ckpt: Path, log: Any = None) -> None:
    """Complete a save killed after its commit point: move each staged file (``.checkpoint.npz.next``,
    ``.optimizer.npz.next``) whose sha256 is the one the sidecar records over its live file, when the live file does
    not have that digest (or is missing). Staged files that match nothing (a save killed before its sidecar was
    written) are left for the next save to overwrite. With a ``log``, a one-line note names the files moved.
    ``ValueError`` if a move fails (a read-only folder). Does nothing (and reads no sidecar) when there is no
    staged file."""
    names = [ckpt.name, OPTIMIZER_FILE]
    if not any(staged_path(ckpt.parent / n).is_file() for n in names):
        return
    try:  # read leniently: a bad sidecar is reported by the readers, not here
        meta = json.loads(sidecar_path(ckpt).read_text())
        digests = meta["sha256"]
        opt_name = meta["optimizer_file"]
        if not isinstance(digests, dict) or not isinstance(opt_name, str):
            return
    except (OSError, ValueError, KeyError, TypeError):
        return
    moved = []
    for what, name in (("weights", ckpt.name), ("optimizer", opt_name)):
        live = ckpt.parent / name
        staged = staged_path(live)
        want = digests.get(what)
        if Path(name).name != name or not staged.is_file():
            continue
        if live.is_file() and file_digest(live, "sha256") == want:
            continue  # already in place: the staged file is stale (or has the same bytes)
        if file_digest(staged, "sha256") != want:
            continue  # from a save killed before its commit point
        try:
            if not _place_staged(live, want):
                continue
        except FileNotFoundError:  # moved meanwhile by someone else, and replaced since: nothing to finish
            continue
        except OSError as e:  # e.g. a read-only folder: the checkpoint the sidecar describes is not in place
            raise ValueError(f"{ckpt.parent}: cannot finish the save of epoch {meta.get('epoch')} that was "
                             f"interrupted after its sidecar was written (moving {staged.name} over {name}: {e})"
                             ) from e
        moved.append(name)
    if moved:
        fsync_dir(ckpt.parent)
        if log is not None:
            print(f"note: finished the interrupted save of epoch {meta.get('epoch')} in {ckpt.parent} (moved the "
                  f"staged {' and '.join(moved)} into place)", file=log, flush=True)


def resolve_checkpoint(path: str | os.PathLike[str], log: Any = None) -> Path:
    """A run folder -> its ``checkpoint.npz``; a ``.npz`` path as given. ``FileNotFoundError`` if there is none.

    A save killed after its commit point is completed first (see the module docstring), so the checkpoint returned
    is the one its sidecar describes; with a ``log``, a note says so.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "checkpoint.npz"
    _finish_interrupted_save(p, log)
    if not p.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint here (expected a run folder holding checkpoint.npz, "
                                f"or the checkpoint .npz itself)")
    return p


def _read_sidecar(ckpt: Path) -> dict[str, Any]:
    """The JSON sidecar of the checkpoint file ``ckpt``; ``FileNotFoundError`` / ``ValueError`` if missing or bad."""
    side = sidecar_path(ckpt)
    if not side.is_file():
        raise FileNotFoundError(f"{side}: missing checkpoint sidecar (written next to the .npz by 'chainrule train')")
    try:
        meta = json.loads(side.read_text())
        fmt = meta.get("format") if isinstance(meta, dict) else None
        if fmt != "chainrule.checkpoint":
            raise ValueError(f"format is {fmt!r}, expected 'chainrule.checkpoint'")
        if not isinstance(meta.get("model"), str):
            raise ValueError("no 'model' name")
    except ValueError as e:
        raise ValueError(f"{side}: unreadable checkpoint sidecar: {e}") from e
    return meta


def read_resume_info(checkpoint: str | os.PathLike[str], log: Any = None) -> dict[str, Any]:
    """The sidecar of ``checkpoint`` (a run folder or its ``.npz``), checked for resuming.

    A save killed after its commit point is completed first (:func:`resolve_checkpoint`; with a ``log``, a note says
    so). Returns the sidecar dict plus ``"checkpoint"`` and ``"optimizer_path"`` (Paths). Raises ``ValueError`` if
    the sidecar is unreadable, predates optimizer checkpoints, or its sha256 of the weights or optimizer file does
    not match the files (replaced by hand, corrupted, or copied from another save).
    """
    ckpt = resolve_checkpoint(checkpoint, log)
    side = sidecar_path(ckpt)
    meta = _read_sidecar(ckpt)
    try:
        if not isinstance(meta["train_args"], dict) or int(meta["epoch"]) < 0:
            raise ValueError("bad 'train_args' or 'epoch'")
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{side}: unreadable checkpoint sidecar: {e}") from e
    if "optimizer_file" not in meta or "sha256" not in meta:
        raise ValueError(f"{side}: this checkpoint has no optimizer state (written before 'chainrule train' saved "
                         f"{OPTIMIZER_FILE}), so it cannot be resumed exactly; start a new run instead")
    opt_path = ckpt.parent / meta["optimizer_file"]
    if not opt_path.is_file():
        raise FileNotFoundError(f"{opt_path}: missing optimizer state (written next to the checkpoint by "
                                f"'chainrule train'); cannot resume")
    digests = meta["sha256"] if isinstance(meta["sha256"], dict) else {}
    for what, path in (("weights", ckpt), ("optimizer", opt_path)):
        if file_digest(path, "sha256") != digests.get(what):
            raise ValueError(f"{path} does not match its sidecar {side} (sha256 differs): the files are not from the "
                             f"same save (replaced, corrupted, or copied from another run); cannot resume")
    return {**meta, "checkpoint": ckpt, "optimizer_path": opt_path}


def _resume_args(info: dict[str, Any], given: dict[str, Any], epochs: int | None) -> tuple[dict[str, Any], int]:
    """The checkpoint's run options, checked against the ``given`` ones (None = not given), and the target epochs."""
    saved = info["train_args"]
    diffs = [f"{k}={given[k]!r} (checkpoint: {saved.get(k)!r})" for k in RUN_OPTIONS
             if given[k] is not None and given[k] != saved.get(k)]
    if diffs:
        raise ValueError(f"cannot resume {info['checkpoint']}: options differ from the checkpoint's: "
                         f"{', '.join(diffs)}; leave them out to reuse the checkpoint's (only --epochs may change), "
                         f"or start a new run")
    missing = [k for k in (*RUN_OPTIONS, "epochs") if k not in saved]
    if missing:
        raise ValueError(f"{sidecar_path(info['checkpoint'])}: train_args lacks {missing}")
    args = {k: saved[k] for k in (*RUN_OPTIONS, "epochs")}
    start = int(info["epoch"])
    if epochs is not None:
        args["epochs"] = epochs
    if args["epochs"] <= start:
        raise ValueError(f"{info['checkpoint']} is already at epoch {start} (of {saved['epochs']}); "
                         f"ask for more with --epochs N, N > {start}")
    return args, start


def _restore(info: dict[str, Any], model: str, net: Any, opt: Any, sched: Any, loader: Any) -> None:
    """Load weights, optimizer state, schedule position and generator states saved at epoch ``info["epoch"]``."""
    from .serialization import load, load_optimizer_state

    ckpt, opt_path, start = info["checkpoint"], info["optimizer_path"], int(info["epoch"])
    try:
        net.load_state_dict(load(ckpt))
    except (RuntimeError, KeyError) as e:
        raise ValueError(f"{ckpt}: the weights do not fit a {model}: {e}") from e
    opt_state = load_optimizer_state(opt_path)
    if sched is not None:  # replay the schedule's steps (the recursive cosine form needs the same arithmetic)
        for _ in range(start):
            sched.step()
    lrs = [g["lr"] for g in opt.param_groups]
    try:
        opt.load_state_dict(opt_state)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise ValueError(f"{opt_path}: the optimizer state does not fit this run's {type(opt).__name__} over the "
                         f"{model}'s parameters: {e}") from e
    if sched is not None:  # the rate of epoch start + 1 of *this* run's schedule (its length may have changed)
        for g, lr in zip(opt.param_groups, lrs):
            g["lr"] = lr
    gens, states, side = _generators(loader), info.get("rng"), sidecar_path(ckpt)
    if not isinstance(states, dict) or set(states) != set(gens):
        raise ValueError(f"{side}: saved generator states {sorted(states or {})} do not match the run's "
                         f"{sorted(gens)}")
    for name, g in gens.items():
        try:
            g.bit_generator.state = states[name]
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f"{side}: bad saved state for generator {name!r}: {e}") from e


def _previous_epochs(folder: Path, start: int, log: Any) -> list[dict[str, Any]]:
    """The records of epochs 1 to ``start`` in ``folder/metrics.json``, for the resumed run's ``metrics.json``.

    metrics.json is written after checkpoint.json, so a run killed in between lacks the record of the checkpoint's
    epoch: a note names the epochs without a record, and the new metrics.json goes without them.
    """
    path = folder / "metrics.json"
    try:
        records = {int(e["epoch"]): e for e in json.loads(path.read_text())["epochs"]} if path.is_file() else {}
    except (ValueError, KeyError, TypeError) as e:
        print(f"note: {path} is unreadable ({e}); the new metrics.json starts at epoch {start + 1}", file=log)
        return []
    missing = [i for i in range(1, start + 1) if i not in records]
    if missing:
        print(f"note: {path} has no record of epoch(s) {', '.join(map(str, missing))} (the run stopped before "
              f"writing it); the new metrics.json goes without", file=log, flush=True)
    return [records[i] for i in range(1, start + 1) if i in records]


# ------------------------------------------------------------------------------------------------ train
class _DefaultOut:
    """``train``'s ``out`` when none is given (a marker no path can be mistaken for)."""

    def __repr__(self) -> str:
        return "<runs/train, or the resumed checkpoint's folder>"


_DEFAULT_OUT = _DefaultOut()


def train(model: str | None = None, dataset: str | None = None, data_dir: str | None = None, download: bool = False,
          epochs: int | None = None, batch_size: int | None = None, lr: float | None = None,
          optimizer: str | None = None, momentum: float | None = None, weight_decay: float | None = None,
          scheduler: str | None = None, augment: bool | None = None, seed: int | None = None,
          out: str | os.PathLike[str] | _DefaultOut | None = _DEFAULT_OUT, limit: int | None = None,
          progress: bool | str = True, log: Any = None,
          resume: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Train ``model`` on ``dataset`` with the default recipe (overridable); returns the metrics dict.

    Writes ``checkpoint.npz``, ``optimizer.npz``, ``checkpoint.json``, ``metrics.json`` and ``curves.png`` into
    ``out`` (default: ``runs/train``, or the checkpoint's folder when resuming; nothing is written if None).
    Defaults: ``model="lenet5"``, ``dataset="mnist"``, ``seed=0``, no augmentation.

    ``resume`` (a run folder or its ``checkpoint.npz``): continue that run up to ``epochs`` (default: the epochs it
    was started with) from its weights, optimizer state, epoch count and random-generator states. Options left as
    None are taken from the checkpoint; given ones must equal the checkpoint's (``ValueError`` otherwise).
    """
    started = time.time()  # temporary files older than this are from writes killed before this run
    import autograd

    from . import functional as F
    from .serialization import save, save_optimizer_state
    from .train import evaluate, fit

    log = log if log is not None else sys.stdout
    given = dict(model=model, dataset=dataset, augment=augment, seed=seed, limit=limit, optimizer=optimizer, lr=lr,
                 batch_size=batch_size, momentum=momentum, weight_decay=weight_decay, scheduler=scheduler)
    info = read_resume_info(resume, log) if resume is not None else None
    if info is not None:
        args, start = _resume_args(info, given, epochs)
        model, dataset, augment, seed, limit = (args[k] for k in DATA_OPTIONS)
        recipe = {k: args[k] for k in RECIPES[model]}
        if out is _DEFAULT_OUT:
            out = info["checkpoint"].parent
    else:
        start = 0
        model, dataset, augment, seed = model or "lenet5", dataset or "mnist", bool(augment), seed or 0
        recipe = dict(RECIPES[model])
        hyper = {**given, "epochs": epochs}
        recipe.update({k: hyper[k] for k in recipe if hyper[k] is not None})
        if optimizer is not None and lr is None and optimizer != RECIPES[model]["optimizer"]:
            recipe["lr"] = 0.05 if optimizer == "sgd" else 1e-3
        if out is _DEFAULT_OUT:
            out = "runs/train"

    np.random.seed(seed)
    autograd.manual_seed(seed)
    t_load = time.perf_counter()
    train_loader, test_loader = load_data(dataset, model, data_dir, download, limit, augment,
                                          recipe["batch_size"], seed)
    n_train, n_test = len(train_loader.dataset), len(test_loader.dataset)
    print(f"{dataset}: {n_train} training / {n_test} test images loaded in {time.perf_counter() - t_load:.1f}s",
          file=log, flush=True)
    net = build_model(model)
    opt = make_optimizer(recipe["optimizer"], net.parameters(), recipe["lr"], recipe["momentum"],
                         recipe["weight_decay"])
    sched = make_scheduler(recipe["scheduler"], opt, recipe["epochs"])
    n_params = sum(p.data.size for p in net.parameters())
    print(f"model {model} ({n_params:,} parameters); recipe: " +
          ", ".join(f"{k}={v}" for k, v in recipe.items()) + (", augment" if augment else ""), file=log, flush=True)
    previous: list[dict[str, Any]] = []
    if info is not None:
        _restore(info, model, net, opt, sched, train_loader)
        previous = _previous_epochs(info["checkpoint"].parent, start, log)
        planned = info["train_args"]["epochs"]
        print(f"resuming {info['checkpoint']} at epoch {start}: training epochs {start + 1}-{recipe['epochs']}",
              file=log, flush=True)
        if info.get("threads", get_num_threads()) != get_num_threads():
            print(f"note: the checkpoint was written using {info['threads']} thread(s), this run uses "
                  f"{get_num_threads()} (--threads): matrix products may round differently, so the weights can "
                  f"differ in the last bits from those of an uninterrupted run", file=log, flush=True)
        if planned != recipe["epochs"] and recipe["scheduler"] not in (None, "none"):
            print(f"note: the {recipe['scheduler']} schedule now spans {recipe['epochs']} epochs, but epochs 1-{start} "
                  f"followed the {planned}-epoch one, so this is not the same as a fresh {recipe['epochs']}-epoch run",
                  file=log, flush=True)

    outdir = Path(out) if out is not None else None
    if outdir is not None:
        outdir.mkdir(parents=True, exist_ok=True)
    run_args = dict(model=model, dataset=dataset, augment=augment, seed=seed, limit=limit, **recipe)
    metrics: dict[str, Any] = {"model": model, "dataset": dataset, "args": run_args, "n_train": n_train,
                               "n_test": n_test, "epochs": previous}

    from .datasets import MNIST, FashionMNIST

    mean, std = (FashionMNIST.mean, FashionMNIST.std) if dataset == "fashion-mnist" else (MNIST.mean, MNIST.std)

    def save_epoch(record: dict[str, Any]) -> None:
        epoch = record["epoch"]
        metrics["epochs"].append({
            "epoch": epoch, "train_loss": record["train_loss"], "train_acc": record["train_acc"],
            "test_loss": record["val_loss"], "test_acc": record["val_acc"], "seconds": record["seconds"],
            "lr": record["lr"]})
        metrics["test_accuracy"] = record["val_acc"]
        if outdir is None:
            return
        # Written as we go, so an interrupted run keeps its numbers and weights. The save is a commit (see the module
        # docstring): stage the new files, write the sidecar, move the staged files into place. Ctrl-C waits for it.
        ckpt, opt_path = outdir / "checkpoint.npz", outdir / OPTIMIZER_FILE
        with _sigint_deferred():
            _finish_interrupted_save(ckpt, log)  # a committed save not yet in place: its staged files go first
            save(net.state_dict(), staged_path(ckpt))
            save_optimizer_state(opt.state_dict(), staged_path(opt_path))
            digests = {"weights": file_digest(staged_path(ckpt), "sha256"),
                       "optimizer": file_digest(staged_path(opt_path), "sha256")}
            _write_json(outdir / "checkpoint.json", {  # the commit point: its sha256 entries vouch for the new files
                "format": "chainrule.checkpoint", "model": model, "model_args": {}, "input": input_spec(model),
                "dataset": dataset, "mean": float(mean), "std": float(std),
                "epoch": epoch, "test_accuracy": record["val_acc"], "train_args": run_args,
                "rng": {name: g.bit_generator.state for name, g in _generators(train_loader).items()},
                "optimizer_file": OPTIMIZER_FILE, "threads": get_num_threads(), "sha256": digests})
            for what, live in (("weights", ckpt), ("optimizer", opt_path)):
                _place_staged(live, digests[what])  # (a reader may have finished this rename first)
            fsync_dir(outdir)
            _write_json(outdir / "metrics.json", metrics)
            _remove_stale_parts(outdir, [staged_path(ckpt).name, staged_path(opt_path).name, "checkpoint.json",
                                         "metrics.json", "curves.png"], started)

    history = fit(net, train_loader, F.cross_entropy, opt, recipe["epochs"] - start, val_loader=test_loader,
                  scheduler=sched, progress=progress, callbacks=[save_epoch], stream=log, initial_epoch=start)
    if not history:  # epochs=0: still score the initial model
        res = evaluate(net, test_loader, F.cross_entropy)
        metrics["test_accuracy"] = res["accuracy"]
    if outdir is not None:
        if plot_curves(metrics["epochs"], outdir / "curves.png", f"{model} on {dataset}") if metrics["epochs"] \
                else False:
            print(f"wrote {outdir / 'curves.png'}", file=log)
        elif metrics["epochs"]:
            print("matplotlib is not installed: no curves.png (pip install matplotlib)", file=log)
        if history:
            print(f"wrote {outdir / 'checkpoint.npz'}, {outdir / OPTIMIZER_FILE}, {outdir / 'checkpoint.json'}, "
                  f"{outdir / 'metrics.json'}", file=log)
    acc = metrics.get("test_accuracy")
    if acc is not None:
        print(f"test accuracy: {100 * acc:.2f}%", file=log, flush=True)
    return metrics


# ------------------------------------------------------------------------------------------------ eval
def evaluate_checkpoint(checkpoint: str, dataset: str | None = None, data_dir: str | None = None,
                        download: bool = False, limit: int | None = None, log: Any = None) -> dict[str, Any]:
    """Score a checkpoint written by ``train`` (a run folder or its ``checkpoint.npz``, as for resuming) on the test
    split of ``dataset`` (default: the one it was trained on)."""
    from . import functional as F
    from .serialization import load
    from .train import evaluate

    log = log if log is not None else sys.stdout
    ckpt = resolve_checkpoint(checkpoint, log)
    meta = _read_sidecar(ckpt)
    model = meta["model"]
    dataset = dataset or meta.get("dataset", "mnist")
    net = build_model(model, **meta.get("model_args", {}))
    net.load_state_dict(load(ckpt))
    _, test_loader = load_data(dataset, model, data_dir, download, limit, train=False)
    res = evaluate(net, test_loader, F.cross_entropy)
    print(f"{model} from {ckpt} on {dataset} test ({res['n']} images): loss {res['loss']:.4f}, "
          f"accuracy {100 * res['accuracy']:.2f}%", file=log, flush=True)
    return {"model": model, "dataset": dataset, **res}


# ------------------------------------------------------------------------------------------------ graph
def make_graph(model: str = "lenet5", out: str = "lenet5_graph.svg", log: Any = None, seed: int = 0) -> Path:
    """Draw ``model``'s computation graph (one forward + loss on one MNIST sample), boxed by layer.

    Writes ``out`` as SVG (or any format ``dot`` knows, by suffix) when Graphviz's ``dot`` is installed;
    otherwise writes the DOT source next to it (``.dot``) and says how to install Graphviz.
    """
    import autograd

    from . import functional as F
    from .datasets import mnist_sample
    from .utils import record_layers

    log = log if log is not None else sys.stdout
    autograd.manual_seed(seed)
    net = build_model(model)
    spec = input_spec(model)
    ds = mnist_sample(train=False)
    x, y = ds.arrays(normalize=True, pad=spec["pad"])
    x, y = x[:1], y[:1]
    if spec["flatten"]:
        x = x.reshape(1, -1)
    for name, prm in net.named_parameters():
        prm.label = name
    inp = autograd.Tensor(x)
    inp.label = "input image" if not spec["flatten"] else "input (flattened image)"
    with record_layers(net) as layer_of:
        logits = net(inp)
    loss = F.cross_entropy(logits, y)
    loss.label = "loss"
    loss.backward(retain_graph=True)  # so the drawing shows gradients too
    dot = autograd.draw(loss, group_by=lambda node: layer_of.get(id(node)), max_nodes=400, rankdir="TB")
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("dot") is not None:
        from autograd.draw import render

        path = render(dot, out_path)
        print(f"wrote {path} ({model} computation graph, grouped by layer)", file=log)
        return path
    path = out_path.with_suffix(".dot")
    path.write_text(dot.source)
    print(f"Graphviz 'dot' was not found, so wrote the DOT source to {path} instead of {out_path}.\n"
          f"Install Graphviz ('sudo apt-get install graphviz', 'brew install graphviz' or 'conda install graphviz') "
          f"and run: dot -Tsvg {path} -o {out_path}", file=log)
    return path


# ------------------------------------------------------------------------------------------------ demo
def demo(out: str = "out", log: Any = None) -> dict[str, Any]:
    """What ``make demo`` runs, offline, in well under two minutes on 2 cores:

    (a) the scalar two-moons MLP demo (``nn.demo.scalar_moons``), (b) LeNet-5 trained for one epoch on the
    bundled MNIST sample (3000 images) and scored on its 1000 test images, (c) the LeNet-5 graph drawing.
    """
    log = log if log is not None else sys.stdout
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    t0 = time.perf_counter()
    print("== (a) scalar MLP on two moons (autograd.Value) ==", file=log, flush=True)
    from .demo import scalar_moons

    result["scalar_moons"] = scalar_moons(str(outdir))
    print(f"== (b) LeNet-5 on the bundled MNIST sample, one epoch ({time.perf_counter() - t0:.0f}s so far) ==",
          file=log, flush=True)
    metrics = train(model="lenet5", dataset="sample", epochs=1, batch_size=32, lr=2e-3, scheduler="none",
                    out=str(outdir / "lenet5_sample"), progress=True, log=log)
    result["lenet5_sample_test_accuracy"] = metrics.get("test_accuracy")
    print(f"== (c) LeNet-5 computation graph ({time.perf_counter() - t0:.0f}s so far) ==", file=log, flush=True)
    result["graph"] = str(make_graph("lenet5", str(outdir / "lenet5_graph.svg"), log=log))
    acc = result["lenet5_sample_test_accuracy"]
    print(f"demo done in {time.perf_counter() - t0:.0f}s: LeNet-5 test accuracy after one epoch on 3000 samples: "
          f"{100 * acc:.2f}%; outputs in {outdir}/", file=log, flush=True)
    return result


# ------------------------------------------------------------------------------------------------ argparse
def _positive_int(s: str) -> int:
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chainrule", description="chainrule: train and inspect small networks.")
    sub = p.add_subparsers(dest="command", metavar="{train,eval,graph,demo}")
    sub.required = True

    def data_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--data-dir", default=None,
                        help="folder with the IDX .gz files (default: $CHAINRULE_DATA, else ~/.cache/chainrule)")
        sp.add_argument("--download", action="store_true", help="download missing dataset files")
        sp.add_argument("--limit", type=_positive_int, default=None,
                        help="use only the first N images of each split (quick runs)")

    def thread_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--threads", type=_positive_int, default=1,
                        help="BLAS threads for numpy's matrix products (default 1: these models multiply small "
                             "matrices, for which one OpenBLAS thread is fastest, and much faster on a busy machine)")

    t = sub.add_parser(
        "train", help="train a model (or resume a run) and write checkpoint, optimizer state, metrics and curves",
        description="Train a model and write checkpoint.npz, optimizer.npz, checkpoint.json and metrics.json "
                    "into --out after every epoch, and curves.png at the end (Ctrl-C during a save stops once it "
                    "is complete, so the files stay resumable). With --resume, continue a run from those files: "
                    "weights, optimizer state, epoch and random-generator states are restored, so finishing an "
                    "interrupted run with the same --threads gives the same weights as an uninterrupted one. When "
                    "resuming, options not given are the checkpoint's; given ones must match it (only --epochs may "
                    "change).")
    t.add_argument("--model", choices=MODELS, default=None, help="default: lenet5")
    t.add_argument("--dataset", choices=DATASETS, default=None,
                   help="'sample' is the bundled MNIST subset (default: mnist)")
    data_args(t)
    t.add_argument("--resume", default=None, metavar="DIR|CHECKPOINT",
                   help="continue the run in DIR (or from DIR/checkpoint.npz) up to --epochs in total (default: the "
                        "epochs it was started with); writes into DIR unless --out is given. Refused if the "
                        "checkpoint's options differ from given ones, or its files are corrupt or do not match")
    t.add_argument("--epochs", type=int, default=None,
                   help="total epochs (default: the model's recipe (5), or the resumed run's)")
    t.add_argument("--batch-size", type=_positive_int, default=None, help="default: 64")
    t.add_argument("--lr", type=float, default=None, help="default: 1e-3 for adam, 0.05 for sgd")
    t.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default=None, help="default: adam")
    t.add_argument("--momentum", type=float, default=None, help="SGD momentum (default 0.9)")
    t.add_argument("--weight-decay", type=float, default=None, help="default 0")
    t.add_argument("--scheduler", choices=("none", "cosine", "step"), default=None,
                   help="learning-rate schedule over the epochs (default: cosine)")
    t.add_argument("--augment", action="store_true", default=None,
                   help="random affine augmentation of the training images")
    t.add_argument("--seed", type=int, default=None, help="default 0")
    t.add_argument("--out", default=_DEFAULT_OUT,
                   help="output folder (default runs/train, or the resumed checkpoint's folder)")
    t.add_argument("--no-progress", action="store_true", help="only one line per epoch")
    thread_arg(t)

    e = sub.add_parser("eval", help="score a checkpoint on a test set")
    e.add_argument("--checkpoint", required=True, metavar="DIR|CHECKPOINT",
                   help="a run folder written by 'chainrule train', or its checkpoint.npz")
    e.add_argument("--dataset", choices=DATASETS, default=None, help="default: the dataset it was trained on")
    data_args(e)
    thread_arg(e)

    g = sub.add_parser("graph", help="draw a model's computation graph, grouped by layer")
    g.add_argument("--model", choices=MODELS, default="lenet5")
    g.add_argument("--out", default=None, help="output file (default <model>_graph.svg)")

    d = sub.add_parser("demo", help="what 'make demo' runs: scalar moons, LeNet-5 on the MNIST sample, a graph")
    d.add_argument("--out", default="out", help="output folder (default out)")
    thread_arg(d)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "threads", None):
        set_num_threads(args.threads)
    try:
        if args.command == "train":
            train(model=args.model, dataset=args.dataset, data_dir=args.data_dir, download=args.download,
                  epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                  momentum=args.momentum, weight_decay=args.weight_decay, scheduler=args.scheduler,
                  augment=args.augment, seed=args.seed, out=args.out, limit=args.limit,
                  progress="epoch" if args.no_progress else True, resume=args.resume)
        elif args.command == "eval":
            evaluate_checkpoint(args.checkpoint, args.dataset, args.data_dir, args.download, args.limit)
        elif args.command == "graph":
            make_graph(args.model, args.out or f"{args.model}_graph.svg")
        elif args.command == "demo":
            demo(args.out)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"chainrule {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
