# PatchOps. `make run` starts the portal; `make test` runs the suite; `make bench` the benchmarks.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# The suite runs on every core (pytest-xdist; each worker has its own test database).
PYTEST_ARGS ?= -n auto

.PHONY: install run test bench lint format clean agent

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e ".[dev,embedded]"
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/python scripts/run.py

test: install
	$(BIN)/python scripts/services.py exec -- $(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python scripts/services.py exec -- $(BIN)/python -m bench $(BENCH_ARGS)

# ruff, then the import contract (pyproject.toml [tool.importlinter]: the apps' layers).
# The device agent as one file (standard library only): dist/patchops-agent.pyz.
agent:
	$(PY) -m patchops_agent.build dist/patchops-agent.pyz

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

format: install
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .data staticfiles
