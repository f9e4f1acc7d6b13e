"""Every notebook in notebooks/ runs top to bottom in fast mode (CHAINRULE_FAST=1).

The notebooks assert their own claims (truth tables, shapes, parameter counts,
gradient checks...), so a notebook that runs is a notebook whose claims hold.
Each test executes one notebook with nbclient in a real ``python3`` kernel
started with this interpreter (checked inside the kernel), and records the
running time (printed, stored as a junit property, and in the pytest cache
under ``notebooks/times/<name>``).
"""

import importlib.util
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
FAST_LIMIT_S = 120  # the budget of a full run; fast mode normally takes a few seconds


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


runner = _load("run_notebooks", ROOT / "bench" / "run_notebooks.py")
builder = _load("notebook_build", NOTEBOOKS / "_build" / "build.py")

PATHS = runner.notebook_paths()


def test_there_are_notebooks():
    assert len(PATHS) >= 1, "no notebooks found in notebooks/"


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs_in_fast_mode(path, record_property, request, monkeypatch):
    monkeypatch.setenv("CHAINRULE_FAST", "1")
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    seconds = runner.execute(nb, fast=True, timeout=600)  # raises CellExecutionError if a cell fails
    total = time.perf_counter() - t0
    record_property("fast_seconds", round(seconds, 2))
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider (a read-only checkout)
    if cache is not None:
        cache.set(f"notebooks/times/{path.stem}", round(seconds, 2))
    print(f"{path.name}: {seconds:.1f} s executing, {total:.1f} s with kernel start-up", file=sys.stderr)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert seconds < FAST_LIMIT_S, f"{path.name} took {seconds:.0f} s in fast mode"


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_matches_its_source(path):
    """The committed notebook holds exactly the cells of notebooks/_build/<name>.py."""
    src = NOTEBOOKS / "_build" / f"{path.stem}.py"
    assert src.exists(), f"{path.name} has no source {src.relative_to(ROOT)}"
    expected = builder.parse(src.read_text())
    nb = nbformat.read(path, as_version=4)
    got = [(c.cell_type, c.source) for c in nb.cells]
    assert got == expected, f"{path.name} is out of date: run `python bench/run_notebooks.py --write {path.stem}`"


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_committed_notebook_has_full_mode_outputs(path):
    """Stored outputs come from a full run (the first code cell prints the mode) without errors."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"{path.name} was saved without running every cell"
    first = "".join(o.get("text", "") for o in code[0].outputs if o.output_type == "stream")
    assert "mode: full" in first, f"{path.name}: outputs are not from a full run ({first.strip()!r})"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert os.path.getsize(path) < 2_000_000, f"{path.name} is larger than 2 MB"
