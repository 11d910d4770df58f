"""One contract, two adapters: every test here runs on MemoryStore and on RedisStore
against a real redis-server."""

from __future__ import annotations

import asyncio
import time

from livetokens.server.state import Claimed, Done, IdemKey, Pending, StateStore

KEY = IdemKey("caller-a", "0f8c5a61-8d3c-4b7e-9c1e-2a1f6a1d2b3c")
DIGEST = b"d" * 32
OTHER = b"e" * 32


async def test_the_first_claim_owns_the_entry_and_a_second_sees_it_pending(
    store: StateStore,
) -> None:
    """claim on an absent key → Claimed; the next claim → Pending with the digest."""
    first = await store.claim(KEY, DIGEST, 5, deadline=None)
    assert isinstance(first, Claimed)
    assert await store.claim(KEY, OTHER, 5, deadline=None) == Pending(DIGEST)
    assert await store.look(KEY, deadline=None) == Pending(DIGEST)


async def test_a_completed_entry_answers_every_later_claim_with_the_token(
    store: StateStore,
) -> None:
    """complete stores the token; claims and looks then answer Done(digest, token)."""
    claimed = await store.claim(KEY, DIGEST, 5, deadline=None)
    assert isinstance(claimed, Claimed)
    stored = await store.complete(KEY, claimed.owner, DIGEST, b"token-1", 60, deadline=None)
    assert stored == b"token-1"
    assert await store.claim(KEY, DIGEST, 5, deadline=None) == Done(DIGEST, b"token-1")
    assert await store.look(KEY, deadline=None) == Done(DIGEST, b"token-1")


async def test_callers_do_not_share_request_ids(store: StateStore) -> None:
    """The same request_id from two callers is two entries."""
    assert isinstance(await store.claim(KEY, DIGEST, 5, deadline=None), Claimed)
    other = IdemKey("caller-b", KEY.request_id)
    assert isinstance(await store.claim(other, DIGEST, 5, deadline=None), Claimed)


async def test_release_by_the_owner_lets_a_retry_claim_again(store: StateStore) -> None:
    """A failed mint releases; a stranger's release changes nothing."""
    claimed = await store.claim(KEY, DIGEST, 5, deadline=None)
    assert isinstance(claimed, Claimed)
    await store.release(KEY, "not-the-owner", deadline=None)
    assert await store.look(KEY, deadline=None) == Pending(DIGEST)
    await store.release(KEY, claimed.owner, deadline=None)
    assert await store.look(KEY, deadline=None) is None
    assert isinstance(await store.claim(KEY, DIGEST, 5, deadline=None), Claimed)


async def test_an_unrenewed_lease_expires_and_a_renewed_one_does_not(store: StateStore) -> None:
    """A dead owner's claim vanishes after its lease; a live owner's renewals keep it."""
    dead = IdemKey("caller-a", "dead")
    alive = IdemKey("caller-a", "alive")
    # A 1 s lease renewed every 0.1 s: a renewal misses only if one short sleep overruns
    # tenfold (a loaded machine once stretched 0.15 s sleeps past a 0.3 s lease).
    assert isinstance(await store.claim(dead, DIGEST, 1.0, deadline=None), Claimed)
    claimed = time.monotonic()  # the dead lease ends by claimed + 1.0
    live = await store.claim(alive, DIGEST, 1.0, deadline=None)
    assert isinstance(live, Claimed)
    renewals = 0
    while time.monotonic() < claimed + 1.2 or renewals < 3:
        await asyncio.sleep(0.1)
        assert await store.renew(alive, live.owner, 1.0, deadline=None)
        renewals += 1
    assert await store.look(dead, deadline=None) is None
    assert await store.look(alive, deadline=None) == Pending(DIGEST)
    assert not await store.renew(dead, "someone", 1.0, deadline=None)
    assert isinstance(await store.claim(dead, DIGEST, 5, deadline=None), Claimed)


async def test_a_done_entry_expires_with_its_ttl(store: StateStore) -> None:
    """The token is forgotten when its new-session window (the ttl) closes."""
    claimed = await store.claim(KEY, DIGEST, 5, deadline=None)
    assert isinstance(claimed, Claimed)
    await store.complete(KEY, claimed.owner, DIGEST, b"t", 0.2, deadline=None)
    await asyncio.sleep(0.35)
    assert await store.look(KEY, deadline=None) is None


async def test_a_late_completion_returns_the_token_stored_first(store: StateStore) -> None:
    """An owner whose lease expired and was overtaken gets the token that stands."""
    first = await store.claim(KEY, DIGEST, 0.2, deadline=None)
    assert isinstance(first, Claimed)
    await asyncio.sleep(0.3)
    second = await store.claim(KEY, DIGEST, 5, deadline=None)
    assert isinstance(second, Claimed)
    assert await store.complete(KEY, second.owner, DIGEST, b"second", 60, deadline=None) == (
        b"second"
    )
    assert await store.complete(KEY, first.owner, DIGEST, b"first", 60, deadline=None) == (
        b"second"
    )
    assert await store.look(KEY, deadline=None) == Done(DIGEST, b"second")


async def test_a_bucket_gives_its_burst_then_says_how_long_to_wait(store: StateStore) -> None:
    """Burst 2 at 1/s: two takes, then a wait of one token's time less what refilled
    meanwhile; buckets are separate."""
    started = time.monotonic()
    assert await store.take("a", 1.0, 2, deadline=None) == 0
    assert await store.take("a", 1.0, 2, deadline=None) == 0
    wait = await store.take("a", 1.0, 2, deadline=None)
    # The bucket refilled for at most `elapsed` since the first take (a loaded machine may
    # take a while between calls): the wait is exact up to that and ms rounding.
    elapsed = time.monotonic() - started
    assert 1.0 - elapsed - 0.01 < wait <= 1.0
    assert await store.take("b", 1.0, 2, deadline=None) == 0
    await asyncio.sleep(wait + 0.05)
    assert await store.take("a", 2.0, 2, deadline=None) == 0


async def test_a_lower_burst_caps_a_full_bucket(store: StateStore) -> None:
    """The rate comes from the policy in force: a smaller burst applies at once."""
    assert await store.take("a", 1 / 3600, 10, deadline=None) == 0
    assert await store.take("a", 1 / 3600, 1, deadline=None) == 0
    assert await store.take("a", 1 / 3600, 1, deadline=None) > 3000
