# Two commands do everything on a fresh machine:
#   make run   set up, fetch the packaged models, ingest corpus/, serve on http://127.0.0.1:8000
#   make test  set up, lint (ruff), type-check (mypy), run every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup run ingest serve test lint typecheck pytest eval clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first: a plain `torch` would pull several GB of CUDA packages.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	$(BIN)/python -c "from ingest.embedder import packaged_model_path as p; assert p().exists(), p(); print('embedding model:', p())"
	touch $(STAMP)

ingest: setup
	$(BIN)/safeguide ingest

serve: setup
	$(BIN)/safeguide serve

run: ingest serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest

test: lint typecheck pytest

eval: setup
	$(BIN)/python -m eval.retrieval

clean:
	rm -rf data test-output .pytest_cache .mypy_cache .ruff_cache
