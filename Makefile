# make demo  — start lakestack, run the demo scenario, stop
# make test  — the whole test suite (unit, integration, e2e)
# Each target creates .venv and installs lakestack with its dev extras when needed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: install demo test unit integration bench lint docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

demo: $(STAMP)
	$(BIN)/lakestack demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

bench: $(BENCH_STAMP)
	$(BIN)/python bench/s3.py
	$(BIN)/python bench/kinesis.py
	$(BIN)/python bench/lambda.py
	$(BIN)/python bench/crawler.py
	$(BIN)/python bench/athena.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

docs: $(STAMP)
	$(BIN)/python -m lakestack.coverage > docs/coverage.md

clean:
	rm -rf $(VENV) .lakestack
