# The two commands a newcomer needs: `make demo` and `make test`. Each installs uv when it is
# missing and syncs the locked environment first.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export PYTHONUNBUFFERED := 1

.PHONY: setup browser editor demo test test-slow test-soak test-all bench ui lint

$(UV):
	python3 -m pip install --user --quiet uv || python3 -m pip install --quiet uv

setup: $(UV)
	@$(UV) sync --frozen --quiet
	@mkdir -p $(DAGSTER_HOME) && cp -n dagster.yaml $(DAGSTER_HOME)/dagster.yaml 2>/dev/null || true

demo: setup
	$(UV) run repair demo

test: setup
	$(UV) run pytest -m "not slow" -q

# The UI test drives Debian's Chromium and the editor test Debian's Neovim; install them when missing
# (CI runs as root).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

editor:
	@command -v nvim >/dev/null || { apt-get update -qq && apt-get install -y -qq neovim >/dev/null; }

test-slow: setup browser editor
	$(UV) run pytest -m "slow and not soak" -q

# Tests of ten minutes and more each (kill -9 of rollouts under load, a week-long backfill through
# the webserver and daemon, 2 training processes against 1): run them before a release; CI's budget
# (the whole of .ci/run within an hour) leaves them out.
test-soak: setup browser
	$(UV) run pytest -m soak -q

test-all: test test-slow

bench: setup
	$(UV) run python -m benchmarks

ui: setup
	$(UV) run dagster dev -w workspace.yaml

lint: setup
	$(UV) run ruff check .
