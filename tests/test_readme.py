"""The python code blocks of README.md's quick tour run as written (README.md is read at test time)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## A quick tour"
# blocks beyond those EXPECTED checks that would need the network or the full MNIST set are skipped, not run;
# an EXPECTED block that matches fails instead (it would otherwise never be checked)
NEEDS_NETWORK_OR_DATA = re.compile(r"download|urlopen|requests\.|data_dir|CHAINRULE_DATA|dataset=\"mnist\"")


def quick_tour_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION) + len(SECTION)
    end = text.find("\n## ", start)
    section = text[start:] if end < 0 else text[start:end]
    return re.findall(r"^```python[ \t]*\n(.*?)^```[ \t]*$", section, flags=re.S | re.M)


BLOCKS = quick_tour_blocks()


def _scalar_graph(ns: dict, out: str) -> None:
    """Block 0: the scalar graph's gradient, d n / d w = x (1 - tanh^2), printed."""
    assert ns["w"].grad == pytest.approx(ns["x"].data * (1 - ns["n"].data ** 2))
    assert str(ns["w"].grad) in out


def _tensor_model(ns: dict, out: str) -> None:
    """Block 1: the Tensor model trains."""
    assert float(ns["loss"].item()) < 0.1, "the quick-tour model did not train"


# What each block promises, by position: the names it must define and the check on them.
EXPECTED = [(("x", "w", "n"), _scalar_graph), (("model", "loss"), _tensor_model)]


def test_quick_tour_has_python_blocks():
    assert len(BLOCKS) >= len(EXPECTED), f"found {len(BLOCKS)} python blocks under {SECTION!r} in README.md"


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_quick_tour_block_runs(index, tmp_path, monkeypatch, capsys):
    code = BLOCKS[index]
    needs = NEEDS_NETWORK_OR_DATA.search(code)
    if index < len(EXPECTED):  # a block EXPECTED checks must run here, never be skipped
        assert needs is None, (f"README quick tour block {index} is checked by EXPECTED but needs the network or "
                               f"the full data set ({needs.group()!r}), so it would never run: keep it offline")
    elif needs:
        pytest.skip("needs the network or the full data set")
    monkeypatch.chdir(tmp_path)  # anything a block writes lands in a scratch directory
    namespace: dict = {"__name__": "__readme__"}
    exec(compile(code, f"README.md quick tour block {index}", "exec"), namespace)
    if index < len(EXPECTED):
        names, check = EXPECTED[index]
        missing = [n for n in names if n not in namespace]
        assert not missing, f"README quick tour block {index} no longer defines {missing}: update EXPECTED"
        check(namespace, capsys.readouterr().out)
