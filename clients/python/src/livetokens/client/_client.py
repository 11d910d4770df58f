from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, cast

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
_REASON_PREFIX = "ERROR_REASON_"


def reason_name(reason: ts.ErrorReason) -> str:
    """The ErrorInfo.reason string of an ErrorReason value: its name without ERROR_REASON_.

    ``ERROR_REASON_UNSPECIFIED`` (and a number this version does not know) gives "".
    """
    if reason == ts.ERROR_REASON_UNSPECIFIED or reason not in ts.ErrorReason.values():
        return ""
    return ts.ErrorReason.Name(reason).removeprefix(_REASON_PREFIX)


def parse_reason(reason: str) -> ts.ErrorReason:
    """The ErrorReason value of an ErrorInfo.reason string; UNSPECIFIED when unknown or empty."""
    if not reason:
        return ts.ERROR_REASON_UNSPECIFIED
    try:
        return cast(ts.ErrorReason, ts.ErrorReason.Value(_REASON_PREFIX + reason))
    except ValueError:  # a reason newer than this client
        return ts.ERROR_REASON_UNSPECIFIED


def expire_time(token: ts.Token) -> datetime:
    """When the token stops working, as an aware UTC datetime."""
    return token.expire_time.ToDatetime(tzinfo=UTC)


def new_session_expire_time(token: ts.Token) -> datetime:
    """The last moment the token can start a new Live session, as an aware UTC datetime."""
    return token.new_session_expire_time.ToDatetime(tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class FieldViolation:
    """One `google.rpc.BadRequest.FieldViolation`: the field path, what is wrong, and
    a machine-readable reason ("" when the server sent none)."""

    field: str
    description: str
    reason: str = ""


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

    @property
    def error_reason(self) -> ts.ErrorReason:
        """`reason` as an ErrorReason constant (ERROR_REASON_UNSPECIFIED when absent or unknown)."""
        return parse_reason(self.reason)


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
            violations += [
                FieldViolation(v.field, v.description, v.reason) for v in bad.field_violations
            ]
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


def _read(path: str | Path | None) -> bytes | None:
    return None if path is None else Path(path).read_bytes()


def _credentials(
    credentials: grpc.ChannelCredentials | None,
    ca_file: str | Path | None,
    cert_file: str | Path | None,
    key_file: str | Path | None,
) -> grpc.ChannelCredentials:
    """TLS credentials: the caller's, or built from PEM files (system roots without ca_file)."""
    if (cert_file is None) != (key_file is None):
        raise ValueError("cert_file and key_file go together (mutual TLS)")
    if credentials is not None:
        if ca_file is not None or cert_file is not None:
            raise ValueError("pass either credentials or ca_file/cert_file/key_file, not both")
        return credentials
    return grpc.ssl_channel_credentials(
        root_certificates=_read(ca_file),
        private_key=_read(key_file),
        certificate_chain=_read(cert_file),
    )


def _metadata(
    metadata: Sequence[tuple[str, str]], bearer_token: str | None
) -> tuple[tuple[str, str], ...]:
    if bearer_token is None:
        return tuple(metadata)
    return (*metadata, ("authorization", f"Bearer {bearer_token}"))


def _with_request_id(request: ts.TokenRequest) -> ts.TokenRequest:
    """A fresh UUID4 request_id when there is none, so transport retries are idempotent."""
    if request.request_id:
        return request
    copy = ts.TokenRequest()
    copy.CopyFrom(request)
    copy.request_id = str(uuid.uuid4())
    return copy


class Client:
    """Blocking client. TLS with the system roots by default.

    ``ca_file`` trusts a private CA (PEM); ``cert_file`` + ``key_file`` present a client
    certificate (mutual TLS); ``bearer_token`` sends ``authorization: Bearer <token>`` on
    every call; ``credentials`` takes ready-made channel credentials instead of the files.
    ``plaintext=True`` only for loopback and tests.
    """

    def __init__(
        self,
        target: str,
        *,
        plaintext: bool = False,
        ca_file: str | Path | None = None,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        bearer_token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        metadata: Sequence[tuple[str, str]] = (),
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        if plaintext:
            if credentials or ca_file or cert_file or key_file or bearer_token:
                raise ValueError("plaintext=True excludes TLS options and bearer_token")
            self._channel = grpc.insecure_channel(target, options=_options(options))
        else:
            creds = _credentials(credentials, ca_file, cert_file, key_file)
            self._channel = grpc.secure_channel(target, creds, options=_options(options))
        self._stub = ts_grpc.TokenServiceStub(self._channel)
        self._metadata = _metadata(metadata, bearer_token)

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
        ca_file: str | Path | None = None,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        bearer_token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        metadata: Sequence[tuple[str, str]] = (),
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        if plaintext:
            if credentials or ca_file or cert_file or key_file or bearer_token:
                raise ValueError("plaintext=True excludes TLS options and bearer_token")
            self._channel = grpc.aio.insecure_channel(target, options=_options(options))
        else:
            creds = _credentials(credentials, ca_file, cert_file, key_file)
            self._channel = grpc.aio.secure_channel(target, creds, options=_options(options))
        self._stub = ts_grpc.TokenServiceStub(self._channel)
        self._metadata = _metadata(metadata, bearer_token)

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
