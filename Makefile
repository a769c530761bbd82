# Set-up and the two everyday commands.  On a fresh machine with Python 3.11 and pip:
#   make verify   create .venv, install (torch first, then the locked dependencies), run the README's main job
#   make test     the same set-up, then the test suite and the import contracts
# A second run skips what is already installed.  Choose another torch build with TORCH and TORCH_INDEX,
# for example: make test TORCH_INDEX=https://download.pytorch.org/whl/cu126
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
LOCK := requirements/lock.txt
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
INSTALLED := $(VENV)/.causalabs-installed

.PHONY: setup verify test lock tree

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c $(LOCK) pip

# torch first (an unpinned torch would pull a multi-GB CUDA build), only where the venv has none;
# then the package and its test tools at the locked versions, again whenever pyproject.toml or the lock changes.
$(INSTALLED): $(BIN)/python pyproject.toml $(LOCK)
	@$(BIN)/python -c "import torch" 2>/dev/null || \
		{ echo "installing $(TORCH)"; $(PIP) install -q -c $(LOCK) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"; }
	$(PIP) install -q -c $(LOCK) hatchling editables
	$(PIP) install -q -c $(LOCK) --no-build-isolation -e ".[dev,docs,ray]"
	@touch $@

setup: $(INSTALLED)

# The README's main job: verify a claim about a committed network, exhaustively.
verify: setup
	$(BIN)/causalabs verify hypotheses/hierarchical_equality.py:HierarchicalEquality --network models/heq_handbuilt.py

# The test suite (exit 5, no tests collected, is a failure), then the import contracts.
test: setup
	@$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
		if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; \
		if [ $$rc -ne 0 ]; then exit $$rc; fi
	$(BIN)/lint-imports

# Refresh requirements/lock.txt from pyproject.toml's ranges (see docs/development.md).
lock: $(BIN)/python
	$(BIN)/python scripts/lock.py

# Redraw the import contract and the package tree in docs/architecture.md (tests/test_architecture.py checks them).
tree:
	python3 scripts/tree.py --write
