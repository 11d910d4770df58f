"""Idempotent retries by `request_id` (AIP-155), across calls, twins and replicas.

One entry per (caller, request_id) lives in the state store (state/port.py): the
first call claims it and mints; a twin, on this replica or another, waits for that
result within its own deadline instead of minting; a repeat after the mint gets the
stored token. Only what a repeat needs is kept: the serialized Token and the digest of
the request, for as long as the token's new-session window is open.

On one replica, twins share one in-flight task (no polling). That task runs until the
LONGEST deadline among the callers waiting on it, re-read as twins join: a twin with
10 s left is not failed by a first caller that gave 0.2 s, and the one upstream call
serves both. (Callers without a request_id are bounded by their own deadline alone.)

A replica that dies mid-mint stops renewing its lease; the entry expires and the next
retry claims it. When the backend fails after the token was minted, the token is
returned and the write is retried in the background (``late_writes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable

from livetokens.server.errors import Failure, FieldViolation, Reason
from livetokens.server.state.guard import state_unavailable
from livetokens.server.state.memory import MemoryStore
from livetokens.server.state.port import (
    Claimed,
    Done,
    IdemKey,
    Pending,
    StateStore,
    StateUnavailable,
)
from livetokens.v1 import token_service_pb2 as ts

log = logging.getLogger(__name__)

Mint = Callable[[float | None], Awaitable[ts.Token]]


def request_digest(request: ts.TokenRequest) -> bytes:
    """A digest of everything in the request except its request_id."""
    copy = ts.TokenRequest()
    copy.CopyFrom(request)
    copy.ClearField("request_id")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).digest()


def _reused() -> Failure:
    return Failure(
        Reason.REQUEST_ID_REUSED,
        "request_id was already used for a different request; use a new UUID4 for a new request.",
        field_violations=[FieldViolation("request_id", "was used before with a different request")],
    )


def _later(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else max(a, b)


@dataclasses.dataclass
class _Flight:
    """One in-flight mint on this replica and the longest deadline among its waiters."""

    digest: bytes
    deadline: float | None
    task: asyncio.Task[tuple[ts.Token, bool]] | None = None


class IdempotencyCache:
    """Remembers minted tokens by (caller, request_id) in a :class:`StateStore`.

    Counters (plain attributes): ``late_writes``, ``in_flight``.
    """

    def __init__(
        self,
        store: StateStore | None = None,
        *,
        lease: float = 5.0,
        poll_initial: float = 0.02,
        poll_max: float = 0.25,
    ) -> None:
        """``store`` None: a private in-memory store. ``lease``: seconds a claim outlives
        a replica that stops renewing it (renewed every third of it while minting)."""
        self.store: StateStore = store if store is not None else MemoryStore()
        self.lease = lease
        self._poll_initial = poll_initial
        self._poll_max = poll_max
        self._flights: dict[IdemKey, _Flight] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.late_writes = 0

    @property
    def in_flight(self) -> int:
        """Mints with a request_id in flight on this replica."""
        return len(self._flights)

    async def run(
        self,
        caller: str,
        request: ts.TokenRequest,
        mint: Mint,
        ttl: Callable[[ts.Token], float],
        *,
        deadline: float | None,
    ) -> tuple[ts.Token, bool]:
        """The token for this (caller, request_id), and whether this call minted it.

        ``mint(deadline)`` mints once; ``ttl(token)`` says how many seconds to remember
        a fresh token; ``deadline`` is this caller's (``time.monotonic()`` or None).
        """
        key = IdemKey(caller, request.request_id.lower())
        digest = request_digest(request)
        flight = self._flights.get(key)
        if flight is not None:
            if flight.digest != digest:
                raise _reused()
            flight.deadline = _later(flight.deadline, deadline)
            assert flight.task is not None
            token, _ = await asyncio.shield(flight.task)
            return token, False
        flight = _Flight(digest, deadline)
        task = asyncio.get_running_loop().create_task(self._settle(key, flight, mint, ttl))
        flight.task = task
        self._flights[key] = flight

        def forget(done: asyncio.Task[tuple[ts.Token, bool]]) -> None:
            if self._flights.get(key) is flight:
                del self._flights[key]
            if not done.cancelled():
                done.exception()  # retrieved: every waiter may have gone already

        task.add_done_callback(forget)
        return await asyncio.shield(task)

    async def _settle(
        self, key: IdemKey, flight: _Flight, mint: Mint, ttl: Callable[[ts.Token], float]
    ) -> tuple[ts.Token, bool]:
        """Claim, then mint, wait for the owner, or return the stored token."""
        delay = self._poll_initial
        try:
            while True:
                result = await self.store.claim(
                    key, flight.digest, self.lease, deadline=flight.deadline
                )
                while isinstance(result, Pending):
                    if result.digest != flight.digest:
                        raise _reused()
                    if flight.deadline is not None:
                        remaining = flight.deadline - time.monotonic()
                        if remaining <= delay:
                            raise Failure(
                                Reason.DEADLINE_EXCEEDED,
                                "The caller's deadline ran out while another call with the "
                                "same request_id was still minting; retry with the same "
                                "request_id to get its token.",
                            )
                    await asyncio.sleep(delay)
                    delay = min(self._poll_max, delay * 1.5)
                    looked = await self.store.look(key, deadline=flight.deadline)
                    if looked is None:
                        break  # the owner failed or died: claim again
                    result = looked
                if isinstance(result, Done):
                    if result.digest != flight.digest:
                        raise _reused()
                    return ts.Token.FromString(result.token), False
                if isinstance(result, Claimed):
                    return await self._mint_owned(key, flight, result.owner, mint, ttl)
        except StateUnavailable as exc:
            log.warning("state backend failed mid-call: %s", exc)
            raise state_unavailable(1.0) from None

    async def _mint_owned(
        self,
        key: IdemKey,
        flight: _Flight,
        owner: str,
        mint: Mint,
        ttl: Callable[[ts.Token], float],
    ) -> tuple[ts.Token, bool]:
        renewer = asyncio.get_running_loop().create_task(self._renew(key, owner))
        try:
            token = await self._mint_for_longest(flight, mint)
        except BaseException:
            renewer.cancel()
            await self._release(key, owner)
            raise
        renewer.cancel()
        serialized = token.SerializeToString(deterministic=True)
        seconds = ttl(token)
        try:
            stored = await self.store.complete(
                key, owner, flight.digest, serialized, seconds, deadline=_soon(flight.deadline)
            )
        except StateUnavailable as exc:
            self.late_writes += 1
            log.warning(
                "token %s minted but its idempotency entry was not written (%s); "
                "returning it and retrying the write in the background",
                token.fingerprint,
                exc,
            )
            self._spawn(self._write_late(key, owner, flight.digest, serialized, seconds))
            return token, True
        if stored != serialized:
            # Our lease had expired and a retry elsewhere stored its token first: every
            # caller of this request_id gets that one.
            log.warning(
                "token %s was minted after another replica finished the same request_id; "
                "returning the stored token instead (the lease of this mint had expired)",
                token.fingerprint,
            )
            return ts.Token.FromString(stored), False
        return token, True

    async def _mint_for_longest(self, flight: _Flight, mint: Mint) -> ts.Token:
        """Run the mint until it ends or the LONGEST waiter's deadline passes.

        The deadline is re-read as twins join, so a later twin extends it; the mint is
        cancelled only when every waiter's deadline has passed.
        """
        task: asyncio.Future[ts.Token] = asyncio.ensure_future(mint(None))
        try:
            while True:
                if flight.deadline is None:
                    return await asyncio.shield(task)
                remaining = flight.deadline - time.monotonic()
                if remaining <= 0:
                    raise Failure(
                        Reason.DEADLINE_EXCEEDED,
                        "The deadline of every caller waiting for this request_id ran out "
                        "before Google answered the mint request.",
                    )
                done, _ = await asyncio.wait({task}, timeout=remaining)
                if done:
                    return task.result()
        finally:
            if not task.done():
                task.cancel()

    async def _renew(self, key: IdemKey, owner: str) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                if not await self.store.renew(key, owner, self.lease, deadline=None):
                    log.warning("idempotency lease lost mid-mint (it expired or was taken)")
                    return
            except StateUnavailable as exc:
                log.warning("idempotency lease not renewed: %s", exc)

    async def _release(self, key: IdemKey, owner: str) -> None:
        with contextlib.suppress(StateUnavailable):
            await self.store.release(key, owner, deadline=time.monotonic() + 1.0)

    async def _write_late(
        self, key: IdemKey, owner: str, digest: bytes, token: bytes, ttl: float
    ) -> None:
        """Retry the write until it lands or the token's window closes."""
        end = time.monotonic() + ttl
        delay = 0.05
        while time.monotonic() + delay < end:
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 2)
            try:
                remaining = end - time.monotonic()
                await self.store.complete(
                    key, owner, digest, token, remaining, deadline=time.monotonic() + 1.0
                )
            except StateUnavailable:
                continue
            log.info("late idempotency write landed")
            return

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        """Stop background writes."""
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _soon(deadline: float | None) -> float:
    """The deadline for writing the result: a minted token deserves a moment more."""
    floor = time.monotonic() + 1.0
    return floor if deadline is None else max(deadline, floor)
