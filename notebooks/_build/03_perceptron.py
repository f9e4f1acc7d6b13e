"""Notebook 3: the perceptron, NAND, an adder built from NAND gates, and why steps cannot learn."""

# %% [markdown]
# # 3. The perceptron
#
# A perceptron takes inputs $x_1, \dots, x_n$, weighs them with $w_j$ and
# fires when the weighted evidence beats a threshold $t$:
#
# $$y(x) = \begin{cases} 1 & \text{if } \sum_j w_j x_j > t \\ 0 & \text{otherwise} \end{cases}
#   \;=\; \operatorname{step}\Big(\sum_j w_j x_j + b\Big), \qquad b = -t.$$
#
# Writing the threshold as a **bias** $b = -t$ on the other side is the form
# used from here on (and by `nn.scalar.Perceptron(weights, bias)`).

# %%
%matplotlib inline
%config InlineBackend.figure_formats = ["png"]
import itertools
import os

import matplotlib.pyplot as plt
import numpy as np

import autograd
from autograd import Value
from nn.scalar import Neuron, Perceptron

FAST = os.environ.get("CHAINRULE_FAST", "0") == "1"
plt.rcParams.update({"figure.dpi": 72, "figure.figsize": (6, 4), "axes.grid": True, "grid.alpha": 0.3})
print("mode:", "fast" if FAST else "full")

# %% [markdown]
# ## Should I go to the cheese festival?
#
# Three yes/no questions: $x_1$ is the weather good, $x_2$ does my partner come
# along, $x_3$ is there public transport. I care most about the weather:
# $w = (6, 2, 2)$ and threshold $5$ (bias $-5$). Good weather alone gives
# $6 > 5$; company plus transport give only $2 + 2 = 4$. So this perceptron's
# decision is simply "go iff the weather is good". Lowering the threshold to
# 3 changes the personality: then any two of the "minor" reasons would do too.

# %%
festival = Perceptron([6, 2, 2], bias=-5)
relaxed = Perceptron([6, 2, 2], bias=-3)
print("weather partner transit | go? (t=5)  go? (t=3)")
for x in itertools.product([0, 1], repeat=3):
    go, go_relaxed = festival(x).data, relaxed(x).data
    print(f"   {x[0]}       {x[1]}       {x[2]}    |    {int(go)}          {int(go_relaxed)}")
    assert go == x[0]                                    # threshold 5: only the weather matters
    assert go_relaxed == float(6 * x[0] + 2 * x[1] + 2 * x[2] > 3)

# %% [markdown]
# ## NAND from a single perceptron
#
# With weights $(-2, -2)$ and bias $3$: inputs $00 \to 3$, $01$ or $10 \to 1$,
# $11 \to -1$, so the output is 1 except when both inputs are 1. That is
# **NAND**, a *universal* gate: every Boolean circuit can be built from NANDs
# alone, so networks of perceptrons can compute anything a computer can.

# %%
nand = Perceptron([-2, -2], bias=3)
print(nand)


def NAND(a, b):
    return int(nand([a, b]).data)


truth_table = {(a, b): NAND(a, b) for a in (0, 1) for b in (0, 1)}
print(" a b | NAND")
for (a, b), out in truth_table.items():
    print(f" {a} {b} |  {out}")
assert truth_table == {(0, 0): 1, (0, 1): 1, (1, 0): 1, (1, 1): 0}

# %% [markdown]
# ## Adding two bits with NAND gates only
#
# The sum bit of $x_1 + x_2$ is $x_1 \oplus x_2$ (XOR) and the carry bit is
# $x_1 \wedge x_2$ (AND). Five NANDs do it:
#
# $$n = \overline{x_1 x_2},\quad \text{sum} = \overline{\overline{x_1 n}\;\overline{x_2 n}},\quad
#   \text{carry} = \overline{n\,n}.$$
#
# Every gate below is the *same* perceptron.

# %%
def half_adder(x1, x2):
    n = NAND(x1, x2)
    s = NAND(NAND(x1, n), NAND(x2, n))
    carry = NAND(n, n)
    return s, carry


print("x1 x2 | carry sum")
for x1, x2 in itertools.product([0, 1], repeat=2):
    s, c = half_adder(x1, x2)
    print(f" {x1}  {x2} |   {c}    {s}")
    assert 2 * c + s == x1 + x2

# %% [markdown]
# Chaining adders gives arithmetic on whole numbers. A **full adder** also adds
# an incoming carry (two half adders plus an OR, and OR is
# $\overline{\bar a\,\bar b}$, again NANDs). Below, two 2-bit numbers are
# added by a ripple-carry circuit of perceptrons, checked on all 16 pairs.

# %%
def OR(a, b):
    return NAND(NAND(a, a), NAND(b, b))


def full_adder(a, b, carry_in):
    s1, c1 = half_adder(a, b)
    s, c2 = half_adder(s1, carry_in)
    return s, OR(c1, c2)


