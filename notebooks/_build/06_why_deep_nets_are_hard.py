"""Notebook 6: unstable gradients in a 10-layer network: sigmoid vs ReLU, bad vs He init, batch norm."""

# %% [markdown]
# # 6. Why deep networks are hard to train
#
# Write the network as a chain $C = f_L \circ \dots \circ f_1$ with $u_l$ the
# input of layer $l$. Backpropagation (notebook 4) gives
#
# $$\frac{\partial C}{\partial \theta_l} =
#   \frac{\partial f_L}{\partial u_L}\,\frac{\partial f_{L-1}}{\partial u_{L-1}} \cdots
#   \frac{\partial f_{l+1}}{\partial u_{l+1}}\;\frac{\partial f_l}{\partial \theta_l}.$$
#
# If every layer scales the backward signal by roughly the same factor $k$,
# i.e. $\partial f_m / \partial u_m \approx k$, then
#
# $$\Big\lVert \frac{\partial C}{\partial \theta_l} \Big\rVert \;\propto\; k^{\,L-l}:$$
#
# with $k < 1$ the early layers get almost no gradient (**vanishing**), with
# $k > 1$ an enormous one (**exploding**). Only $k \approx 1$ trains well.
# For a sigmoid layer $k$ includes $\sigma'(z) \le \tfrac14$, so a sigmoid net
# is pushed towards $k \lesssim \tfrac14$ unless the weights compensate.
#
# We measure all this on a 10-layer fully connected network (784 → 64 → … → 64 → 10)
# at initialisation, on one batch of MNIST digits.

# %%
%matplotlib inline
%config InlineBackend.figure_formats = ["png"]
import os

import matplotlib.pyplot as plt
import numpy as np

import autograd
import nn
import nn.functional as F
from autograd import Tensor
from nn.datasets import mnist_sample

FAST = os.environ.get("CHAINRULE_FAST", "0") == "1"
plt.rcParams.update({"figure.dpi": 72, "figure.figsize": (6, 4), "axes.grid": True, "grid.alpha": 0.3})
print("mode:", "fast" if FAST else "full")

X, Y = mnist_sample(train=True).arrays()          # standardised pixels, N x 1 x 28 x 28
batch = 128 if FAST else 256
X, Y = X.reshape(len(X), -1)[:batch], Y[:batch]
L, WIDTH = 10, 64
print("batch", X.shape, "layers", L)

# %% [markdown]
# The experiment: build the network with a chosen activation, weight
# initialisation and optional batch norm; run one forward and backward pass;
# record for every layer
#
# * $\lVert \partial C / \partial h_l \rVert$, the gradient reaching the layer's output (the
#   "buffer" of Algorithm 3 as it passes layer $l$), kept with `retain_grad()`;
# * $\lVert \partial C / \partial W_l \rVert$, the gradient of the layer's weights;
# * for sigmoid layers, the mean of $\sigma'(z)$ over the batch.
#
# Initialisations: weights $\sim \mathcal N(0, s^2)$ with a fixed $s$ (0.01:
# too small, 0.3: too large), "standard" $s = 1/\sqrt{n_\text{in}}$, and **He**
# (`nn.init.kaiming_normal_`) $s = \sqrt{2/n_\text{in}}$, which keeps $k \approx 1$
# for ReLU: half the units are off, and the factor 2 makes up for it.

# %%
def measure(act="relu", init="he", batch_norm=False, seed=0):
    autograd.manual_seed(seed)
    dims = [X.shape[1]] + [WIDTH] * (L - 1) + [10]
    linears = [nn.Linear(dims[i], dims[i + 1]) for i in range(L)]
    norms = [nn.BatchNorm1d(dims[i + 1]) for i in range(L - 1)] if batch_norm else []
    for lin in linears:
        if init == "he":
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
        elif init == "standard":
            nn.init.normal_(lin.weight, std=1 / np.sqrt(lin.weight.shape[1]))
        else:
            nn.init.normal_(lin.weight, std=float(init))
        nn.init.zeros_(lin.bias)
    h, outs, slopes = Tensor(X), [], []
    for i, lin in enumerate(linears):
        z = lin(h)
        if i == L - 1:
            break
        if batch_norm:
            z = norms[i](z)
        h = z.sigmoid() if act == "sigmoid" else z.relu()
        if act == "sigmoid":
            s = h.numpy()
            slopes.append(float((s * (1 - s)).mean()))
        h.retain_grad()
        outs.append(h)
    F.cross_entropy(z, Y).backward()
    return {
        "dh": np.array([np.linalg.norm(o.grad.numpy()) for o in outs]),          # layers 1..L-1
        "dW": np.array([np.linalg.norm(lin.weight.grad.numpy()) for lin in linears]),  # layers 1..L
        "slopes": np.array(slopes),
    }


configs = {
    "sigmoid, standard init": dict(act="sigmoid", init="standard"),
    "ReLU, N(0, 0.01²) (too small)": dict(act="relu", init=0.01),
    "ReLU, N(0, 0.3²) (too large)": dict(act="relu", init=0.3),
    "ReLU, He init": dict(act="relu", init="he"),
}
plain = {name: measure(**cfg) for name, cfg in configs.items()}
with_bn = {name: measure(**cfg, batch_norm=True) for name, cfg in configs.items()}


def k_estimate(dh):
    """Geometric-mean factor by which the backward signal grows per layer (towards the input)."""
    return float(np.exp(np.mean(np.log(dh[:-1] / dh[1:]))))


