"""A small client for livetokens: sync and asyncio, retries per the shared service config.

from livetokens.client import Client
from livetokens.v1 import live_config_pb2 as lc, token_service_pb2 as ts

with Client("127.0.0.1:50051", plaintext=True) as client:
        model = "gemini-live-2.5-flash-preview"
        request = ts.TokenRequest(constraints=ts.LiveConstraints(model=model))
        token = client.mint_token(request)
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
