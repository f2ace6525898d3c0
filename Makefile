# scratchbench: `make run` trains the default grid and writes the report; `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup data run test bench stress showcase clean-venv

setup: $(STAMP)

# Reinstall only when a requirements file changes.
$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

data: setup
	$(PY) run_all.py --fetch-data

run: setup data
	$(PY) run_all.py

test: setup
	$(PY) -m pytest -q

# Speed against PyTorch (CPU) and scikit-learn on the same MLP: prints a table and a summary line.
bench: setup data
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) benchmarks/bench.py

# The crash test with 50 kills instead of 10.
stress: setup
	SCRATCHBENCH_KILLS=50 $(PY) -m pytest -q tests/test_reliability.py -k sigkill

# The extra grids of the committed showcase: tutorials' setups and the best cells trained longer.
showcase: setup data
	$(PY) run_all.py --grid tutorials --grid long

clean-venv:
	rm -rf $(VENV)
