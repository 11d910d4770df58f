"""Helpers for the hardening tests: raw-byte calls, hand-built encodings, error decoding."""

from __future__ import annotations

import dataclasses

import grpc
from google.protobuf.internal import encoder
from google.rpc import error_details_pb2, status_pb2

from livetokens.server.errors import DOMAIN
from livetokens.v1 import token_service_pb2 as ts

METHOD = "/livetokens.v1.TokenService/MintToken"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a call ended in: the code, and for errors the decoded details."""

    code: grpc.StatusCode
    reason: str = ""
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    fields: tuple[str, ...] = ()
    retry_delay: float | None = None
    trailer_bytes: int = 0
    message: str = ""


def outcome(error: grpc.aio.AioRpcError) -> Outcome:
    """Decode an error's status details (ErrorInfo, BadRequest, RetryInfo)."""
    raw = b""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            raw = value if isinstance(value, bytes) else value.encode()
    status = status_pb2.Status.FromString(raw)
    reason, metadata, fields, delay = "", {}, (), None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            assert info.domain == DOMAIN
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields = tuple(v.field for v in bad.field_violations)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            delay = retry.retry_delay.ToTimedelta().total_seconds()
    return Outcome(error.code(), reason, metadata, fields, delay, len(raw), error.details() or "")


async def raw_call(channel: grpc.aio.Channel, payload: bytes, *, deadline: float = 10) -> Outcome:
    """Send ``payload`` as the MintToken request bytes; OK or the decoded error."""
    call = channel.unary_unary(
        METHOD, request_serializer=None, response_deserializer=ts.Token.FromString
    )
    try:
        await call(payload, timeout=deadline)
    except grpc.aio.AioRpcError as error:
        trailers = error.trailing_metadata() or ()
        if not any(key == "grpc-status-details-bin" for key, _ in trailers):
            return Outcome(error.code(), message=error.details() or "")
        return outcome(error)
    return Outcome(grpc.StatusCode.OK)


def length_delimited(field: int, payload: bytes) -> bytes:
    """One length-delimited field (message, string, bytes) in the wire format."""
    tag: bytes = encoder._VarintBytes(field << 3 | 2)  # type: ignore[attr-defined]
    size: bytes = encoder._VarintBytes(len(payload))  # type: ignore[attr-defined]
    return tag + size + payload


def deep_request(levels: int) -> bytes:
    """A TokenRequest whose one function's parameters nest ``levels`` object schemas
    through ``properties`` (protobuf itself refuses to encode one this deep)."""
    schema = b"\x08\x06"  # type: SCHEMA_TYPE_OBJECT
    for _ in range(levels):
        entry = length_delimited(1, b"a") + length_delimited(2, schema)
        schema = b"\x08\x06" + length_delimited(3, entry)
    declaration = length_delimited(1, b"f") + length_delimited(3, schema)
    tool = length_delimited(1, declaration)
    config = length_delimited(13, tool)  # LiveConfig.tools
    constraints = length_delimited(1, b"gemini-live-2.5-flash-preview") + length_delimited(
        2, config
    )
    return length_delimited(4, constraints)  # TokenRequest.constraints
