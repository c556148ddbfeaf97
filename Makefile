# The two entry points: `make run` and `make test` (CI calls `make test` through .ci/run).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test lint typecheck pytest install dev browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install whenever pyproject.toml changes; the stamp records what was installed.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "installing ga4-gateway into $(VENV) ..."
	$(BIN)/python -m pip install --quiet --progress-bar off -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	@echo "installing development tools into $(VENV) ..."
	$(BIN)/python -m pip install --quiet --progress-bar off -e '.[dev]'
	@touch $@

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

# GA4GW_PUBLIC_URL follows PORT unless set: `ga4gw serve` signs for the port it listens on (make run PORT=19170).
run: install
	@echo "ga4gw, the command line, is in $(BIN): in another shell, '. $(BIN)/activate' puts it on PATH"
	$(BIN)/ga4gw serve --host $(HOST) --port $(PORT)

lint: dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: dev
	$(BIN)/mypy

# Headless Chromium for the tests of what a person sees (tests/gateway/test_openapi_live.py: the /docs page).
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing chromium (headless browser tests) ..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -q chromium >/dev/null 2>&1 \
		|| { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; }; }

pytest: dev browser
	$(BIN)/python -m pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
