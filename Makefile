# The README's two commands: `make demo` (set up + run the main job) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
DEMO_OUT ?= runs/demo

.PHONY: demo test fmnist export clean-nbs bench docs
# The CPU track's fmnist-sym50 preset as it is: 2,000 images, 20 epochs, a few minutes on 2 cores.
demo: $(VENV)/.runtime fmnist
	$(BIN)/cpc_train --preset fmnist-sym50 --out $(DEMO_OUT)

# Two notebooks at a time, one thread each (two threads each would fight over the two cores).
test: $(VENV)/.dev fmnist
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2 --timing
	$(BIN)/python -m pytest -q tests

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

# The rendered site (_docs/): nbdev_docs needs Quarto, which CI machines do not have (tools/check_docs.py checks what it would render).
docs: $(VENV)/.dev
	@command -v quarto >/dev/null || { echo "make docs: Quarto is not installed. Install it with '$(BIN)/nbdev_install_quarto' (needs sudo and internet) or from https://quarto.org/docs/get-started/, then run make docs again."; exit 1; }
	$(BIN)/nbdev_docs
