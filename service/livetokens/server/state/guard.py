"""What happens when the shared backend is down or slow (``--state-failure-mode``).

``closed`` (the default): the call fails with UNAVAILABLE / STATE_UNAVAILABLE and
RetryInfo; nothing is minted without the shared claim, so a retry balanced to another
replica can never mint a second token silently.

``local``: the call goes on with this process's own memory (local-only deduplication
and rate limits), logged once per outage and counted per call. Availability is kept at
the price of what the backend promised: while it is down a retry on another replica
mints again, and every replica gives a caller its full rate.

A failed call is answered per the mode at once. ``trip_after`` failures in a row (no
success between) open a short circuit (``reopen_after`` seconds) during which the
backend is not asked, so a dead or hung Redis costs callers nothing but one wait; after
it the next call probes the backend again, and the first success closes the circuit
(recovery needs nobody). One slow call under load does not open it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Literal, TypeVar

from livetokens.server.errors import Failure, Reason
from livetokens.server.state.memory import MemoryStore
from livetokens.server.state.port import (
    ClaimResult,
    Done,
    IdemKey,
    Pending,
    StateStore,
    StateUnavailable,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
FailureMode = Literal["closed", "local"]
LOCAL_OWNER_PREFIX = "l"


def state_unavailable(retry_after: float) -> Failure:
    """The caller's view of an unavailable backend: UNAVAILABLE with RetryInfo."""
    delay = timedelta(milliseconds=max(1, round(retry_after * 1000)))
    return Failure(
        Reason.STATE_UNAVAILABLE,
        "livetokens could not reach its shared state backend, so it did not mint (a "
        f"mint without it could duplicate a token); retry after {delay.total_seconds():g}s.",
        retry_delay=delay,
    )


