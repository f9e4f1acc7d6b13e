"""Notebook 8: LeNet-5 layer by layer, trained on MNIST (bundled sample, or the full set from $CHAINRULE_DATA)."""

# %% [markdown]
# # 8. LeNet-5 on MNIST
#
# LeNet-5 (LeCun et al., 1998) was one of the first convolutional networks to
# work in practice, reading handwritten digits. `nn.LeNet5` is the usual
# modern variant (ReLU, max-pooling, softmax output) of this architecture:
#
# | layer | what | output | parameters |
# |---|---|---|---|
# | input | grey image, 28×28 padded to 32×32 | 1×32×32 | 0 |
# | C1 | 6 filters 5×5 | 6×28×28 | $(5\cdot5+1)\cdot6 = 156$ |
# | S2 | 2×2 max-pool, stride 2 | 6×14×14 | 0 |
# | C3 | 16 filters 5×5 over all 6 maps | 16×10×10 | $(6\cdot5\cdot5+1)\cdot16 = 2{,}416$ |
# | S4 | 2×2 max-pool | 16×5×5 | 0 |
# | C5 | 120 filters 5×5 (covers the whole 5×5 input: fully connected) | 120×1×1 | $(16\cdot5\cdot5+1)\cdot120 = 48{,}120$ |
# | F6 | fully connected | 84 | $(120+1)\cdot84 = 10{,}164$ |
# | output | fully connected, softmax | 10 | $(84+1)\cdot10 = 850$ |

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
from nn.data import DataLoader, Subset
from nn.datasets import MNIST, mnist_sample
from nn.train import confusion_matrix, evaluate, fit, predict

FAST = os.environ.get("CHAINRULE_FAST", "0") == "1"
plt.rcParams.update({"figure.dpi": 72, "figure.figsize": (6, 4), "axes.grid": True, "grid.alpha": 0.3})
print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## The model, layer by layer
#
# `Module.summary` runs one zero image through the network and lists every
# layer's output shape and parameter count; we check the counts against the
# table above.

# %%
autograd.manual_seed(0)
model = nn.LeNet5()
print(model.summary((1, 32, 32)))

counts = {name: sum(p.data.size for p in layer.parameters()) for name, layer in model.named_children()}
expected = {"c1": 156, "s2": 0, "c3": 2_416, "s4": 0, "c5": 48_120, "flatten": 0, "f6": 10_164, "output": 850}
assert counts == expected, counts
assert model.num_parameters() == 61_706
print("per-layer counts match:", counts)

# %% [markdown]
# About 62 thousand parameters, roughly as many as MNIST has training
# images (60,000). Most of them sit in C5; the convolutional layers C1 and C3
# that look at the image hold only 2,572, thanks to weight sharing.
#
# ## Data
#
# By default we train on the bundled sample of MNIST (3,000 training and
# 1,000 test digits, balanced over the classes), which runs anywhere. If the
# real MNIST files are available (set `$CHAINRULE_DATA` to their folder, see
# `nn.datasets.MNIST`), the full 60,000 / 10,000 split is used instead,
# except in fast mode.

# %%
source = "bundled sample"
train_ds, test_ds = mnist_sample(train=True), mnist_sample(train=False)
if os.environ.get("CHAINRULE_DATA") and not FAST:
    try:
        train_ds, test_ds = MNIST(train=True), MNIST(train=False)
        source = "full MNIST from $CHAINRULE_DATA"
    except Exception as exc:  # missing or corrupt files: stay with the sample, and say so
        print("could not load MNIST from $CHAINRULE_DATA, using the bundled sample:", exc)
full_set = source.startswith("full")
train_data, test_data = train_ds.tensor_dataset(pad=2), test_ds.tensor_dataset(pad=2)
if FAST:
    train_data, test_data = Subset(train_data, range(600)), Subset(test_data, range(300))
print(f"{source}: {len(train_data)} training and {len(test_data)} test images")

