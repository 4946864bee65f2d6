# Code Interpreter Explorer: every command a developer or CI needs.
# `make run` and `make test` bootstrap uv and the environment on a fresh machine (Python 3.11+):
# `make run` installs what the server needs, `make test` adds the developer tools.

PYTHON ?= python3
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
# Never sync implicitly: each target below says which environment it needs.
RUN := $(UV) run --no-sync
LOCK_INPUTS := uv.lock pyproject.toml */pyproject.toml deploy/*/pyproject.toml

.PHONY: help sync sync-server run test test-fast lint format typecheck check replay migrate bench

help:
	@echo "make run        the whole system in one process on PORT (default 8000), data in ./data"
	@echo "make test       the whole test suite (needs PostgreSQL and RabbitMQ, see README)"
	@echo "make test-fast  tests that need no PostgreSQL, RabbitMQ or separate processes"
	@echo "make check      lint + typecheck + test (what CI runs)"
	@echo "make lint       ruff check and format check; make format rewrites, make typecheck: mypy"
	@echo "make sync-server / make sync   install the server only / with the developer tools"
	@echo "make replay     rebuild the read models from the event store and compare"
	@echo "make migrate    apply database migrations to CIE_DATABASE_URL"
	@echo "make bench      print the performance figures quoted in the README"
	@echo "make bench-NAME one benchmark, e.g. make bench-chat ARGS='--samples 30'"

$(CURDIR)/.tools/bin/uv:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed")'
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet 'uv>=0.5'

# The server alone (no dev tools); --inexact keeps dev tools a `make test` installed before.
.venv/.synced-server: $(LOCK_INPUTS) | $(UV)
	$(UV) sync --frozen --all-packages --no-dev --inexact
	@touch $@

# Everything: the server plus pytest, ruff, mypy, schemathesis, ...
.venv/.synced: $(LOCK_INPUTS) | $(UV)
	$(UV) sync --frozen --all-packages
	@touch $@ .venv/.synced-server

sync-server: .venv/.synced-server
sync: .venv/.synced

run: sync-server
	$(RUN) python -m cie_embedded

test: sync
	$(RUN) pytest

test-fast: sync
	$(RUN) pytest -m "not postgres and not rabbitmq and not e2e"

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: sync
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

typecheck: sync
	$(RUN) mypy contracts/src thread-service/src gateway/src deploy/embedded/src run-service/src file-service/src

check: lint typecheck test

replay: sync-server
	$(RUN) python -m gateway.replay
	$(RUN) python -m file_service.replay

migrate: sync-server
	$(RUN) python -m gateway.migrate
	$(RUN) python -m file_service.migrate

bench: sync
	$(RUN) python tests/benchmarks/bench_event_store.py
	$(RUN) python tests/benchmarks/bench_messages.py
	$(RUN) python tests/benchmarks/bench_files_gateway.py
	$(RUN) python tests/benchmarks/bench_sandbox.py
	$(RUN) python tests/benchmarks/bench_chat.py
	$(RUN) python tests/benchmarks/bench_failover.py
	$(RUN) python tests/benchmarks/bench_startup.py
	$(RUN) python tests/benchmarks/bench_contention.py

bench-%: sync
	$(RUN) python tests/benchmarks/bench_$*.py $(ARGS)
