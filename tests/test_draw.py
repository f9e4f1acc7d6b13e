"""Tests for autograd.draw: DOT text of small graphs, legend, order, colours, cap, groups, escaping, rendering."""

from __future__ import annotations

import importlib
import re
import shutil
import time

import graphviz
import numpy as np
import pytest

from autograd.draw import draw, render
from autograd.graph import toposort
from autograd.tensor import Tensor
from autograd.value import Value

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(
    not HAVE_DOT, reason="the Graphviz 'dot' program is not installed (apt-get install graphviz)"
)

NODE_RE = re.compile(r'^\s*(v\d+) \[label="\{ (.*?) \}"(.*)\]$', re.M)


def neuron() -> tuple[Value, dict[str, Value]]:
    """n = tanh(x1*w1 + x2*w2 + b), every node labelled, after backward."""
    x1, x2 = Value(2.0, "x1"), Value(0.0, "x2")
    w1, w2 = Value(-3.0, "w1"), Value(1.0, "w2")
    b = Value(6.8813735870195432, "b")
    x1w1 = x1 * w1
    x1w1.label = "x1w1"
    x2w2 = x2 * w2
    x2w2.label = "x2w2"
    s = x1w1 + x2w2
    s.label = "s"
    z = s + b
    z.label = "z"
    n = z.tanh()
    n.label = "n"
    n.backward()
    return n, {v.label: v for v in (x1, x2, w1, w2, b, x1w1, x2w2, s, z, n)}


def value_nodes(src: str) -> dict[str, tuple[list[str], str]]:
    """vid -> (record fields, remaining attributes) for every value node in the DOT text."""
    return {m[1]: ([f.strip() for f in m[2].split(" | ")], m[3]) for m in NODE_RE.finditer(src)}


def by_label(src: str) -> dict[str, tuple[list[str], str]]:
    out = {}
    for fields, attrs in value_nodes(src).values():
        names = [f for f in fields if not f.startswith(("#", "data", "grad", "("))]
        out[names[0] if names else ""] = (fields, attrs)
    return out


def fill_of(attrs: str) -> str:
    return re.search(r'fillcolor="([^"]+)"', attrs)[1]


def edges(src: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+) -> (\w+)", src, re.M)


# --- the basic picture -----------------------------------------------------------
def test_small_graph_labels_data_grads_ops_and_edges():
    n, v = neuron()
    d = draw(n)
    assert isinstance(d, graphviz.Digraph)
    src = d.source
    nodes = by_label(src)
    assert set(nodes) == set(v)  # one record per value, each labelled
    assert len(value_nodes(src)) == 10
    for name, node in v.items():
        fields, _ = nodes[name]
        assert f"data {node.data:.4f}" in fields, name
        assert f"grad {node.grad:.4f}" in fields, name
    # grads really come from backward (not just zeros)
    assert "grad -1.5000" in nodes["x1"][0] and "grad 1.0000" in nodes["w1"][0]
    assert "grad 0.0000" in nodes["w2"][0] and "data 0.7071" in nodes["n"][0]
    ops = re.findall(r"^\s*(op\d+) \[label=\"?([^\" ]+)\"?", src, re.M)
    assert sorted(op for _, op in ops) == sorted(["*", "*", "+", "+", "tanh"])
    # parents -> op -> result: 2+2+2+2+1 parent edges and one edge per op to its result
    es = edges(src)
    assert len(es) == 14
    ids = {name: vid for vid, (fields, _) in value_nodes(src).items() for name in fields if name in v}
    op_of = {b: a for a, b in es if a.startswith("op")}
    assert ("op" + ids["n"][1:]) == op_of[ids["n"]]
    assert (ids["z"], op_of[ids["n"]]) in es
    assert {a for a, b in es if b == op_of[ids["z"]]} == {ids["s"], ids["b"]}
    assert all(not a.startswith("op") or b.startswith("v") for a, b in es)


def test_ids_are_stable_and_not_python_ids():
    n, _ = neuron()
    a, b = draw(n).source, draw(n).source
    assert a == b
    assert str(id(n)) not in a
    n2, _ = neuron()  # a fresh but identical graph gives the identical text
    assert draw(n2).source == a


