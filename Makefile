# One command to set up and run the demo, one to set up and pass the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench lint clean browser

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[postgres,nats,dask,dev]'
	touch $(STAMP)

install: $(STAMP) browser

# Debian's Chromium for the Playwright browser tests (`playwright install` cannot download here).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will skip"; \
	  else echo "note: /usr/bin/chromium missing and not root; browser tests will skip"; fi; \
	fi

demo: $(STAMP)
	$(BIN)/tillwise demo $(DEMO_ARGS)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = "0" ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null); } || true
	$(BIN)/python -m bench
	$(BIN)/python -m bench.pipeline
	$(BIN)/python -m bench.forecast
	$(BIN)/python -m bench.forecast_stores
	$(BIN)/python -m bench.reorder_points
	$(BIN)/python -m bench.risk
	$(BIN)/python -m bench.risk_http

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy src
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) tillwise.db tillwise.db-wal tillwise.db-shm var
