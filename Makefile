# chainrule -- the two commands a new user types: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
EXTRAS ?= dev,notebooks

.PHONY: demo test lint bench notebooks dot venv clean

# A venv whose creation failed half-way (no python3-venv/ensurepip) has a python but no pip: start again.
$(STAMP): pyproject.toml
	@if [ -x $(PY) ] && ! $(PY) -m pip --version >/dev/null 2>&1; then \
	  echo "$(VENV) has no pip (created half-way?): recreating it"; rm -rf $(VENV); fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || true
	@$(PY) -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV); \
	  echo "error: '$(PYTHON) -m venv' gave no working venv with pip; install the venv module (e.g. 'sudo apt-get install python3-venv') or set PYTHON=/path/to/python3, then run make again" >&2; \
	  exit 1; }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)

# Graphviz's `dot` renders the graph drawings; install it when missing and possible.  It is optional (without
# it the draw tests skip and the demo writes the .dot source), so a failed install is only a note.
dot:
	@command -v dot >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing graphviz (dot) with apt-get"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz) >/dev/null \
	      || echo "note: installing graphviz failed (offline? dpkg locked?); carrying on without 'dot'"; \
	  else \
	    echo "note: Graphviz 'dot' is missing; install it (e.g. 'sudo apt-get install graphviz' or 'brew install graphviz') to render drawings"; \
	  fi; }

demo: venv dot
	$(PY) -m nn demo

# Two pytest workers on two cores: one BLAS thread each, or OpenBLAS's spinning threads oversubscribe the
# cores and a small matrix product can take 100x longer.
test: venv dot
	CHAINRULE_FAST=1 OPENBLAS_NUM_THREADS=1 $(PY) -m pytest -q -n 2 tests

lint: venv
	$(PY) -m ruff check autograd nn tests bench tools notebooks/_build/build.py

# bench/ops.py exits 3 when a figure misses its bar: that is its report, so lenet.py still runs after it (a crash stops).
bench: venv dot
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) bench/scalar.py
	$(PY) bench/ops.py || [ $$? -eq 3 ]
	$(PY) bench/lenet.py

notebooks: venv dot
	$(PY) bench/run_notebooks.py --write

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
