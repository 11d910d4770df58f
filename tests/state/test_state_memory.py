"""The in-memory adapter's bounds (issue #9): bytes, not entries; expired entries swept;
one caller cannot evict another's entries; only the token and the digest are kept."""

from __future__ import annotations

import uuid

from livetokens.server.idempotency import IdempotencyCache
from livetokens.server.state import Claimed, Done, IdemKey, MemoryStore
from livetokens.server.state.memory import ENTRY_OVERHEAD
from livetokens.v1 import token_service_pb2 as ts


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def fill(store: MemoryStore, caller: str, count: int, token: bytes, ttl: float = 60) -> None:
    for _ in range(count):
        key = IdemKey(caller, str(uuid.uuid4()))
        claimed = await store.claim(key, b"d" * 32, 5, deadline=None)
        assert isinstance(claimed, Claimed)
        await store.complete(key, claimed.owner, b"d" * 32, token, ttl, deadline=None)


async def test_the_store_never_holds_more_bytes_than_its_bound() -> None:
    """10,000 one-KB tokens into a 1 MB bound: bytes stay under it, evictions are counted."""
    store = MemoryStore(max_bytes=1_000_000)
    await fill(store, "a", 10_000, b"x" * 1000)
    assert store.bytes <= 1_000_000
    assert store.evictions > 0
    assert store.entries < 10_000


async def test_a_flooding_caller_evicts_its_own_entries_not_a_light_callers() -> None:
    """Caller B's ten entries survive caller A minting 20,000 fresh request ids."""
    store = MemoryStore(max_bytes=1_000_000)
    b_keys = [IdemKey("b", str(uuid.uuid4())) for _ in range(10)]
    for key in b_keys:
        claimed = await store.claim(key, b"d" * 32, 5, deadline=None)
        assert isinstance(claimed, Claimed)
        await store.complete(key, claimed.owner, b"d" * 32, b"b-token", 60, deadline=None)
    await fill(store, "a", 20_000, b"x" * 200)
    for key in b_keys:
        assert await store.look(key, deadline=None) == Done(b"d" * 32, b"b-token")
    assert store.bytes <= 1_000_000


async def test_expired_entries_are_swept_without_being_looked_up() -> None:
    """Entries whose window closed leave memory as time passes, even if never asked for."""
    clock = Clock()
    store = MemoryStore(clock=clock)
    await fill(store, "a", 1000, b"t", ttl=60)
    assert store.entries == 1000
    clock.now += 61
    await fill(store, "b", 1, b"t", ttl=60)  # any later call sweeps
    assert store.entries == 1
    assert store.expirations == 1000
    assert store.bytes == store.entries * (ENTRY_OVERHEAD + 32 + 1 + 1 + 36)


async def test_only_the_token_and_the_digest_are_kept_not_the_request() -> None:
    """A 100 KB request costs its 32-byte digest and its Token, not 100 KB."""
    store = MemoryStore()
    cache = IdempotencyCache(store)
    request = ts.TokenRequest(
        request_id=str(uuid.uuid4()),
        constraints=ts.LiveConstraints(model="m" * 100_000),
    )
    token = ts.Token(name="auth_tokens/abc", fingerprint="fp")

    async def mint(deadline: float | None) -> ts.Token:
        return token

    got, fresh = await cache.run("a", request, mint, ttl=lambda t: 60, deadline=None)
    assert (got, fresh) == (token, True)
    assert store.entries == 1
    assert store.bytes == (
        ENTRY_OVERHEAD + 32 + len(token.SerializeToString()) + 1 + len(request.request_id)
    )
