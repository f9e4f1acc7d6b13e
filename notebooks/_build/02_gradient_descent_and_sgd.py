"""Notebook 2: gradient descent on level sets, then linear regression by GD and by minibatch SGD."""

# %% [markdown]
# # 2. Gradient descent and stochastic gradient descent
#
# Picture a ball on a hilly landscape $C(v)$: it rolls downhill, in the
# direction of steepest descent $-\nabla C$. **Gradient descent** imitates this
# with small discrete steps,
#
# $$v \leftarrow v - \eta\,\nabla C(v),$$
#
# repeated until $v$ stops moving. The step size $\eta$ is the **learning
# rate**. For a convex bowl, a small enough $\eta$ always reaches the bottom;
# too small is painfully slow, too large overshoots and can blow up.

# %%
%matplotlib inline
%config InlineBackend.figure_formats = ["png"]
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from autograd import Tensor, Value

FAST = os.environ.get("CHAINRULE_FAST", "0") == "1"
plt.rcParams.update({"figure.dpi": 72, "figure.figsize": (6, 4), "axes.grid": True, "grid.alpha": 0.3})
print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## Three learning rates on an elongated bowl
#
# $C(v_1, v_2) = \tfrac12\,(v_1^2 + 10\,v_2^2)$ has gradient $(v_1, 10\,v_2)$.
# Along $v_2$ one step multiplies the coordinate by $1 - 10\eta$, so descent
# converges only if $|1 - 10\eta| < 1$, i.e. $\eta < 0.2$; along $v_1$ the
# factor is $1 - \eta$, so a tiny $\eta$ crawls. The gradients below come from
# autograd, not from the formula.

# %%
def cost(v1, v2):
    return 0.5 * (v1**2 + 10 * v2**2)


def descend(lr, start=(-4.0, 2.0), steps=30):
    path = [start]
    v = start
    for _ in range(steps):
        a, b = Value(v[0]), Value(v[1])
        cost(a, b).backward()
        v = (v[0] - lr * a.grad, v[1] - lr * b.grad)
        path.append(v)
    return np.array(path)


rates = {"too small (η = 0.01)": 0.01, "good (η = 0.15)": 0.15, "too large (η = 0.205)": 0.205}
paths = {name: descend(lr) for name, lr in rates.items()}

g1, g2 = np.meshgrid(np.linspace(-5, 5, 200), np.linspace(-3.2, 3.2, 200))
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
for ax, (name, path) in zip(axes, paths.items()):
    ax.contour(g1, g2, cost(g1, g2), levels=np.geomspace(0.05, 60, 12), cmap="viridis", linewidths=0.8)
    ax.plot(path[:, 0], path[:, 1], "o-", color="crimson", ms=3, lw=1)
    ax.plot(0, 0, "k*", ms=10)
    ax.set(title=name, xlabel="$v_1$", xlim=(-5, 5), ylim=(-3.2, 3.2))
axes[0].set_ylabel("$v_2$")
plt.tight_layout()
plt.show()

start_cost = cost(-4.0, 2.0)
final = {name: cost(*path[-1]) for name, path in paths.items()}
for name, c in final.items():
    print(f"{name:24s} cost after 30 steps: {c:10.4g}   (start {start_cost:g})")
c_small, c_good, c_big = final.values()
assert c_good < 1e-3 < c_small          # the good rate converged, the tiny one is still on its way
assert c_small > 0.1 * start_cost / 10   # ... and has not got far
assert c_big > start_cost               # the large rate diverges: it ends higher than it started

# %% [markdown]
# The small rate creeps along the flat $v_1$ direction; the good rate zig-zags
# across the narrow valley (factor $1 - 10\cdot0.15 = -0.5$ along $v_2$) but
# settles; at $\eta = 0.205$ the factor is $-1.05$ and every step overshoots a
# bit more than the last.
#
# ## Linear regression by gradient descent
#
# Model $y(x) = wx + b$, parameters $v = (w, b)$, training pairs $(x_i, y_i)$, and the cost
#
# $$C(w, b) = \frac{1}{2n}\sum_{i=1}^n (w x_i + b - y_i)^2
#   \quad\Longrightarrow\quad
#   \nabla C = \frac1n \sum_{i=1}^n \big((w x_i + b - y_i)\,x_i,\; w x_i + b - y_i\big).$$
#
# We build the cost from `Tensor` operations and let `backward()` find the
# gradient; first we check it against the formula.

# %%
rng = np.random.default_rng(0)
n = 200
true_w, true_b = 2.0, -1.0
x = rng.uniform(-2, 2, size=n)
y = true_w * x + true_b + rng.normal(scale=0.5, size=n)


def loss_fn(w, b, xb, yb):
    r = w * Tensor(xb) + b - Tensor(yb)
    return (r * r).sum() / (2 * len(xb))


w, b = Tensor(0.5, requires_grad=True), Tensor(0.0, requires_grad=True)
loss_fn(w, b, x, y).backward()
resid = 0.5 * x + 0.0 - y
formula = (np.mean(resid * x), np.mean(resid))
print("autograd:", (w.grad.item(), b.grad.item()), " formula:", formula)
assert np.allclose((w.grad.item(), b.grad.item()), formula)