def add_2bit(a, b):
    """a, b in 0..3 -> a + b in 0..6, using only the NAND perceptron."""
    a0, a1, b0, b1 = a & 1, a >> 1, b & 1, b >> 1
    s0, c0 = half_adder(a0, b0)
    s1, c1 = full_adder(a1, b1, c0)
    return s0 + 2 * s1 + 4 * c1


table = np.array([[add_2bit(a, b) for b in range(4)] for a in range(4)])
print(table)
assert all(add_2bit(a, b) == a + b for a in range(4) for b in range(4))

# %% [markdown]
# ## Why a network of steps cannot be trained by gradient descent
#
# To learn weights we want to know how the output changes when a weight
# changes a little. For a perceptron the answer is: **not at all**, or, right
# at the threshold, by a jump. The step function is flat on both sides, so
#
# $$\frac{d\,\operatorname{step}(z)}{dz} = 0 \quad (z \ne 0), \qquad \text{undefined at } z = 0,$$
#
# and by the chain rule every weight gradient is multiplied by that 0.
# Autograd reports exactly this:

# %%
x = [Value(1.0, label="x1"), Value(1.0, label="x2")]
out = nand(x)
out.label = "NAND"
out.backward()
print("output:", out.data)
print("dy/dw:", [w.grad for w in nand.w], " dy/db:", nand.b.grad)
assert all(w.grad == 0.0 for w in nand.w) and nand.b.grad == 0.0
autograd.draw(out, color_by_grad=True)

# %% [markdown]
# The drawing is coloured by $|\text{grad}|$: only the output has a gradient
# (1, by definition); everything behind the `step` is white, meaning zero.
#
# Compare with a **sigmoid neuron** $\sigma(z) = 1/(1+e^{-z})$, a smoothed
# step with the same weights. As we sweep one weight, the perceptron's output
# jumps from 1 to 0 at one point and is flat elsewhere, while the sigmoid
# neuron's output slides smoothly and its gradient is never exactly zero.

# %%
sweep = np.linspace(-6, 2, 401)
step_out, sig_out, step_grad, sig_grad = [], [], [], []
for w1 in sweep:
    for act, outs, grads in (("step", step_out, step_grad), ("sigmoid", sig_out, sig_grad)):
        w = Value(w1)
        z = w * 1.0 + Value(-2.0) * 1.0 + 3.0     # inputs (1, 1), second weight -2, bias 3
        y = z.step() if act == "step" else z.sigmoid()
        y.backward()
        outs.append(y.data)
        grads.append(w.grad)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
axes[0].plot(sweep, step_out, label="perceptron (step)")
axes[0].plot(sweep, sig_out, label="sigmoid neuron")
axes[0].set(xlabel="$w_1$", ylabel="output for x = (1, 1)", title="Output while one weight changes")
axes[0].legend()
axes[1].plot(sweep, step_grad, label="step: d out / d $w_1$")
axes[1].plot(sweep, sig_grad, label="sigmoid: d out / d $w_1$")
axes[1].set(xlabel="$w_1$", title="Its gradient (autograd)")
axes[1].legend()
plt.tight_layout()
plt.show()
assert set(step_grad) == {0.0}
assert min(sig_grad) > 0 and max(sig_grad) <= 0.25

# %% [markdown]
# So "training" a perceptron with gradient descent goes nowhere: below we try
# to teach a randomly initialised perceptron the AND function with a squared
# error loss. The loss is far from zero, yet every gradient is zero and no
# weight ever moves. A sigmoid neuron, trained the same way, learns AND.

# %%
data = [((0, 0), 0), ((0, 1), 0), ((1, 0), 0), ((1, 1), 1)]


def train(neuron, steps=200, lr=2.0):
    start = [p.data for p in neuron.parameters()]
    for _ in range(steps):
        loss = sum(((neuron(x) - t) ** 2 for x, t in data), Value(0.0)) * 0.25
        neuron.zero_grad()
        loss.backward()
        for p in neuron.parameters():
            p.data -= lr * p.grad
    moved = max(abs(p.data - s) for p, s in zip(neuron.parameters(), start))
    return loss.data, moved


import random  # noqa: E402

perceptron = Perceptron(2, rng=random.Random(3))
sigmoid_neuron = Neuron(2, "sigmoid", rng=random.Random(3))
p_loss, p_moved = train(perceptron)
s_loss, s_moved = train(sigmoid_neuron, steps=300 if FAST else 2000)
print(f"perceptron: loss {p_loss:.3f}, largest weight change {p_moved}")
print(f"sigmoid   : loss {s_loss:.4f}, largest weight change {s_moved:.2f}")
print("sigmoid neuron outputs:", [round(sigmoid_neuron(x).data, 3) for x, _ in data])
assert p_loss > 0 and p_moved == 0.0
assert s_loss < p_loss and all((sigmoid_neuron(x).data > 0.5) == bool(t) for x, t in data)
