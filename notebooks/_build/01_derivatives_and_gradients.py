"""Notebook 1: derivatives and gradients, by hand, by finite differences and by autograd."""

# %% [markdown]
# # 1. Derivatives and gradients
#
# Training a network means nudging its parameters so that a loss goes down, and
# the only tool we need to decide *which way* to nudge is the derivative. This
# notebook checks three ways of getting one against each other:
#
# 1. **by hand** (calculus rules),
# 2. **numerically** (finite differences: evaluate the function twice),
# 3. **automatically** with chainrule's reverse-mode autodiff (`autograd.Value`, `autograd.Tensor`).
#
# Everything below runs in a few seconds; `CHAINRULE_FAST=1` changes nothing
# here except the size of a grid.

# %%
%matplotlib inline
%config InlineBackend.figure_formats = ["png"]
import math
import os

import matplotlib.pyplot as plt
import numpy as np

import autograd
from autograd import Tensor, Value

FAST = os.environ.get("CHAINRULE_FAST", "0") == "1"
plt.rcParams.update({"figure.dpi": 72, "figure.figsize": (6, 4), "axes.grid": True, "grid.alpha": 0.3})
print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## The derivative of one variable
#
# $f'(v) = \frac{df}{dv}$ tells how strongly $f$ reacts to a small change of
# $v$: $f(v + h) \approx f(v) + f'(v)\,h$. Its **sign** says in which
# direction $f$ grows. The definition suggests a numerical recipe,
#
# $$f'(v) \approx \frac{f(v+h) - f(v)}{h} \quad\text{(forward difference, error } O(h)\text{)},\qquad
#   f'(v) \approx \frac{f(v+h) - f(v-h)}{2h} \quad\text{(central difference, error } O(h^2)\text{)}.$$
#
# Take $f(v) = \tanh(v)\,\ln(1 + v^2)$. By the product and chain rules
# $f'(v) = (1-\tanh^2 v)\ln(1+v^2) + \tanh(v)\,\frac{2v}{1+v^2}$.

# %%
def f(v):
    """Works for floats and for autograd Values alike."""
    if isinstance(v, Value):
        return v.tanh() * (1 + v**2).log()
    return math.tanh(v) * math.log(1 + v**2)


def f_prime_by_hand(v):
    return (1 - math.tanh(v) ** 2) * math.log(1 + v**2) + math.tanh(v) * 2 * v / (1 + v**2)


def central_difference(fn, v, h=1e-5):
    return (fn(v + h) - fn(v - h)) / (2 * h)


rows = []
for v0 in [-2.0, -0.5, 0.3, 1.0, 2.5]:
    v = Value(v0, label="v")
    out = f(v)
    out.backward()  # reverse mode: fills v.grad = d out / d v
    rows.append((v0, f_prime_by_hand(v0), central_difference(f, v0), v.grad))
    assert abs(v.grad - f_prime_by_hand(v0)) < 1e-12
    assert abs(v.grad - central_difference(f, v0)) < 1e-8

print(f"{'v':>6} {'by hand':>14} {'central diff':>14} {'autograd':>14}")
for r in rows:
    print(f"{r[0]:6.2f} {r[1]:14.10f} {r[2]:14.10f} {r[3]:14.10f}")

# %% [markdown]
# Autograd agrees with the hand-derived formula to machine precision; the
# finite difference agrees to about eight digits. Why not better? Shrinking
# $h$ reduces the truncation error but the two function values become
# nearly equal and floating-point cancellation takes over. The sweep below shows
# the classic V shape: the best forward-difference step is near
# $\sqrt{\epsilon} \approx 10^{-8}$, the best central one near
# $\epsilon^{1/3} \approx 10^{-5}$ ($\epsilon \approx 2.2\times10^{-16}$).

# %%
v0 = 1.0
exact = f_prime_by_hand(v0)
hs = np.logspace(-14, -1, 60)
fwd_err = [abs((f(v0 + h) - f(v0)) / h - exact) for h in hs]
cen_err = [abs(central_difference(f, v0, h) - exact) for h in hs]

fig, ax = plt.subplots(figsize=(6, 3.6))
ax.loglog(hs, fwd_err, label="forward difference")
ax.loglog(hs, cen_err, label="central difference")
ax.set_xlabel("step h")
ax.set_ylabel("|error|")
ax.set_title("Finite-difference error at v = 1")
ax.legend()
plt.show()

best_fwd, best_cen = hs[int(np.argmin(fwd_err))], hs[int(np.argmin(cen_err))]
print(f"best h: forward {best_fwd:.1e}, central {best_cen:.1e}")
assert 1e-10 < best_fwd < 1e-6 and 1e-7 < best_cen < 1e-3
assert min(cen_err) < min(fwd_err)  # central differences are more accurate

