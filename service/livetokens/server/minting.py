"""The minting use case: validate → translate → (dedupe) → call Google → Token.

Plain async code with no gRPC in it, so it can be tested and reused without a
server. The servicer hands it the request, the caller's identity and deadline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from google.protobuf import timestamp_pb2

from livetokens.server import translate as tr
from livetokens.server.errors import invalid_request
from livetokens.server.fingerprint import Fingerprinter
from livetokens.server.idempotency import IdempotencyCache
from livetokens.server.validation import validate
from livetokens.v1 import token_service_pb2 as ts

log = logging.getLogger(__name__)


class TokenEndpoint(Protocol):
    """What the use case needs from the upstream client (GeminiTokenClient)."""

    async def create_token(self, body: dict[str, Any], *, deadline: float | None) -> str: ...


def _timestamp(instant: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(instant)
    return stamp


class Minter:
    """Mints tokens for callers. One instance per server."""

    def __init__(
        self,
        endpoint: TokenEndpoint,
        *,
        base_url: str,
        api_version: str,
        fingerprinter: Fingerprinter,
        idempotency: IdempotencyCache,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._endpoint = endpoint
        self._api_version = api_version
        self._websocket_url = tr.websocket_url(base_url, api_version)
        self._fingerprint = fingerprinter
        self._idempotency = idempotency
        self._clock = clock

    async def mint(
        self, request: ts.TokenRequest, *, caller: str, deadline: float | None
    ) -> ts.Token:
        """Mint one token for ``caller``; ``deadline`` is a ``time.monotonic()`` instant."""
        violations = validate(request)
        if violations:
            raise invalid_request(violations)
        if not request.request_id:
            return await self._mint(request, caller=caller, deadline=deadline)
        return await self._idempotency.run(
            caller,
            request,
            lambda: self._mint(request, caller=caller, deadline=deadline),
            ttl=self._remaining_session_window,
        )

    def _remaining_session_window(self, token: ts.Token) -> float:
        end = token.new_session_expire_time.ToDatetime(tzinfo=UTC)
        return max(0.0, (end - self._clock()).total_seconds())

    async def _mint(
        self, request: ts.TokenRequest, *, caller: str, deadline: float | None
    ) -> ts.Token:
        started = time.monotonic()
        translation = tr.translate(request, now=self._clock())
        name = await self._endpoint.create_token(translation.body, deadline=deadline)
        token = ts.Token(
            name=name,
            expire_time=_timestamp(translation.expire_time),
            new_session_expire_time=_timestamp(translation.new_session_expire_time),
            uses=translation.uses,
            lock=ts.EffectiveLock(
                whole_setup=translation.lock_all, field_paths=translation.field_paths
            ),
            fingerprint=self._fingerprint(name),
            websocket_url=self._websocket_url,
            api_version=self._api_version,
            model=translation.model,
        )
        log.info(
            "minted token fingerprint=%s caller=%s uses=%d model=%s lock=%s expire_time=%s "
            "latency_ms=%.1f",
            token.fingerprint,
            caller,
            token.uses,
            token.model or "-",
            "all" if translation.lock_all else ",".join(translation.field_paths) or "-",
            tr.rfc3339(translation.expire_time),
            (time.monotonic() - started) * 1000,
        )
        return token
