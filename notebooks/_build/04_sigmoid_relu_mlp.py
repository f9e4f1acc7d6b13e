"""Notebook 4: activations, a scalar MLP on two moons, and backpropagation drawn step by step."""

# %% [markdown]
# # 4. Sigmoid, ReLU and the multi-layer perceptron
#
# The perceptron's step is what makes it untrainable (notebook 3). Replace it
# by a smooth or piecewise-linear **activation** $\sigma$ and a neuron
# computes $y = \sigma(\sum_j w_j x_j + b)$, with useful derivatives:
#
# | activation | $\sigma(z)$ | $\sigma'(z)$ |
# |---|---|---|
# | step | $1$ if $z>0$ else $0$ | $0$ (undefined at 0) |
# | sigmoid | $\dfrac{1}{1+e^{-z}}$ | $\sigma(z)\,(1-\sigma(z)) \le \tfrac14$ |
# | tanh | $\tanh z$ | $1 - \tanh^2 z \le 1$ |
# | ReLU | $\max(0, z)$ | $1$ if $z > 0$ else $0$ |

# %%
%matplotlib inline
%config InlineBackend.figure_formats = ["png"]
import os
import time

import matplotlib.pyplot as plt
import numpy as np

import autograd
import nn.optim as optim
from autograd import Value, no_grad
from autograd.graph import toposort
from nn.datasets import make_moons
from nn.scalar import MLP, Neuron

FAST = os.environ.get("CHAINRULE_FAST", "0") == "1"
plt.rcParams.update({"figure.dpi": 72, "figure.figsize": (6, 4), "axes.grid": True, "grid.alpha": 0.3})
print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## The activations and their derivatives
#
# Values and derivatives below are computed by autograd (`Value.step`,
# `.sigmoid`, `.tanh`, `.relu`, then `backward()`).

# %%
zs = np.linspace(-6, 6, 481)
acts = ["step", "sigmoid", "tanh", "relu"]
vals, ders = {a: [] for a in acts}, {a: [] for a in acts}
for z0 in zs:
    for a in acts:
        z = Value(z0)
        out = getattr(z, a)()
        out.backward()
        vals[a].append(out.data)
        ders[a].append(z.grad)

fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for a in acts:
    axes[0].plot(zs, vals[a], label=a)
    axes[1].plot(zs, ders[a], label=a)
axes[0].set(title="activation σ(z)", xlabel="z", ylim=(-1.2, 2.5))
axes[1].set(title="derivative σ'(z) (autograd)", xlabel="z", ylim=(-0.1, 1.1))
axes[1].axhline(0.25, color="k", ls=":", lw=1)
axes[1].annotate("1/4: the most a sigmoid can pass back", (0.3, 0.27), fontsize=9)
for ax in axes:
    ax.legend()
plt.tight_layout()
plt.show()

sig_d = np.array(ders["sigmoid"])
print(f"max sigmoid'(z) = {sig_d.max():.6f} at z = {zs[sig_d.argmax()]:.3f}")
assert sig_d.max() <= 0.25 and abs(sig_d.max() - 0.25) < 1e-12 and zs[sig_d.argmax()] == 0.0
s = 1 / (1 + np.exp(-zs))
assert np.allclose(sig_d, s * (1 - s))
assert set(ders["step"]) == {0.0}
assert np.array_equal(ders["relu"], (zs > 0).astype(float))

# %% [markdown]
# Two things to remember for later. The sigmoid's slope is at most $1/4$ and
# nearly 0 once $|z|$ is a few units (the neuron **saturates**), so the
# gradient signal through it shrinks. ReLU passes gradients through unchanged
# wherever it is active, which is why modern networks use it almost everywhere.
#
# ## A multi-layer perceptron on two moons
#
# Stacking layers of neurons gives an MLP. Here: 2 inputs, two hidden layers
# of 8 ReLU neurons, one linear output score $s$; the predicted class is
# $s > 0$. Training minimises the logistic loss (binary cross-entropy) with
# labels $t = \pm 1$,
#
# $$C = \frac1n\sum_i \ln\left(1 + e^{-t_i s_i}\right),$$
#
# by full-batch gradient descent with momentum (`nn.optim.SGD`). Every
# multiplication and addition here is a scalar `Value`.

# %%
X, y = make_moons(100, noise=0.1, seed=0)
model = MLP(2, [8, 8, 1], activation="relu", seed=1)
print(model, "-", len(model.parameters()), "parameters")
opt = optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
epochs = 25 if FAST else 60
losses, accs = [], []
t0 = time.perf_counter()
for epoch in range(epochs):
    loss, correct = Value(0.0), 0
    for xi, yi in zip(X.tolist(), y.tolist()):
        s = model(xi)
        t = 1.0 if yi == 1 else -1.0
        loss = loss + (1 + (-t * s).exp()).log()
        correct += (s.data > 0) == (yi == 1)
    loss = loss * (1 / len(X))
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.data)
    accs.append(correct / len(X))
print(f"{epochs} epochs in {time.perf_counter() - t0:.1f} s: loss {losses[-1]:.4f}, train accuracy {accs[-1]:.2f}")
assert losses[-1] < losses[0]
assert accs[-1] >= (0.85 if FAST else 0.97)

# %%
n_grid = 25 if FAST else 50
g1, g2 = np.meshgrid(np.linspace(-1.5, 2.5, n_grid), np.linspace(-1.0, 1.5, n_grid))
with no_grad():  # no graph needed just to evaluate
    scores = np.array([model([a, b]).data for a, b in zip(g1.ravel().tolist(), g2.ravel().tolist())])
