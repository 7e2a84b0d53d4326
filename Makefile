# Two commands do all the set-up on a fresh machine with Python 3.11, pip, venv and make:
#   make demo   - runs the whole setup end to end on the simulated Azure (both topologies)
#   make test   - runs the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench simulator host clean fault-matrix permissions-matrix reliability

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m devhost.demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

fault-matrix: $(STAMP)
	$(BIN)/python -m tests.reliability.fault_matrix

permissions-matrix: $(STAMP)
	$(BIN)/python -m tests.reliability.permissions_matrix

reliability: $(STAMP)
	$(BIN)/python -m pytest -q tests/reliability $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

simulator: $(STAMP)
	$(BIN)/python -m simulator

host: $(STAMP)
	$(BIN)/python -m devhost

clean:
	rm -rf $(VENV) .devhost .pytest_cache
