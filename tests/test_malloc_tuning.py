"""autograd.memory: glibc malloc thresholds raised at import, unless CHAINRULE_MALLOPT=0."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import autograd
from autograd.memory import malloc_tuned

CODE = "import autograd.memory as m; print(m.malloc_tuned())"


def _run(env_value: str | None) -> str:
    env = dict(os.environ)
    env.pop("CHAINRULE_MALLOPT", None)
    if env_value is not None:
        env["CHAINRULE_MALLOPT"] = env_value
    root = os.path.dirname(os.path.dirname(os.path.abspath(autograd.__file__)))
    out = subprocess.run([sys.executable, "-c", CODE], env=env, cwd=root, capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_tuned_by_default_and_opt_out():
    import ctypes

    try:
        ctypes.CDLL(None).gnu_get_libc_version  # noqa: B018
    except AttributeError:
        pytest.skip("not glibc")
    assert _run(None) == "True"
    assert _run("0") == "False"
    assert isinstance(malloc_tuned(), bool)
