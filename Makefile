# zcnas — `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel of torch; GPU users install their CUDA build of torch into the venv first
# (see README), and the range in setup.cfg then leaves it in place.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast clean

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install zcnas (editable) with its dependencies

run: $(STAMP) ## the default job: synflow random search (N=500) on CIFAR-10; extra overrides in ARGS="..."
	$(PY) run.py metric=synflow search=random $(ARGS)

.PHONY: table1
table1: $(STAMP) ## the correlation study (paper Tables I and II) from results/rosters/ into results/correlation/
	$(PY) run.py task=correlate $(ARGS)

test: $(STAMP) ## run the whole test suite (slow, integration and SLURM tests included)
	$(PY) -m pytest $(ARGS)

test-fast: $(STAMP) ## unit tests only (skips tests marked slow/integration/slurm)
	$(PY) -m pytest -m "not slow and not integration and not slurm" $(ARGS)

clean: ## remove outputs/ and the contents of multirun_outputs/
	rm -rf outputs && find multirun_outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
