# One entry point for people and CI. Every target bootstraps .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp
OUT    ?= out/demo

.PHONY: help install run test lint typecheck unit system-deps bench deploy-aws deploy-aliyun clean


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

clean:  ## remove the virtual environment and local outputs
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache

# deploy-aws, deploy-aliyun: never run by CI
include infra/deploy.mk
