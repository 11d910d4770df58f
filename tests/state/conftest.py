"""Fixtures: a real redis-server per test, and the store under test on either adapter."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator, Iterator

import pytest
from redis_support import RedisServer

from livetokens.server.state import MemoryStore, StateStore
from livetokens.server.state.redis_store import RedisStore


@pytest.fixture
def redis_server(tmp_path: pathlib.Path) -> Iterator[RedisServer]:
    """redis-server on a random loopback port, stopped after the test."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["memory", "redis"])
async def store(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path
) -> AsyncIterator[StateStore]:
    """The same contract on both adapters (Redis: a fresh real server)."""
    if request.param == "memory":
        yield MemoryStore()
        return
    server = RedisServer(tmp_path / "redis")
    server.start()
    redis_store = RedisStore(server.url, call_timeout=2.0)
    try:
        yield redis_store
    finally:
        await redis_store.aclose()
        server.stop()