print(f"{'configuration':32s} {'k per layer':>12s} {'|dC/dh_1| / |dC/dh_9|':>24s}")
for name, r in plain.items():
    print(f"{name:32s} {k_estimate(r['dh']):12.3f} {r['dh'][0] / r['dh'][-1]:24.3g}")

# %%
layers = np.arange(1, L)
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
for name, r in plain.items():
    axes[0].semilogy(layers, r["dh"], "o-", ms=4, label=name)
    axes[1].semilogy(np.arange(1, L + 1), r["dW"], "o-", ms=4, label=name)
k_sig = k_estimate(plain["sigmoid, standard init"]["dh"])
r = plain["sigmoid, standard init"]["dh"]
axes[0].semilogy(layers, r[-1] * k_sig ** (layers[-1] - layers), "k:", lw=1, label=f"$k^{{L-l}}$, k = {k_sig:.2f}")
axes[0].set(xlabel="layer l (1 = next to the input)", ylabel=r"$\|\partial C/\partial h_l\|$",
            title="backward signal reaching layer l")
axes[1].set(xlabel="layer l", ylabel=r"$\|\partial C/\partial W_l\|$", title="weight gradient of layer l")
axes[0].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Reading the plots from right (output) to left (input):
#
# * **sigmoid**: the signal shrinks by a near-constant factor per layer, a
#   straight line on the log scale, exactly the $k^{L-l}$ law. The measured
#   $k$ is close to the mean slope $\sigma'(z)$, which never exceeds $\tfrac14$ (checked below);
# * **ReLU, too small weights**: $k \ll 1$, vanishing even faster;
# * **ReLU, too large weights**: $k > 1$, the first layers get gradients
#   hundreds of times larger than the last;
# * **ReLU with He init**: flat, $k \approx 1$.
#
# The weight gradient is the buffer times the layer's *input*,
# $\partial C/\partial W_l = (\partial C/\partial z_l)\,u_l^\top$. With badly
# scaled weights the forward activations shrink (or grow) by the same factor,
# so for the too-small ReLU net *every* weight gradient is around $10^{-11}$ (no layer learns)
# and for the too-large one around $10^{3}$ (every step overshoots).

# %%
sig = plain["sigmoid, standard init"]
print("mean sigmoid'(z) per layer:", np.round(sig["slopes"], 3))
assert np.all(sig["slopes"] <= 0.25)
assert k_estimate(sig["dh"]) < 0.3                      # vanishing, close to the 1/4 bound
assert sig["dh"][0] / sig["dh"][-1] < 1e-3
assert plain["ReLU, N(0, 0.01²) (too small)"]["dh"][0] / plain["ReLU, N(0, 0.01²) (too small)"]["dh"][-1] < 1e-6
assert plain["ReLU, N(0, 0.01²) (too small)"]["dW"].max() < 1e-6
assert plain["ReLU, N(0, 0.3²) (too large)"]["dh"][0] / plain["ReLU, N(0, 0.3²) (too large)"]["dh"][-1] > 10
assert 0.5 < k_estimate(plain["ReLU, He init"]["dh"]) < 2
he_w = plain["ReLU, He init"]["dW"][:-1]
assert he_w.max() / he_w.min() < 10

# %% [markdown]
# ## Batch normalisation
#
# Batch norm standardises every unit over the minibatch before the activation,
#
# $$\hat z = \frac{z - \mu_\text{batch}}{\sqrt{\sigma^2_\text{batch} + \epsilon}}, \qquad
#   \text{BN}(z) = \gamma\,\hat z + \beta,$$
#
# so whatever scale the weights have, each layer's output starts at unit
# scale. It is an ordinary differentiable function, so backprop goes through
# it; and because $\hat z$ does not change when $W$ is multiplied by a
# constant, neither does the backward signal. Same four networks, now with
# `nn.BatchNorm1d` after every hidden Linear:

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), sharey=True)
for ax, (title, results) in zip(axes, [("without batch norm", plain), ("with batch norm", with_bn)]):
    for name, r in results.items():
        ax.semilogy(np.arange(1, L + 1), r["dW"], "o-", ms=4, label=name)
    ax.set(title=f"weight gradient per layer, {title}", xlabel="layer l")
axes[0].set_ylabel(r"$\|\partial C/\partial W_l\|$")
axes[1].legend(fontsize=8)
plt.tight_layout()
plt.show()

print(f"{'configuration':32s} {'max/min |dC/dW_l| plain':>24s} {'with batch norm':>16s}")
for name in configs:
    p, b = plain[name]["dW"][:-1], with_bn[name]["dW"][:-1]
    print(f"{name:32s} {p.max() / p.min():24.3g} {b.max() / b.min():16.3g}")
    assert b.max() / b.min() < 20        # batch norm: all hidden layers get comparable gradients
    assert b.min() > 1e-3                # ... and none of them vanishes

typical = {t: [float(np.median(r[n]["dW"][:-1])) for n in configs] for t, r in [("plain", plain), ("bn", with_bn)]}
spread = {t: max(v) / min(v) for t, v in typical.items()}
print(f"typical |dC/dW| across the four networks differs by a factor {spread['plain']:.2g} without batch norm, "
      f"{spread['bn']:.2g} with it")
assert spread["plain"] > 1e6 and spread["bn"] < 100

# %% [markdown]
# With batch norm the four very different networks look alike: all layers
# receive gradients of similar size whatever the initial weight scale, and
# even the sigmoid network no longer vanishes (its units are kept in the
# steep middle part of the sigmoid). That is the robustness to bad
# initialisation that made batch norm a default ingredient. Good
# initialisation (He for ReLU) achieves $k \approx 1$ without it, at least at the start of training.
