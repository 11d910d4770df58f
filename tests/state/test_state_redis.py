"""The Redis adapter on a real redis-server: key layout, sharing between replicas,
deadlines, outages, recovery and ACL authentication."""

from __future__ import annotations

import asyncio
import datetime
import logging
import pathlib
import time

import pytest
import redis.asyncio as aioredis
from redis_support import RedisServer

from livetokens.server.errors import Failure, Reason
from livetokens.server.state import (
    Claimed,
    Done,
    GuardedStore,
    IdemKey,
    Pending,
    StateUnavailable,
)
from livetokens.server.state.redis_store import RedisStore, redact

KEY = IdemKey("spiffe://example.org/billing", "0F8C5A61-8D3C-4B7E-9C1E-2A1F6A1D2B3C".lower())
DIGEST = b"d" * 32


async def test_keys_are_namespaced_hash_tagged_hashed_and_expiring(
    redis_server: RedisServer,
) -> None:
    """Every key is livetokens:{...}: its own Cluster slot, no caller or id in clear, a TTL."""
    store = RedisStore(redis_server.url)
    raw = aioredis.Redis.from_url(redis_server.url)
    try:
        claimed = await store.claim(KEY, DIGEST, 5, deadline=None)
        assert isinstance(claimed, Claimed)
        await store.complete(KEY, claimed.owner, DIGEST, b"tok", 60, deadline=None)
        await store.take(KEY.caller, 1.0, 5, deadline=None)
        keys = sorted(k.decode() for k in await raw.keys("*"))
        assert len(keys) == 2
        for key in keys:
            assert key.startswith("livetokens:{")
            assert key.endswith("}")
            assert "billing" not in key
            assert KEY.request_id not in key
            assert 0 < await raw.pttl(key) <= 60_000
        entry = await raw.hgetall(store.entry_key(KEY))
        assert entry == {b"s": b"D", b"d": DIGEST, b"c": KEY.caller.encode(), b"t": b"tok"}
    finally:
        await raw.aclose()
        await store.aclose()


async def test_two_replicas_share_one_claim(redis_server: RedisServer) -> None:
    """A claim made through one client is Pending through another, then Done for both."""
    one, two = RedisStore(redis_server.url), RedisStore(redis_server.url)
    try:
        claimed = await one.claim(KEY, DIGEST, 5, deadline=None)
        assert isinstance(claimed, Claimed)
        assert await two.claim(KEY, DIGEST, 5, deadline=None) == Pending(DIGEST)
        await one.complete(KEY, claimed.owner, DIGEST, b"tok", 60, deadline=None)
        assert await two.claim(KEY, DIGEST, 5, deadline=None) == Done(DIGEST, b"tok")
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_bucket_is_shared_between_replicas(redis_server: RedisServer) -> None:
    """Burst 3 across two clients: three takes in all, and both see the same wait."""
    one, two = RedisStore(redis_server.url), RedisStore(redis_server.url)
    try:
        started = time.monotonic()
        results = [await s.take("app", 1.0, 3, deadline=None) for s in (one, two, one)]
        assert results == [0, 0, 0]
        wait = await two.take("app", 1.0, 3, deadline=None)
        # One token's time less what refilled since the first take (however slow the
        # machine was between calls), up to ms rounding.
        elapsed = time.monotonic() - started
        assert 1.0 - elapsed - 0.01 < wait <= 1.0
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_hung_redis_costs_at_most_the_callers_deadline(
    redis_server: RedisServer,
) -> None:
    """SIGSTOPped Redis: the call ends with StateUnavailable when the deadline is up."""
    store = RedisStore(redis_server.url, call_timeout=30)
    await store.take("warm", 1, 1, deadline=None)
    redis_server.pause()
    try:
        guard = GuardedStore(store)
        async with asyncio.timeout(5):  # a bound on the test, not a speed assertion
            with pytest.raises(Failure) as caught:
                await guard.take("app", 1, 1, deadline=time.monotonic() + 0.2)
        assert caught.value.reason is Reason.STATE_UNAVAILABLE
        assert caught.value.retry_delay is not None
    finally:
        redis_server.resume()
        await store.aclose()


async def test_fail_closed_refuses_until_redis_returns_then_recovers(
    tmp_path: pathlib.Path,
) -> None:
    """Closed mode: STATE_UNAVAILABLE with RetryInfo while down, shared state after."""
    server = RedisServer(tmp_path / "r")
    server.start()
    guard = GuardedStore(RedisStore(server.url), mode="closed", reopen_after=0.1, trip_after=1)
    try:
        assert await guard.take("app", 1, 5, deadline=None) == 0
        server.kill()
        with pytest.raises(Failure) as caught:
            await guard.claim(KEY, DIGEST, 5, deadline=time.monotonic() + 2)
        assert caught.value.reason is Reason.STATE_UNAVAILABLE
        assert caught.value.code.name == "UNAVAILABLE"
        assert guard.unavailable_events >= 1
        assert guard.down
        server.start()
        await asyncio.sleep(0.15)
        assert isinstance(await guard.claim(KEY, DIGEST, 5, deadline=None), Claimed)
        assert not guard.down
        assert guard.outages == 1
    finally:
        await guard.aclose()
        server.stop()


