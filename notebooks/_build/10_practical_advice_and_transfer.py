"""Notebook 10: overfit 50 samples as a sanity check; transfer learning with a frozen body and a new head."""

# %% [markdown]
# # 10. Practical advice and transfer learning
#
# Two habits of people who train networks for a living:
#
# 1. **Before training for real, overfit a tiny subset.** A network that
#    cannot memorise 50 examples has a bug (in the model, the loss, the data
#    pipeline or the gradients) or is far too weak; finding that out takes
#    seconds instead of a wasted training run.
# 2. **Don't train from scratch if you don't have to.** Features learned on a
#    large data set (edges, strokes, shapes) are useful for related tasks.
#    Keep the pretrained network's body, put a new output layer ("head") on
#    it, and train that head on your small data set: **transfer learning**.

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
from nn.datasets import mnist_sample
from nn.train import evaluate, fit, overfit_check

FAST = os.environ.get("CHAINRULE_FAST", "0") == "1"
plt.rcParams.update({"figure.dpi": 72, "figure.figsize": (6, 4), "axes.grid": True, "grid.alpha": 0.3})
print("mode:", "fast" if FAST else "full")

X_train, Y_train = mnist_sample(train=True).arrays(pad=2)   # standardised, 32 x 32
X_test, Y_test = mnist_sample(train=False).arrays(pad=2)

# %% [markdown]
# ## Sanity check: memorise 50 samples
#
# Full-batch training of LeNet-5 on the first 50 training digits; the loss
# should go to (nearly) zero and the accuracy on those 50 to 100%. The
# accuracy on the test set stays poor, which is expected: 50 examples teach
# the network little about digits in general.

# %%
autograd.manual_seed(0)
model = nn.LeNet5()
x50, y50 = Tensor(X_train[:50]), Y_train[:50]
opt = nn.optim.Adam(model.parameters(), lr=2e-3)
losses, accs = [], []
for step in range(100 if FAST else 150):
    out = model(x50)
    loss = F.cross_entropy(out, y50)
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
    accs.append(float((out.numpy().argmax(1) == y50).mean()))
train50 = evaluate(model, [(x50, y50)])["accuracy"]
test_acc = evaluate(model, DataLoader(TensorDataset(X_test, Y_test), batch_size=500))["accuracy"]

fig, ax = plt.subplots(figsize=(6.5, 3.6))
ax.semilogy(losses, label="training loss (50 samples)")
ax.set(xlabel="step", ylabel="cross-entropy", title="overfitting 50 samples")
ax2 = ax.twinx()
ax2.plot(accs, color="C1", label="accuracy on the 50")
ax2.set(ylabel="accuracy", ylim=(0, 1.05))
ax2.grid(False)
fig.legend(loc="center right", fontsize=8, bbox_to_anchor=(0.88, 0.5))
plt.show()
print(f"final loss {losses[-1]:.4f}; accuracy on the 50: {train50:.0%}; on the test set: {test_acc:.1%}")
assert train50 == 1.0 and losses[-1] < 0.05

# The library packages the same check: nn.train.overfit_check returns the accuracy on the n samples.
autograd.manual_seed(1)
acc = overfit_check(nn.LeNet5(), TensorDataset(X_train, Y_train), n=50, epochs=200)
print("overfit_check(LeNet5, n=50):", acc)
assert acc == 1.0

# %% [markdown]
# If this check fails, lower (or raise) the learning rate first; if it still
# fails, suspect the code. A deliberately broken pipeline shows what a
# typical bug does: a model whose layers were frozen by mistake (a leftover
# `requires_grad_(False)`) gets no gradient in those layers, and they never move.

# %%
autograd.manual_seed(0)
broken = nn.LeNet5().requires_grad_(False)      # the bug: every parameter frozen
broken.output.requires_grad_(True)              # ... except the last layer
before = broken.c1.weight.numpy().copy()
opt = nn.optim.Adam([p for p in broken.parameters() if p.requires_grad], lr=2e-3)
for step in range(60 if FAST else 150):
    loss = F.cross_entropy(broken(x50), y50)
    opt.zero_grad()
    loss.backward()
    opt.step()
acc_broken = evaluate(broken, [(x50, y50)])["accuracy"]
print(f"only the last layer trainable: loss {loss.item():.3f}, accuracy on the 50: {acc_broken:.0%}")
assert np.array_equal(before, broken.c1.weight.numpy()) and broken.c1.weight.grad is None

# %% [markdown]
# (With random frozen features the last layer alone may or may not reach
# 100%; the point is that the frozen layers never changed, and a check that
# does not reach 100% tells you to look.)
#
# ## Transfer learning
#
# No ImageNet here, but the same idea at MNIST scale:
#
# * **pretraining task**: classify digits 0–4, with all the sample's images of them;
# * **new task**: classify digits 5–9, with only a handful of labelled examples per class.
#
# For the new task we keep the pretrained body (C1 … F6), freeze it with
# `requires_grad_(False)`, and put a fresh `Linear(84, 5)` head on top; only
# the head's $84 \cdot 5 + 5 = 425$ parameters are trained. The baseline trains
# the whole LeNet-5 from scratch on the same few examples.

