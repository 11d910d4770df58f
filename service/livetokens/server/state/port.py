"""The one port through which livetokens shares state: idempotency claims and rate buckets.

The use case (idempotency.py, security/ratelimit.py) talks only to :class:`StateStore`;
which adapter sits behind it (memory.py in-process, redis_store.py shared, guard.py for
failure modes) is chosen once at start-up (build.py). Every call carries the caller's
deadline (a ``time.monotonic()`` instant, or None) so no call outlives the RPC it serves.

Idempotency protocol, one entry per (caller, request_id):

- ``claim`` atomically turns an absent entry into *pending* (owned by the claimant, kept
  for ``lease`` seconds unless renewed) and answers :class:`Claimed`; otherwise it answers
  what is there: :class:`Pending` (someone else is minting) or :class:`Done`.
- The owner ``renew``\\ s its lease while it mints, then ``complete``\\ s with the serialized
  Token (kept ``ttl`` seconds), or ``release``\\ s on failure so that a retry mints afresh.
- A twin ``look``\\ s until the entry is done or gone. An owner that dies stops renewing:
  its lease expires, the entry disappears and a retry can claim it.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol


class StateUnavailable(Exception):
    """The state backend did not answer in time or at all (never shown to callers as is)."""


@dataclasses.dataclass(frozen=True)
class IdemKey:
    """Whose request, and its request_id (lower-cased: UUIDs compare case-insensitively)."""

    caller: str
    request_id: str


@dataclasses.dataclass(frozen=True)
class Claimed:
    """This call owns the entry; ``owner`` proves it to renew, complete and release."""

    owner: str


@dataclasses.dataclass(frozen=True)
class Pending:
    """Another call owns the entry and is minting the request with this digest."""

    digest: bytes


@dataclasses.dataclass(frozen=True)
class Done:
    """The request with this digest was minted: ``token`` is the serialized Token."""

    digest: bytes
    token: bytes


ClaimResult = Claimed | Pending | Done


class StateStore(Protocol):
    """Shared, expiring, atomic state. Raises :class:`StateUnavailable` when it cannot answer."""

    @property
    def name(self) -> str:
        """A short description for logs ("memory", "redis://host:port/0")."""
        ...

    async def claim(
        self, key: IdemKey, digest: bytes, lease: float, *, deadline: float | None
    ) -> ClaimResult:
        """Claim ``key`` for minting, or say who has it."""
        ...

    async def renew(
        self, key: IdemKey, owner: str, lease: float, *, deadline: float | None
    ) -> bool:
        """Extend the owner's lease; False when the entry is no longer ``owner``'s."""
        ...

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
        """Store the minted token for ``ttl`` seconds and return the token that now stands
        for ``key``: ours, or one another claimant stored first (so every caller of one
        request_id gets the same token)."""
        ...

    async def release(self, key: IdemKey, owner: str, *, deadline: float | None) -> None:
        """Forget an entry still pending under ``owner`` (its mint failed)."""
        ...

    async def look(self, key: IdemKey, *, deadline: float | None) -> Pending | Done | None:
        """What is stored for ``key`` now (None: nothing, or an expired lease)."""
        ...

    async def take(
        self, bucket: str, per_second: float, burst: int, *, deadline: float | None
    ) -> float:
        """Take one token from ``bucket`` (created full): 0.0 when granted, else the
        seconds until the next token."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
