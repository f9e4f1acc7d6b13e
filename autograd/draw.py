"""Draw a computation graph with Graphviz.

:func:`draw` returns a :class:`graphviz.Digraph`: one record node per value
(label, data, grad), one small ellipse per operation between its parents and
its result, edges in the direction data flows, and a colour key.  Building
the DOT text (``.source``) needs only the ``graphviz`` Python package; turning
it into SVG/PNG (:func:`render`, or showing it in Jupyter) needs the Graphviz
``dot`` program.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .graph import toposort

if TYPE_CHECKING:  # imported when drawing, so `import autograd` stays light
    import graphviz

__all__ = ["draw", "render"]

_RANKDIRS = ("LR", "RL", "TB", "BT")

# Fill colours by role (ColorBrewer pastel shades, distinct in print and for most colour-blind readers).
_ROLE_FILL = {"leaf": "#a6cee3", "intermediate": "#f0f0f0", "output": "#fdbf6f"}
_ROLE_TEXT = {
    "leaf": "input / parameter (leaf)",
    "intermediate": "intermediate",
    "output": "output (root)",
}
_OP_FILL = "#ffffff"
# Sequential white-to-red palette (ColorBrewer "Reds", 9 classes): small |grad| pale, large |grad| dark.
_REDS = ("#fff5f0", "#fee0d2", "#fcbba1", "#fc9272", "#fb6a4a", "#ef3b2c", "#cb181d", "#a50f15", "#67000d")
_ZERO_FILL = "#ffffff"  # grad exactly 0 or missing
_BAD_FILL = "#b2abd2"  # grad nan / inf
_TINY = 6  # arrays with at most this many elements show their values


def _esc(text: str) -> str:
    """Escape text for a record label (``\\ { } | < > "``; newlines become ``\\n``)."""
    out = []
    for ch in str(text):
        if ch in '\\{}|<>"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            continue
        else:
            out.append(ch)
    return "".join(out)


def _esc_plain(text: str) -> graphviz.quoting.NoHtml:
    """Escape text for a plain (non-record) label; never read as an HTML label."""
    import graphviz

    return graphviz.nohtml(str(text).replace("\\", "\\\\").replace("\r", "").replace("\n", "\\n"))


def _array(x: Any) -> np.ndarray | None:
    """The numpy array behind ``x`` (a Tensor's ``data``, an array), else None."""
    if isinstance(x, (np.ndarray, np.generic)):
        return np.asarray(x)
    inner = getattr(x, "data", None)
    if isinstance(inner, (np.ndarray, np.generic)):
        return np.asarray(inner)
    return None


def _fmt_array(a: np.ndarray) -> str:
    if a.size <= _TINY:
        with np.printoptions(precision=4, suppress=True):
            vals = np.array2string(a, separator=", ").replace("\n", "")
        return " ".join(vals.split())
    if a.dtype.kind in "fciub":
        af = a.astype(np.float64, copy=False)
        return f"mean {np.mean(af):.4g}  |max| {np.max(np.abs(af)):.4g}"
    return f"{a.size} items"


def _fmt_scalar(x: Any) -> str:
    if isinstance(x, Real) and not isinstance(x, bool):
        return f"{float(x):.4f}"
    return str(x)


def _value_fields(node: Any) -> list[str]:
    """Record fields (unescaped) showing label, data and grad of ``node``."""
    fields = []
    label = getattr(node, "label", "") or ""
    if label:
        fields.append(label)
    data = node.data
    grad = getattr(node, "grad", None)
    arr = _array(data)
    if arr is not None:
        fields.append(f"{tuple(arr.shape)} {arr.dtype}")
        fields.append(f"data {_fmt_array(arr)}")
        if grad is None:
            fields.append("grad None")
        else:
            garr = _array(grad)
            fields.append(f"grad {_fmt_array(garr) if garr is not None else _fmt_scalar(grad)}")
    else:
        fields.append(f"data {_fmt_scalar(data)}")
        fields.append("grad None" if grad is None else f"grad {_fmt_scalar(grad)}")
    if not node._prev and getattr(node, "_backward", None) is not None:
        fields.append("parents released by backward (use retain_graph=True)")
    return fields


def _grad_magnitude(grad: Any) -> float | None:
    """|grad| (mean |grad| for arrays); None when there is no gradient."""
    if grad is None:
        return None
    arr = _array(grad)
    if arr is not None:
        if arr.size == 0:
            return None
        return float(np.mean(np.abs(arr.astype(np.float64, copy=False))))
    try:
        return abs(float(grad))
    except (TypeError, ValueError):
        return None


class _GradScale:
    """Maps |grad| to a fill colour on a log10 scale spanning the drawn gradients."""

    def __init__(self, mags: list[float | None]) -> None:
        logs = [math.log10(m) for m in mags if m is not None and math.isfinite(m) and m > 0.0]
        self.empty = not logs
        self.hi = max(logs) if logs else 0.0
        self.lo = min(logs) if logs else 0.0
        if self.hi - self.lo < 1.0:  # at least one decade, so equal gradients are not all "vanishing"
            self.lo = self.hi - 1.0
        self.has_bad = any(m is not None and not math.isfinite(m) for m in mags)

    def fill(self, mag: float | None) -> str:
        if mag is None or mag == 0.0:
            return _ZERO_FILL
        if not math.isfinite(mag):
            return _BAD_FILL
        t = (math.log10(mag) - self.lo) / (self.hi - self.lo)
        return _REDS[min(len(_REDS) - 1, max(0, round(t * (len(_REDS) - 1))))]

    @staticmethod
    def font(fill: str) -> str:
        return "white" if fill in _REDS[6:] else "black"


def _closest(order: list, root: Any, n: int) -> list:
    """The ``n`` nodes of ``order`` (parents first) nearest ``root``, in the order of ``order``.

    Distance is the fewest parent links from ``root`` (breadth-first), found in
    one sweep of ``order`` reversed: every child comes before its parents, so a
    node's distance is final when it is reached.  Ties go to the node later in
    ``order``, so the kept nodes always include every node nearer the root and
    stay connected to it.
    """
    pos = {id(node): i for i, node in enumerate(order)}
    dist = [-1] * len(order)
    dist[pos[id(root)]] = 0
    for i in range(len(order) - 1, -1, -1):
        d = dist[i] + 1
        for p in order[i]._prev:
            j = pos.get(id(p))
            if j is not None and (dist[j] < 0 or d < dist[j]):
                dist[j] = d
    kept = sorted(range(len(order)), key=lambda i: (dist[i], -i))[:n]
    return [order[i] for i in sorted(kept)]


def draw(
    root: Any,
    *,
    rankdir: str = "LR",
    color_by_grad: bool = False,
    show_order: bool = False,
    max_nodes: int = 200,
    group_by: Callable[[Any], str | None] | None = None,
    format: str = "svg",
) -> graphviz.Digraph:
    """Draw the graph that computed ``root`` (a ``Value`` or ``Tensor``).

    Each value is a record box with its label, data and grad (``%.4f`` for
    scalars; shape, dtype and values or mean/|max| for arrays); each operation
    is an ellipse between its parents and its result; a key explains the fills.

    * ``color_by_grad``: fill values by |grad| (mean |grad| for arrays) on a
      log scale, white-to-red, so vanishing gradients show up pale; leaves get
      a bold border and the root a double border.
    * ``show_order``: number each value by when backward visits it (the root
      is #1, i.e. reversed :func:`autograd.graph.toposort`).
    * ``max_nodes``: draw at most this many values, the ones closest to the
      root (fewest parent links, breadth first; ties go to the node later in
      parents-first order), plus a note saying how many were left out, with a dashed edge
      to each operation that lost a parent.
    * ``group_by``: ``node -> str | None``; values (with the op producing them)
      of the same group are boxed in one ``cluster_*`` subgraph.
    * ``rankdir``: Graphviz layout direction; ``format``: output format used by
      ``render`` and Jupyter (``"svg"`` shows inline).

    A Tensor's ``backward()`` frees the graph: draw before it, or call
    ``backward(retain_graph=True)``.  Node ids are ``v0, v1, ...`` in parents-first order (op of ``vK`` is
    ``opK``), so the DOT text is the same for the same graph.
    """
    if rankdir not in _RANKDIRS:
        raise ValueError(f"draw: rankdir must be one of {_RANKDIRS}, got {rankdir!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"draw: max_nodes must be a positive int, got {max_nodes!r}")
    if group_by is not None and not callable(group_by):
        raise TypeError(f"draw: group_by must be a callable node -> str | None, got {type(group_by).__name__}")

    order = toposort(root, constants=True)  # every node, constants included, parents first
    omitted = max(0, len(order) - max_nodes)
    nodes = _closest(order, root, max_nodes) if omitted else order
    ids = {id(n): f"v{i}" for i, n in enumerate(nodes)}

    visit: dict[int, int] = {}
    if show_order:
        visit = {id(n): k for k, n in enumerate(reversed(toposort(root)), start=1)}

    mags = [_grad_magnitude(getattr(n, "grad", None)) for n in nodes] if color_by_grad else []
    scale = _GradScale(mags) if color_by_grad else None

    import graphviz

    dot = graphviz.Digraph(name="autograd", format=format)
    dot.attr(rankdir=rankdir, fontname="Helvetica")
    dot.attr("node", fontname="Helvetica", fontsize="11")
    dot.attr("edge", arrowsize="0.7")

    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    loose: list[tuple[str, dict[str, Any]]] = []
    edges: list[tuple[str, str, dict[str, str]]] = []
    note_id = "omitted"

    for i, node in enumerate(nodes):
        vid = f"v{i}"
        parents = node._prev
        role = "output" if node is root else ("intermediate" if parents else "leaf")
        fields = _value_fields(node)
        if show_order:
            k = visit.get(id(node))
            fields.insert(0, f"#{k}" if k is not None else "# -")
        attrs: dict[str, Any] = {
            "label": "{ " + " | ".join(_esc(f) for f in fields) + " }",
            "shape": "record",
            "style": "filled",
        }
        if scale is not None:
            fill = scale.fill(mags[i])
            attrs["fillcolor"] = fill
            attrs["fontcolor"] = scale.font(fill)
            if role == "leaf":
                attrs["style"] = "filled,bold"
            elif role == "output":
                attrs["peripheries"] = "2"
        else:
            attrs["fillcolor"] = _ROLE_FILL[role]
        members = [(vid, attrs)]
        if parents:
            oid = f"op{i}"
            members.append(
                (oid, {"label": _esc_plain(node._op or "op"), "shape": "ellipse", "style": "filled",
                       "fillcolor": _OP_FILL, "fontsize": "10", "margin": "0.05,0.02", "height": "0.3"})
            )
            cut = False
            for p in parents:
                pid = ids.get(id(p))
                if pid is not None:
                    edges.append((pid, oid, {}))
                elif not cut:  # parents left out by max_nodes: one dashed edge from the note
                    cut = True
                    edges.append((note_id, oid, {"style": "dashed"}))
            edges.append((oid, vid, {}))
        group = group_by(node) if group_by is not None else None
        if group is not None and not isinstance(group, str):
            raise TypeError(f"draw: group_by must return a str or None, got {type(group).__name__}")
        (groups.setdefault(group, []) if group else loose).extend(members)

    for nid, attrs in loose:
        dot.node(nid, **attrs)
    for g, (name, members) in enumerate(groups.items()):
        with dot.subgraph(name=f"cluster_g{g}") as sub:
            sub.attr(label=_esc_plain(name), style="rounded,dashed", color="#777777", fontname="Helvetica")
            for nid, attrs in members:
                sub.node(nid, **attrs)
    if omitted:
        dot.node(
            note_id,
            _esc_plain(f"... {omitted:,} more node{'s' if omitted != 1 else ''} not shown (max_nodes={max_nodes})"),
            shape="note", style="filled", fillcolor="#ffffcc",
        )
    for a, b, attrs in edges:
        dot.edge(a, b, **attrs)

    _legend(dot, scale)
    return dot


def _legend(dot: graphviz.Digraph, scale: _GradScale | None) -> None:
    """Add the colour key: one table node ``legend`` inside ``cluster_legend``."""
    rows: list[tuple[str, str, str]] = []  # (fill, cell attributes, description)
    if scale is None:
        rows += [(_ROLE_FILL[r], "", _ROLE_TEXT[r]) for r in ("leaf", "intermediate", "output")]
    else:
        rows.append(("", "", "<b>fill: |grad| on a log scale</b>"))
        if not scale.empty:
            n = len(_REDS) - 1
            for s in (n, n // 2, 0):
                exp = scale.lo + (scale.hi - scale.lo) * s / n
                rows.append((_REDS[s], "", f"|grad| ~ {10.0 ** exp:.1e}"))
        rows.append((_ZERO_FILL, "", "|grad| = 0 or no grad (vanished)"))
        if scale.has_bad:
            rows.append((_BAD_FILL, "", "|grad| nan / inf"))
        rows.append((_ZERO_FILL, ' style="solid" border="3"', "bold border: input / parameter (leaf)"))
        rows.append((_ZERO_FILL, ' border="1"', "double border: output (root)"))
    rows.append((_OP_FILL, ' style="rounded"', "operation"))
    cells = []
    for fill, extra, text in rows:
        if fill:
            cells.append(f'<tr><td width="24" bgcolor="{fill}"{extra}></td><td align="left">{text}</td></tr>')
        else:
            cells.append(f'<tr><td colspan="2" border="0" align="left">{text}</td></tr>')
    table = '<<table border="0" cellborder="1" cellspacing="3" cellpadding="3">' + "".join(cells) + "</table>>"
    with dot.subgraph(name="cluster_legend") as key:
        key.attr(label="key", style="rounded", color="#999999", fontname="Helvetica")
        key.node("legend", table, shape="plaintext", fontsize="10")


_INSTALL_HINT = (
    "autograd.draw.render needs the Graphviz 'dot' program, which was not found on PATH. "
    "Install it with 'apt-get install graphviz' (Debian/Ubuntu), 'brew install graphviz' (macOS) "
    "or 'conda install graphviz' (conda); 'pip install graphviz' installs only the Python bindings. "
    "Without it the DOT text is still available as dot.source."
)


def render(dot: graphviz.Digraph, path: str | Path) -> Path:
    """Write ``dot`` to ``path``; the suffix (``.svg``, ``.png``, ``.pdf``...) picks the format.

    Without a suffix ``dot.format`` is used and appended.  Raises RuntimeError
    with install instructions if the Graphviz ``dot`` program is missing.
    """
    path = Path(path)
    fmt = path.suffix[1:].lower() if path.suffix else dot.format
    if not path.suffix:
        path = path.with_suffix(f".{fmt}")
    if shutil.which("dot") is None:
        raise RuntimeError(_INSTALL_HINT)
    import graphviz

    try:
        data = dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound as exc:
        raise RuntimeError(_INSTALL_HINT) from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ``autograd/__init__`` exports the function ``draw`` under the name of this module, so
# ``autograd.draw.render`` must also work on the function.
draw.render = render  # type: ignore[attr-defined]
