# Every target bootstraps .venv itself; re-running is cheap (the install is stamped).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.churnlab-installed
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: setup demo test lab ui bench lint clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install churnlab with its pinned dependencies

demo: setup  ## run the demo study: data, notebooks, MLflow runs, HTML reports
	$(BIN)/churnlab run experiments/demo.yaml

test: setup  ## run the whole test suite
	$(BIN)/python -m pytest -q

# Jupyter refuses to start as root unless told; containers often run as root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: setup  ## open JupyterLab on the project (files notebooks write go to scratch/, see churnlab.config.output_dir)
	$(BIN)/jupyter lab --notebook-dir=. $(ALLOW_ROOT)

ui: setup  ## serve the MLflow UI of the project's store on 127.0.0.1
	$(BIN)/churnlab ui

bench: setup  ## run the benchmarks and update benchmarks/RESULTS.md
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

lint: setup
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) runs data/generated mlflow.db mlartifacts

.PHONY: report-check
report-check: setup  ## open every report of a run in headless Chromium (RUN=<name>, default the newest); screenshots in the run folder
	$(BIN)/python -m churnlab.browser_check $(or $(RUN),latest)
