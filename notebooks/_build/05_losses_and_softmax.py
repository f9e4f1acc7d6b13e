"""Notebook 5: L1, L2 and cross-entropy losses; softmax as a smooth argmax; overflow and the stable softmax."""

# %% [markdown]
# # 5. Losses and softmax
#
# A **loss** (or cost) measures how badly the network's output $o$ fits the
# target $y$ on one example; training minimises its average over the
# training set, $C = \frac1n \sum_i L(o_i, y_i)$. The choice of $L$ matters
# because its *gradient* is the signal that flows back through the network.
#
# | loss | $L(o, y)$ | $\partial L / \partial o$ |
# |---|---|---|
# | L2 (squared) | $\tfrac12\lVert o - y\rVert^2$ | $o - y$ |
# | L1 (absolute) | $\lvert o - y\rvert$ | $\operatorname{sign}(o - y)$ |
# | cross-entropy | $-\ln o_y$ ($o$ a probability vector, $y$ a class) | $-1/o_y$ on entry $y$ |

# %%
%matplotlib inline
%config InlineBackend.figure_formats = ["png"]
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np

import autograd
import nn.functional as F
from autograd import Tensor, Value

FAST = os.environ.get("CHAINRULE_FAST", "0") == "1"
plt.rcParams.update({"figure.dpi": 72, "figure.figsize": (6, 4), "axes.grid": True, "grid.alpha": 0.3})
print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## L1 and L2 for a single number
#
# The L2 gradient is proportional to the error: large mistakes pull hard,
# small ones barely at all. The L1 gradient has the same size, 1, whatever
# the error. Both curves below are computed with autograd through
# `F.mse_loss` / `F.l1_loss` (summed, so L2 is $\tfrac12$ `mse_loss(..., 'sum')`).

# %%
target = Tensor(np.zeros(401))
o = Tensor(np.linspace(-3, 3, 401), requires_grad=True)
l2 = F.mse_loss(o, target, reduction="none") * 0.5
l2.sum().backward()
g_l2 = o.grad.numpy().copy()
o.grad = None
l1 = F.l1_loss(o, target, reduction="none")
l1.sum().backward()
g_l1 = o.grad.numpy().copy()

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
axes[0].plot(o.numpy(), l2.numpy(), label=r"L2: $\frac{1}{2}(o-y)^2$")
axes[0].plot(o.numpy(), l1.numpy(), label=r"L1: $|o-y|$")
axes[0].set(xlabel="output o (target y = 0)", title="loss")
axes[1].plot(o.numpy(), g_l2, label="L2 gradient  o - y")
axes[1].plot(o.numpy(), g_l1, label="L1 gradient  sign(o - y)")
axes[1].set(xlabel="output o", title="gradient (autograd)")
for ax in axes:
    ax.legend()
plt.tight_layout()
plt.show()
assert np.allclose(g_l2, o.numpy())
assert np.array_equal(g_l1[o.numpy() > 0], np.ones((o.numpy() > 0).sum()))

# %% [markdown]
# ### The same difference, seen through an outlier
#
# Fit a single constant $c$ to the numbers $1, 2, 3, 4, 100$ by gradient
# descent. Minimising $\sum_i \tfrac12 (c - y_i)^2$ gives the **mean**
# (22): the outlier drags the answer. Minimising $\sum_i |c - y_i|$ gives the
# **median** (3): the outlier pulls with the same force as any other point.

# %%
ys = Tensor([1.0, 2.0, 3.0, 4.0, 100.0])
fits = {}
for name, loss_fn, lr in [("L2", lambda c: (F.mse_loss(c.expand(5), ys, "sum") * 0.5), 0.1),
                          ("L1", lambda c: F.l1_loss(c.expand(5), ys, "sum"), 0.5)]:
    c = Tensor(0.0, requires_grad=True)
    for it in range(400):
        c.grad = None
        loss_fn(c).backward()
        c.data -= (lr if name == "L2" else lr / (1 + it)) * c.grad.data
    fits[name] = c.item()
print({k: round(v, 3) for k, v in fits.items()}, " mean:", ys.numpy().mean(), " median:", np.median(ys.numpy()))
assert abs(fits["L2"] - 22.0) < 1e-3 and abs(fits["L1"] - 3.0) < 0.1