fig, axes = plt.subplots(1, 10, figsize=(12, 1.6))
for k, ax in enumerate(axes):
    idx = int(np.nonzero(train_ds.targets == k)[0][0])
    ax.imshow(train_ds.data[idx], cmap="gray")
    ax.set_title(str(k))
    ax.axis("off")
plt.show()

# %% [markdown]
# ## Training
#
# Minibatch training with cross-entropy on the softmax output and the Adam
# optimiser (an SGD variant that adapts the step size per parameter). After
# every epoch we evaluate on the test set, which the network never trains on.

# %%
epochs = 2 if FAST else (1 if full_set else 8)
opt = nn.optim.Adam(model.parameters(), lr=2e-3)
t0 = time.perf_counter()
history = fit(model, DataLoader(train_data, batch_size=64, shuffle=True, seed=0), F.cross_entropy, opt,
              epochs=epochs, val_loader=DataLoader(test_data, batch_size=500), progress=False)
print(f"trained {epochs} epoch(s) in {time.perf_counter() - t0:.1f} s")
for r in history:
    print(f"epoch {r['epoch']}: train loss {r['train_loss']:.4f} acc {r['train_acc']:.4f} | "
          f"test loss {r['val_loss']:.4f} acc {r['val_acc']:.4f}")

ep = [r["epoch"] for r in history]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
axes[0].plot(ep, [r["train_loss"] for r in history], "o-", label="train")
axes[0].plot(ep, [r["val_loss"] for r in history], "o-", label="test")
axes[0].set(xlabel="epoch", ylabel="cross-entropy", title="loss")
axes[1].plot(ep, [r["train_acc"] for r in history], "o-", label="train")
axes[1].plot(ep, [r["val_acc"] for r in history], "o-", label="test")
axes[1].set(xlabel="epoch", ylabel="accuracy", title="accuracy")
for ax in axes:
    ax.legend()
plt.tight_layout()
plt.show()
assert history[-1]["train_loss"] < history[0]["train_loss"] or epochs == 1

# %% [markdown]
# ## Test accuracy and the confusion matrix
#
# Entry $(i, j)$ of the confusion matrix counts test digits of true class $i$
# predicted as $j$: the diagonal holds the correct answers, the rest shows
# *which* digits get mixed up.

# %%
x_test = np.stack([test_data[i][0] for i in range(len(test_data))])
y_test = np.array([test_data[i][1] for i in range(len(test_data))])
scores = predict(model, x_test)
pred = scores.argmax(1)
accuracy = float((pred == y_test).mean())
cm = confusion_matrix(y_test, pred, n_classes=10)
print(f"test accuracy: {accuracy:.4f} on {len(y_test)} images ({source})")
assert cm.sum() == len(y_test) and np.trace(cm) == (pred == y_test).sum()
assert abs(accuracy - evaluate(model, DataLoader(test_data, batch_size=500))["accuracy"]) < 1e-12
assert accuracy > (0.6 if FAST else 0.93)

fig, ax = plt.subplots(figsize=(5.6, 4.8))
ax.imshow(cm, cmap="Blues")
for i in range(10):
    for j in range(10):
        if cm[i, j]:
            ax.text(j, i, cm[i, j], ha="center", va="center", fontsize=8,
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
ax.set(xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10), title="confusion matrix")
ax.grid(False)
plt.show()

off = cm - np.diag(np.diag(cm))
i, j = np.unravel_index(off.argmax(), off.shape)
print(f"most frequent confusion: {i} taken for {j} ({off[i, j]} times)")

# %%
wrong = np.nonzero(pred != y_test)[0][:10]
fig, axes = plt.subplots(1, max(len(wrong), 1), figsize=(12, 1.8), squeeze=False)
for ax, k in zip(axes[0], wrong):
    ax.imshow(x_test[k, 0], cmap="gray")
    ax.set_title(f"{y_test[k]} → {pred[k]}", fontsize=10)
for ax in axes[0]:
    ax.axis("off")
fig.suptitle("some misclassified test digits (true → predicted)", y=1.05)
plt.show()