async def test_local_mode_carries_on_in_memory_logged_and_counted(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Local mode: claims and buckets from memory while Redis is down, counted, logged once."""
    server = RedisServer(tmp_path / "r")
    server.start()
    guard = GuardedStore(RedisStore(server.url), mode="local", reopen_after=0.1, trip_after=1)
    try:
        server.kill()
        with caplog.at_level(logging.ERROR):
            claimed = await guard.claim(KEY, DIGEST, 5, deadline=None)
            assert isinstance(claimed, Claimed)
            assert await guard.claim(KEY, DIGEST, 5, deadline=None) == Pending(DIGEST)
            assert await guard.take("app", 1, 1, deadline=None) == 0
        assert guard.degraded_events == 3
        assert sum("DEGRADED" in r.getMessage() for r in caplog.records) == 1
        await guard.complete(KEY, claimed.owner, DIGEST, b"tok", 60, deadline=None)
        assert await guard.local.look(KEY, deadline=None) == Done(DIGEST, b"tok")
        server.start()
        await asyncio.sleep(0.15)
        assert await guard.look(KEY, deadline=None) is None  # Redis again, not memory
        assert not guard.down
    finally:
        await guard.aclose()
        server.stop()


async def test_an_acl_user_with_a_password_is_required(tmp_path: pathlib.Path) -> None:
    """ACL: the livetokens user with its password works; the default user is off; a wrong
    password is StateUnavailable (the password never shows in the name)."""
    acl = [
        "--user", "default", "off",
        "--user", "livetokens", "on", ">s3cret-pass", "~livetokens:*",
        "+@read", "+@write", "+@scripting", "+time", "+ping", "-@dangerous",
    ]  # fmt: skip
    server = RedisServer(tmp_path / "r", extra=acl)
    server.start()
    url = f"redis://livetokens@127.0.0.1:{server.port}/0"
    good = RedisStore(url, password="s3cret-pass")
    bad = RedisStore(url, password="wrong")
    anonymous = RedisStore(server.url)
    try:
        assert isinstance(await good.claim(KEY, DIGEST, 5, deadline=None), Claimed)
        assert await good.take("app", 1, 1, deadline=None) == 0
        for refused in (bad, anonymous):
            with pytest.raises(StateUnavailable, match="Error"):
                await refused.look(KEY, deadline=None)
        assert "s3cret" not in good.name
        assert redact("redis://u:pw@h:1/0") == "redis://u:***@h:1/0"
    finally:
        for store in (good, bad, anonymous):
            await store.aclose()
        server.stop()


def _tls_files(folder: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
    """A CA and a certificate for 127.0.0.1 signed by it, made now (cert, key, ca)."""
    from livetokens.emulator.pki import CertificateAuthority

    ca = CertificateAuthority("redis test CA", lifetime=datetime.timedelta(hours=1))
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = ca.issue("redis", ["127.0.0.1"]).write(folder, "redis")
    ca_path = folder / "ca.crt"
    ca_path.write_bytes(ca.pem)
    return cert, key, ca_path


async def test_rediss_speaks_tls_verified_against_the_given_ca(tmp_path: pathlib.Path) -> None:
    """rediss:// with ssl_ca_certs works against a TLS-only Redis; without the CA the
    server is not trusted and the call fails (StateUnavailable)."""
    cert, key, ca = _tls_files(tmp_path / "pki")
    server = RedisServer(tmp_path / "r", tls=True)
    server.extra = [
        "--tls-cert-file", str(cert), "--tls-key-file", str(key),
        "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no",
    ]  # fmt: skip
    server.start()
    trusted = RedisStore(f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={ca}")
    untrusted = RedisStore(f"rediss://127.0.0.1:{server.port}/0")
    plaintext = RedisStore(f"redis://127.0.0.1:{server.port}/0", call_timeout=1)
    try:
        assert isinstance(await trusted.claim(KEY, DIGEST, 5, deadline=None), Claimed)
        for refused in (untrusted, plaintext):
            with pytest.raises(StateUnavailable):
                await refused.look(KEY, deadline=None)
    finally:
        for store in (trusted, untrusted, plaintext):
            await store.aclose()
        server.stop()
