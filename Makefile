# Two commands set everything up on a fresh machine:
#   make demo   creates .venv, installs lossgap (editable, dev extras) and runs `lossgap demo`
#   make test   installs every extra the suite needs into the same .venv, checks style (ruff)
#               and types (mypy), then runs the whole suite, slow tests included
#   make test-fast  the same without the tests marked slow, for quick local runs
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned to the CPU build available on the build machines; an unpinned torch
# would pull a multi-GB CUDA build.
TORCH := torch==2.13.0

.PHONY: demo test test-fast lint bench clean report-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.installed-all: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet '$(TORCH)'
	$(BIN)/python -m pip install --quiet -e '.[dev,spark,torch,integrations]'
	touch $(VENV)/.installed-dev $@

demo: $(VENV)/.installed-dev
	$(BIN)/lossgap demo

# --dist loadfile: a file's tests share one worker, so the module and session fixtures (the
# trained demo network, the local Spark session) are built once, not once per worker
PYTEST := $(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: $(VENV)/.installed-all
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/mypy

test: lint
	$(PYTEST)

test-fast: lint
	$(PYTEST) -m "not slow"

# renders every kind of report in headless Chromium (apt-get installs Debian's chromium when
# missing), fails on a console message, and leaves screenshots in build/report-check/screens
report-check: $(VENV)/.installed-dev
	$(BIN)/python tools/report_check.py

bench: $(VENV)/.installed-all
	$(BIN)/python benchmarks/bench_explain.py
	$(BIN)/python benchmarks/bench_compare.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
