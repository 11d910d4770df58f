"""The in-process adapter: the default, so `make run` needs nothing.

Everything here is per process. With several replicas or ``--workers N`` each process
deduplicates only the retries that reach it and gives each caller the full rate.

Idempotency entries are bounded in bytes (``max_bytes``), not in count: an entry costs
the serialized Token, the 32-byte request digest, the key and a fixed overhead. When the
bound is reached the least recently used finished entry *of the caller holding the most
bytes* goes first, so a caller who floods ids evicts its own entries, never a lighter
caller's (max-min fairness). Expired entries are swept as time passes, not only when
looked up. In-flight (pending) entries are never evicted.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import itertools
import secrets
import time
from collections.abc import Callable

from livetokens.server.state.port import Claimed, ClaimResult, Done, IdemKey, Pending

# What an entry costs beyond its strings: the dict slot, the entry object, its LRU node
# and its expiry-heap tuple (measured with tracemalloc on CPython 3.11, rounded up).
ENTRY_OVERHEAD = 400
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


@dataclasses.dataclass
class _Entry:
    caller: str
    digest: bytes
    owner: str | None  # set while pending
    token: bytes | None  # set once done
    expires_at: float
    size: int
    serial: int


@dataclasses.dataclass
class _Bucket:
    tokens: float
    updated: float


class MemoryStore:
    """:class:`~livetokens.server.state.port.StateStore` in one process's memory.

    Counters for the metrics exporter, all plain attributes: ``entries``, ``bytes``,
    ``evictions``, ``expirations``, ``buckets``.
    """

    def __init__(
        self,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        bucket_capacity: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        owner_prefix: str = "m",
    ) -> None:
        """``clock`` is a monotonic clock in seconds (tests move it by hand)."""
        self.max_bytes = max_bytes
        self.bytes = 0
        self.evictions = 0
        self.expirations = 0
        self._clock = clock
        self._owner_prefix = owner_prefix
        self._entries: dict[IdemKey, _Entry] = {}
        # Finished entries per caller, least recently used first, and each caller's bytes.
        self._lru: dict[str, collections.OrderedDict[IdemKey, None]] = {}
        self._caller_bytes: dict[str, int] = {}
        self._heaviest: list[tuple[int, str]] = []  # lazy max-heap of (-bytes, caller)
        self._expiry: list[tuple[float, int, IdemKey]] = []
        self._serials = itertools.count()
        self._bucket_capacity = bucket_capacity
        self._buckets: collections.OrderedDict[str, _Bucket] = collections.OrderedDict()

    @property
    def name(self) -> str:
        """``memory``."""
        return "memory"

    @property
    def entries(self) -> int:
        """Idempotency entries held (pending and done)."""
        return len(self._entries)

    @property
    def buckets(self) -> int:
        """Rate-limit buckets held."""
        return len(self._buckets)

    # Idempotency ---------------------------------------------------------------------

    async def claim(
        self, key: IdemKey, digest: bytes, lease: float, *, deadline: float | None
    ) -> ClaimResult:
        """Pending for us when absent; otherwise what is there."""
        now = self._clock()
        self._sweep(now)
        entry = self._entries.get(key)
        if entry is not None:
            return self._result(key, entry)
        owner = f"{self._owner_prefix}{secrets.token_hex(8)}"
        self._put(key, _Entry(key.caller, digest, owner, None, now + lease, 0, 0))
        return Claimed(owner)

    async def renew(
        self, key: IdemKey, owner: str, lease: float, *, deadline: float | None
    ) -> bool:
        """Push the lease out while the owner still holds the entry."""
        now = self._clock()
        self._sweep(now)
        entry = self._entries.get(key)
        if entry is None or entry.owner != owner:
            return False
        self._put(key, dataclasses.replace(entry, expires_at=now + lease))
        return True

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
        """Keep ``token`` for ``ttl`` seconds, unless an equal request finished first."""
        now = self._clock()
        self._sweep(now)
        entry = self._entries.get(key)
        if entry is not None and entry.token is not None:
            return entry.token if entry.digest == digest else token
        if ttl > 0:
            self._put(key, _Entry(key.caller, digest, None, token, now + ttl, 0, 0))
            self._evict()
        elif entry is not None:
            self._drop(key)
        return token

    async def release(self, key: IdemKey, owner: str, *, deadline: float | None) -> None:
        """Forget the entry if it is still pending under ``owner``."""
        entry = self._entries.get(key)
        if entry is not None and entry.owner == owner:
            self._drop(key)

    async def look(self, key: IdemKey, *, deadline: float | None) -> Pending | Done | None:
        """The live entry for ``key``, if any."""
        self._sweep(self._clock())
        entry = self._entries.get(key)
        if entry is None:
            return None
        result = self._result(key, entry)
        assert not isinstance(result, Claimed)
        return result

    def _result(self, key: IdemKey, entry: _Entry) -> Pending | Done:
        if entry.token is None:
            return Pending(entry.digest)
        self._lru[entry.caller].move_to_end(key)
        return Done(entry.digest, entry.token)

    def _put(self, key: IdemKey, entry: _Entry) -> None:
        if key in self._entries:
            self._drop(key)
        entry.size = (
            len(entry.digest) + len(entry.token or b"") + len(key.caller) + len(key.request_id)
        ) + ENTRY_OVERHEAD
        entry.serial = next(self._serials)
        self._entries[key] = entry
        self.bytes += entry.size
        self._add_caller_bytes(entry.caller, entry.size)
        if entry.token is not None:
            self._lru.setdefault(entry.caller, collections.OrderedDict())[key] = None
        heapq.heappush(self._expiry, (entry.expires_at, entry.serial, key))

    def _drop(self, key: IdemKey) -> None:
        entry = self._entries.pop(key)
        self.bytes -= entry.size
        self._add_caller_bytes(entry.caller, -entry.size)
        lru = self._lru.get(entry.caller)
        if lru is not None:
            lru.pop(key, None)
            if not lru:
                del self._lru[entry.caller]

    def _add_caller_bytes(self, caller: str, delta: int) -> None:
        total = self._caller_bytes.get(caller, 0) + delta
        if total <= 0:
            self._caller_bytes.pop(caller, None)
            return
        self._caller_bytes[caller] = total
        heapq.heappush(self._heaviest, (-total, caller))

    def _sweep(self, now: float) -> None:
        """Drop every entry whose time is up (amortised: each heap item is popped once)."""
        while self._expiry and self._expiry[0][0] <= now:
            _, serial, key = heapq.heappop(self._expiry)
            entry = self._entries.get(key)
            if entry is not None and entry.serial == serial:
                self._drop(key)
                self.expirations += 1
        if len(self._expiry) > 4 * len(self._entries) + 1024:
            # Renewals leave stale heap items behind; rebuild now and then.
            self._expiry = [(e.expires_at, e.serial, k) for k, e in self._entries.items()]
            heapq.heapify(self._expiry)

    def _evict(self) -> None:
        """Over the byte bound: the heaviest caller loses its least recently used entry."""
        while self.bytes > self.max_bytes and self._heaviest:
            negative, caller = self._heaviest[0]
            current = self._caller_bytes.get(caller, 0)
            lru = self._lru.get(caller)
            if -negative != current or not lru:
                heapq.heappop(self._heaviest)  # stale, or only pending entries left
                continue
            victim = next(iter(lru))
            self._drop(victim)
            self.evictions += 1
        if len(self._heaviest) > 4 * len(self._caller_bytes) + 1024:
            self._heaviest = [(-b, c) for c, b in self._caller_bytes.items()]
            heapq.heapify(self._heaviest)

    # Rate limits -----------------------------------------------------------------------

    async def take(
        self, bucket: str, per_second: float, burst: int, *, deadline: float | None
    ) -> float:
        """One token from ``bucket``; at most ``bucket_capacity`` buckets, LRU first out
        (a forgotten bucket comes back full)."""
        now = self._clock()
        state = self._buckets.get(bucket)
        if state is None:
            state = _Bucket(float(burst), now)
            self._buckets[bucket] = state
            while len(self._buckets) > self._bucket_capacity:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(bucket)
            elapsed = max(0.0, now - state.updated)
            state.tokens = min(float(burst), state.tokens + elapsed * per_second)
            state.updated = now
        if state.tokens >= 1.0:
            state.tokens -= 1.0
            return 0.0
        return (1.0 - state.tokens) / per_second

    async def aclose(self) -> None:
        """Nothing to close."""