def test_repeated_parent_draws_two_edges():
    x = Value(3.0, "x")
    y = x * x
    y.backward()
    es = edges(draw(y).source)
    assert es.count(("v0", "op1")) == 2 and ("op1", "v1") in es
    assert "grad 6.0000" in draw(y).source


def test_legend_has_three_distinct_roles():
    n, _ = neuron()
    src = draw(n).source
    assert "subgraph cluster_legend" in src
    for text in ("input / parameter (leaf)", "intermediate", "output (root)", "operation"):
        assert text in src
    nodes = by_label(src)
    leaf, mid, out = fill_of(nodes["x1"][1]), fill_of(nodes["s"][1]), fill_of(nodes["n"][1])
    assert len({leaf, mid, out}) == 3
    assert fill_of(nodes["b"][1]) == leaf and fill_of(nodes["z"][1]) == mid
    legend = src[src.index("cluster_legend"):]
    for colour in (leaf, mid, out):
        assert f'bgcolor="{colour}"' in legend


# --- options -------------------------------------------------------------------
def test_show_order_matches_reverse_toposort():
    n, _ = neuron()
    expected = {node.label: k for k, node in enumerate(reversed(toposort(n)), start=1)}
    assert expected["n"] == 1
    nodes = by_label(draw(n, show_order=True).source)
    got = {name: int(fields[0][1:]) for name, (fields, _) in nodes.items()}
    assert got == expected
    assert "#" not in "".join(f for fields, _ in by_label(draw(n).source).values() for f in fields)


def test_color_by_grad_fills_by_magnitude():
    n, _ = neuron()
    d = draw(n, color_by_grad=True)
    src = d.source
    nodes = by_label(src)
    # |grad|: x1 1.5 > w1 1.0 > b 0.5 > w2 0 -- different fills, zero grad white
    fills = {k: fill_of(nodes[k][1]) for k in ("x1", "w1", "b", "w2")}
    assert len(set(fills.values())) == 4
    assert fills["w2"] == "#ffffff"
    assert fill_of(nodes["s"][1]) == fills["b"]  # same |grad| -> same fill
    assert "log scale" in src and "|grad|" in src
    assert "input / parameter (leaf)" in src  # roles still explained (borders)


def test_color_by_grad_shows_vanishing_gradient():
    x = Value(0.5, "x")
    y = x
    for _ in range(30):
        y = (y * 4.0).sigmoid()
    y.label = "y"
    y.backward()
    assert 0 < abs(x.grad) < 1e-6
    nodes = by_label(draw(y, color_by_grad=True).source)
    reds = importlib.import_module("autograd.draw")._REDS
    assert fill_of(nodes["y"][1]) == reds[-1]  # the root has the largest |grad|
    assert reds.index(fill_of(nodes["x"][1])) <= 1  # the input barely gets any: pale


def test_max_nodes_cap_on_100000_chain_is_fast_and_noted():
    x = Value(0.1, "x")
    y = x
    for _ in range(100_000):
        y = y.tanh()
    t0 = time.perf_counter()
    d = draw(y, max_nodes=200, show_order=True)
    src = d.source
    elapsed = time.perf_counter() - t0
    assert elapsed < 5.0, elapsed
    assert len(value_nodes(src)) == 200
    assert "100,001" not in src and "99,801 more nodes not shown (max_nodes=200)" in src
    assert "shape=note" in src
    assert ("omitted", "op0") in edges(src)  # the dropped parent is pointed to by the note
    assert "x" not in by_label(src)  # the far-away leaf is the part left out
    orders = sorted(int(f[0][1:]) for f, _ in value_nodes(src).values())
    assert orders == list(range(1, 201))  # the nodes closest to the root