# %% [markdown]
# ## The gradient
#
# For a function of several variables the gradient collects all partial derivatives,
#
# $$\nabla f = \left(\frac{\partial f}{\partial v_1}, \ldots, \frac{\partial f}{\partial v_n}\right),$$
#
# and points in the direction of **steepest ascent**; $-\nabla f$ is the
# direction of steepest descent, which is what gradient descent follows.
#
# Our example is $f(x, y) = x\,e^{-(x^2 + y^2)}$, a bump at
# $(1/\sqrt2, 0)$ and a dip at $(-1/\sqrt2, 0)$. By hand,
#
# $$\frac{\partial f}{\partial x} = (1 - 2x^2)\,e^{-(x^2+y^2)}, \qquad
#   \frac{\partial f}{\partial y} = -2xy\,e^{-(x^2+y^2)}.$$
#
# With scalar `Value`s, one `backward()` call gives both partials at one point:

# %%
def bump(x, y):
    """x e^{-(x^2+y^2)} for Values and Tensors (autograd) or floats and arrays (numpy)."""
    if isinstance(x, (Value, Tensor)):
        return x * (-(x**2 + y**2)).exp()
    return x * np.exp(-(x**2 + y**2))


x, y = Value(0.3, label="x"), Value(-0.8, label="y")
out = bump(x, y)
out.label = "f"
out.backward()
by_hand = ((1 - 2 * 0.3**2) * math.exp(-(0.3**2 + 0.8**2)), -2 * 0.3 * -0.8 * math.exp(-(0.3**2 + 0.8**2)))
numeric = (central_difference(lambda t: bump(t, -0.8), 0.3), central_difference(lambda t: bump(0.3, t), -0.8))
print("autograd :", (x.grad, y.grad))
print("by hand  :", by_hand)
print("numerical:", numeric)
assert np.allclose((x.grad, y.grad), by_hand, rtol=1e-12)
assert np.allclose((x.grad, y.grad), numeric, rtol=1e-7)
autograd.draw(out)

# %% [markdown]
# Each box above is a value (its data and, after `backward()`, its gradient);
# each ellipse is an operation. Note that `x` is used twice (in the product and
# in $x^2$): its gradient is the **sum** of what flows back along both paths.
#
# ## The whole gradient field at once
#
# With the array engine we can evaluate $f$ on a grid of points in one go.
# Every output entry depends only on its own $(x_i, y_i)$, so the gradient of
# $\sum_i f(x_i, y_i)$ with respect to the grid arrays is exactly the field of
# per-point gradients: one backward pass for all points.

# %%
n = 15 if FAST else 21
xs = np.linspace(-2, 2, n)
X, Y = np.meshgrid(xs, xs)
tx, ty = Tensor(X, requires_grad=True), Tensor(Y, requires_grad=True)
F = tx * (-(tx**2 + ty**2)).exp()
F.sum().backward()
U, V = tx.grad.numpy(), ty.grad.numpy()

E = np.exp(-(X**2 + Y**2))
assert np.allclose(U, (1 - 2 * X**2) * E) and np.allclose(V, -2 * X * Y * E)
h = 1e-6  # and against central differences on every grid point
assert np.allclose(U, (bump(X + h, Y) - bump(X - h, Y)) / (2 * h), atol=1e-8)
assert np.allclose(V, (bump(X, Y + h) - bump(X, Y - h)) / (2 * h), atol=1e-8)

fine = np.linspace(-2, 2, 200)
FX, FY = np.meshgrid(fine, fine)
fig, ax = plt.subplots(figsize=(6.2, 5))
mesh = ax.pcolormesh(FX, FY, bump(FX, FY), cmap="coolwarm", shading="auto")
ax.quiver(X, Y, U, V, color="navy", angles="xy")
ax.plot([1 / np.sqrt(2), -1 / np.sqrt(2)], [0, 0], "k*", ms=12)
fig.colorbar(mesh, ax=ax, label="f(x, y)")
ax.set(xlabel="x", ylabel="y", title=r"$\nabla f$ of $f(x,y)=x\,e^{-(x^2+y^2)}$ (arrows)", aspect="equal")
ax.grid(False)
plt.show()

# %% [markdown]
# The arrows point uphill, towards the red maximum and away from the blue
# minimum, and shrink to nothing at both stars: at a maximum or minimum the
# gradient vanishes, so that is where gradient descent (next notebook) stops.

# %%
for sx in (1 / math.sqrt(2), -1 / math.sqrt(2)):
    px, py = Value(sx), Value(0.0)
    bump(px, py).backward()
    print(f"gradient at ({sx:+.4f}, 0): ({px.grad:.2e}, {py.grad:.2e})")
    assert abs(px.grad) < 1e-12 and abs(py.grad) < 1e-12

# %% [markdown]
# ## A library gradient check
#
# `autograd.gradcheck` automates the comparison with central differences for
# Tensor functions (in double precision). Every operation in chainrule is
# tested this way; here it confirms the bump once more.

# %%
rng = np.random.default_rng(0)
pts = (Tensor(rng.normal(size=5), requires_grad=True), Tensor(rng.normal(size=5), requires_grad=True))
ok = autograd.gradcheck(lambda a, b: a * (-(a**2 + b**2)).exp(), *pts)  # raises GradcheckError on a mismatch
print("gradcheck passed:", ok)
assert ok
