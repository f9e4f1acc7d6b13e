"""Build and execute the course notebooks with a real Jupyter kernel.

    python bench/run_notebooks.py --write          # full mode; save outputs into notebooks/*.ipynb
    python bench/run_notebooks.py --fast 03 04     # fast mode (CHAINRULE_FAST=1), outputs not saved

Each notebook is first rebuilt from its source ``notebooks/_build/NN_name.py``
(unless ``--no-build``), then run top to bottom by nbclient in a ``python3``
kernel that is started with *this* interpreter (``sys.executable``, i.e. the
project's venv) and checked to be so.  The running time of every notebook is
printed; a cell that raises stops the run with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BUILD = NOTEBOOKS / "_build"

_CHECK = "import sys as _sys\nassert _sys.prefix == {prefix!r}, ('kernel runs', _sys.executable)\ndel _sys"


def notebook_paths(names: list[str] | None = None) -> list[Path]:
    """The notebooks in notebooks/ (``NN_*.ipynb``), filtered by name prefixes."""
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if names:
        paths = [p for p in paths if any(p.stem.startswith(n) for n in names)]
    return paths


def build(names: list[str] | None = None) -> None:
    """Regenerate notebooks from their ``_build`` sources."""
    sys.path.insert(0, str(BUILD))
    try:
        import build as _build  # notebooks/_build/build.py
    finally:
        sys.path.pop(0)
    _build.build(names or [])


@contextlib.contextmanager
def venv_kernel() -> Iterator[KernelManager]:
    """A KernelManager whose ``python3`` kernelspec runs ``sys.executable -m ipykernel_launcher``."""
    with tempfile.TemporaryDirectory(prefix="chainrule-kernel-") as tmp:
        spec_dir = Path(tmp) / "python3"
        spec_dir.mkdir()
        spec = {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (chainrule venv)",
            "language": "python",
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec))
        ksm = KernelSpecManager(kernel_dirs=[tmp])
        yield KernelManager(kernel_name="python3", kernel_spec_manager=ksm)


@contextlib.contextmanager
def _env(fast: bool) -> Iterator[None]:
    old = os.environ.get("CHAINRULE_FAST")
    os.environ["CHAINRULE_FAST"] = "1" if fast else "0"
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    # One BLAS thread per kernel: the tests run two notebooks at once on two cores, and a multi-threaded
    # OpenBLAS on an oversubscribed machine can be 20-200x slower on the convolutions' matrix products.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("CHAINRULE_FAST", None)
        else:
            os.environ["CHAINRULE_FAST"] = old


def execute(nb: nbformat.NotebookNode, fast: bool, timeout: int = 600) -> float:
    """Run ``nb`` in place (outputs filled in); return the wall-clock seconds.

    A first, hidden cell asserts that the kernel runs this interpreter's
    environment; it is removed again afterwards.
    """
    check = nbformat.v4.new_code_cell(_CHECK.format(prefix=sys.prefix))
    check["id"] = "venv-check"
    nb.cells.insert(0, check)
    try:
        with _env(fast), venv_kernel() as km:
            client = NotebookClient(
                nb, km=km, kernel_name="python3", timeout=timeout, record_timing=False,
                resources={"metadata": {"path": str(NOTEBOOKS)}},
            )
            t0 = time.perf_counter()
            client.execute()
            seconds = time.perf_counter() - t0
    finally:
        nb.cells.pop(0)
    for cell in nb.cells:  # renumber without the hidden cell
        if cell.cell_type == "code" and cell.get("execution_count"):
            cell.execution_count -= 1
            for out in cell.outputs:
                if out.get("execution_count"):
                    out["execution_count"] -= 1
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="notebook name prefixes (default: all), e.g. 03 or 04_sigmoid")
    ap.add_argument("--write", action="store_true", help="save the executed notebooks (with outputs) in place")
    ap.add_argument("--fast", action="store_true", help="fast mode: CHAINRULE_FAST=1 (small data, few epochs)")
    ap.add_argument("--no-build", action="store_true", help="do not regenerate notebooks from notebooks/_build")
    ap.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    args = ap.parse_args(argv)

    if not args.no_build:
        build(args.names)
    paths = notebook_paths(args.names)
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    mode = "fast" if args.fast else "full"
    failed = []
    times = {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        print(f"{path.name:45s} {mode} ...", end=" ", flush=True)
        try:
            seconds = execute(nb, fast=args.fast, timeout=args.timeout)
        except Exception as exc:  # report and carry on with the next notebook
            print(f"FAILED\n{exc}")
            failed.append(path.name)
            continue
        times[path.name] = seconds
        print(f"{seconds:6.1f} s")
        if args.write:
            nbformat.write(nb, path)
    print(f"\n{mode} mode: {len(times)} passed, {len(failed)} failed, total {sum(times.values()):.1f} s")
    for name in failed:
        print("  failed:", name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