# %% [markdown]
# ## Cross-entropy for classification
#
# For a classifier with 10 outputs (one per digit) we read the output as a
# probability distribution $o$ over the classes and use
#
# $$L(o, y) = -\ln o_y \;\ge 0,$$
#
# the surprise of seeing the true class $y$. It is 0 only when $o_y = 1$ and
# grows without bound as $o_y \to 0$: a confident wrong answer is punished
# far more than by L1 or L2 on the one-hot target $e_y$, which can never
# exceed 2 (L1) or 1 (L2).

# %%
y = 0
preds = {"confident, right": [0.90, 0.05, 0.05], "unsure": [0.40, 0.30, 0.30],
         "wrong": [0.20, 0.70, 0.10], "confident, wrong": [0.01, 0.98, 0.01]}
e_y = np.eye(3)[y]
print(f"{'prediction (target class 0)':30s} {'L1':>6s} {'L2':>6s} {'cross-entropy':>14s}")
ce_values = []
for name, p in preds.items():
    p = np.array(p)
    l1v, l2v, cev = np.abs(p - e_y).sum(), 0.5 * ((p - e_y) ** 2).sum(), -np.log(p[y])
    ce_values.append(cev)
    print(f"{name:30s} {l1v:6.3f} {l2v:6.3f} {cev:14.3f}")
assert ce_values == sorted(ce_values) and ce_values[-1] > 4

pgrid = np.linspace(0.005, 1, 300)
plt.figure(figsize=(5, 3.4))
plt.plot(pgrid, -np.log(pgrid))
plt.xlabel("probability given to the true class $o_y$")
plt.ylabel(r"$-\ln o_y$")
plt.title("cross-entropy")
plt.show()

# %% [markdown]
# ## Softmax: turning scores into probabilities
#
# A sigmoid per output gives numbers in $[0, 1]$ that need not sum to 1. The
# **softmax** layer does: from scores (logits) $z$,
#
# $$a_j = \frac{e^{z_j}}{\sum_k e^{z_k}}.$$
#
# Its outputs are positive and sum to 1; raising one $z_m$ raises $a_m$ and
# lowers all the others; and if $z_m$ is much larger than the rest, $a \approx e_m$.
# So softmax is a **smooth argmax**: multiplying the logits by a growing
# factor $\beta$ sharpens it into the one-hot vector of the largest entry.

# %%
z = np.array([2.0, 1.0, 0.5, -1.0])
a = autograd.softmax(Tensor(z)).numpy()
assert np.all(a > 0) and abs(a.sum() - 1) < 1e-12
bumped = autograd.softmax(Tensor(z + np.array([0, 0.5, 0, 0]))).numpy()
assert bumped[1] > a[1] and np.all(bumped[[0, 2, 3]] < a[[0, 2, 3]])  # up for m, down for the rest

betas = [0.1, 1, 3, 10]
fig, axes = plt.subplots(1, len(betas), figsize=(13, 2.8), sharey=True)
for ax, beta in zip(axes, betas):
    p = autograd.softmax(Tensor(beta * z)).numpy()
    ax.bar(range(len(z)), p, color=["C3" if i == z.argmax() else "C0" for i in range(len(z))])
    ax.set(title=f"softmax({beta} z)", xticks=range(len(z)), ylim=(0, 1.05))
axes[0].set_ylabel("probability")
plt.tight_layout()
plt.show()
sharp = autograd.softmax(Tensor(100 * z)).numpy()
assert np.allclose(sharp, np.eye(4)[z.argmax()], atol=1e-12)
print("softmax(z)      =", np.round(a, 4))
print("softmax(100 z)  =", np.round(sharp, 4), "= one-hot of argmax", z.argmax())

# %% [markdown]
# ### Softmax and cross-entropy together: a very simple gradient
#
# With $a = \operatorname{softmax}(z)$ and $L = -\ln a_y$, the chain rule
# collapses to
#
# $$\frac{\partial L}{\partial z} = a - e_y,$$
#
# "predicted minus true" distribution. Compare this with L2 on the softmax
# output when the network is **confidently wrong** (logits $z = (8, 0, 0)$,
# true class 1): the softmax is saturated, its derivative nearly 0, and the L2
# gradient vanishes with it. Cross-entropy still pushes with a gradient of
# size about 1; this is why classifiers are trained with cross-entropy.

