"""Idempotent retries by `request_id` (AIP-155), with single-flight for concurrent twins.

A mint with a request_id runs as its own task: every call with the same caller and
id awaits that one task, so a client that retries after its deadline (or while the
first call is still in flight) gets the token already minted instead of a second
credential. An entry lives until the token's new-session window closes (after that
the token cannot start a session, so returning it again is useless) and at most
``capacity`` entries are kept (least recently used go first).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import time
from collections.abc import Awaitable, Callable

from livetokens.server.errors import Failure, FieldViolation, Reason
from livetokens.v1 import token_service_pb2 as ts


@dataclasses.dataclass
class _Entry:
    digest: bytes
    task: asyncio.Future[ts.Token]
    expires_at: float


def request_digest(request: ts.TokenRequest) -> bytes:
    """A digest of everything in the request except its request_id."""
    copy = ts.TokenRequest()
    copy.CopyFrom(request)
    copy.ClearField("request_id")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).digest()


class IdempotencyCache:
    """Remembers minted tokens by (caller, request_id)."""

    def __init__(self, capacity: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = capacity
        self._clock = clock
        self._entries: collections.OrderedDict[tuple[str, str], _Entry] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def approx_bytes(self) -> int:
        """Roughly the memory the remembered tokens hold: their serialized size plus
        the keys (for the metrics; O(entries), read at scrape time)."""
        total = 0
        for (caller, request_id), entry in list(self._entries.items()):
            total += len(caller) + len(request_id) + len(entry.digest)
            if entry.task.done() and not entry.task.cancelled() and not entry.task.exception():
                total += entry.task.result().ByteSize()
        return total

    async def run(
        self,
        caller: str,
        request: ts.TokenRequest,
        mint: Callable[[], Awaitable[ts.Token]],
        ttl: Callable[[ts.Token], float],
    ) -> ts.Token:
        """The token for this (caller, request_id): the remembered one, or ``mint()``'s.

        ``ttl(token)`` says how many seconds to remember a fresh token.
        """
        key = (caller, request.request_id.lower())
        digest = request_digest(request)
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= now:
            del self._entries[key]
            entry = None
        if entry is not None:
            if entry.digest != digest:
                raise Failure(
                    Reason.REQUEST_ID_REUSED,
                    "request_id was already used for a different request; use a new "
                    "UUID4 for a new request.",
                    field_violations=[
                        FieldViolation("request_id", "was used before with a different request")
                    ],
                )
            self._entries.move_to_end(key)
            return await asyncio.shield(entry.task)

        task: asyncio.Future[ts.Token] = asyncio.ensure_future(mint())
        entry = _Entry(digest, task, float("inf"))
        self._entries[key] = entry
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

        def settle(done: asyncio.Future[ts.Token]) -> None:
            if done.cancelled() or done.exception() is not None:
                # A failed mint is forgotten, so a retry mints afresh.
                if self._entries.get(key) is entry:
                    del self._entries[key]
            else:
                entry.expires_at = self._clock() + ttl(done.result())

        task.add_done_callback(settle)
        return await asyncio.shield(task)
