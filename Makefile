# Ferry: `make demo` runs the demo, `make test` runs the tests. Both set everything up
# on first use (a virtual environment in .venv, htmx copied into static/vendor).
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export FLASK_APP := app

.PHONY: demo test install install-test assets clean-demo stop-demo bench chaos

# Dependencies come from requirements.lock (exact runtime versions and their hashes) and,
# for the tests, requirements-test.lock; pyproject.toml keeps the ranges they come from.
$(VENV)/installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/installed

# The test tools (pytest, playwright, ruff, ...) only where tests run: production's
# virtualenv stays without them.
$(VENV)/installed-test: $(VENV)/installed requirements-test.lock
	$(BIN)/pip install --quiet --require-hashes -r requirements-test.lock
	touch $@

install-test: $(VENV)/installed-test

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

# Every demo process (honcho's children, the private Redis) carries this instance folder in
# its environment; stop-demo ends whatever is left of an earlier run by that mark ("[-]-dir"
# so pkill's pattern does not match this recipe's own shell). Mail
# links and the Xero redirect URI follow the demo's port (FERRY_DEMO_PORT).
demo: install assets stop-demo
	rm -rf $(DEMO_DIR)
	FERRY_INSTANCE_DIR=$(DEMO_DIR) flask --app app db upgrade
	FERRY_INSTANCE_DIR=$(DEMO_DIR) FERRY_DEMO=1 REDIS_URL=unix://$(DEMO_DIR)/redis.sock \
		FERRY_BASE_URL=$${FERRY_BASE_URL:-http://127.0.0.1:$${FERRY_DEMO_PORT:-5000}} \
		honcho -f Procfile.demo start

stop-demo:
	-@for p in /proc/[0-9]*; do \
	  if { tr '\0' '\n' < $$p/environ; } 2>/dev/null | grep -qx "FERRY_INSTANCE_DIR=$(DEMO_DIR)"; then \
	    kill $${p#/proc/} 2>/dev/null; fi; \
	done; \
	if [ -f $(DEMO_DIR)/redis.pid ]; then kill $$(cat $(DEMO_DIR)/redis.pid) 2>/dev/null; fi; \
	pkill -f -- "[-]-dir $(DEMO_DIR)" 2>/dev/null; true

# ruff's F rules catch undefined names and unused imports before the suite runs. The
# suite runs in TEST_WORKERS parallel pytest-xdist workers (0: in one process), each with
# its own Redis database, PostgreSQL database, SQLite files, ports, folders and Chromium.
# Everything a test creates lives in one folder per run (TMPDIR points there, and so
# pytest's tmp_path); tests/leftovers.py then says what is still running from it (and
# ends it, failing the run), and the folder is removed.
TEST_WORKERS ?= 4
test: install-test assets
	$(BIN)/ruff check --quiet --select F,E9 .
	@run=$$(mktemp -d /tmp/ferry-XXXXXX); \
	TMPDIR=$$run $(BIN)/python -m pytest \
		-n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS); status=$$?; \
	$(BIN)/python tests/leftovers.py $$run || status=1; \
	rm -rf $$run; exit $$status

# Every benchmark once, gathered into bench/REPORT.md (BENCH_ARGS=--quick for a look).
bench: install-test
	$(BIN)/python bench/report.py $(BENCH_ARGS)

clean-demo: stop-demo
	rm -rf $(DEMO_DIR)

# Chaos: at least 500 sync cycles against the sandboxes with seeded random faults (Xero
# 429/5xx/timeouts/resets/lost answers/missing batch elements/token expiry and revocation,
# CW 5xx and resets, workers SIGKILLed mid-batch, Redis restarted, two workers racing,
# CW edits), then checks nothing is in Xero twice and nothing is lost. The seeds print.
# PostgreSQL runs CHAOS_PG_SEEDS as well when a server answers (FERRY_TEST_POSTGRES_URL).
CHAOS_SEEDS ?= 1,2,3,4,5,6,7,8,9,10
CHAOS_PG_SEEDS ?= 1,2,3
CHAOS_CYCLES ?= 50
chaos: install-test
	FERRY_CHAOS_SEEDS=$(CHAOS_SEEDS) FERRY_CHAOS_POSTGRES_SEEDS=$(CHAOS_PG_SEEDS) \
		FERRY_CHAOS_CYCLES=$(CHAOS_CYCLES) \
		$(BIN)/python -m pytest -q -s -p no:cacheprovider tests/chaos
