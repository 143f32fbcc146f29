# Two commands set everything up on a fresh machine with Python 3.11 and pip:
#   make demo   creates .venv, installs loopml, runs the tracking example and the closed loop
#               on the churn example: train and promote, serve, drift, detect, retrain,
#               canary, promote, then batch-score the newest customers
#   make test   installs the test dependencies, runs ruff, then the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[examples]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed-demo
	cd examples/tracking && ../../$(BIN)/loopml init && ../../$(BIN)/python train.py
	cd examples/churn && rm -rf .loopml data build && ../../$(BIN)/loopml init \
	  && ../../$(BIN)/python generate.py \
	  && ../../$(BIN)/loopml data add customers data/customers.csv \
	  && ../../$(BIN)/loopml pipeline run pipeline.py \
	  && ../../$(BIN)/loopml models card churn@champion -o build/card \
	  && ../../$(BIN)/loopml models build churn@champion -o build/image \
	  && ../../$(BIN)/python loop.py \
	  && ../../$(BIN)/loopml lineage retrain:1 --depth 2 \
	  && ../../$(BIN)/loopml predict churn@champion build/to_score.parquet -o build/scored.parquet

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

test: lint
	$(BIN)/pytest -n 2 --dist worksteal

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/tracking.py
	$(BIN)/python benchmarks/data.py
	$(BIN)/python benchmarks/pipelines.py
	$(BIN)/python benchmarks/registry.py
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/drift.py
	$(BIN)/python benchmarks/server.py

clean:
	rm -rf $(VENV) examples/*/.loopml .pytest_cache .ruff_cache
