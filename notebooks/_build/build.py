"""Turn the ``NN_name.py`` sources in this folder into ``../NN_name.ipynb`` (no outputs).

A source is a plain Python file split into cells by ``# %%`` lines (the
"percent" format jupytext and editors understand):

* ``# %% [markdown]`` starts a markdown cell; every following line has its
  leading ``# `` removed;
* ``# %%`` starts a code cell.

Lines before the first marker are ignored (a docstring for the reader of the
source).  ``python notebooks/_build/build.py [names...]`` rebuilds all
notebooks (or the named ones); ``bench/run_notebooks.py`` calls
:func:`build` before it executes a notebook.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE.parent

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def sources() -> list[Path]:
    """All notebook sources, in order (``01_...py``, ``02_...py``, ...)."""
    return sorted(p for p in HERE.glob("[0-9][0-9]_*.py"))


def parse(text: str) -> list[tuple[str, str]]:
    """``[(kind, source), ...]`` with kind ``"code"`` or ``"markdown"``."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            kind = "markdown" if "[markdown]" in line else "code"
            cells.append((kind, []))
        elif cells:
            kind, lines = cells[-1]
            if kind == "markdown":
                if line.startswith("# "):
                    line = line[2:]
                elif line.startswith("#"):
                    line = line[1:]
            lines.append(line)
    out = []
    for kind, lines in cells:
        src = "\n".join(lines).strip("\n")
        if src.strip():
            out.append((kind, src))
    return out


def to_notebook(source: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, src) in enumerate(parse(source.read_text())):
        cell = nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src)
        cell["id"] = f"{source.stem[:2]}-{i:03d}"  # stable ids: rebuilding gives the same file
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def target(source: Path) -> Path:
    return NOTEBOOKS / f"{source.stem}.ipynb"


def build(names: list[str] | None = None) -> list[Path]:
    """Write the notebooks for the given source stems (all when ``names`` is empty)."""
    written = []
    for src in sources():
        if names and not any(src.stem.startswith(n) or n == src.stem for n in names):
            continue
        path = target(src)
        nbformat.write(to_notebook(src), path)
        written.append(path)
    return written


if __name__ == "__main__":
    for p in build(sys.argv[1:]):
        print("wrote", p.relative_to(NOTEBOOKS.parent))
