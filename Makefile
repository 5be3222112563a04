# PatchOps. `make run` starts the portal; `make test` runs the suite; `make bench` the benchmarks;
# `make loadtest` the load test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# The suite runs on every core (pytest-xdist; each worker has its own test database).
PYTEST_ARGS ?= -n auto --durations=25

.PHONY: install run test bench bench-compare loadtest lint format clean agent

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

# Every benchmark; BENCH_SCALE=0.02 shrinks the sizes (CI), results in bench/results/<name>.json.
bench: install
	$(BIN)/python scripts/services.py exec -- $(BIN)/python -m bench $(if $(BENCH_SCALE),--scale $(BENCH_SCALE)) $(BENCH_ARGS)

# Two result folders side by side: make bench-compare OLD=path/to/old NEW=bench/results
NEW ?= bench/results
bench-compare: install
	$(BIN)/python -m bench.compare $(OLD) $(NEW)

# gunicorn on 127.0.0.1 with the demo data, driven by locust (LOADTEST_SECONDS, default 300).
loadtest: install
	$(BIN)/python scripts/services.py exec -- $(BIN)/python -m bench.loadtest $(LOADTEST_ARGS)

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
