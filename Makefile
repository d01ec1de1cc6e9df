# One entry point for people and CI. Every target bootstraps .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp
OUT    ?= out/demo

.PHONY: help install run test lint typecheck unit system-deps bench lock deploy-aws deploy-aliyun clean


help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,bench]'
	touch $(BENCH_STAMP)

install: $(STAMP)  ## create .venv and install the package with its dev tools

run: $(STAMP)  ## run the whole pipeline on the embedded demo data; outputs under out/demo
	$(BIN)/chargeback demo --out $(OUT)

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check .

typecheck: $(STAMP)  ## mypy over the core library and the function handlers
	$(BIN)/mypy

unit: $(STAMP)  ## only the fast, pure unit tests
	$(BIN)/pytest tests/unit -q

system-deps:  ## Debian packages the tests need (headless chromium, CJK fonts); installs only what is missing
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium fonts-noto-cjk'" >&2; exit 1; fi; }

test: $(STAMP) system-deps lint typecheck  ## lint, types and the whole test suite
	$(BIN)/pytest -q

bench: $(BENCH_STAMP)  ## chargeback run against DuckDB and polars on equal terms; BENCH_ARGS=--big adds 10M rows
	$(BIN)/python bench/run_bench.py --readme README.md $(BENCH_ARGS)

LOCK := infra/requirements.lock
lock: $(STAMP)  ## regenerate infra/requirements.lock (the image's hashed dependencies) from pyproject.toml
	$(BIN)/uv pip compile --no-config --quiet --no-header --generate-hashes --python-version 3.12 \
	  --python-platform x86_64-manylinux_2_34 pyproject.toml infra/build-requirements.in -o $(LOCK).new
	{ echo "# The container image's dependencies, every file pinned by hash (pip install --require-hashes)."; \
	  echo "# Made by 'make lock' from pyproject.toml for Python 3.12 on Amazon Linux 2023 (x86_64); do not edit."; \
	  cat $(LOCK).new; } > $(LOCK) && rm $(LOCK).new

clean:  ## remove the virtual environment and local outputs
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache

# deploy-aws, deploy-aliyun: never run by CI
include infra/deploy.mk