class GuardedStore:
    """A StateStore that applies the failure mode to a shared ``primary``.

    Counters (plain attributes): ``unavailable_events`` (calls refused, closed mode),
    ``degraded_events`` (calls served from local memory, local mode), ``outages``;
    ``down`` while the circuit is open. Exported by :mod:`livetokens.server.state_metrics`.
    """

    def __init__(
        self,
        primary: StateStore,
        *,
        mode: FailureMode = "closed",
        local: MemoryStore | None = None,
        reopen_after: float = 1.0,
        trip_after: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``local`` is the memory used in ``local`` mode (one is made when None)."""
        self.primary = primary
        self.mode = mode
        self.local = local or MemoryStore(owner_prefix=LOCAL_OWNER_PREFIX)
        self.reopen_after = reopen_after
        self.unavailable_events = 0
        self.degraded_events = 0
        self.outages = 0
        self._clock = clock
        self.trip_after = trip_after
        self._retry_at = 0.0
        self._down = False
        self._failures_in_a_row = 0
        self._prober: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        """The primary's name and the mode."""
        return f"{self.primary.name} (fail {self.mode})"

    @property
    def down(self) -> bool:
        """Whether the last call to the backend failed (the circuit is open)."""
        return self._down

    async def _guarded(
        self, what: str, primary: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]
    ) -> T:
        if not self._down or self._clock() >= self._retry_at:
            try:
                result = await primary()
            except StateUnavailable as exc:
                self._failed(what, exc)
            else:
                self._succeeded()
                return result
        if self.mode == "closed":
            self.unavailable_events += 1
            raise state_unavailable(max(self._retry_at - self._clock(), self.reopen_after))
        self.degraded_events += 1
        return await local()

    def _succeeded(self) -> None:
        self._failures_in_a_row = 0
        if self._down:
            self._down = False
            log.warning("state backend %s is back; shared state in force again", self.primary.name)

    def _failed(self, what: str, exc: StateUnavailable) -> None:
        self._failures_in_a_row += 1
        if self._failures_in_a_row < self.trip_after and not self._down:
            log.warning("state backend %s: %s", self.primary.name, exc)
            return
        self._retry_at = self._clock() + self.reopen_after
        if not self._down:
            self._down = True
            self.outages += 1
            consequence = (
                "refusing mints with STATE_UNAVAILABLE until it answers"
                if self.mode == "closed"
                else "DEGRADED: deduplication and rate limits are local to this process "
                "until it answers"
            )
            log.error(
                "state backend %s failed (%s): %s; %s", self.primary.name, what, exc, consequence
            )

    async def claim(
        self, key: IdemKey, digest: bytes, lease: float, *, deadline: float | None
    ) -> ClaimResult:
        """Claim in the backend, or per the failure mode."""
        return await self._guarded(
            "claim",
            lambda: self.primary.claim(key, digest, lease, deadline=deadline),
            lambda: self.local.claim(key, digest, lease, deadline=deadline),
        )

    async def look(self, key: IdemKey, *, deadline: float | None) -> Pending | Done | None:
        """Look in the backend, or per the failure mode."""
        return await self._guarded(
            "look",
            lambda: self.primary.look(key, deadline=deadline),
            lambda: self.local.look(key, deadline=deadline),
        )

    async def take(
        self, bucket: str, per_second: float, burst: int, *, deadline: float | None
    ) -> float:
        """Take from the shared bucket, or per the failure mode."""
        return await self._guarded(
            "take",
            lambda: self.primary.take(bucket, per_second, burst, deadline=deadline),
            lambda: self.local.take(bucket, per_second, burst, deadline=deadline),
        )

    def _owner_store(self, owner: str) -> StateStore:
        return self.local if owner.startswith(LOCAL_OWNER_PREFIX) else self.primary

    async def renew(
        self, key: IdemKey, owner: str, lease: float, *, deadline: float | None
    ) -> bool:
        """Renew where the claim was made (raises StateUnavailable from the backend)."""
        return await self._owner_store(owner).renew(key, owner, lease, deadline=deadline)

    async def complete(
        self,
        key: IdemKey,
        owner: str,
        digest: bytes,
        token: bytes,
        ttl: float,
        *,
        deadline: float | None,
    ) -> bytes:
        """Complete where the claim was made (raises StateUnavailable from the backend)."""
        store = self._owner_store(owner)
        return await store.complete(key, owner, digest, token, ttl, deadline=deadline)

    async def release(self, key: IdemKey, owner: str, *, deadline: float | None) -> None:
        """Release where the claim was made (raises StateUnavailable from the backend)."""
        await self._owner_store(owner).release(key, owner, deadline=deadline)

    async def check(self) -> str:
        """Ask the backend once at start-up; a sentence for the log. An unreachable
        backend does not stop the server: calls follow the failure mode until it answers."""
        ping = getattr(self.primary, "ping", None)
        if ping is None:
            return f"state backend {self.name}"
        try:
            await ping(deadline=time.monotonic() + 2.0)
        except StateUnavailable as exc:
            return (
                f"state backend {self.name} is NOT reachable ({exc}); calls that need it "
                f"follow --state-failure-mode {self.mode} until it answers"
            )
        return f"state backend {self.name} reachable"

    async def probe(self) -> None:
        """Ping the backend once, outside any call: failures count toward opening the
        circuit and a success closes it, so ``down`` (the ``livetokens_state_backend_up``
        gauge) follows the backend on a replica that gets no calls too."""
        ping = getattr(self.primary, "ping", None)
        if ping is None:
            return
        try:
            await ping(deadline=time.monotonic() + 2.0)
        except StateUnavailable as exc:
            self._failed("probe", exc)
        else:
            self._succeeded()

    def start_probing(self, interval: float) -> None:
        """Run :meth:`probe` every ``interval`` seconds until :meth:`aclose`."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                await self.probe()

        if self._prober is None:
            self._prober = asyncio.get_running_loop().create_task(loop())

    async def aclose(self) -> None:
        """Stop probing and close the backend."""
        if self._prober is not None:
            self._prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prober
            self._prober = None
        await self.primary.aclose()
