# Python client: the generated stubs (buf generate) plus livetokens.client.
generate::
	cp clients/service_config.json clients/python/src/livetokens/client/service_config.json
