# livetokens — every task a developer or CI runs. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --warn-undefined-variables

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUF := $(VENV)/bin/buf
TOOLS := $(CURDIR)/.tools
STAMP := $(VENV)/.installed-stamp
# The last accepted wire contract; `buf breaking` compares the working tree against it.
ACCEPTED := proto/accepted-image.json

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*## "}; {printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e clients/python -e '.[dev]'
	touch $@

.PHONY: venv
venv: $(STAMP) ## Create .venv with the server, the Python client and the dev tools.

.PHONY: run
run: venv ## Start livetokens on 127.0.0.1:50051, plaintext, no caller auth (with --emulator when GEMINI_API_KEY is unset).
	@if [ -z "$${GEMINI_API_KEY:-}$${GEMINI_API_KEY_FILE:-}" ]; then set -- --emulator; fi; \
	  set -x; $(VENV)/bin/livetokens serve --listen 127.0.0.1:50051 --insecure-no-auth "$$@"

.PHONY: generate
generate:: venv generate-tools ## Regenerate every client's code from proto/ (pinned local plugins).
	PATH="$(TOOLS)/bin:$(CURDIR)/$(VENV)/bin:$$PATH" $(BUF) generate

.PHONY: check-generated
check-generated: generate ## Fail when regenerating changes any committed file.
	@git add -N clients >/dev/null 2>&1 || true
	@if ! git diff --exit-code --stat -- clients; then \
	  echo "Generated code is stale: run 'make generate' and commit the result." >&2; exit 1; fi

.PHONY: lint
lint: venv ## buf lint + format check, ruff, mypy, hadolint (deploy/docker/Dockerfile).
	$(BUF) lint
	$(BUF) format --diff --exit-code
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint deploy/docker/Dockerfile

.PHONY: breaking
breaking: venv ## Fail on a wire-breaking change against the last accepted contract.
	$(BUF) breaking --against $(ACCEPTED)

.PHONY: accept-contract
accept-contract: venv ## Record the current proto as the accepted contract (only when releasing a change on purpose).
	$(BUF) build --exclude-source-info -o $(ACCEPTED)

# redis-server from Debian for the state tests (tests/state, tests/fleet) and
# bench/workers.py: they start it on a random loopback port and fail (never skip)
# without it. apt-get needs root; CI runs as root, a developer may need sudo.
REDIS_DEB := redis-server
REDIS_SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: redis-server
redis-server: ## Install Debian's redis-server (for the state tests and bench).
	@if ! dpkg-query -W -f='$${Status}' $(REDIS_DEB) 2>/dev/null | grep -q 'install ok installed'; then \
	  $(REDIS_SUDO) apt-get install -y -qq --no-install-recommends $(REDIS_DEB) \
	  || { $(REDIS_SUDO) apt-get update -qq && $(REDIS_SUDO) apt-get install -y -qq --no-install-recommends $(REDIS_DEB); }; \
	fi

# The Node scenario of tests/e2e (@google/genai pinned in package.json + package-lock.json);
# npm ci runs again only when either file changes.
NPM ?= npm
E2E_NODE := tests/e2e/node
E2E_NODE_STAMP := $(E2E_NODE)/node_modules/.npm-ci-stamp

$(E2E_NODE_STAMP): $(E2E_NODE)/package.json $(E2E_NODE)/package-lock.json
	cd $(E2E_NODE) && $(NPM) ci --no-audit --no-fund
	touch $@

.PHONY: e2e-node-deps
e2e-node-deps: $(E2E_NODE_STAMP) ## Install the Node end-to-end scenario's pinned @google/genai.

.PHONY: test-python
test-python: venv redis-server $(E2E_NODE_STAMP) deploy-tools ## Python tests: server, emulator, fidelity, e2e (with the Node scenario), Python client, state, fleet, deploy kit.
	$(VENV)/bin/pytest

.PHONY: demo
demo: venv ## The whole flow in one command: emulator (TLS) + livetokens, mint, a Live text session.
	$(VENV)/bin/livetokens demo

.PHONY: test
test: lint check-generated breaking test-python test-clients ## Everything CI runs.

# Benchmarks (never tests). h2load drives gRPC from C so that the load generator is not
# the bottleneck; matplotlib (the plot) and py-spy (the profile) come from the bench extra.
BENCH_STAMP := $(VENV)/.bench-stamp
H2LOAD_DEB := nghttp2-client
H2LOAD_DEB_VERSION := 1.52.0-1+deb12u3
BENCH_SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BENCH_ARGS ?=

$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $@

.PHONY: bench-tools
bench-tools: $(BENCH_STAMP) ## Install the benchmark tools: h2load (Debian nghttp2-client), matplotlib, py-spy.
	@if [ "$$(dpkg-query -W -f='$${Version}' $(H2LOAD_DEB) 2>/dev/null)" != "$(H2LOAD_DEB_VERSION)" ]; then \
	  $(BENCH_SUDO) apt-get install -y -qq --no-install-recommends $(H2LOAD_DEB)=$(H2LOAD_DEB_VERSION) \
	  || { $(BENCH_SUDO) apt-get update -qq && $(BENCH_SUDO) apt-get install -y -qq --no-install-recommends $(H2LOAD_DEB)=$(H2LOAD_DEB_VERSION); } \
	  || { echo "$(H2LOAD_DEB) $(H2LOAD_DEB_VERSION) is gone from Debian; installing the current one" >&2; \
	       $(BENCH_SUDO) apt-get install -y -qq --no-install-recommends $(H2LOAD_DEB); }; \
	fi
	@command -v h2load >/dev/null

.PHONY: bench
bench: bench-tools bench-workers ## Benchmark: echo, livetokens (stub, emulator, security on) and the google-genai SDK, interleaved; JSON + plot in bench/results/.
	$(PY) bench/bench.py $(BENCH_ARGS)

# Hardening benchmarks (docs/hardening.md), in their own files beside bench/bench.py.
SOAK_ARGS ?=

.PHONY: soak
soak: venv ## 3-minute soak, 64 in flight, fresh request_id per call: RSS growth, p99 drift, worst health check (SOAK_ARGS="--seconds 30" for a quick check).
	$(PY) bench/soak.py $(SOAK_ARGS)

.PHONY: bench-hardening
bench-hardening: venv ## 2,000 mints in flight at 250 ms upstream latency, and how long the worst admitted request holds the event loop.
	$(PY) bench/overload.py
	$(PY) bench/worst_request.py

bench: bench-hardening

.PHONY: bench-transport
bench-transport: venv ## Benchmark the two httpx transports (aiohttp vs httpx's own) through the server.
	$(PY) bench/mint_bench.py $(BENCH_ARGS)

.PHONY: profile
profile: bench-tools ## py-spy profile of livetokens under h2load load: top functions; collapsed stacks (speedscope, flamegraph.pl) in bench/results/.
	$(PY) bench/profile.py $(BENCH_ARGS)

.PHONY: bench-workers
bench-workers: venv redis-server ## 1 worker against 2 workers, both with --state redis (bench/workers.py).
	$(PY) bench/workers.py

.PHONY: clean
clean: ## Remove the venv, tools and caches.
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache

# Each client language (clients/<lang>/client.mk) adds to these double-colon targets:
# generate-tools (install its pinned plugins into .tools/), generate (copies after
# buf generate, e.g. of clients/service_config.json), test-clients (build + tests).
.PHONY: generate-tools test-clients
generate-tools::
	@mkdir -p $(TOOLS)/bin
test-clients::
include $(wildcard clients/*/client.mk)
include deploy/deploy.mk
