# Ferry: `make demo` runs the demo, `make test` runs the tests. Both set everything up
# on first use (a virtual environment in .venv, htmx copied into static/vendor).
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export FLASK_APP := app

.PHONY: demo test install assets clean-demo

$(VENV)/installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/installed

# htmx is pinned in package.json/package-lock.json and served from static/vendor.
static/vendor/htmx.min.js: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed once to fetch htmx: apt-get install npm"; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --silent
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js

assets: static/vendor/htmx.min.js

# The demo's sandboxes keep their data in memory, so the demo starts afresh each time:
# its own instance folder (database, key, private Redis) is rebuilt on every start.
DEMO_DIR := $(CURDIR)/instance/demo

demo: install assets
	-@[ -f $(DEMO_DIR)/redis.pid ] && kill $$(cat $(DEMO_DIR)/redis.pid) 2>/dev/null; true
	rm -rf $(DEMO_DIR)
	FERRY_INSTANCE_DIR=$(DEMO_DIR) flask --app app db upgrade
	FERRY_INSTANCE_DIR=$(DEMO_DIR) honcho -f Procfile.demo start

# ruff's F rules catch undefined names and unused imports before the suite runs.
test: install assets
	$(BIN)/ruff check --quiet --select F,E9 .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean-demo:
	-@[ -f $(DEMO_DIR)/redis.pid ] && kill $$(cat $(DEMO_DIR)/redis.pid) 2>/dev/null; true
	rm -rf $(DEMO_DIR)