def test_max_nodes_keeps_the_nodes_nearest_the_root_breadth_first():
    # root = deep * shallow; both parents sit at the end of a 10-op chain.  The parents-first order
    # ends with the whole shallow chain, so "the last max_nodes nodes" used to drop the direct parent `deep`.
    deep = Value(1.0, "a")
    for _ in range(10):
        deep = deep * 1.0001
    deep.label = "deep"
    shallow = Value(2.0, "b")
    for _ in range(10):
        shallow = shallow + 1.0
    shallow.label = "shallow"
    root = deep * shallow
    root.label = "root"
    src = draw(root, max_nodes=3).source
    assert set(by_label(src)) == {"root", "deep", "shallow"}
    n_total = len(toposort(root, constants=True))
    assert f"{n_total - 3} more nodes not shown (max_nodes=3)" in src
    ids = {fields[0]: vid for vid, (fields, _) in value_nodes(src).items()}
    assert ids == {"deep": "v0", "shallow": "v1", "root": "v2"}  # still parents first
    # each drawn parent lost its own parents: one dashed edge from the note to its op, none to the root's op
    assert {b for a, b in edges(src) if a == "omitted"} == {"op0", "op1"}
    assert ("v0", "op2") in edges(src) and ("v1", "op2") in edges(src)
    # a tie at the cut (4 nodes at distance 2: deep's two parents, shallow's two) is settled the same way each time
    src4 = draw(root, max_nodes=4).source
    assert src4 == draw(root, max_nodes=4).source and len(value_nodes(src4)) == 4
    assert {"root", "deep", "shallow"} <= set(by_label(src4))


def test_no_note_when_under_the_cap():
    n, _ = neuron()
    src = draw(n, max_nodes=10).source
    assert "not shown" not in src and "omitted" not in src
    src = draw(n, max_nodes=9).source
    assert "1 more node not shown" in src and len(value_nodes(src)) == 9


def test_group_by_makes_clusters():
    n, v = neuron()
    weights = {"w1", "w2", "b"}
    d = draw(n, group_by=lambda node: "layer 1 params" if node.label in weights else None)
    src = d.source
    clusters = re.findall(r"subgraph (cluster_\w+) \{", src)
    assert clusters == ["cluster_g0", "cluster_legend"]
    block = src[src.index("subgraph cluster_g0"):src.index("subgraph cluster_legend")]
    assert 'label="layer 1 params"' in block
    inside = {f for fields, _ in value_nodes(block).values() for f in fields if f in v}
    assert inside == weights
    # two groups; the op producing a value sits in the value's box
    d = draw(n, group_by=lambda node: "neuron" if node._prev else "inputs")
    src = d.source
    assert src.count("subgraph cluster_g") == 2
    block = src[src.index('label=neuron'):src.index("subgraph cluster_legend")]
    assert block.count("shape=ellipse") == 5
    with pytest.raises(TypeError, match="str or None"):
        draw(n, group_by=lambda node: 3)


def test_escaping_record_specials():
    x = Value(1.0, 'a{b}|c<d>"e\\f')
    y = x.tanh()
    y.backward()
    src = draw(y).source
    assert r'a\{b\}\|c\<d\>\"e\\f' in src
    assert '{b}' not in src.replace(r"\{b\}", "")
    weird = Value(2.0, "w", (x,), "<lambda>", lambda out, g: (g,))
    src = draw(weird).source
    assert 'label="<lambda>"' in src  # quoted, not read as an HTML label


@needs_dot
def test_escaped_labels_render():
    x = Value(1.0, 'a{b}|c<d>"e\\f')
    y = x.tanh()
    svg = draw(y).pipe(format="svg").decode()
    assert "a{b}|c&lt;d&gt;&quot;e\\f" in svg


def test_bad_arguments():
    n, _ = neuron()
    with pytest.raises(ValueError, match="rankdir"):
        draw(n, rankdir="XY")
    with pytest.raises(ValueError, match="max_nodes"):
        draw(n, max_nodes=0)
    with pytest.raises(TypeError, match="group_by"):
        draw(n, group_by="layer")


def test_rankdir_and_format():
    n, _ = neuron()
    d = draw(n, rankdir="TB")
    assert "rankdir=TB" in d.source and d.format == "svg"
    assert draw(n, format="png").format == "png"


# --- rendering -------------------------------------------------------------------
def test_source_needs_no_dot(monkeypatch):
    monkeypatch.setenv("PATH", "")
    n, _ = neuron()
    assert "tanh" in draw(n).source


