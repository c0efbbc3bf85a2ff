# One entry point for every routine. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.dev-installed
ASSETS := static/vendor/.installed

.PHONY: run test lint bench install dev assets gazetteer clean

run: $(STAMP) $(ASSETS)
	$(VENV)/bin/streamlit run app.py

test: $(DEVSTAMP) $(ASSETS)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(DEVSTAMP)
	$(VENV)/bin/ruff check src tests app.py navigation.py pages bench
	$(VENV)/bin/ruff format --check src tests app.py navigation.py pages bench
	$(VENV)/bin/mypy

install: $(STAMP)
dev: $(DEVSTAMP)
assets: $(ASSETS)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install --quiet -e .
	touch $@

$(DEVSTAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Leaflet and jQuery come from the npm registry (package-lock.json) and are served by Streamlit.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

$(ASSETS): node_modules/.package-lock.json $(STAMP) src/carto/map/assets.py \
		$(wildcard src/carto/data/*/*.geojson src/carto/data/*/communes.csv)
	$(PY) -m carto.cli assets install
	touch $@

gazetteer: $(DEVSTAMP) node_modules/.package-lock.json
	$(VENV)/bin/carto gazetteer build --departement 62

bench: $(DEVSTAMP) $(ASSETS)
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules static/vendor
