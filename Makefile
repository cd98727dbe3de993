# Everything a fresh machine needs comes from here: `make demo` and `make test` each set up .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	@# PyTorch is a test oracle and benchmark peer only: take the CPU build where it lies on local disk,
	@# never a multi-gigabyte download. Without it the torch tests skip themselves.
	@if $(BIN)/python -m pip download -q --no-index --no-deps torch==2.13.0 -d $(VENV)/.torch-probe >/dev/null 2>&1; \
	then $(BIN)/python -m pip install -q torch==2.13.0; \
	else echo "no local CPU build of torch 2.13.0: the PyTorch-oracle tests will be skipped"; fi
	rm -rf $(VENV)/.torch-probe
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	MPLBACKEND=Agg $(BIN)/deltaprop train --data digits

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/mlp_throughput.py
	$(BIN)/python benchmarks/mlp_throughput.py --optimizer adam --only float32,relu,64,256 --repeats 7
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/graph_scaling.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
