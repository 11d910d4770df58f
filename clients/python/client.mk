# Python client: the generated stubs (buf generate) plus livetokens.client.
generate::
	cp clients/service_config.json clients/python/src/livetokens/client/service_config.json

# The consumer test: the wheel built and installed into a fresh venv outside clients/ per
# README.md, mypy --strict, the README example against a live server. (The client's own
# tests are in tests/client, run by test-python.)
test-clients:: venv
	$(PY) tools/with_livetokens.py -- $(VENV)/bin/pytest -p no:cacheprovider -q clients/consumer_tests/test_consumers.py::test_python_wheel_consumer
