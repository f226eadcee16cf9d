# The README's two commands: `make demo` (set up + run the main job) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
DEMO_OUT ?= runs/demo

.PHONY: demo test fmnist export clean-nbs bench docs docs-check
# The CPU track's fmnist-sym50 preset as it is: 2,000 images, 20 epochs, a few minutes on 2 cores.
demo: $(VENV)/.runtime fmnist
	$(BIN)/cpc_train --preset fmnist-sym50 --out $(DEMO_OUT)

# Two notebooks at a time, one thread each (two threads each would fight over the two cores).
test: $(VENV)/.dev fmnist
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2 --timing
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q tests

$(VENV)/.runtime: settings.ini setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

# Fashion-MNIST comes from the Debian package where apt is available and the data is missing.
fmnist:
	@if [ ! -f $(FMNIST) ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; fi

export: $(VENV)/.dev
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean

# The rendered site (_docs/), built by Quarto through nbdev_docs. README.md is tools/docs.py's rendering of nbs/index.ipynb
# (tools/check_docs.py compares them): touched first, it is newer than the notebook and nbdev_docs leaves it alone.
QUARTO_VERSION := 1.7.34
docs: $(VENV)/.dev
	@command -v quarto >/dev/null || { echo "make docs: Quarto is not installed. The site is built with Quarto $(QUARTO_VERSION): install it with '$(BIN)/nbdev_install_quarto' (needs sudo and internet), from https://quarto.org/docs/get-started/, or beside a shared/ folder with 'bash ../shared/quarto/install.sh' (then put its bin/ on PATH), and run make docs again."; exit 1; }
	touch README.md
	$(BIN)/nbdev_docs

# Every page of _docs/ in headless Chromium at 1,400 px (tools/browser_check.py; screenshots in _docs_shots/). Installs what it
# needs: Debian's chromium, Playwright without a browser of its own, and npm's mathjax@3 (for the CDN address the pages name).
MATHJAX_NPM ?= $(HOME)/.cache/cpc-docs-npm
docs-check: $(VENV)/.dev
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
	@$(BIN)/python -c "import playwright" 2>/dev/null || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pip install -q playwright==1.65.3
	@test -f $(MATHJAX_NPM)/node_modules/mathjax/es5/tex-chtml-full.js || npm install --prefix $(MATHJAX_NPM) --no-audit --no-fund --silent mathjax@3
	$(BIN)/python tools/browser_check.py _docs --mathjax $(MATHJAX_NPM)/node_modules/mathjax
