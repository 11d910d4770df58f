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

# tests/deploy/test_install.py runs deploy/install.sh as a non-root user, who cannot use a
# Python under /root: it uses Debian's python3 with venv (ensurepip), installed here.
DEPLOY_DEBS := python3 python3-venv
DEPLOY_SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deploy-debs
deploy-debs:
	@missing=$$(for p in $(DEPLOY_DEBS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  $(DEPLOY_SUDO) apt-get install -y -qq --no-install-recommends $$missing \
	  || { $(DEPLOY_SUDO) apt-get update -qq && $(DEPLOY_SUDO) apt-get install -y -qq --no-install-recommends $$missing; }; \
	fi

.PHONY: deploy-tools
deploy-tools: $(TOOLS)/bin/helm $(TOOLS)/bin/caddy deploy-debs ## Install helm and caddy (pinned, go install) and Debian's python3-venv for tests/deploy.

.PHONY: sizing
sizing: venv ## Measure one server's CPU and memory under load (the chart's resources come from it).
	$(PY) deploy/sizing.py
