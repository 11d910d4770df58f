"""The gRPC face: proto in, proto out. All logic lives in :mod:`minting`."""

from __future__ import annotations

import logging
import time

import grpc

from livetokens.server.errors import Failure, internal_failure, to_status
from livetokens.server.minting import Minter
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"


class TokenServicer(ts_grpc.TokenServiceServicer):
    """`livetokens.v1.TokenService`, mapping every failure through the error table."""

    def __init__(self, minter: Minter) -> None:
        self._minter = minter

    async def MintToken(
        self, request: ts.TokenRequest, context: grpc.aio.ServicerContext[ts.TokenRequest, ts.Token]
    ) -> ts.Token:
        """Mint one token; failures become statuses with ErrorInfo."""
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining
        try:
            return await self._minter.mint(request, caller=ANONYMOUS, deadline=deadline)
        except Failure as failure:
            log.info("mint refused reason=%s code=%s", failure.reason.value, failure.code.name)
            await context.abort_with_status(to_status(failure))
        except Exception:
            log.exception("mint failed with an unexpected error")
            await context.abort_with_status(to_status(internal_failure()))
        raise AssertionError("unreachable: abort_with_status raises")
