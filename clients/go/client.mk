# Go client (clients/go): generated stubs in livetokensv1/, the hand-written client in livetokens/.
# Included by the root Makefile, which defines TOOLS, PY and the double-colon targets.
GO ?= go
GO_DIR := clients/go
GO_ENV := GOFLAGS=-mod=readonly
# protoc-gen-go must match the protobuf runtime pinned in go.mod, so its version is read
# from there (one pin); protoc-gen-go-grpc is a separate module with its own version.
PROTOC_GEN_GO_VERSION := $(shell awk '$$1 == "google.golang.org/protobuf" { print $$2 }' $(GO_DIR)/go.mod)
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2

generate-tools::
	@if [ "$$($(TOOLS)/bin/protoc-gen-go --version 2>/dev/null)" != "protoc-gen-go $(PROTOC_GEN_GO_VERSION)" ]; then \
	  echo "installing protoc-gen-go $(PROTOC_GEN_GO_VERSION)"; \
	  GOBIN=$(TOOLS)/bin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION); fi
	@if [ "$$($(TOOLS)/bin/protoc-gen-go-grpc --version 2>/dev/null)" != "protoc-gen-go-grpc $(PROTOC_GEN_GO_GRPC_VERSION:v%=%)" ]; then \
	  echo "installing protoc-gen-go-grpc $(PROTOC_GEN_GO_GRPC_VERSION)"; \
	  GOBIN=$(TOOLS)/bin $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION); fi

# The Go client embeds the service config (go:embed cannot reach outside the module),
# so it keeps a copy that check-generated compares with the original.
generate::
	cp clients/service_config.json $(GO_DIR)/livetokens/service_config.json

test-clients:: venv
	cd $(GO_DIR) && $(GO_ENV) $(GO) build ./... && $(GO_ENV) $(GO) vet ./... && $(GO_ENV) $(GO) vet -tags contract ./...
	@cd $(GO_DIR) && unformatted="$$("$$($(GO) env GOROOT)/bin/gofmt" -l .)" && if [ -n "$$unformatted" ]; then \
	  echo "gofmt: these files need formatting: $$unformatted" >&2; exit 1; fi
	cd $(GO_DIR) && $(GO_ENV) $(GO) test ./...
	$(GO_ENV) $(PY) tools/with_livetokens.py -- $(GO) -C $(GO_DIR) test -count=1 -tags contract -run Contract ./...
# The consumer test: a fresh module outside clients/ installs the client per README.md,
# go vet, runs the README example against a live server (clients/consumer_tests).
	$(PY) tools/with_livetokens.py -- $(VENV)/bin/pytest -p no:cacheprovider -q clients/consumer_tests/test_consumers.py::test_go_module_consumer
