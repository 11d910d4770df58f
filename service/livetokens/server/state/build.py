"""Choose the adapter once, at start-up, from :class:`StateSettings`."""

from __future__ import annotations

from livetokens.server.settings import StateSettings
from livetokens.server.state.guard import LOCAL_OWNER_PREFIX, GuardedStore
from livetokens.server.state.memory import MemoryStore
from livetokens.server.state.port import StateStore


def build_store(settings: StateSettings) -> StateStore:
    """``memory``: a MemoryStore. ``redis://``/``rediss://``: a RedisStore behind the
    failure-mode guard, with a MemoryStore of the same byte bound for ``local`` mode."""
    if settings.backend == "memory":
        return MemoryStore(max_bytes=settings.idempotency_max_bytes)
    from livetokens.server.state.redis_store import RedisStore

    primary = RedisStore(
        settings.backend,
        password=settings.password.reveal() if settings.password else None,
        call_timeout=settings.call_timeout,
    )
    local = MemoryStore(max_bytes=settings.idempotency_max_bytes, owner_prefix=LOCAL_OWNER_PREFIX)
    return GuardedStore(primary, mode=settings.failure_mode, local=local)