# best possible fit (least squares, closed form) for reference
w_star, b_star = np.polyfit(x, y, 1)
c_star = np.mean((w_star * x + b_star - y) ** 2) / 2
print(f"least squares: w = {w_star:.4f}, b = {b_star:.4f}, C = {c_star:.4f}")

# %% [markdown]
# ### Full batch versus minibatch SGD
#
# Full-batch descent touches all $n$ samples for a single update. **Stochastic
# gradient descent** estimates the gradient from a random minibatch $S_m$ of
# $m \ll n$ samples, $\nabla C \approx \frac1m \sum_{j \in S_m} \nabla C_j$,
# and updates after each minibatch; one pass over the shuffled data is an
# **epoch**. Both runs below get the same number of epochs, i.e. the same
# amount of gradient computation.

# %%
epochs = 15 if FAST else 40
lr, m = 0.1, 10


def full_loss(w, b):
    return np.mean((w * x + b - y) ** 2) / 2


def train(batch_size):
    w, b = Tensor(0.0, requires_grad=True), Tensor(0.0, requires_grad=True)
    order_rng = np.random.default_rng(1)
    per_epoch, per_step = [full_loss(0.0, 0.0)], []
    for _ in range(epochs):
        idx = order_rng.permutation(n)
        for start in range(0, n, batch_size):
            sel = idx[start:start + batch_size]
            loss = loss_fn(w, b, x[sel], y[sel])
            w.grad = b.grad = None
            loss.backward()
            w.data -= lr * w.grad.data   # v <- v - eta * grad
            b.data -= lr * b.grad.data
            per_step.append(loss.item())
        per_epoch.append(full_loss(w.item(), b.item()))
    return (w.item(), b.item()), np.array(per_epoch), np.array(per_step)


t0 = time.perf_counter()
gd_params, gd_epoch, _ = train(batch_size=n)
sgd_params, sgd_epoch, sgd_step = train(batch_size=m)
print(f"trained in {time.perf_counter() - t0:.2f} s")
print(f"GD : w = {gd_params[0]:.4f}, b = {gd_params[1]:.4f}, C = {gd_epoch[-1]:.4f}")
print(f"SGD: w = {sgd_params[0]:.4f}, b = {sgd_params[1]:.4f}, C = {sgd_epoch[-1]:.4f}")

fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
axes[0].plot(gd_epoch, "o-", ms=3, label="full-batch GD (1 update / epoch)")
axes[0].plot(sgd_epoch, "o-", ms=3, label=f"SGD, m = {m} ({n // m} updates / epoch)")
axes[0].axhline(c_star, color="k", ls=":", label="least-squares optimum")
axes[0].set(yscale="log", xlabel="epoch", ylabel="C(w, b) on all data", title="Loss per epoch")
axes[0].legend(fontsize=8)
axes[1].plot(np.arange(len(sgd_step)) / (n // m), sgd_step, lw=0.6, alpha=0.6, label="minibatch loss")
axes[1].plot(sgd_epoch, "o-", ms=3, color="C1", label="full loss")
axes[1].set(yscale="log", xlabel="epoch", title="SGD: noisy minibatch estimates")
axes[1].legend(fontsize=8)
axes[2].scatter(x, y, s=6, alpha=0.5)
grid = np.linspace(-2, 2, 2)
axes[2].plot(grid, gd_params[0] * grid + gd_params[1], label="GD fit")
axes[2].plot(grid, sgd_params[0] * grid + sgd_params[1], "--", label="SGD fit")
axes[2].set(xlabel="x", ylabel="y", title="Data and fitted lines")
axes[2].legend(fontsize=8)
plt.tight_layout()
plt.show()


def epochs_to(curve, tol=0.02):
    """First epoch whose loss is within tol (relative) of the optimum."""
    hits = np.nonzero(curve <= c_star * (1 + tol))[0]
    return int(hits[0]) if hits.size else None


print("epochs to get within 2% of the optimum: GD", epochs_to(gd_epoch), " SGD", epochs_to(sgd_epoch))
assert epochs_to(sgd_epoch) is not None and epochs_to(sgd_epoch) <= 3
assert epochs_to(gd_epoch) is None or epochs_to(gd_epoch) > 3 * epochs_to(sgd_epoch)
assert abs(sgd_params[0] - w_star) < 0.1 and abs(sgd_params[1] - b_star) < 0.1
if not FAST:
    assert abs(gd_params[0] - w_star) < 0.05 and abs(gd_params[1] - b_star) < 0.05

# %% [markdown]
# Per epoch, SGD is far ahead: it makes $n/m = 20$ updates for the price of
# one full-batch update, and each noisy estimate is good enough to point
# roughly downhill. The price is the jitter: with a constant learning rate SGD
# keeps bouncing around the optimum instead of settling exactly on it (which
# is why learning rates are often decayed late in training).
