"""A small client for livetokens: sync and asyncio, retries per the shared service config.

    from datetime import timedelta

    from livetokens.client import Client, expire_time
    from livetokens.v1 import token_service_pb2 as ts

    with Client("livetokens.internal:443", ca_file="ca.pem",
                cert_file="me.pem", key_file="me-key.pem") as client:
        token = client.mint_token(ts.TokenRequest(lifetime=timedelta(minutes=10)))
        print(token.fingerprint, expire_time(token))  # never print token.name

Errors are grpc.RpcError; error_details() decodes them (reason, ErrorReason constant, field
violations, retry delay). See clients/python/README.md.
"""

from livetokens.client._client import (
    SERVICE_CONFIG,
    AsyncClient,
    Client,
    ErrorDetails,
    FieldViolation,
    error_details,
    expire_time,
    new_session_expire_time,
    parse_reason,
    reason_name,
)

__all__ = [
    "SERVICE_CONFIG",
    "AsyncClient",
    "Client",
    "ErrorDetails",
    "FieldViolation",
    "error_details",
    "expire_time",
    "new_session_expire_time",
    "parse_reason",
    "reason_name",
]
