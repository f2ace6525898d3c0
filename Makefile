# scratchbench: `make run` trains the default grid and writes the report; `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup data run test bench clean-venv

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

clean-venv:
	rm -rf $(VENV)
