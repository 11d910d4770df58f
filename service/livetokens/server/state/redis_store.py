"""The Redis adapter: idempotency claims and token buckets shared by every replica.

redis-py's asyncio client against Redis 7 (standalone, or a Cluster through a proxy that
speaks the same commands). Each operation is one Lua script on ONE key, so it is atomic
and Cluster-safe: every key carries a hash tag (``livetokens:{i:<hash>}``) that is its
own slot. Keys hold a hash of SHA-256 of the caller and request_id, never the raw id, so
a key in ``redis-cli --scan`` shows neither.

Every call is bounded by the caller's deadline and by ``call_timeout``; any failure
(refused, reset, timed out, NOSCRIPT storm, OOM...) surfaces as :class:`StateUnavailable`
and the guard (guard.py) decides what the caller gets. redis-py's own retries are off:
retrying is the guard's and the client's business, inside the deadline.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from livetokens.server.state.port import (
    Claimed,
    ClaimResult,
    Done,
    IdemKey,
    Pending,
    StateUnavailable,
)

log = logging.getLogger(__name__)

# Hash fields: s = state (P pending, D done), d = request digest, o = owner of a pending
# claim, c = caller, t = the serialized Token.
_CLAIM = """
local s = redis.call('HGET', KEYS[1], 's')
if not s then
  redis.call('HSET', KEYS[1], 's', 'P', 'd', ARGV[1], 'o', ARGV[2], 'c', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {'C'}
end
if s == 'P' then
  return {'P', redis.call('HGET', KEYS[1], 'd')}
end
local v = redis.call('HMGET', KEYS[1], 'd', 't')
return {'D', v[1], v[2]}
"""

_RENEW = """
local v = redis.call('HMGET', KEYS[1], 's', 'o')
if v[1] == 'P' and v[2] == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# Done already (a twin whose lease expired under us finished first): theirs stands when it
# is the same request. Otherwise ours is stored, whoever holds the pending marker.
_COMPLETE = """
local v = redis.call('HMGET', KEYS[1], 's', 'd', 't')
if v[1] == 'D' then
  if v[2] == ARGV[1] then return v[3] end
  return ARGV[3]
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 's', 'D', 'd', ARGV[1], 'c', ARGV[2], 't', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return ARGV[3]
"""

_RELEASE = """
local v = redis.call('HMGET', KEYS[1], 's', 'o')
if v[1] == 'P' and v[2] == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# A token bucket on Redis' own clock (TIME), so replicas with skewed clocks agree.
# Returns 0 when a token was taken, else the seconds until the next one (as a string:
# Lua numbers would be truncated to integers in the reply).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'n', 'u')
local tokens = tonumber(v[1])
local updated = tonumber(v[2])
if tokens == nil or updated == nil then
  tokens = burst
  updated = now
end
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'n', string.format('%.17g', tokens), 'u', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return string.format('%.17g', wait)
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def redact(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    netloc = f"{parts.username}:***@{netloc}" if parts.username else f"***@{netloc}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


class RedisStore:
    """:class:`~livetokens.server.state.port.StateStore` on Redis.

    Counters (plain attributes): ``calls``, ``failures``.
    """

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        call_timeout: float = 1.0,
        max_connections: int = 128,
        prefix: str = "livetokens",
    ) -> None:
        """``url`` is ``redis://[user@]host:port/db`` or ``rediss://`` (TLS; query
        parameters such as ``ssl_ca_certs=/path/ca.pem`` are passed to redis-py).
        ``password`` (for the ACL user) wins over one in the URL."""
        extra: dict[str, Any] = {}
        if password is not None:
            extra["password"] = password
        self._pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=None,  # waiting for a free connection is bounded by _call's timeout
            socket_connect_timeout=call_timeout,
            socket_timeout=call_timeout,
            retry=Retry(NoBackoff(), 0),
            **extra,
        )
        self._client = aioredis.Redis(connection_pool=self._pool)
        self._url = redact(url)
        self._timeout = call_timeout
        self._prefix = prefix
        self._claim = self._client.register_script(_CLAIM)
        self._renew = self._client.register_script(_RENEW)
        self._complete = self._client.register_script(_COMPLETE)
        self._release = self._client.register_script(_RELEASE)
        self._take = self._client.register_script(_TAKE)
        self.calls = 0
        self.failures = 0

    @property
    def name(self) -> str:
        """The URL without its password."""
        return self._url

    def entry_key(self, key: IdemKey) -> str:
        """The Redis key of an idempotency entry (its own hash slot)."""
        digest = hashlib.sha256(f"{key.caller}\0{key.request_id}".encode()).hexdigest()[:40]
        return f"{self._prefix}:{{i:{digest}}}"

    def bucket_key(self, bucket: str) -> str:
        """The Redis key of a rate bucket (its own hash slot)."""
        digest = hashlib.sha256(bucket.encode()).hexdigest()[:40]
        return f"{self._prefix}:{{r:{digest}}}"

    async def _call(
        self, what: str, op: Callable[[], Awaitable[Any]], deadline: float | None
    ) -> Any:
        """``op()`` within min(call_timeout, time to the deadline); every failure is
        StateUnavailable."""
        timeout = self._timeout
        if deadline is not None:
            timeout = min(timeout, deadline - time.monotonic())
        self.calls += 1
        if timeout <= 0:
            self.failures += 1
            raise StateUnavailable(f"{what}: the caller's deadline left no time for Redis")
        try:
            async with asyncio.timeout(timeout):
                return await op()
        except TimeoutError:
            self.failures += 1
            raise StateUnavailable(f"{what}: Redis did not answer within {timeout:.3f}s") from None
        except (RedisError, OSError) as exc:
            self.failures += 1
            raise StateUnavailable(f"{what}: {type(exc).__name__}: {exc}") from None
        except Exception as exc:
            # A connection torn down mid-reply can surface from redis-py's parser as
            # something else (EOFError, AttributeError...): still "Redis did not answer".
            self.failures += 1
            log.warning(
                "unexpected %s from redis-py during %s", type(exc).__name__, what, exc_info=True
            )
            raise StateUnavailable(f"{what}: {type(exc).__name__}") from None

    def _script(self, script: Any, key: str, args: list[Any]) -> Callable[[], Awaitable[Any]]:
        return lambda: script(keys=[key], args=args)

    async def claim(
        self, key: IdemKey, digest: bytes, lease: float, *, deadline: float | None
    ) -> ClaimResult:
        """SET-if-absent of a pending marker with a lease, as one script."""
        owner = f"r{secrets.token_hex(8)}"
        reply = await self._call(
            "claim",
            self._script(self._claim, self.entry_key(key), [digest, owner, key.caller, _ms(lease)]),
            deadline,
        )
        kind = bytes(reply[0])
        if kind == b"C":
            return Claimed(owner)
        if kind == b"P":
            return Pending(bytes(reply[1]))
        return Done(bytes(reply[1]), bytes(reply[2]))

    async def renew(
        self, key: IdemKey, owner: str, lease: float, *, deadline: float | None
    ) -> bool:
        """PEXPIRE the pending marker if it is still ours."""
        reply = await self._call(
            "renew", self._script(self._renew, self.entry_key(key), [owner, _ms(lease)]), deadline
        )
        return bool(reply)

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
        """Store the token with the digest and the caller, expiring with the window."""
        reply = await self._call(
            "complete",
            self._script(
                self._complete, self.entry_key(key), [digest, key.caller, token, _ms(ttl)]
            ),
            deadline,
        )
        return bytes(reply)

    async def release(self, key: IdemKey, owner: str, *, deadline: float | None) -> None:
        """DEL the pending marker if it is still ours."""
        await self._call(
            "release", self._script(self._release, self.entry_key(key), [owner]), deadline
        )

    async def look(self, key: IdemKey, *, deadline: float | None) -> Pending | Done | None:
        """HMGET of the entry."""
        entry = self.entry_key(key)
        state, digest, token = await self._call(
            "look", lambda: self._client.hmget(entry, ["s", "d", "t"]), deadline
        )
        if state == b"P":
            return Pending(bytes(digest))
        if state == b"D":
            return Done(bytes(digest), bytes(token))
        return None

    async def take(
        self, bucket: str, per_second: float, burst: int, *, deadline: float | None
    ) -> float:
        """The token bucket script on the shared bucket."""
        reply = await self._call(
            "take",
            self._script(
                self._take, self.bucket_key(bucket), [repr(float(per_second)), str(burst)]
            ),
            deadline,
        )
        return float(reply)

    async def ping(self, *, deadline: float | None) -> None:
        """PING (raises StateUnavailable): for the start-up line."""
        await self._call("ping", lambda: self._client.ping(), deadline)

    async def aclose(self) -> None:
        """Close the pool."""
        await self._client.aclose()
        await self._pool.disconnect()
