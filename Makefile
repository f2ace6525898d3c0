# scratchbench: `make run` trains the default grid and writes the report; `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: setup setup-bench data run test lint bench stress showcase clean-venv

setup: $(STAMP)

# Reinstall only when a requirements file or the package definition changes. The project itself
# goes in editable (no dependencies of its own: the pinned files hold them), which gives the
# `scratchbench` command and the package metadata Dask workers are checked against.
# --no-compile: pip would byte-compile every installed module (torch, scipy, mlflow, ...); Python
# compiles the few a run imports on first import instead.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-compile -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-compile --no-deps -e .
	touch $(STAMP)

# torch (CPU build) for the benchmark and the torch parity test.
setup-bench: $(BENCH_STAMP)

$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(PY) -m pip install --quiet --no-compile -r requirements-bench.txt
	touch $(BENCH_STAMP)

data: setup
	$(PY) run_all.py --fetch-data

run: setup data
	$(PY) run_all.py

# Two pytest-xdist workers: on 2 cores much of the suite (pytest itself, interpreter starts,
# report rendering, the statistics) runs on one core at a time. loadgroup keeps the tests that
# build the wheel in the checkout (xdist_group "wheel") in one worker.
test: setup-bench
	$(PY) -m pytest -q -n 2 --dist loadgroup

# ruff: the pyflakes rules and the formatting, both configured in pyproject.toml.
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Speed against PyTorch (CPU) and scikit-learn on the same MLP, then the grid's scaling with the
# number of workers: prints tables and a summary line.
bench: setup-bench data
	$(PY) benchmarks/bench.py

# The crash test with 50 kills instead of 3.
stress: setup
	SCRATCHBENCH_KILLS=50 $(PY) -m pytest -q tests/test_reliability.py -k sigkill

# The committed showcase: the fair-comparison grids in SHOWCASE's order (studies/showcase.py),
# then tutorials' setups, the best cells trained longer, and what their second pass buys.
showcase: setup data
	$(PY) run_all.py $$($(PY) -c "from studies import SHOWCASE; print(' '.join('--grid ' + g for g in SHOWCASE))")
	$(PY) run_all.py --grid tutorials --grid long --grid refit

clean-venv:
	rm -rf $(VENV)
