"""The minting use case: budget → validate → policy → (dedupe) → rate limit → translate
→ call Google → audit → Token.

Plain async code with no gRPC in it, so it can be tested and reused without a
server. The servicer hands it the request, the caller's identity and deadline.
Every decision, granted or refused, gets an audit record (:mod:`.mint_audit`); a
granted token leaves only after its record is written (docs/security.md). Large
requests are checked and translated in a worker thread (:mod:`.offload`); a refusal
the caller caused costs it a rate-limit token (:mod:`.refusal_charge`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from google.protobuf import timestamp_pb2

from livetokens.server import logs
from livetokens.server import translate as tr
from livetokens.server.budget import Budget, over_budget
from livetokens.server.errors import Failure, Reason, internal_failure, invalid_request
from livetokens.server.fingerprint import Fingerprinter
from livetokens.server.idempotency import IdempotencyCache
from livetokens.server.mint_audit import MintAudit
from livetokens.server.offload import offload
from livetokens.server.refusal_charge import charge_refusal
from livetokens.server.security.audit import AuditLog
from livetokens.server.security.identity import Identity
from livetokens.server.security.policy import (
    PolicyStore,
    Rate,
    apply_policy,
    caller_unknown,
)
from livetokens.server.security.ratelimit import RateLimiter
from livetokens.server.validation import validate
from livetokens.v1 import token_service_pb2 as ts

log = logging.getLogger(__name__)


class TokenEndpoint(Protocol):
    """What the use case needs from the upstream client (GeminiTokenClient)."""

    async def create_token(self, body: dict[str, Any], *, deadline: float | None) -> str: ...


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _timestamp(instant: datetime) -> timestamp_pb2.Timestamp:
    # Integer arithmetic on the timedelta: 3x faster than Timestamp.FromDatetime.
    since = (instant if instant.tzinfo else instant.replace(tzinfo=UTC)) - _EPOCH
    return timestamp_pb2.Timestamp(
        seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000
    )


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
        policies: PolicyStore | None = None,
        rate_limiter: RateLimiter | None = None,
        audit: AuditLog | None = None,
        audit_fail_open: bool = False,
        budget: Budget | None = None,
    ) -> None:
        """``policies`` None: no policy (anything the contract allows); ``rate_limiter``
        None: no rate limit; ``audit`` None: no audit records; ``budget`` None: the
        default cost budget."""
        self._endpoint = endpoint
        self._api_version = api_version
        self._websocket_url = tr.websocket_url(base_url, api_version)
        self._fingerprint = fingerprinter
        self._idempotency = idempotency
        self._clock = clock
        self._policies = policies
        self._rate_limiter = rate_limiter
        self._audit = MintAudit(audit, fail_open=audit_fail_open, now=self._now)
        self._budget = budget or Budget()

    async def mint(
        self, request: ts.TokenRequest, *, caller: Identity | str, deadline: float | None
    ) -> ts.Token:
        """Mint one token for ``caller``; ``deadline`` is a ``time.monotonic()`` instant.

        Raises :class:`Failure`; AUDIT_UNAVAILABLE when the token was minted but its
        audit record could not be written (the token is then not returned).
        """
        identity = caller if isinstance(caller, Identity) else Identity(caller)
        try:
            token, fresh = await self._decide(request, identity, deadline)
        except Failure as failure:
            await self.refuse(request, identity, failure)
            raise
        except Exception:
            await self.record_refusal(request, identity, internal_failure())
            raise
        except asyncio.CancelledError:
            self._audit.cancelled(request, identity)
            raise
        try:
            await self._audit.granted(request, identity, token, deduplicated=not fresh)
        except asyncio.CancelledError:
            self._audit.cancelled(request, identity)
            raise
        return token

    async def _decide(
        self, request: ts.TokenRequest, identity: Identity, deadline: float | None
    ) -> tuple[ts.Token, bool]:
        """The token, and whether this call minted it (False: an idempotent repeat)."""
        effective, rate = await offload(request, self._check, request, identity)
        caller = identity.caller
        if not request.request_id:
            return await self._mint(effective, caller=caller, deadline=deadline, rate=rate), True

        def mint_once(shared_deadline: float | None) -> Awaitable[ts.Token]:
            return self._mint(effective, caller=caller, deadline=shared_deadline, rate=rate)

        # Keyed by the caller and the request as sent, so that a policy reload between
        # a call and its retry does not turn the retry into REQUEST_ID_REUSED.
        return await self._idempotency.run(
            caller, request, mint_once, ttl=self._remaining_session_window, deadline=deadline
        )

    def _check(
        self, request: ts.TokenRequest, identity: Identity
    ) -> tuple[ts.TokenRequest, Rate | None]:
        """Budget, then validation, then policy: the request to mint and the caller's
        rate. The budget goes first, so an oversized request costs no more than it."""
        too_much = over_budget(request, self._budget)
        if too_much:
            raise invalid_request(too_much, Reason.REQUEST_TOO_LARGE)
        violations = validate(request)
        if violations:
            raise invalid_request(violations)
        if self._policies is None:
            return request, None
        policy = self._policies.current().for_caller(identity.caller)
        if policy is None:
            raise caller_unknown()
        return apply_policy(policy, request), policy.rate

    def _now(self) -> str:
        return tr.rfc3339(self._clock())

    async def refuse(self, request: ts.TokenRequest, identity: Identity, failure: Failure) -> None:
        """Account for a refusal: a caller's fault costs a token from its rate-limit
        bucket (refusal_charge.CALLER_FAULTS), and every refusal gets its audit record."""
        await charge_refusal(
            failure, identity, policies=self._policies, rate_limiter=self._rate_limiter
        )
        await self.record_refusal(request, identity, failure)

    async def record_refusal(
        self, request: ts.TokenRequest, identity: Identity, failure: Failure
    ) -> None:
        """Write the audit record of a refusal. The refusal stands even when the record
        cannot be written (nothing was handed out), so that failure is only logged."""
        await self._audit.refused(request, identity, failure)

    def _remaining_session_window(self, token: ts.Token) -> float:
        end = token.new_session_expire_time.ToDatetime(tzinfo=UTC)
        return max(0.0, (end - self._clock()).total_seconds())

    async def _mint(
        self,
        request: ts.TokenRequest,
        *,
        caller: str,
        deadline: float | None,
        rate: Rate | None = None,
    ) -> ts.Token:
        if rate is not None and self._rate_limiter is not None:
            await self._rate_limiter.acquire(caller, rate, deadline=deadline)
        started = time.monotonic()
        translation = await offload(request, tr.translate, request, now=self._clock())
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
        logs.update_call(fingerprint=token.fingerprint)
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
