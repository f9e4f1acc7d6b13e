"""Notebook 7: a 5x5 filter on a digit, 2x2 max pooling, parameter counts, learned LeNet-5 filters."""

# %% [markdown]
# # 7. Convolution and pooling
#
# A fully connected layer treats the 784 pixels of a digit as an unordered
# list: a pixel in the corner and its neighbour are as unrelated as any two
# pixels, and the network must learn the image's geometry from data.
# Convolutional networks build the geometry in, with three ideas:
#
# 1. **local receptive fields**: a hidden unit looks only at a small window (e.g. 5×5) of the input;
# 2. **shared weights**: all units of one feature map use the *same* 5×5 weights and bias, i.e.
#    they detect the same feature at every position,
#    $$a_{ij} = \sigma\Big(b + \sum_{p=0}^{4}\sum_{q=0}^{4} w_{pq}\, x_{i+p,\,j+q}\Big);$$
# 3. **pooling**: a summary (e.g. the maximum) of small blocks of a feature map.

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
from nn.data import DataLoader
from nn.datasets import mnist_sample
from nn.train import evaluate, fit

FAST = os.environ.get("CHAINRULE_FAST", "0") == "1"
plt.rcParams.update({"figure.dpi": 72, "figure.figsize": (6, 4), "axes.grid": False})
print("mode:", "fast" if FAST else "full")

train_set, test_set = mnist_sample(train=True), mnist_sample(train=False)
digit = train_set[0][0][0]            # 28 x 28, values in [0, 1]
print("digit label", train_set[0][1], "shape", digit.shape)

# %% [markdown]
# ## One 5×5 filter sliding over a digit
#
# Sliding a 5×5 window over a 28×28 image with stride 1 fits $28 - 5 + 1 = 24$
# positions per direction, so one filter produces a **24×24 feature map**.
# Two hand-made filters: one responds to vertical edges (dark on the left,
# bright on the right), one to horizontal edges.

# %%
vertical = np.tile(np.array([-1.0, -1.0, 0.0, 1.0, 1.0]), (5, 1)) / 10
horizontal = vertical.T.copy()
weights = Tensor(np.stack([vertical, horizontal])[:, None].astype(np.float32))   # (2 filters, 1 channel, 5, 5)
x = Tensor(digit[None, None])                                                       # (1 image, 1 channel, 28, 28)
maps = F.conv2d(x, weights)
print("input", x.shape, "-> feature maps", maps.shape)
assert maps.shape == (1, 2, 24, 24)

# the same number by hand: the window whose top-left corner is (i, j)
i, j = 10, 7
by_hand = float((digit[i:i + 5, j:j + 5] * vertical).sum())
assert abs(by_hand - maps.numpy()[0, 0, i, j]) < 1e-5
print(f"unit ({i}, {j}) of the vertical-edge map: by hand {by_hand:.4f}, conv2d {maps.numpy()[0, 0, i, j]:.4f}")

fig, axes = plt.subplots(1, 5, figsize=(14, 3))
panels = [(digit, "input 28×28", "gray"), (vertical, "vertical-edge filter", "bwr"),
          (maps.numpy()[0, 0], "its feature map 24×24", "bwr"), (horizontal, "horizontal-edge filter", "bwr"),
          (maps.numpy()[0, 1], "its feature map 24×24", "bwr")]
for ax, (img, title, cmap) in zip(axes, panels):
    lim = np.abs(img).max()
    ax.imshow(img, cmap=cmap, vmin=-lim if cmap == "bwr" else 0, vmax=lim)
    ax.set_title(title, fontsize=10)
    ax.axis("off")
axes[0].add_patch(plt.Rectangle((j - 0.5, i - 0.5), 5, 5, fill=False, ec="red", lw=2))
plt.tight_layout()
plt.show()

# %% [markdown]
# Red marks a positive response (dark-to-bright edge in the filter's
# direction), blue the opposite edge. Because the weights are shared, moving
# the digit moves the feature map with it: convolution is **translation
# equivariant**. Shift the digit 3 pixels right and the map shifts 3 pixels right.

# %%
shifted = np.zeros_like(digit)
shifted[:, 3:] = digit[:, :-3]
maps_shifted = F.conv2d(Tensor(shifted[None, None]), weights).numpy()[0]
assert np.allclose(maps_shifted[:, :, 3:], maps.numpy()[0][:, :, :-3], atol=1e-6)
print("feature map of the shifted digit == shifted feature map: True")

