"""The minting use case: validate → policy → (dedupe) → rate limit → translate → call
Google → audit → Token.

Plain async code with no gRPC in it, so it can be tested and reused without a
server. The servicer hands it the request, the caller's identity and deadline.
Every decision, granted or refused, gets an audit record; a granted token leaves
only after its record is written (docs/security.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from google.protobuf import timestamp_pb2

from livetokens.server import logs
from livetokens.server import translate as tr
from livetokens.server.budget import Budget, over_budget
from livetokens.server.errors import Failure, Reason, internal_failure, invalid_request
from livetokens.server.fingerprint import Fingerprinter
from livetokens.server.idempotency import IdempotencyCache
from livetokens.server.security.audit import (
    AuditLog,
    AuditUnavailable,
    cancel_record,
    grant_record,
    refusal_record,
)
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

_T = TypeVar("_T")
# Requests larger than this are checked and translated in a worker thread: at a few
# microseconds per message, a larger one could hold the event loop for several ms
# (docs/hardening.md has the measurements). Smaller ones, nearly all, stay inline.
INLINE_BYTES = 4096

# Refusals that the caller's request caused: each takes a token from the caller's
# rate-limit bucket, like a mint, so a stream of bad requests is limited too.
CALLER_FAULTS = frozenset(
    {
        Reason.REQUEST_UNDECODABLE,
        Reason.REQUEST_TOO_LARGE,
        Reason.INVALID_REQUEST,
        Reason.POLICY_DENIED,
        Reason.REQUEST_ID_REUSED,
    }
)


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
        self._audit = audit
        self._audit_fail_open = audit_fail_open
        self._budget = budget or Budget()
        self._background: set[asyncio.Task[None]] = set()

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
            self._record_cancelled(request, identity)
            raise
        try:
            await self._record_grant(request, identity, token, deduplicated=not fresh)
        except asyncio.CancelledError:
            self._record_cancelled(request, identity)
            raise
        return token

    def _record_cancelled(self, request: ts.TokenRequest, identity: Identity) -> None:
        """The caller went away (cancelled, or gRPC's own deadline): recorded in the
        background, since a cancelled task cannot wait for the disk."""
        if self._audit is None:
            return
        record = cancel_record(time=self._now(), identity=identity, request=request)
        task = asyncio.get_running_loop().create_task(self._write_quietly(record))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _write_quietly(self, record: dict[str, Any]) -> None:
        assert self._audit is not None
        try:
            await self._audit.write(record)
        except AuditUnavailable as exc:
            log.error("audit record of a cancelled call was not written: %s", exc)

    async def _decide(
        self, request: ts.TokenRequest, identity: Identity, deadline: float | None
    ) -> tuple[ts.Token, bool]:
        """The token, and whether this call minted it (False: an idempotent repeat)."""
        effective, rate = await self._offload(request, self._check, request, identity)
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

    async def _offload(
        self, request: ts.TokenRequest, work: Callable[..., _T], *args: Any, **kwargs: Any
    ) -> _T:
        """``work(*args)``, in a worker thread when ``request`` is large enough for it to
        hold the event loop (every other caller's calls) for more than a few ms."""
        if request.ByteSize() <= INLINE_BYTES:
            return work(*args, **kwargs)
        return await asyncio.to_thread(work, *args, **kwargs)

    def _now(self) -> str:
        return tr.rfc3339(self._clock())

    async def refuse(self, request: ts.TokenRequest, identity: Identity, failure: Failure) -> None:
        """Account for a refusal: a caller's fault costs a token from its rate-limit
        bucket (CALLER_FAULTS), and every refusal gets its audit record."""
        if failure.reason in CALLER_FAULTS:
            await self._charge(identity)
        await self.record_refusal(request, identity, failure)

    async def _charge(self, identity: Identity) -> None:
        if self._rate_limiter is None or self._policies is None:
            return
        policy = self._policies.current().for_caller(identity.caller)
        if policy is None or policy.rate is None:
            return
        # An empty bucket raises RATE_LIMITED (an unreachable shared store
        # STATE_UNAVAILABLE): the refusal itself stands either way.
        with contextlib.suppress(Failure):
            await self._rate_limiter.acquire(identity.caller, policy.rate)

    async def record_refusal(
        self, request: ts.TokenRequest, identity: Identity, failure: Failure
    ) -> None:
        """Write the audit record of a refusal. The refusal stands even when the record
        cannot be written (nothing was handed out), so that failure is only logged."""
        if self._audit is None:
            return
        # One peer's refusals are throttled in the log; what was left out is counted
        # in a `suppressed` summary record (docs/security.md).
        admitted, due = self._audit.throttle.admit(identity, failure.reason.value)
        for summary in due:
            self._audit.submit({"time": self._now(), **summary})
        if not admitted:
            return
        record = refusal_record(
            time=self._now(), identity=identity, request=request, failure=failure
        )
        try:
            await self._audit.write(record)
        except AuditUnavailable as exc:
            log.error("audit record of a refusal (%s) was not written: %s", failure.reason, exc)

    async def _record_grant(
        self, request: ts.TokenRequest, identity: Identity, token: ts.Token, *, deduplicated: bool
    ) -> None:
        if self._audit is None:
            return
        record = grant_record(
            time=self._now(),
            identity=identity,
            request=request,
            token=token,
            deduplicated=deduplicated,
        )
        try:
            await self._audit.write(record)
        except AuditUnavailable as exc:
            if self._audit_fail_open:
                log.error(
                    "audit record NOT written (%s); token %s returned anyway (fail open)",
                    exc,
                    token.fingerprint,
                )
                return
            log.error(
                "audit record not written (%s): token %s is withheld (fail closed)",
                exc,
                token.fingerprint,
            )
            raise Failure(
                Reason.AUDIT_UNAVAILABLE,
                "livetokens could not record this mint in its audit log, so the token was "
                "withheld; retry with backoff.",
            ) from None

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
        translation = await self._offload(request, tr.translate, request, now=self._clock())
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
