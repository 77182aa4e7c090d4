# pushgate: `make run` starts everything; `make test` installs test needs and runs them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install install-test browser lint typecheck bench clean

$(BIN)/pushgate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	@touch $@

install: $(BIN)/pushgate

run: install
	$(BIN)/pushgate serve

install-test: install
	$(BIN)/pip install --quiet -e '.[test]'

# Browser tests drive the system Chromium; it comes from Debian's packages.
browser:
	@command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || \
	  { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } || \
	  echo "Chromium is not installed and could not be installed; browser tests will skip."

test: install-test browser
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy src
	$(BIN)/pytest -ra $(PYTEST_ARGS)

lint:
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck:
	$(BIN)/mypy src

bench: install
	$(BIN)/pushgate bench

clean:
	rm -rf $(VENV) .pushgate .pytest_cache .mypy_cache .ruff_cache
