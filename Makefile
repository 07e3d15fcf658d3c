# Two entry points: `make demo` (the loop end to end on the project's defaults) and `make test`.
# Both create a virtualenv in .venv and install what they need.
# MASAKHANER_DIR: a local copy of MasakhaNER 2.0 (<dir>/<lang>/{train,dev,test}.txt); when unset
# and ../shared/data/masakhaner2 exists it is used, otherwise `spacy project assets` downloads the data.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MASAKHANER_DIR ?= $(abspath $(wildcard ../shared/data/masakhaner2))
export MASAKHANER_DIR
export HF_HUB_OFFLINE ?= 1

.PHONY: install demo test lint bench clean

$(VENV)/.installed: setup.cfg pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt -e ".[test,lint]"
	touch $@

install: $(VENV)/.installed

demo: install
	@if [ -z "$(MASAKHANER_DIR)" ]; then $(BIN)/python -m spacy project assets; fi
	$(BIN)/python -m spacy project run all

# the tests run in one worker process per core (pytest-xdist); PYTEST_WORKERS=0 runs them in this process
PYTEST_WORKERS ?= auto
test: install
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS)

# ruff (pyflakes, pycodestyle, import order) on everything; mypy on the package (settings in pyproject.toml)
lint: install
	$(BIN)/ruff check components tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/label_efficiency.py
	$(BIN)/python bench/round_cost.py

clean:
	rm -rf corpus runs baselines metrics reports project.lock
