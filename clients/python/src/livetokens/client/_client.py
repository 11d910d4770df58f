from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import timedelta
from importlib import resources
from types import TracebackType
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

# The one gRPC service config of the repo (clients/service_config.json); `make
# generate` copies it here and `make check-generated` fails if the copy drifts.
SERVICE_CONFIG: str = (
    resources.files("livetokens.client").joinpath("service_config.json").read_text("utf-8")
)
DEFAULT_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True)
class FieldViolation:
    """One `google.rpc.BadRequest.FieldViolation`."""

    field: str
    description: str


@dataclasses.dataclass(frozen=True)
class ErrorDetails:
    """What a livetokens error says, decoded from its `google.rpc.Status` details."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    field_violations: tuple[FieldViolation, ...] = ()
    retry_delay: timedelta | None = None


def error_details(error: grpc.RpcError) -> ErrorDetails:
    """Decode the ErrorInfo, BadRequest and RetryInfo of a failed call."""
    code: grpc.StatusCode = error.code()
    message: str = error.details() or ""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return ErrorDetails(code=code, message=message)
    reason, domain, metadata = "", "", {}
    violations: list[FieldViolation] = []
    retry_delay = None
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        bad = error_details_pb2.BadRequest()
        retry = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            reason, domain, metadata = info.reason, info.domain, dict(info.metadata)
        elif detail.Unpack(bad):
            violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
        elif detail.Unpack(retry):
            retry_delay = retry.retry_delay.ToTimedelta()
    return ErrorDetails(
        code=code,
        message=status.message,
        reason=reason,
        domain=domain,
        metadata=metadata,
        field_violations=tuple(violations),
        retry_delay=retry_delay,
    )


def _options(extra: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [("grpc.service_config", SERVICE_CONFIG), ("grpc.enable_retries", 1), *extra]


def _with_request_id(request: ts.TokenRequest) -> ts.TokenRequest:
    """A fresh UUID4 request_id when there is none, so transport retries are idempotent."""
    if request.request_id:
        return request
    copy = ts.TokenRequest()
    copy.CopyFrom(request)
    copy.request_id = str(uuid.uuid4())
    return copy


class Client:
    """Blocking client. ``plaintext=True`` only for loopback and tests; TLS otherwise."""

    def __init__(
        self,
        target: str,
        *,
        plaintext: bool = False,
        credentials: grpc.ChannelCredentials | None = None,
        metadata: Sequence[tuple[str, str]] = (),
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        if plaintext:
            self._channel = grpc.insecure_channel(target, options=_options(options))
        else:
            creds = credentials or grpc.ssl_channel_credentials()
            self._channel = grpc.secure_channel(target, creds, options=_options(options))
        self._stub = ts_grpc.TokenServiceStub(self._channel)
        self._metadata = tuple(metadata)

    def mint_token(self, request: ts.TokenRequest, *, timeout: float = DEFAULT_TIMEOUT) -> ts.Token:
        """Mint one token; raises grpc.RpcError (decode it with error_details)."""
        token: ts.Token = self._stub.MintToken(
            _with_request_id(request), timeout=timeout, metadata=self._metadata
        )
        return token

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient:
    """asyncio client (grpc.aio). Same options as :class:`Client`."""

    def __init__(
        self,
        target: str,
        *,
        plaintext: bool = False,
        credentials: grpc.ChannelCredentials | None = None,
        metadata: Sequence[tuple[str, str]] = (),
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        if plaintext:
            self._channel = grpc.aio.insecure_channel(target, options=_options(options))
        else:
            creds = credentials or grpc.ssl_channel_credentials()
            self._channel = grpc.aio.secure_channel(target, creds, options=_options(options))
        self._stub = ts_grpc.TokenServiceStub(self._channel)
        self._metadata = tuple(metadata)

    async def mint_token(
        self,
        request: ts.TokenRequest,
        *,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - it is the gRPC call's deadline
    ) -> ts.Token:
        """Mint one token; raises grpc.aio.AioRpcError (decode it with error_details)."""
        token: ts.Token = await self._stub.MintToken(
            _with_request_id(request), timeout=timeout, metadata=self._metadata
        )
        return token

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
