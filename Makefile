# zcnas — `make help` lists the targets.
# A value given on the command line or in the environment is kept as typed: make would run a
# $(shell ...) in it wherever the variable is expanded (the checks and exports below included).
$(foreach v,$(filter-out MAKEFLAGS MFLAGS SHELL MAKE% .%,$(.VARIABLES)),$(if $(filter command environment,$(firstword $(origin $(v)))),$(eval override $(v) := $$(value $(v)))))
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The torch that `make install` puts into a venv that has none: this version from the package
# index pip is configured with.  Which build that is depends on the index: on the project's
# machines a CPU-only wheel lies on local disk; PyPI's Linux x86_64 wheel is a CUDA build (it
# runs on a CPU too, but pulls in the CUDA libraries).  TORCH_INDEX=https://download.pytorch.org/whl/cpu
# asks PyTorch's CPU index instead (needs that site to be reachable).  GPU users install their CUDA
# build of torch into the venv first (see README); the range in setup.cfg then leaves it in place.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
STAMP := $(VENV)/.installed
ARGS ?=
# the search grid's preset (conf/experiment/), the sweep `make tables` reads, the scoring sweep `make merge` reads
EXPERIMENT ?= paper
SWEEP ?= paper
SCORE_SWEEP ?= score
# (defined before the export below: exporting an undefined variable defines it, empty)
# User text reaches the programs as data: these are exported to the recipes' environment and
# scripts/make_args.py splits ARGS into words (no shell evaluates it) and checks that the names
# (EXPERIMENT, SWEEP, SCORE_SWEEP) are plain before it puts them into arguments.
export ARGS EXPERIMENT SWEEP SCORE_SWEEP
WITH_ARGS = $(PY) scripts/make_args.py

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast clean

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url "$(TORCH_INDEX)")
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv; install zcnas (editable) with its dependencies, and torch (TORCH_SPEC) if the venv has none

run: $(STAMP) ## the default job: synflow random search (N=500) on CIFAR-10; extra overrides in ARGS="..."
	$(WITH_ARGS) -- $(PY) run.py metric=synflow search=random

.PHONY: table1
table1: $(STAMP) ## the correlation study (paper Tables I and II) from results/rosters/ into results/correlation/
	$(WITH_ARGS) -- $(PY) run.py task=correlate report_dir=$(CURDIR)/results/correlation

# the search grid (paper Tables III-V, Figure 2): make grid [EXPERIMENT=val12|laptop|tiny], then make tables
.PHONY: grid tables figure2
grid: $(STAMP) ## run the search grid of conf/experiment/$(EXPERIMENT).yaml (default paper); a relaunch skips finished jobs
	$(WITH_ARGS) --plain EXPERIMENT -- $(PY) run.py -m experiment=@EXPERIMENT@

tables: $(STAMP) ## Tables III-V (and Figure 2) of multirun_outputs/$(SWEEP) into results/search/$(SWEEP)/
	$(WITH_ARGS) --plain SWEEP -- $(PY) run.py task=aggregate sweep_dir=$(CURDIR)/multirun_outputs/@SWEEP@ report_dir=$(CURDIR)/results/search/@SWEEP@

figure2: $(STAMP) tables ## Figure 2 (figure2.png): written by the same aggregation as the tables

.PHONY: merge
merge: $(STAMP) ## merge the roster shards of multirun_outputs/$(SCORE_SWEEP) into results/rosters/<metric>_<dataset>.parquet
	$(WITH_ARGS) --plain SCORE_SWEEP -- $(PY) run.py task=merge 'merge.inputs=["$(CURDIR)/multirun_outputs/@SCORE_SWEEP@/**/roster.parquet"]'

test: $(STAMP) ## the whole test suite (slow, integration, SLURM); starts a one-node SLURM cluster for it when it can
	PY=$(PY) $(WITH_ARGS) -- bash scripts/test.sh

test-fast: $(STAMP) ## unit tests only (skips tests marked slow/integration/slurm)
	$(WITH_ARGS) -- $(PY) -m pytest -m "not slow and not integration and not slurm"

clean: ## remove outputs/ and the contents of multirun_outputs/
	rm -rf outputs && find multirun_outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +

# make bench: with zcnas's thread policy (--threads auto), bench/bench.py at idle, the fused engine at idle
# (bench/fused.py: all 15 proxies of a cell in one pass against each alone, FUSED_CELLS cells), bench/bench.py
# beside one CPU-bound busy loop of its own (--compete 1), then every target (bench/summary.py).  Each idle
# pass first waits up to BENCH_WAIT seconds for the load average of the work before it to decay, so that
# the policy sees the idle machine it is meant to measure.
# ARGS go to both passes (after the defaults below, so they win); BENCH_TAG names the files
# (<tag>_idle.*, <tag>_compete1.* in BENCH_OUT), instead of --tag in ARGS.
BENCH_OUT ?= results/bench
BENCH_TAG ?= bench_cpu$(if $(findstring --quick,$(ARGS)),_quick)
BENCH_IDLE ?= --searches aging
BENCH_COMPETE ?= --searches none
FUSED_CELLS ?= $(if $(findstring --quick,$(ARGS)),3,50)
BENCH_WAIT ?= 180
.PHONY: bench
bench: $(STAMP) ## engine vs the paper's code at idle and beside 1 busy loop (4x/1x), fused engine (3x hook_logdet, 4x singles) (~25 min on 2 idle cores; ARGS="--quick": a few min) -> results/bench/
	$(WITH_ARGS) -- $(PY) bench/bench.py --threads auto --wait-idle $(BENCH_WAIT) $(BENCH_IDLE) --out $(BENCH_OUT) --tag $(BENCH_TAG)_idle
	$(PY) bench/fused.py --threads auto --wait-idle $(BENCH_WAIT) --cells $(FUSED_CELLS) --out $(BENCH_OUT) --tag $(BENCH_TAG)_fused
	$(WITH_ARGS) -- $(PY) bench/bench.py --threads auto --compete 1 $(BENCH_COMPETE) --out $(BENCH_OUT) --tag $(BENCH_TAG)_compete1
	$(PY) bench/summary.py $(BENCH_OUT)/$(BENCH_TAG)_idle.json $(BENCH_OUT)/$(BENCH_TAG)_compete1.json \
		$(BENCH_OUT)/$(BENCH_TAG)_fused.json

.PHONY: table-ensembles
table-ensembles: $(STAMP) ## single proxies and ensembles, rho and tau, chosen on CIFAR-10 (results/rosters/sample1000 -> results/ensembles/)
	$(WITH_ARGS) -- $(PY) run.py task=ensembles report_dir=$(CURDIR)/results/ensembles

.PHONY: table-spaces
table-spaces: $(STAMP) ## proxies vs ground truth in NAS-Bench-Macro and NAS-Bench-101 (results/rosters/<space>/ -> results/correlation/<space>/)
	$(WITH_ARGS) -- $(PY) run.py task=correlate space=nas_bench_macro "rosters=[$(CURDIR)/results/rosters/nas_bench_macro/*.parquet,$(CURDIR)/results/rosters/nas_bench_macro/sample1000/*.parquet]" report_dir=$(CURDIR)/results/correlation/nas_bench_macro
	$(WITH_ARGS) -- $(PY) run.py task=correlate space=nas_bench_101 "rosters=[$(CURDIR)/results/rosters/nas_bench_101/*.parquet]" report_dir=$(CURDIR)/results/correlation/nas_bench_101

.PHONY: hw-study
hw-study: $(STAMP) ## hardware-aware search: accuracy-latency Pareto fronts (HW-NAS-Bench) and searches under latency budgets -> results/hw/
	$(WITH_ARGS) -- $(PY) run.py task=hw_study report_dir=$(CURDIR)/results/hw

.PHONY: batch-spread
batch-spread: $(STAMP) ## Spearman rho over 5 image batches on the 1,000 sample cells: hook_logdet, snip (~5 CPU-hours) and jacov, meco, zico (~6 CPU-hours; or --hardware gpu in bench/batch_spread.py); resumable -> results/correlation/batch_spread/
	$(PY) bench/batch_spread.py score --cells 1000 --metrics hook_logdet snip
	$(PY) bench/batch_spread.py score --cells 1000 --metrics jacov meco zico
	$(PY) bench/batch_spread.py report

# Variables that reach the recipes' command lines must be plain values, never shell syntax: checked
# as make reads this file, before any recipe runs.  (ARGS, EXPERIMENT, SWEEP and SCORE_SWEEP reach
# the programs as data through scripts/make_args.py instead.)
SHELL_SYNTAX := ; & | < > ( ) ' " \ * ? [ ] { } ! ` $$ \#
# $(call plain_value,NAME[,words]): NAME holds no shell syntax and, unless words is given, one word
plain_value = $(foreach c,$(SHELL_SYNTAX),$(if $(findstring $(c),$($(1))),$(error $(1) must be a plain value without shell syntax, got '$($(1))')))$(if $(2),,$(if $(word 2,$($(1))),$(error $(1) must be one word, got '$($(1))')))
# $(call whole_number,NAME): NAME is digits only (what is left once every digit is taken out is nothing)
no_digits = $(subst 0,,$(subst 1,,$(subst 2,,$(subst 3,,$(subst 4,,$(subst 5,,$(subst 6,,$(subst 7,,$(subst 8,,$(subst 9,,$(1)))))))))))
whole_number = $(if $(or $(call no_digits,$($(1))),$(if $($(1)),,empty)),$(error $(1) must be a whole number, got '$($(1))'))
$(foreach v,PYTHON VENV TORCH_SPEC TORCH_INDEX BENCH_OUT BENCH_TAG FUSED_CELLS BENCH_WAIT,$(call plain_value,$(v)))
$(foreach v,BENCH_IDLE BENCH_COMPETE,$(call plain_value,$(v),words))
$(foreach v,FUSED_CELLS BENCH_WAIT,$(call whole_number,$(v)))
