"""The gRPC face: bytes in, proto out. All logic lives in :mod:`minting`.

MintToken is registered with no request deserializer (:func:`add_to_server`), so
grpc hands it the raw bytes and the decode happens here, where the error table
applies: bytes that are too many get REQUEST_TOO_LARGE before they are parsed, bytes
that do not parse as a TokenRequest get REQUEST_UNDECODABLE, each with ErrorInfo, an
INFO log line and an audit record, instead of grpc's bare UNKNOWN and a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import time

import grpc
from google.protobuf.message import DecodeError

from livetokens.server import logs, tracing
from livetokens.server.admission import Admission
from livetokens.server.errors import (
    TABLE,
    Failure,
    FieldViolation,
    Reason,
    internal_failure,
    to_status,
)
from livetokens.server.metrics import CANCELLED, CUT_OFF, OK, Metrics, MintObservation
from livetokens.server.minting import Minter
from livetokens.server.security.identity import (
    ANONYMOUS,
    Authenticator,
    CallInfo,
    Identity,
    Unauthenticated,
)
from livetokens.server.settings import LimitSettings
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

log = logging.getLogger(__name__)

__all__ = ["ANONYMOUS", "TokenServicer", "add_to_server"]

SERVICE_NAME = ts.DESCRIPTOR.services_by_name["TokenService"].full_name
Context = grpc.aio.ServicerContext[bytes, ts.Token]


def too_large(size: int, limit: int) -> Failure:
    """REQUEST_TOO_LARGE for a request of ``size`` bytes over ``limit``."""
    return Failure(
        Reason.REQUEST_TOO_LARGE,
        f"The request is {size} bytes; livetokens accepts at most {limit} (docs/hardening.md).",
        field_violations=[FieldViolation("(request)", f"is {size} bytes, over {limit}")],
        metadata={"requestBytes": str(size), "maxRequestBytes": str(limit)},
    )


def undecodable(size: int) -> Failure:
    """REQUEST_UNDECODABLE: the bytes are not a TokenRequest."""
    return Failure(
        Reason.REQUEST_UNDECODABLE,
        "The request bytes do not decode as a livetokens.v1.TokenRequest (corrupt data, "
        "invalid UTF-8 in a string, or messages nested deeper than protobuf's limit).",
        field_violations=[
            FieldViolation("(request)", "does not decode as livetokens.v1.TokenRequest")
        ],
        metadata={"requestBytes": str(size)},
    )


def decode(raw: bytes, max_bytes: int) -> ts.TokenRequest:
    """``raw`` as a TokenRequest, or a Failure (REQUEST_TOO_LARGE, REQUEST_UNDECODABLE)."""
    if len(raw) > max_bytes:
        raise too_large(len(raw), max_bytes)
    try:
        return ts.TokenRequest.FromString(raw)
    except (DecodeError, RecursionError, ValueError):
        raise undecodable(len(raw)) from None


def _status_code(outcome: str) -> grpc.StatusCode:
    if outcome == OK:
        return grpc.StatusCode.OK
    if outcome in Reason.__members__:
        return TABLE[Reason(outcome)]
    return grpc.StatusCode.CANCELLED


class TokenServicer(ts_grpc.TokenServiceServicer):
    """`livetokens.v1.TokenService`, mapping every failure through the error table."""

    def __init__(
        self,
        minter: Minter,
        authenticator: Authenticator | None = None,
        *,
        limits: LimitSettings | None = None,
        admission: Admission | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """``authenticator`` None: every call is ``anonymous`` (for tests of the use case).
        ``admission`` None: a fresh one with ``limits.max_concurrent_mints``.
        ``metrics`` None: calls are measured in a registry nobody reads."""
        self._minter = minter
        self._metrics = metrics or Metrics()
        self._authenticator = authenticator
        self._limits = limits or LimitSettings()
        self.admission = admission or Admission(self._limits.max_concurrent_mints)

    def _identify(self, context: Context) -> Identity:
        if self._authenticator is None:
            return Identity(ANONYMOUS, "none", context.peer())
        call = CallInfo(
            peer=context.peer(),
            auth_context={k: tuple(v) for k, v in context.auth_context().items()},
            metadata=tuple((m[0], m[1]) for m in context.invocation_metadata() or ()),
        )
        return self._authenticator.authenticate(call)

    async def MintToken(self, request: bytes, context: Context) -> ts.Token:
        """Mint one token from the raw request bytes; failures become statuses with
        ErrorInfo. Each call is counted, timed, and logged with its request_id, caller,
        trace id, reason or fingerprint."""
        traceparent = next(
            (str(v) for k, v in context.invocation_metadata() or () if k == "traceparent"), ""
        )
        fields = logs.bind_call(trace_id=logs.trace_id_from_traceparent(traceparent))
        observation = self._metrics.begin_mint()
        try:
            try:
                self.admission.enter()
            except Failure as failure:
                self._refused(observation, failure)
                await context.abort_with_status(to_status(failure))
            try:
                token = await self._mint(request, context, observation)
                observation.model = token.model
                return token
            finally:
                self.admission.leave()
        except asyncio.CancelledError:
            self._cancelled(observation)
            raise
        finally:
            tracing.annotate(
                observation.outcome, _status_code(observation.outcome), caller=observation.caller
            )
            observation.end()
            logs.reset_call(fields)

    def _cancelled(self, observation: MintObservation) -> None:
        if self._metrics.grace_over:
            observation.outcome = CUT_OFF
            self._metrics.drain_cut_off.inc()
            log.warning(
                "mint cut off at the end of the shutdown grace period caller=%s",
                observation.caller,
            )
        else:
            observation.outcome = CANCELLED

    @staticmethod
    def _refused(observation: MintObservation, failure: Failure) -> None:
        observation.outcome = failure.reason.value
        logs.update_call(reason=failure.reason.value, caller=observation.caller)

    async def _mint(self, raw: bytes, context: Context, observation: MintObservation) -> ts.Token:
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining
        caller = "-"
        try:
            identity = self._identify(context)
            caller = observation.caller = identity.caller
            logs.update_call(caller=caller)
            try:
                request = decode(raw, self._limits.max_request_bytes)
            except Failure as failure:
                await self._minter.refuse(ts.TokenRequest(), identity, failure)
                raise
            observation.model = request.constraints.model
            logs.update_call(request_id=request.request_id)
            return await self._minter.mint(request, caller=identity, deadline=deadline)
        except Unauthenticated as failure:
            observation.caller = failure.presented.caller
            self._refused(observation, failure)
            try:
                summary = decode(raw, self._limits.max_request_bytes)
            except Failure:
                summary = ts.TokenRequest()
            await self._minter.record_refusal(summary, failure.presented, failure)
            log.info(
                "mint refused reason=%s code=%s caller=%s auth=%s peer=%s",
                failure.reason.value,
                failure.code.name,
                failure.presented.caller,
                failure.presented.method,
                failure.presented.peer,
            )
            await context.abort_with_status(to_status(failure))
        except Failure as failure:
            self._refused(observation, failure)
            log.info(
                "mint refused reason=%s code=%s caller=%s",
                failure.reason.value,
                failure.code.name,
                caller,
            )
            await context.abort_with_status(to_status(failure))
        except Exception:
            observation.outcome = Reason.INTERNAL.value
            logs.update_call(reason=Reason.INTERNAL.value)
            log.exception("mint failed with an unexpected error")
            await context.abort_with_status(to_status(internal_failure()))
        raise AssertionError("unreachable: abort_with_status raises")


def add_to_server(servicer: TokenServicer, server: grpc.aio.Server) -> None:
    """Register ``servicer`` on ``server`` with MintToken receiving the raw bytes (no
    request deserializer), in place of the generated ``add_TokenServiceServicer_to_server``."""
    handlers: dict[str, grpc.RpcMethodHandler[bytes, ts.Token]] = {
        "MintToken": grpc.unary_unary_rpc_method_handler(
            servicer.MintToken,
            request_deserializer=None,
            response_serializer=ts.Token.SerializeToString,
        )
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)
