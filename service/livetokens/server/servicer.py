"""The gRPC face: proto in, proto out. All logic lives in :mod:`minting`."""

from __future__ import annotations

import logging
import time

import grpc

from livetokens.server.errors import Failure, internal_failure, to_status
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


class TokenServicer(ts_grpc.TokenServiceServicer):
    """`livetokens.v1.TokenService`, mapping every failure through the error table."""

    def __init__(self, minter: Minter, authenticator: Authenticator | None = None) -> None:
        """``authenticator`` None: every call is ``anonymous`` (for tests of the use case)."""
        self._minter = minter
        self._authenticator = authenticator

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
        """Mint one token; failures become statuses with ErrorInfo."""
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining
        caller = "-"
        try:
            identity = self._identify(context)
            caller = identity.caller
            return await self._minter.mint(request, caller=identity, deadline=deadline)
        except Unauthenticated as failure:
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
            log.info(
                "mint refused reason=%s code=%s caller=%s",
                failure.reason.value,
                failure.code.name,
                caller,
            )
            await context.abort_with_status(to_status(failure))
        except Exception:
            log.exception("mint failed with an unexpected error")
            await context.abort_with_status(to_status(internal_failure()))
        raise AssertionError("unreachable: abort_with_status raises")
