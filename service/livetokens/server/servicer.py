"""The gRPC face: proto in, proto out. All logic lives in :mod:`minting`."""

from __future__ import annotations

import asyncio
import logging
import time

import grpc

from livetokens.server import logs, tracing
from livetokens.server.errors import TABLE, Failure, Reason, internal_failure, to_status
from livetokens.server.metrics import CANCELLED, CUT_OFF, OK, Metrics, MintObservation
from livetokens.server.minting import Minter
from livetokens.server.security.identity import (
    ANONYMOUS,
    Authenticator,
    CallInfo,
    Identity,
    Unauthenticated,
)
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

log = logging.getLogger(__name__)

__all__ = ["ANONYMOUS", "TokenServicer"]


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
        metrics: Metrics | None = None,
    ) -> None:
        """``authenticator`` None: every call is ``anonymous`` (for tests of the use case);
        ``metrics`` None: calls are measured in a registry nobody reads."""
        self._minter = minter
        self._authenticator = authenticator
        self._metrics = metrics or Metrics()

    def _identify(self, context: grpc.aio.ServicerContext[ts.TokenRequest, ts.Token]) -> Identity:
        if self._authenticator is None:
            return Identity(ANONYMOUS, "none", context.peer())
        call = CallInfo(
            peer=context.peer(),
            auth_context={k: tuple(v) for k, v in context.auth_context().items()},
            metadata=tuple((m[0], m[1]) for m in context.invocation_metadata() or ()),
        )
        return self._authenticator.authenticate(call)

    async def MintToken(
        self, request: ts.TokenRequest, context: grpc.aio.ServicerContext[ts.TokenRequest, ts.Token]
    ) -> ts.Token:
        """Mint one token; failures become statuses with ErrorInfo. Each call is counted,
        timed and logged with its request_id, caller, trace id, reason or fingerprint."""
        traceparent = next(
            (str(v) for k, v in context.invocation_metadata() or () if k == "traceparent"), ""
        )
        fields = logs.bind_call(
            request_id=request.request_id,
            trace_id=logs.trace_id_from_traceparent(traceparent),
        )
        observation = self._metrics.begin_mint()
        observation.model = request.constraints.model
        try:
            token = await self._mint(request, context, observation)
            observation.model = token.model
            return token
        except asyncio.CancelledError:
            self._cancelled(observation)
            raise
        finally:
            tracing.annotate(observation.outcome, _status_code(observation.outcome))
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

    async def _mint(
        self,
        request: ts.TokenRequest,
        context: grpc.aio.ServicerContext[ts.TokenRequest, ts.Token],
        observation: MintObservation,
    ) -> ts.Token:
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining
        try:
            identity = self._identify(context)
            observation.caller = identity.caller
            logs.update_call(caller=identity.caller)
            return await self._minter.mint(request, caller=identity, deadline=deadline)
        except Unauthenticated as failure:
            observation.caller = failure.presented.caller
            self._refused(observation, failure)
            await self._minter.record_refusal(request, failure.presented, failure)
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
                observation.caller,
            )
            await context.abort_with_status(to_status(failure))
        except Exception:
            observation.outcome = Reason.INTERNAL.value
            logs.update_call(reason=Reason.INTERNAL.value)
            log.exception("mint failed with an unexpected error")
            await context.abort_with_status(to_status(internal_failure()))
        raise AssertionError("unreachable: abort_with_status raises")

    @staticmethod
    def _refused(observation: MintObservation, failure: Failure) -> None:
        observation.outcome = failure.reason.value
        logs.update_call(reason=failure.reason.value, caller=observation.caller)
