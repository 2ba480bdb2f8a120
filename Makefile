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

.PHONY: help install bench book test unit nbval site browser vendor lab sync lock clean course

help:
	@echo "make book    - execute every chapter in full mode and build the website into _build/html"
	@echo "make test    - unit tests + nbval (quick mode) + site build with warnings as errors + browser tests"
	@echo "make browser - the quick-mode site and a notebook in JupyterLab, tested in headless Chromium"
	@echo "make bench   - train every registered model (full budget) and write vidgen_edu/leaderboard/"
	@echo "make lab     - JupyterLab on notebooks/"
	@echo "make course  - student release without solutions: _build/course/ (notebooks) and _build/course-site/ (website)"
	@echo "make sync    - jupytext: bring book/*.md and notebooks/*.ipynb in sync"
	@echo "make lock    - rewrite $(LOCK) from the current environment"

# The environment: a venv created if absent, pinned versions from the lock file,
# and the package itself in editable mode. Pinning torch fixes its version, not its
# build: on Linux, `pip install torch==X` gets the CUDA build from PyPI (several GB
# of CUDA wheels) unless the CPU wheel of X is available locally or from PyTorch's
# CPU index. On a CPU-only machine, install it first and this recipe keeps it
# (==X also matches X+cpu):
#   python3 -m venv .venv && .venv/bin/pip install --index-url https://download.pytorch.org/whl/cpu torch==X
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(LOCK) "torch"
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[book,dev]"
	touch $(STAMP)

install: $(STAMP)

# JavaScript the pages need (MathJax), served from the site itself so it works offline.
VENDOR := _build/vendor/static
$(VENDOR)/mathjax/VERSION: _ext/vendor.py | $(STAMP)
	$(BIN)/python _ext/vendor.py $(VENDOR)

vendor: $(VENDOR)/mathjax/VERSION

book: $(STAMP) vendor
	$(BIN)/jupyter-book build . --warningiserror --keep-going

# The website as CI builds it: chapters executed in quick mode, warnings are errors.
site: $(STAMP) vendor
	VIDGEN_QUICK=1 $(BIN)/jupyter-book build . --warningiserror --keep-going --path-output _build/quick

unit: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) tests --ignore=tests/browser

# One worker per notebook (--dist loadfile: a notebook's cells share one kernel), one BLAS
# thread per worker so two workers do not fight over two cores.
nbval: $(STAMP)
	VIDGEN_QUICK=1 MPLBACKEND=Agg OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) --dist loadfile --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=600 -p no:cacheprovider notebooks

# The reader's view, in headless Chromium (skipped where /usr/bin/chromium is missing): every page
# of the site `make site` built, served on 127.0.0.1 with no internet; and one chapter run in
# JupyterLab with its widget moved. Screenshots land in _build/screenshots/.
browser: $(STAMP)
	$(BIN)/python -m pytest tests/browser -p no:cacheprovider

test: unit nbval site browser

# The leaderboard: every registered model trained at full budget and evaluated (chapter 06).
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# The student release (book/instructors.md): every notebook without its solutions, a README
# and the licences in _build/course/; then the website without solutions, built like `make book`
# (every chapter executed) from a copy of the sources with the solutions removed, into
# _build/course-site/_build/html. Only the notebooks: python -m vidgen_edu.tools.course OUT_DIR.
COURSE := _build/course
course: $(STAMP) vendor
	rm -rf $(COURSE) _build/course-src _build/course-site
	$(BIN)/python -m vidgen_edu.tools.course $(COURSE) --site-source _build/course-src
	$(BIN)/jupyter-book build _build/course-src --warningiserror --keep-going --path-output _build/course-site

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

# Pair every chapter with its notebook, then drop outputs: notebooks are committed clean. Once the
# pair agrees (the newer side wins), every solution gets its collapsible Colab section, written into
# the chapter (headings tagged remove-cell) and paired again; the notebooks then list those sections
# as collapsed (vidgen_edu/tools/colab.py).
sync: $(STAMP)
	$(BIN)/jupytext --sync book/[0-9]*.md
	$(BIN)/python -m vidgen_edu.tools.colab book/[0-9]*.md
	$(BIN)/jupytext --sync book/[0-9]*.md
	$(BIN)/python -m vidgen_edu.tools.strip notebooks/*.ipynb
	$(BIN)/python -m vidgen_edu.tools.colab notebooks/*.ipynb

lock:
	$(BIN)/python -m pip freeze --exclude-editable | sed -E 's/^(torch==[^+]+)\+.*/\1/' > $(LOCK)

clean:
	rm -rf _build .pytest_cache
