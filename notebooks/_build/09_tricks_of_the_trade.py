"""Notebook 9: dropout against over-fitting, data augmentation, batch norm against bad initialisation."""

# %% [markdown]
# # 9. Tricks of the trade
#
# Three techniques that made deep networks practical:
#
# * **dropout** changes the network during training so it cannot over-fit as easily;
# * **data augmentation** creates more training data from the data we have;
# * **batch normalisation** makes training insensitive to the scale of the initial weights.
#
# All experiments use small subsets of the bundled MNIST sample, small enough to
# over-fit on purpose.

# %%
%matplotlib inline
%config InlineBackend.figure_formats = ["png"]
import os
import time

import matplotlib.pyplot as plt
import numpy as np

import autograd
import nn
import nn.functional as F
from autograd import Tensor
from nn.data import DataLoader, TensorDataset
from nn.data.transforms import Compose, RandomAffine, RandomCrop, affine, affine_batch, rotate
from nn.datasets import mnist_sample
from nn.train import evaluate, fit

FAST = os.environ.get("CHAINRULE_FAST", "0") == "1"
plt.rcParams.update({"figure.dpi": 72, "figure.figsize": (6, 4), "axes.grid": True, "grid.alpha": 0.3})
print("mode:", "fast" if FAST else "full")

# pixels in [0, 1] (background 0, so geometric transforms can fill with 0), padded to 32 x 32
X_train, Y_train = mnist_sample(train=True).arrays(normalize=False, pad=2)
X_test, Y_test = mnist_sample(train=False).arrays(normalize=False, pad=2)
if FAST:
    X_test, Y_test = X_test[:300], Y_test[:300]
N_SMALL = 200 if FAST else 500
small = TensorDataset(X_train[:N_SMALL], Y_train[:N_SMALL])
test_loader = DataLoader(TensorDataset(X_test, Y_test), batch_size=500)
print(f"{N_SMALL} training images, {len(Y_test)} test images")

# %% [markdown]
# ## Dropout
#
# During training, every forward pass deletes each hidden unit with
# probability $p$ (here $\tfrac12$), a different random half every
# minibatch; gradients flow only through the surviving units. A unit can no
# longer rely on particular partners being present, so it has to learn
# features that are useful on their own: the network becomes robust to the
# loss of any single piece of evidence, which is what generalising means.
#
# At test time all units are present, so their total input would be about
# $1/(1-p)$ times larger than in training. The notes' recipe scales the
# outgoing weights by $1-p$ at test time; `nn.Dropout` uses the equivalent
# **inverted dropout**: survivors are multiplied by $1/(1-p)$ during training
# and nothing changes at test time.

# %%
drop = nn.Dropout(0.5)
h = Tensor(np.ones((1000, 100), np.float32))
autograd.manual_seed(0)
out_train = drop(h).numpy()
drop.eval()
out_eval = drop(h).numpy()
frac_zero = float((out_train == 0).mean())
print(f"training mode: {frac_zero:.3f} of the units dropped, survivors scaled to {out_train.max():.1f}, "
      f"mean kept at {out_train.mean():.3f}")
print("eval mode: identity ->", np.array_equal(out_eval, h.numpy()))
assert abs(frac_zero - 0.5) < 0.01 and set(np.unique(out_train)) == {0.0, 2.0}
assert abs(out_train.mean() - 1.0) < 0.02 and np.array_equal(out_eval, h.numpy())

# %% [markdown]
# Now an MLP with two hidden layers of 512 units (about 800,000 parameters)
# trained on just a few hundred digits: it memorises the training set (100%
# accuracy) long before it generalises. Same network, same data, same seed,
# with and without dropout after each hidden layer:

# %%
epochs = 4 if FAST else 25
runs = {}
t0 = time.perf_counter()
for p in (0.0, 0.5):
    autograd.manual_seed(0)
    model = nn.MLP([32 * 32, 512, 512, 10], dropout=p)
    opt = nn.optim.Adam(model.parameters(), lr=1e-3)
    runs[p] = fit(model, DataLoader(small, batch_size=50, shuffle=True, seed=0), F.cross_entropy, opt,
                  epochs=epochs, val_loader=test_loader, progress=False)
print(f"trained in {time.perf_counter() - t0:.1f} s")

fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for p, hist in runs.items():
    ep = [r["epoch"] for r in hist]
    lab = "no dropout" if p == 0 else f"dropout p = {p}"
    axes[0].plot(ep, [r["train_acc"] for r in hist], "--", color=f"C{int(p * 2)}", label=f"{lab}: train")
    axes[0].plot(ep, [r["val_acc"] for r in hist], "-", color=f"C{int(p * 2)}", label=f"{lab}: test")
    axes[1].plot(ep, [r["val_loss"] for r in hist], "-", color=f"C{int(p * 2)}", label=lab)
axes[0].set(xlabel="epoch", ylabel="accuracy", title="train (dashed) vs test (solid) accuracy", ylim=(0.5, 1.01))
axes[1].set(xlabel="epoch", ylabel="test cross-entropy", title="test loss")
for ax in axes:
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

print(f"{'':12s} {'train acc':>10s} {'test acc':>9s} {'gap':>6s} {'test loss':>10s}")
for p, hist in runs.items():
    r = hist[-1]
    print(f"{'dropout ' + str(p):12s} {r['train_acc']:10.3f} {r['val_acc']:9.3f} "
          f"{r['train_acc'] - r['val_acc']:6.3f} {r['val_loss']:10.3f}")
if not FAST:
    plain_run, drop_run = runs[0.0][-1], runs[0.5][-1]
    assert plain_run["train_acc"] == 1.0                            # memorised
    assert drop_run["val_loss"] < plain_run["val_loss"]               # dropout: better calibrated on new data
    assert drop_run["train_acc"] - drop_run["val_acc"] < plain_run["train_acc"] - plain_run["val_acc"]

# %% [markdown]
# Without dropout the training accuracy hits 100% and the test loss climbs
# again: the network is fitting the peculiarities of its few hundred
# examples. With dropout the gap between training and test accuracy is
# smaller and the test loss stays lower.
#
# ## Data augmentation
#
# More data is the best regulariser, and often we can manufacture it: a digit
# rotated by 15°, shifted by two pixels or zoomed by 10% is still the same
# digit to a human, yet a very different array of pixels to the network.
# Training on such random variants teaches the network the invariances we
# know the task has.

# %%
five = X_train[np.nonzero(Y_train == 5)[0][0], 0]
variants = [(five, "original"), (rotate(five, 15), "rotated 15°"), (rotate(five, -15), "rotated -15°"),
            (affine(five, translate=(3, 2)), "shifted (3, 2) px"), (affine(five, scale=1.2), "zoomed 1.2×"),
            (affine(five, scale=0.8), "zoomed 0.8×")]
crop = RandomCrop(32, padding=3, seed=0)
variants += [(crop(five[None])[0], "random crop"), (crop(five[None])[0], "random crop")]
fig, axes = plt.subplots(1, len(variants), figsize=(13, 2))
for ax, (img, title) in zip(axes, variants):
    ax.imshow(img, cmap="gray")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
plt.show()

r15 = rotate(five, 15)
print(f"rotated 15°: same shape {r15.shape}, ink kept {r15.sum() / five.sum():.2f}, "
      f"but {np.mean(np.abs(r15 - five) > 0.25):.0%} of the pixels changed by more than 0.25")
assert r15.shape == five.shape and 0.9 < r15.sum() / five.sum() < 1.1
assert np.mean(np.abs(r15 - five) > 0.25) > 0.05

# %% [markdown]
# The experiment: LeNet-5 on the same few hundred digits, once on the plain
# images and once with a fresh random rotation (±15°), zoom (0.9 to 1.1) and
# crop (±2 px) of every image in every epoch (`DataLoader(transform=...)`).
# We test on the ordinary test set and on a copy of it rotated by up to ±25°.

# %%
augment = Compose([RandomAffine(15, scale=(0.9, 1.1), seed=0), RandomCrop(32, padding=2, seed=1)])
rng = np.random.default_rng(0)
X_test_rot = affine_batch(X_test, rng.uniform(-25, 25, len(X_test)), np.zeros((len(X_test), 2)),
                          np.ones(len(X_test))).astype(np.float32)
rot_loader = DataLoader(TensorDataset(X_test_rot, Y_test), batch_size=500)

