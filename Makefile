# SeaSight: `make demo` installs and runs the demo; `make test` installs and runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install install-test web demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,bench]'
	sh scripts/install-system.sh
	sh web/build.sh

demo: install web
	$(BIN)/seasight demo

lint: install-test
	$(BIN)/ruff check src tests

test: install-test
	$(BIN)/ruff check src tests
	$(BIN)/mypy src
	$(BIN)/python -m pytest -q

web:
	sh web/build.sh

bench: install-test
	$(BIN)/python -m seasight.bench
	$(BIN)/python -m seasight.bench.detection
	$(BIN)/python -m seasight.bench.service
	$(BIN)/python -m seasight.bench.distributed
	$(BIN)/python -m seasight.bench.map
	$(BIN)/python -m seasight.bench.logistics

clean:
	rm -rf $(VENV) .bench *.duckdb web/node_modules src/seasight/web/static/vendor