@needs_dot
def test_render_svg_and_png(tmp_path):
    n, _ = neuron()
    d = draw(n, show_order=True, color_by_grad=True, group_by=lambda node: "g" if node._prev else None)
    out = render(d, tmp_path / "sub" / "neuron.svg")
    text = out.read_text()
    assert out.name == "neuron.svg" and text.lstrip().startswith(("<?xml", "<svg")) and "</svg>" in text
    assert "tanh" in text and "data 0.7071" in text and "x1" in text
    png = draw.render(d, tmp_path / "neuron.png")  # also reachable as autograd.draw.render
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plain = render(d, tmp_path / "plain")
    assert plain.suffix == ".svg" and plain.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["neuron.png", "plain.svg", "sub"]  # no stray .gv files
    assert "image/svg+xml" in d._repr_mimebundle_()  # what Jupyter shows inline


def test_render_without_dot_says_how_to_install(monkeypatch, tmp_path):
    n, _ = neuron()
    d = draw(n)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    with pytest.raises(RuntimeError) as err:
        render(d, tmp_path / "x.svg")
    msg = str(err.value)
    for cmd in ("apt-get install graphviz", "brew install graphviz", "conda install graphviz"):
        assert cmd in msg
    assert not (tmp_path / "x.svg").exists()


def test_render_translates_executable_not_found(monkeypatch, tmp_path):
    n, _ = neuron()
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: "/usr/bin/dot")  # pretend, but PATH is empty
    monkeypatch.setenv("PATH", "")
    with pytest.raises(RuntimeError, match="apt-get install graphviz") as err:
        render(draw(n), tmp_path / "x.svg")
    assert isinstance(err.value.__cause__, graphviz.ExecutableNotFound)


# --- arrays ----------------------------------------------------------------------
class FakeTensor:
    """The graph protocol with numpy data, for drawing array nodes before autograd.Tensor exists."""

    requires_grad = True

    def __init__(self, data, label="", prev=(), op="", grad=None):
        self.data, self.label, self._prev, self._op, self.grad = np.asarray(data), label, prev, op, grad
        self._a, self._b, self._rest = (tuple(prev) + (None, None))[:2] + (tuple(prev[2:]),)
        self._gacc = None


def test_array_nodes_show_shape_dtype_values_or_summary():
    W = FakeTensor(np.arange(12, dtype=np.float32).reshape(3, 4) - 5, "W", grad=np.full((3, 4), 1e-9))
    x = FakeTensor(np.array([1.0, -2.0]), "x", grad=np.array([0.5, 0.25]))
    y = FakeTensor(np.zeros(3), "y", (W, x), "matmul", grad=FakeTensor(np.ones(3)))
    src = draw(y, color_by_grad=True).source
    nodes = by_label(src)
    wf = nodes["W"][0]
    assert "(3, 4) float32" in wf and "data mean 0.5  \\|max\\| 6" in wf and "grad mean 1e-09  \\|max\\| 1e-09" in wf
    xf = nodes["x"][0]
    assert "(2,) float64" in xf and "data [ 1., -2.]" in xf and "grad [0.5 , 0.25]" in xf
    assert "grad [1., 1., 1.]" in nodes["y"][0]
    assert "matmul" in src
    assert fill_of(nodes["W"][1]) != fill_of(nodes["y"][1])  # vanishing array gradient stands out
    assert "grad None" in by_label(draw(FakeTensor([1.0], "c")).source)["c"][0]


def test_real_tensor_graph():
    a = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    a.label = "a"
    b = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    b.label = "b"
    h = (a * b).tanh()
    h.label = "h"
    y = h.sum()
    y.label = "y"
    y.backward(retain_graph=True)
    src = draw(y, show_order=True).source
    nodes = by_label(src)
    assert set(nodes) == {"a", "b", "h", "y", ""}  # "" is the unlabelled a*b
    assert "(2, 2) float64" in nodes["a"][0] and "(2,) float64" in nodes["b"][0]
    assert "data [[1., 2.], [3., 4.]]" in nodes["a"][0]
    assert any(f.startswith("grad [") for f in nodes["a"][0])
    assert [f[0] for f, _ in value_nodes(src).values()].count("#1") == 1 and nodes["y"][0][0] == "#1"
    assert len(edges(src)) == 2 + 1 + 1 + 3  # a,b -> mul -> ab; ab -> tanh -> h; h -> sum -> y
    if HAVE_DOT:
        assert "</svg>" in draw(y).pipe(format="svg").decode()
    y.backward()  # frees the graph: the drawing says so instead of silently showing a lone node
    assert "released by backward" in draw(y).source
