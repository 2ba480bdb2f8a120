# vidgen-edu — the two commands a newcomer needs:
#   make book   install the pinned environment, execute every chapter (full mode), build _build/html
#   make test   unit tests, nbval over every notebook (quick mode), site build with warnings as errors
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements/lock.txt
JOBS   ?= 2

.PHONY: help install book book-quick test unit nbval site lab sync lock clean

help:
	@echo "make book    - execute every chapter in full mode and build the website into _build/html"
	@echo "make test    - unit tests + nbval (quick mode) + site build with warnings as errors"
	@echo "make lab     - JupyterLab on notebooks/"
	@echo "make sync    - jupytext: bring book/*.md and notebooks/*.ipynb in sync"
	@echo "make lock    - rewrite $(LOCK) from the current environment"

# The environment: a venv created if absent, pinned versions from the lock file,
# and the package itself in editable mode. torch is pinned, which on a CPU-only
# machine selects the CPU build instead of several GB of CUDA wheels.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(LOCK) "torch"
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[book,dev]"
	touch $(STAMP)

install: $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --keep-going

# The website as CI builds it: chapters executed in quick mode, warnings are errors.
site: $(STAMP)
	VIDGEN_QUICK=1 $(BIN)/jupyter-book build . --warningiserror --keep-going --path-output _build/quick

unit: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) tests

nbval: $(STAMP)
	VIDGEN_QUICK=1 MPLBACKEND=Agg $(BIN)/python -m pytest -n $(JOBS) --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=600 -p no:cacheprovider notebooks

test: unit nbval site

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

# Pair every chapter with its notebook, then drop outputs: notebooks are committed clean.
sync: $(STAMP)
	$(BIN)/jupytext --sync book/[0-9]*.md
	$(BIN)/python -m vidgen_edu.tools.strip notebooks/*.ipynb

lock:
	$(BIN)/python -m pip freeze --exclude-editable | sed -E 's/^(torch==[^+]+)\+.*/\1/' > $(LOCK)

clean:
	rm -rf _build .pytest_cache