# %%
zt = Tensor([[8.0, 0.0, 0.0]], requires_grad=True)
F.cross_entropy(zt, np.array([1])).backward()
g_ce = zt.grad.numpy().ravel().copy()
a = autograd.softmax(Tensor([[8.0, 0.0, 0.0]])).numpy().ravel()
assert np.allclose(g_ce, a - np.eye(3)[1], atol=1e-6)

zt.grad = None
(F.mse_loss(autograd.softmax(zt), Tensor(np.eye(3)[[1]]), "sum") * 0.5).backward()
g_l2 = zt.grad.numpy().ravel()
print("d CE / dz      :", np.round(g_ce, 5), "  norm", round(float(np.linalg.norm(g_ce)), 4))
print("d L2(softmax)/dz:", np.round(g_l2, 5), "  norm", round(float(np.linalg.norm(g_l2)), 6))
assert np.linalg.norm(g_ce) > 100 * np.linalg.norm(g_l2)

# gradient check of the fused cross-entropy against finite differences (float64)
logits = Tensor(np.random.default_rng(0).normal(size=(4, 5)), requires_grad=True)
labels = np.array([0, 3, 1, 4])
assert autograd.gradcheck(lambda t: F.cross_entropy(t, labels), logits)

# %% [markdown]
# ## Large logits: the naive softmax overflows
#
# $e^{z}$ overflows a float64 once $z > 709$ (float32: $z > 88$). With logits
# around 1000 the naive formula computes $\infty / \infty$ = `nan`. The cure
# is free: softmax does not change when the same constant is subtracted from
# every logit,
#
# $$\frac{e^{z_j}}{\sum_k e^{z_k}} = \frac{e^{z_j - c}}{\sum_k e^{z_k - c}}, \qquad c = \max_k z_k,$$
#
# and after the shift the largest exponent is $e^0 = 1$: nothing can
# overflow, and at least one term of the sum is 1, so nothing divides by 0.
# For the loss one works with $\ln a_j = z_j - c - \ln\sum_k e^{z_k - c}$
# (log-sum-exp), which also avoids $\ln 0 = -\infty$ when a probability
# underflows.

# %%
def naive_softmax(z):
    e = np.exp(z)
    return e / e.sum()


def stable_softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


big = np.array([1000.0, 999.0, 998.0])
with warnings.catch_warnings(record=True) as caught, np.errstate(over="warn", invalid="warn"):
    warnings.simplefilter("always")
    naive = naive_softmax(big)
print("naive  :", naive, "  numpy warned:", sorted({str(w.message) for w in caught}))
print("stable :", stable_softmax(big))
print("library:", autograd.softmax(Tensor(big)).numpy())
assert np.all(np.isnan(naive))
assert np.allclose(stable_softmax(big), stable_softmax(big - 1000)) and abs(stable_softmax(big).sum() - 1) < 1e-12
assert np.allclose(autograd.softmax(Tensor(big)).numpy(), stable_softmax(big))

# The same failure with scalar Values: exp overflows to inf and inf / inf is nan
vs = [Value(v) for v in big]
exps = [v.exp() for v in vs]
total = exps[0] + exps[1] + exps[2]
print("Value exp(1000) =", exps[0].data, "-> naive softmax entry:", (exps[0] / total).data)
assert np.isnan((exps[0] / total).data)

# %%
# Cross-entropy at extreme logits: log(naive softmax) gives -inf, the fused loss stays exact.
zz = np.array([0.0, -1000.0])
with np.errstate(divide="ignore"):
    naive_ce = -np.log(stable_softmax(zz)[1])
fused = F.cross_entropy(Tensor(zz[None, :]), np.array([1])).item()
print("naive  -log softmax(z)_1 =", naive_ce, "   fused cross_entropy =", fused)
assert np.isinf(naive_ce) and abs(fused - 1000.0) < 1e-3
