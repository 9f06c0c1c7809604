# Two commands set everything up on a fresh machine:
#   make demo   creates .venv, installs lossgap (editable, demo extra) and runs `lossgap demo`
#   make test   installs every extra the suite needs into the same .venv, checks style (ruff)
#               and types (mypy), then runs the whole suite, slow tests included
#   make test-fast  the same without the tests marked slow, for quick local runs
# and more run the suite on the other Python versions lossgap supports:
#   make test-matrix   Python 3.10 and 3.13 (from pyenv or /usr/bin), each in .venv-<version>
#   make test-floor    Python 3.10 with every dependency at its declared floor
#   make install-check the core install (no extra) from the wheel in a fresh venv: its size
#                      against 250 MB, and `lossgap explain` on a CSV there (downloads;
#                      not part of make test)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned to the CPU build available on the build machines; an unpinned torch
# would pull a multi-GB CUDA build.
TORCH := torch==2.13.0

# Every framework extra the suite tests against.
ALL_EXTRAS := dev,arrow,spark,torch,keras,lightning,huggingface,tensorboard,mlflow,wandb
# The other supported Pythons; `make test-matrix PYTHONS="3.12"` picks others.
PYTHONS ?= 3.10 3.13
# What pytest runs there (default the suite: framework tests skip without their extras).
MATRIX_ARGS ?=

.PHONY: demo test test-fast lint test-matrix test-floor install-check bench clean report-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed-all: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet '$(TORCH)'
	$(BIN)/python -m pip install --quiet -e '.[$(ALL_EXTRAS)]'
	touch $(VENV)/.installed-dev $(VENV)/.installed-demo $@

demo: $(VENV)/.installed-demo
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

# The core, dev and tensorboard extras on each of $(PYTHONS); the frameworks' own
# wheels trail new Pythons, so their tests run in `make test` only.
test-matrix:
	@set -e; for v in $(PYTHONS); do $(MAKE) --no-print-directory .test-on-$$v; done

# The same at the declared floors (tools/floors.py), on the oldest supported Python.
test-floor:
	@$(MAKE) --no-print-directory .test-on-$(firstword $(PYTHONS)) FLOORS=1

# One Python: its interpreter from pyenv, /usr/bin or the PATH, a venv .venv-<version>
# (.venv-floor-<version> at the floors), the extras, then pytest.
.test-on-%:
	@set -e; v=$*; \
	py=$$(ls /root/.pyenv/versions/$$v*/bin/python3 /usr/bin/python$$v 2>/dev/null | head -n 1); \
	if [ -z "$$py" ]; then py=$$(command -v python$$v || true); fi; \
	if [ -z "$$py" ]; then echo "no Python $$v found"; exit 1; fi; \
	venv=.venv-$(if $(FLOORS),floor-)$$v; \
	[ -x $$venv/bin/python ] || $$py -m venv $$venv; \
	$(PYTHON) tools/floors.py > $$venv/floors.txt; \
	$$venv/bin/python -m pip install --quiet $(if $(FLOORS),-c $$venv/floors.txt) -e '.[dev,arrow,tensorboard]'; \
	echo "== Python $$v ($$py)$(if $(FLOORS), at the floors)"; \
	$$venv/bin/python -m pytest -q -n 2 -p no:cacheprovider $(MATRIX_ARGS)

install-check:
	PYTHON=$(PYTHON) tools/install_check.sh

# renders every kind of report in headless Chromium (apt-get installs Debian's chromium when
# missing), fails on a console message, and leaves screenshots in build/report-check/screens
report-check: $(VENV)/.installed-dev
	$(BIN)/python tools/report_check.py

# Every figure of issue 17's targets, as ratios, in one run (docs/performance.md records them):
# explain binary 1e3-1e7, multiclass 1e6 x 10 and the command line against scikit-learn and
# the in-process call; streaming 4e7 rows against pyarrow's read; compare 50 x 1e6.
bench: $(VENV)/.installed-all
	$(BIN)/python benchmarks/bench_explain.py --cli 1e6
	$(BIN)/python benchmarks/bench_scale.py --sizes --stream-rows 4e7 --repeat 2
	$(BIN)/python benchmarks/bench_compare.py --cli

clean:
	rm -rf $(VENV) .venv-* .pytest_cache .hypothesis
