# make demo  — start lakestack, run the demo scenario, stop
# make test  — the whole test suite (unit, integration, e2e)
# Each target creates .venv and installs exactly the lock (requirements/*.lock) when needed.
# make lock        — re-resolve the locks to the newest releases pyproject.toml allows
# make test-latest — the suite in a throwaway venv on the newest releases (run before `make lock`)
# make s3-conformance — Ceph's s3-tests (../shared/s3-tests, or S3TESTS_DIR) against a lakestack it starts; prints the score

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
LATEST := .venv-latest
# One resolution for every platform, hashes for every file: a fresh machine installs exactly this.
COMPILE = $(BIN)/uv pip compile -q --universal --python-version 3.11 --generate-hashes \
          pyproject.toml requirements/tools.in

.PHONY: install demo test test-latest lock unit integration bench lint docs clean
.PHONY: s3-conformance

$(STAMP): pyproject.toml requirements/dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements/dev.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

$(BENCH_STAMP): $(STAMP) requirements/bench.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements/bench.lock
	touch $(BENCH_STAMP)

demo: $(STAMP)
	$(BIN)/lakestack demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install -q -U pip
	$(LATEST)/bin/python -m pip install -q -U -e '.[dev]'
	$(LATEST)/bin/python -m pip list --format=freeze > $(LATEST)/versions.txt
	$(LATEST)/bin/python -m pytest -q -p no:cacheprovider tests

lock: $(STAMP)
	$(COMPILE) --upgrade --extra dev -o requirements/dev.lock
	$(COMPILE) --upgrade --extra dev --extra bench -o requirements/bench.lock

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
	$(BIN)/python bench/gateway.py  # creates .venv-ministack from requirements/ministack.lock on first use

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

s3-conformance: $(STAMP)
	$(BIN)/python conformance/s3/run.py $(S3_CONFORMANCE_ARGS)  # creates .venv-s3tests from requirements/s3tests.lock on first use

docs: $(STAMP)
	$(BIN)/python -m lakestack.coverage > docs/coverage.md

clean:
	rm -rf $(VENV) $(LATEST) .lakestack
