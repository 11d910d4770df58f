# TypeScript client (clients/typescript): generated types in src/gen/, the hand-written
# client in src/. Included by the root Makefile, which defines PY, BUF and the
# double-colon targets. Toolchain (protoc-gen-es, tsc, Connect) pinned in
# package.json + package-lock.json and installed by `npm ci` into node_modules/.
NPM ?= npm
TS_DIR := clients/typescript
# npm ci runs again only when package.json or the lock file changes.
TS_STAMP := $(TS_DIR)/node_modules/.npm-ci-stamp

$(TS_STAMP): $(TS_DIR)/package.json $(TS_DIR)/package-lock.json
	cd $(TS_DIR) && $(NPM) ci --no-audit --no-fund
	touch $@

# protoc-gen-es for the root buf.gen.yaml (node_modules/.bin/protoc-gen-es).
generate-tools:: $(TS_STAMP)

# After the root `buf generate` (livetokens.v1): the vendored google/rpc protos, from
# their own buf workspace so that the root lint never sees them (proto/README.md),
# and the service config, which the package bundles (check-generated compares the copy).
generate:: $(TS_STAMP)
	cd $(TS_DIR) && $(CURDIR)/$(BUF) generate
	cp clients/service_config.json $(TS_DIR)/src/gen/service_config.json

# One strict tsc run (noEmitOnError) type-checks src, tests and the example and
# compiles them to build/; then the unit tests, then the contract scenario against a
# live server and the emulator.
test-clients:: venv $(TS_STAMP)
	cd $(TS_DIR) && rm -rf build && node_modules/.bin/tsc -p tsconfig.json
	cd $(TS_DIR) && node --test build/test/*.test.js
	$(PY) tools/with_livetokens.py -- node --test $(TS_DIR)/build/contract/*.test.js
# The consumer test: npm pack, a fresh project outside clients/ installs the tarball per
# README.md, strict tsc, runs the README example against a live server.
	$(PY) tools/with_livetokens.py -- $(VENV)/bin/pytest -p no:cacheprovider -q clients/consumer_tests/test_consumers.py::test_typescript_tarball_consumer
