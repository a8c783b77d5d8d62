# SeaSight: `make demo` installs and runs the demo; `make test` installs and runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# MkDocs plugins print a banner about MkDocs 2 on every build; the build pins MkDocs 1.x.
export NO_MKDOCS_2_WARNING := 1
export DISABLE_MKDOCS_2_WARNING := true

.PHONY: install install-test web demo test lint docs bench clean

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
	$(BIN)/mkdocs build --strict --quiet
	$(BIN)/python -m pytest -q

# The documentation site, into site/ (offline; strict: a broken link or reference fails).
docs: install-test
	$(BIN)/mkdocs build --strict

web:
	sh web/build.sh

bench: install-test
	$(BIN)/python -m seasight.bench
	$(BIN)/python -m seasight.bench.detection
	$(BIN)/python -m seasight.bench.service
	$(BIN)/python -m seasight.bench.distributed
	$(BIN)/python -m seasight.bench.map
	$(BIN)/python -m seasight.bench.udp
	$(BIN)/python -m seasight.bench.logistics

clean:
	rm -rf $(VENV) .bench site *.duckdb web/node_modules src/seasight/web/static/vendor