# %%
old, new = Y_train < 5, Y_train >= 5
pre_train = TensorDataset(X_train[old], Y_train[old])
test_old = DataLoader(TensorDataset(X_test[Y_test < 5], Y_test[Y_test < 5]), batch_size=500)

autograd.manual_seed(0)
pretrained = nn.LeNet5(num_classes=5)
opt = nn.optim.Adam(pretrained.parameters(), lr=2e-3)
t0 = time.perf_counter()
fit(pretrained, DataLoader(pre_train, batch_size=64, shuffle=True, seed=0), F.cross_entropy, opt,
    epochs=1 if FAST else 5, progress=False)
acc_old = evaluate(pretrained, test_old)["accuracy"]
print(f"pretrained on {len(pre_train)} images of digits 0-4 in {time.perf_counter() - t0:.1f} s: "
      f"test accuracy on 0-4 = {acc_old:.3f}")
assert acc_old > (0.7 if FAST else 0.95)

# %%
per_class = 5 if FAST else 10
rng = np.random.default_rng(0)
few_idx = np.concatenate([rng.choice(np.nonzero(Y_train == d)[0], per_class, replace=False) for d in range(5, 10)])
x_few, y_few = Tensor(X_train[few_idx]), Y_train[few_idx] - 5          # labels 5..9 -> 0..4
test_new = DataLoader(TensorDataset(X_test[Y_test >= 5], Y_test[Y_test >= 5] - 5), batch_size=500)
print(f"new task: {len(y_few)} labelled training images ({per_class} per digit 5-9), "
      f"{int((Y_test >= 5).sum())} test images")
pretrained_state = pretrained.state_dict()
steps = 100 if FAST else 300


def train_on_few(model, lr):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = nn.optim.Adam(params, lr=lr)
    for _ in range(steps):
        loss = F.cross_entropy(model(x_few), y_few)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return evaluate(model, [(x_few, y_few)])["accuracy"], evaluate(model, test_new)["accuracy"]


def from_pretrained():
    model = nn.LeNet5(num_classes=5)
    model.load_state_dict(pretrained_state)
    model.output = nn.Linear(84, 5)                    # fresh head for the new classes
    return model


results = {}
# 1. transfer: frozen pretrained body, only the new head learns
autograd.manual_seed(1)
frozen = from_pretrained()
frozen.requires_grad_(False)
frozen.output.requires_grad_(True)
n_trainable = sum(p.data.size for p in frozen.parameters() if p.requires_grad)
print("frozen body: trainable parameters", n_trainable, "of", frozen.num_parameters())
assert n_trainable == 425
body_before = {k: v.copy() for k, v in frozen.state_dict().items() if not k.startswith("output")}
results["pretrained body (frozen) + new head"] = train_on_few(frozen, lr=1e-2)
body_after = {k: v for k, v in frozen.state_dict().items() if not k.startswith("output")}
assert all(np.array_equal(body_before[k], body_after[k]) for k in body_before)   # the body really stayed frozen

# 2. fine-tuning: start from the pretrained weights, train everything
autograd.manual_seed(1)
results["pretrained, then fine-tune all layers"] = train_on_few(from_pretrained(), lr=1e-3)

# 3. baseline: everything from scratch, same data, same number of steps
autograd.manual_seed(1)
results["from scratch"] = train_on_few(nn.LeNet5(num_classes=5), lr=3e-3)

print(f"\n{'':40s} {'train acc':>10s} {'test acc (5-9)':>15s}")
for name, (tr, te) in results.items():
    print(f"{name:40s} {tr:10.3f} {te:15.3f}")
assert results["pretrained body (frozen) + new head"][1] > 0.4            # far above chance (0.2) with 425 weights
if not FAST:
    assert results["pretrained, then fine-tune all layers"][1] >= results["from scratch"][1] - 0.02

fig, ax = plt.subplots(figsize=(7, 3.4))
names = list(results)
ax.barh(range(3), [results[n][1] for n in names], color=["C2", "C0", "C7"])
for k, n in enumerate(names):
    ax.text(results[n][1] + 0.01, k, f"{results[n][1]:.1%}", va="center")
ax.set(yticks=range(3), yticklabels=names, xlim=(0, 1.1), xlabel="test accuracy on digits 5-9",
       title=f"{len(y_few)} training images of the new classes")
ax.invert_yaxis()
plt.tight_layout()
plt.show()

# %% [markdown]
# An honest result, and a lesson about *when* transfer works. The frozen
# body with a 425-parameter head does far better than chance, but here it
# does **not** beat training from scratch: the features of a network that
# has only ever seen 1,500 images of five digits are specialised to telling
# those five apart (its last layers especially), and MNIST digits are so easy
# that 50 examples already train a small network well. Starting from the
# pretrained weights and fine-tuning *all* layers does at least as well as
# from scratch.
#
# Transfer pays off when the pretraining set is large and diverse compared
# with the new task (ImageNet: 1.2 million images of 1,000 classes, whose
# filters apply to almost any photo) and the new data set is small; that is
# the ants-and-bees example of the notes, where 240 training images give
# about 95% accuracy. In that situation the frozen-features recipe is the
# standard first thing to try.
#
# **Practical advice, summarised**: start from a pretrained model of an
# architecture that works well, adapt its head to your task, check that it
# can overfit a small subset, then tune the learning rate and the
# regularisation (dropout, augmentation) on a validation set.