scores = scores.reshape(g1.shape)

fig, axes = plt.subplots(1, 2, figsize=(12, 4))
axes[0].contourf(g1, g2, scores > 0, levels=[-0.5, 0.5, 1.5], colors=["#a6cee3", "#fdbf6f"], alpha=0.7)
axes[0].contour(g1, g2, scores, levels=[0], colors="k", linewidths=1)
axes[0].scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", edgecolors="k", s=25)
axes[0].set(title="decision boundary of the scalar MLP", xlabel="$x_1$", ylabel="$x_2$")
axes[1].plot(losses, label="loss")
axes[1].plot(accs, label="train accuracy")
axes[1].set(xlabel="epoch", title="training")
axes[1].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Backpropagation, drawn
#
# How did `loss.backward()` find 105 partial derivatives? Take one sigmoid
# neuron, $y = \sigma(w_0 x_0 + w_1 x_1 + b)$, and draw its **computation
# graph** with `autograd.draw`. Before `backward()` every gradient is 0:

# %%
neuron = Neuron(2, "sigmoid")
for p, v in zip(neuron.parameters(), [0.5, -1.5, 0.25]):  # w0, w1, b
    p.data = v
x0, x1 = Value(2.0, label="x0"), Value(1.0, label="x1")
out = neuron([x0, x1])
out.label = "y"
autograd.draw(out)

# %% [markdown]
# Now the backward pass. Writing the forward computation as a chain of
# functions $o_l = f_l(u_l, \theta_l)$, the notes' **Algorithm 3** is:
#
# 1. *forward*: compute and store every $o_l$, from the inputs to the output;
# 2. *backward*: set $\text{buffer} = 1$, then for $l = L, \dots, 1$:
#    $\frac{\partial C}{\partial \theta_l} = \frac{\partial f_l}{\partial \theta_l}\cdot\text{buffer}$, and
#    $\text{buffer} \leftarrow \frac{\partial f_l}{\partial u_l}\cdot\text{buffer}$.
#
# On a graph (not just a chain) the "buffer" of a node is $\partial y/\partial(\text{node})$,
# and a node must be finished, i.e. have received gradient from *all* its
# users, before it passes gradient on. Visiting the nodes in reverse
# topological order guarantees that. `show_order=True` numbers the nodes in
# the order `backward()` visits them (#1 is the output):

# %%
out.backward()
autograd.draw(out, color_by_grad=True, show_order=True)

# %% [markdown]
# The same walk, by hand. Each operation knows its local derivatives
# ($\partial(a+b)/\partial a = 1$, $\partial(ab)/\partial a = b$,
# $\sigma' = \sigma(1-\sigma)$); the walk multiplies them by the buffer and
# adds the result into the parents' buffers:

# %%
def local_derivatives(node):
    """d node / d parent for each parent, from the operation's own rule."""
    parents = node._prev
    if node._op == "+":
        return [1.0, 1.0]
    if node._op == "*":
        return [parents[1].data, parents[0].data]
    if node._op == "sigmoid":
        return [node.data * (1 - node.data)]
    raise NotImplementedError(node._op)


def name(node):
    return node.label or f"({node._op})"


buffer = {out: 1.0}                      # dy/dy = 1
for step, node in enumerate(reversed(toposort(out)), start=1):
    g = buffer.get(node, 0.0)
    if not node._prev:
        print(f"#{step:2d} {name(node):8s} leaf: dy/d{name(node)} = {g:+.5f}")
        continue
    parts = []
    for parent, d in zip(node._prev, local_derivatives(node)):
        buffer[parent] = buffer.get(parent, 0.0) + d * g
        parts.append(f"d/d{name(parent)} += {d:+.4f} * {g:+.4f}")
    print(f"#{step:2d} {name(node):8s} op {node._op:7s} buffer {g:+.5f}:  " + ";  ".join(parts))

for leaf in [x0, x1, *neuron.parameters()]:
    assert abs(buffer[leaf] - leaf.grad) < 1e-15, leaf
print("hand-run Algorithm 3 == autograd for", [name(v) for v in [x0, x1, *neuron.parameters()]])

sig = out.data  # and against the closed form: dy/dw_j = sigma'(z) x_j, dy/db = sigma'(z)
assert np.allclose([neuron.w[0].grad, neuron.w[1].grad, neuron.b.grad],
                   [sig * (1 - sig) * 2.0, sig * (1 - sig) * 1.0, sig * (1 - sig)])

# %% [markdown]
# ## A whole (tiny) network, grouped by neuron
#
# `group_by` boxes the nodes of each neuron together. In this 2-2-1 MLP the
# inputs fan out to both hidden neurons, and their outputs fan in to the last
# one: during backward, a hidden neuron's output collects gradient from every
# neuron that reads it, which is what the sums in the chain rule become.

# %%
tiny = MLP(2, [2, 1], activation="sigmoid", seed=0)
inputs = [Value(1.0, label="x0"), Value(-1.0, label="x1")]
group_of, h = {}, inputs
for li, layer in enumerate(tiny.layers):
    outs = []
    for ni, unit in enumerate(layer.neurons):
        o = unit(h)
        for node in toposort(o):
            group_of.setdefault(id(node), f"layer {li + 1}, neuron {ni + 1}")
        outs.append(o)
    h = outs
for v in inputs:
    group_of[id(v)] = None
score = h[0]
score.label = "score"
score.backward()
autograd.draw(score, color_by_grad=True, group_by=lambda node: group_of.get(id(node)))