aug_epochs = 3 if FAST else 30
results = {}
t0 = time.perf_counter()
for name, transform in [("plain", None), ("augmented", augment)]:
    autograd.manual_seed(0)
    model = nn.LeNet5()
    opt = nn.optim.Adam(model.parameters(), lr=2e-3)
    hist = fit(model, DataLoader(small, batch_size=50, shuffle=True, seed=0, transform=transform),
               F.cross_entropy, opt, epochs=aug_epochs, progress=False)
    results[name] = (hist[-1]["train_acc"], evaluate(model, test_loader)["accuracy"],
                     evaluate(model, rot_loader)["accuracy"])
print(f"trained in {time.perf_counter() - t0:.1f} s\n")
print(f"{'training data':14s} {'train acc':>10s} {'test acc':>9s} {'rotated test acc':>17s}")
for name, (tr, te, ro) in results.items():
    print(f"{name:14s} {tr:10.3f} {te:9.3f} {ro:17.3f}")
if not FAST:
    assert results["augmented"][1] > results["plain"][1]     # better on the ordinary test set
    assert results["augmented"][2] > results["plain"][2]     # and much better on rotated digits

# %% [markdown]
# The augmented run has the *lower* training accuracy (its training set is a
# moving target that is harder to memorise) and the *higher* test accuracy,
# most clearly on rotated digits. Augmentation reflects real variation in
# how people write; a transformation that changes the meaning (a 180°
# rotation turns a 6 into a 9) would teach the wrong thing.
#
# ## Batch norm and bad initialisation
#
# Notebook 6 showed that with weights drawn too small, $\mathcal N(0, 0.01^2)$,
# every gradient of a 10-layer ReLU network is about $10^{-11}$. Here we
# *train* that network with plain SGD (momentum 0.9), with and without
# `BatchNorm1d` after each hidden layer, and also the same network with He
# initialisation for comparison.

# %%
def deep_mlp(init_std=None, batch_norm=False, seed=0):
    autograd.manual_seed(seed)
    model = nn.MLP([32 * 32] + [64] * 9 + [10], batch_norm=batch_norm)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            if init_std is None:
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            else:
                nn.init.normal_(m.weight, std=init_std)
            nn.init.zeros_(m.bias)
    return model


bn_data = TensorDataset(X_train[: 600 if FAST else 2000], Y_train[: 600 if FAST else 2000])
bn_epochs = 2 if FAST else 8
curves = {}
t0 = time.perf_counter()
for name, kwargs in [("N(0, 0.01²) init", dict(init_std=0.01)),
                     ("N(0, 0.01²) init + batch norm", dict(init_std=0.01, batch_norm=True)),
                     ("He init", dict())]:
    model = deep_mlp(**kwargs)
    opt = nn.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    losses = []
    fit(model, DataLoader(bn_data, batch_size=50, shuffle=True, seed=0), F.cross_entropy, opt,
        epochs=bn_epochs, progress=False, callbacks=[lambda r, losses=losses: losses.append(r["train_loss"])])
    curves[name] = (losses, evaluate(model, test_loader)["accuracy"])
print(f"trained in {time.perf_counter() - t0:.1f} s")

plt.figure(figsize=(6.5, 3.8))
for name, (losses, acc) in curves.items():
    plt.plot(range(1, len(losses) + 1), losses, "o-", label=f"{name} (test acc {acc:.2f})")
plt.axhline(np.log(10), color="k", ls=":", lw=1, label="ln 10: guessing")
plt.xlabel("epoch")
plt.ylabel("training loss")
plt.title("10-layer ReLU network, SGD")
plt.legend(fontsize=8)
plt.show()

for name, (losses, acc) in curves.items():
    print(f"{name:32s} final training loss {losses[-1]:.3f}, test accuracy {acc:.3f}")
bad, bad_bn = curves["N(0, 0.01²) init"], curves["N(0, 0.01²) init + batch norm"]
assert abs(bad[0][-1] - np.log(10)) < 0.05 and bad[1] < 0.2     # stuck at guessing
assert bad_bn[0][-1] < bad[0][-1] - 0.5                          # batch norm learns
if not FAST:
    assert bad_bn[1] > 0.8

# %% [markdown]
# The badly initialised network never leaves $\ln 10 \approx 2.30$, the
# loss of a uniform guess over 10 classes: its gradients are too small for
# SGD to move anything. With batch norm the *same* initial weights train
# about as well as a carefully He-initialised network, because each layer's
# output is rescaled to unit size whatever the weights' scale.
