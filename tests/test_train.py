"""nn.train: fit, evaluate, predict, confusion_matrix, overfit_check (fast, offline)."""

import numpy as np
import pytest

import autograd
from nn import functional as F
from nn.data import DataLoader, TensorDataset
from nn.datasets import mnist_sample
from nn.models import MLP
from nn.optim import SGD, Adam
from nn.optim.lr_scheduler import StepLR
from nn.train import accuracy, confusion_matrix, evaluate, fit, overfit_check, predict


def _blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    y = rng.integers(0, 3, n)
    x = (centers[y] + rng.standard_normal((n, 2)) * 0.5).astype(np.float32)
    return x, y.astype(np.int64)


def test_fit_decreases_loss_and_returns_history(capsys):
    autograd.manual_seed(0)
    x, y = _blobs()
    train = DataLoader(TensorDataset(x[:200], y[:200]), batch_size=32, shuffle=True, seed=0)
    val = DataLoader(TensorDataset(x[200:], y[200:]), batch_size=100)
    model = MLP([2, 16, 3])
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    seen = []
    hist = fit(model, train, F.cross_entropy, opt, epochs=4, val_loader=val, scheduler=sched, progress="plain",
               callbacks=[seen.append])
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4] and seen == hist
    assert set(hist[0]) >= {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds", "lr"}
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert hist[-1]["val_acc"] > 0.9 and hist[-1]["train_acc"] > 0.9
    assert [h["lr"] for h in hist] == pytest.approx([0.1, 0.1, 0.05, 0.05])
    assert model.training  # fit leaves the model in training mode after validation
    out = capsys.readouterr().out
    assert "epoch 4/4" in out and "val loss" in out


def test_fit_callback_can_stop_and_progress_off(capsys):
    x, y = _blobs(64)
    model = MLP([2, 8, 3])
    hist = fit(model, DataLoader(TensorDataset(x, y), batch_size=16), F.cross_entropy,
               Adam(model.parameters(), lr=1e-2), epochs=5, progress=False, callbacks=[lambda r: r["epoch"] == 2])
    assert len(hist) == 2 and hist[0]["val_loss"] is None
    assert capsys.readouterr().out == ""


def test_fit_regression_has_no_accuracy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    t = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    model = MLP([3, 1])
    hist = fit(model, DataLoader(TensorDataset(x, t), batch_size=16), F.mse_loss, SGD(model.parameters(), lr=0.05),
               epochs=20, progress=False)
    assert hist[0]["train_acc"] is None
    assert hist[-1]["train_loss"] < 0.1 * hist[0]["train_loss"]


def test_evaluate_and_predict_use_eval_mode_and_no_grad():
    x, y = _blobs(50)
    model = MLP([2, 8, 3], dropout=0.5)
    model.train()
    r1 = evaluate(model, DataLoader(TensorDataset(x, y), batch_size=7), F.cross_entropy)
    r2 = evaluate(model, DataLoader(TensorDataset(x, y), batch_size=50), F.cross_entropy)
    assert r1["n"] == 50 and r1["accuracy"] == pytest.approx(r2["accuracy"])
    assert r1["loss"] == pytest.approx(r2["loss"], rel=1e-5)  # deterministic: dropout off in eval mode
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert evaluate(model, DataLoader(TensorDataset(x, y), batch_size=10))["loss"] is None
    out = predict(model, x, batch_size=16)
    assert out.shape == (50, 3)
    assert accuracy(out, y) == pytest.approx(r1["accuracy"])


def test_confusion_matrix():
    cm = confusion_matrix([0, 1, 2, 2, 1], [0, 2, 2, 2, 1], 3)
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 1, 1], [0, 0, 2]])
    scores = np.eye(3)[[0, 2, 2, 2, 1]]
    np.testing.assert_array_equal(confusion_matrix(np.array([0, 1, 2, 2, 1]), scores), cm)
    with pytest.raises(ValueError):
        confusion_matrix([0, 5], [0, 1], 3)


def test_overfit_check_mnist_sample():
    autograd.manual_seed(0)
    ds = mnist_sample(train=True)
    acc = overfit_check(MLP([784, 32, 10]), ds, n=50, lr=1e-2)
    assert acc == 1.0


def test_evaluate_and_predict_restore_each_submodules_mode():
    x, y = _blobs(20)
    model = MLP([2, 8, 3], dropout=0.5)
    model.train()
    model[3].eval()  # e.g. a frozen Dropout/BatchNorm inside a training model
    evaluate(model, DataLoader(TensorDataset(x, y), batch_size=7), F.cross_entropy)
    assert model.training and not model[3].training
    predict(model, x)
    assert model.training and not model[3].training


def test_fit_numbers_epochs_from_initial_epoch():
    """A resumed run (initial_epoch=2) reports epochs 3 and 4, in its records and its progress lines."""
    import io

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 4)).astype(np.float32), rng.integers(0, 2, 32)
    model = MLP([4, 2])
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    out = io.StringIO()
    hist = fit(model, loader, F.cross_entropy, SGD(model.parameters(), lr=0.1), epochs=2,
               progress="epoch", stream=out, initial_epoch=2)
    assert [r["epoch"] for r in hist] == [3, 4]
    assert "epoch 3/4:" in out.getvalue() and "epoch 4/4:" in out.getvalue()