# %% [markdown]
# ## 2×2 max-pooling
#
# Max-pooling replaces each 2×2 block of a feature map by its maximum: the
# 24×24 map becomes **12×12**. It keeps *whether* a feature was found in a
# region and forgets exactly where, and it cuts the number of values the next
# layer must handle by 4.

# %%
pooled = F.max_pool2d(maps, 2)
print("feature maps", maps.shape, "-> pooled", pooled.shape)
assert pooled.shape == (1, 2, 12, 12)
m = maps.numpy()[0, 0]
assert np.allclose(pooled.numpy()[0, 0], m.reshape(12, 2, 12, 2).max(axis=(1, 3)))

fig, axes = plt.subplots(1, 2, figsize=(6.5, 3))
for ax, img, title in zip(axes, [m, pooled.numpy()[0, 0]], ["feature map 24×24", "max-pooled 12×12"]):
    lim = np.abs(m).max()
    ax.imshow(img, cmap="bwr", vmin=-lim, vmax=lim)
    ax.set_title(title, fontsize=10)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Why share weights: counting parameters
#
# A feature map needs $5 \times 5 = 25$ weights plus one bias, 26 parameters.
# Twenty feature maps: $20 \times 26 = 520$. A fully connected layer from
# the $28 \times 28 = 784$ pixels to only 30 hidden units already needs
# $784 \times 30 + 30 = 23{,}550$, 45 times more, and it knows nothing about
# neighbouring pixels.

# %%
conv = nn.Conv2d(1, 20, 5)
dense = nn.Linear(784, 30)
print(f"Conv2d(1, 20, 5): {conv.num_parameters():,} parameters -> output {conv(x).shape}")
print(f"Linear(784, 30) : {dense.num_parameters():,} parameters")
assert conv.num_parameters() == 20 * (5 * 5 + 1) == 520
assert dense.num_parameters() == 784 * 30 + 30 == 23_550

# %% [markdown]
# ## What a trained network's filters look like
#
# `nn.LeNet5` (notebook 8 goes through it layer by layer) starts with 6
# learned 5×5 filters. We train it briefly on the bundled MNIST sample
# (3,000 training digits) and look at those filters and at the 6 feature maps
# they produce for our digit, before and after pooling.

# %%
autograd.manual_seed(0)
model = nn.LeNet5()
train_data = train_set.tensor_dataset(pad=2)   # standardised, zero-padded to 32 x 32
test_data = test_set.tensor_dataset(pad=2)
if FAST:
    train_data = nn.data.Subset(train_data, range(600))
epochs = 1 if FAST else 3
opt = nn.optim.Adam(model.parameters(), lr=2e-3)
t0 = time.perf_counter()
history = fit(model, DataLoader(train_data, batch_size=64, shuffle=True, seed=0), F.cross_entropy, opt,
              epochs=epochs, progress=False)
acc = evaluate(model, DataLoader(test_data, batch_size=500))["accuracy"]
print(f"{epochs} epoch(s) in {time.perf_counter() - t0:.1f} s; train loss {history[-1]['train_loss']:.3f}, "
      f"test accuracy {acc:.3f}")
assert acc > (0.5 if FAST else 0.9)

# %%
filters = model.c1.weight.numpy()[:, 0]                 # (6, 5, 5)
x32 = Tensor(test_data[0][0][None])                      # one test digit, 1 x 1 x 32 x 32
with autograd.no_grad():
    fmap = F.relu(model.c1(x32))
    pooled = model.s2(fmap)
assert fmap.shape == (1, 6, 28, 28) and pooled.shape == (1, 6, 14, 14)

fig, axes = plt.subplots(3, 7, figsize=(12, 5.4))
axes[1, 0].imshow(x32.numpy()[0, 0], cmap="gray")
axes[1, 0].set_title("input", fontsize=9)
for k in range(6):
    lim = np.abs(filters[k]).max()
    axes[0, k + 1].imshow(filters[k], cmap="bwr", vmin=-lim, vmax=lim)
    axes[0, k + 1].set_title(f"filter {k}", fontsize=9)
    axes[1, k + 1].imshow(fmap.numpy()[0, k], cmap="magma")
    axes[1, k + 1].set_title("map 28×28", fontsize=9)
    axes[2, k + 1].imshow(pooled.numpy()[0, k], cmap="magma")
    axes[2, k + 1].set_title("pooled 14×14", fontsize=9)
for ax in axes.ravel():
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# The learned filters are small stroke and edge detectors (their exact look
# depends on the random start and the short training), and each map
# lights up where its stroke occurs in the digit. Deeper layers combine these
# maps into detectors of larger shapes.
