# The deploy kit's tools (included by the top-level Makefile). Go tools build from the Go
# module proxy into .tools/bin; the module and build caches (GOMODCACHE, GOCACHE) make
# later installs quick. Each binary depends on this file, so a version bump reinstalls.
HELM_VERSION := v3.19.5
CADDY_VERSION := v2.11.9

$(TOOLS)/bin/helm: deploy/deploy.mk
	@mkdir -p $(TOOLS)/bin
	GOBIN=$(TOOLS)/bin GOFLAGS=-buildvcs=false go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	@touch $@

# Caddy: the real L7 proxy of tests/deploy/test_proxy.py (mTLS termination, XFCC, gRPC).
$(TOOLS)/bin/caddy: deploy/deploy.mk
	@mkdir -p $(TOOLS)/bin
	GOBIN=$(TOOLS)/bin GOFLAGS=-buildvcs=false go install github.com/caddyserver/caddy/v2/cmd/caddy@$(CADDY_VERSION)
	@touch $@

.PHONY: deploy-tools
deploy-tools: $(TOOLS)/bin/helm $(TOOLS)/bin/caddy ## Install helm and caddy (pinned, go install) for tests/deploy.

.PHONY: sizing
sizing: venv ## Measure one server's CPU and memory under load (the chart's resources come from it).
	$(PY) deploy/sizing.py
