"""The state backend's counters on /metrics: a real Redis stopped and started flips
livetokens_state_backend_up and counts refusals; the memory backend counts evictions."""

from __future__ import annotations

import asyncio
import dataclasses
import pathlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import grpc
import pytest
from lt_support import API_KEY, seed_request, server_settings
from prometheus_client.parser import text_string_to_metric_families
from redis_support import RedisServer
from state_support import refusal

from livetokens.emulator import Emulator, EmulatorConfig
from livetokens.server import RunningServer, app, create_server
from livetokens.server.settings import ObservabilitySettings, StateSettings
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

ADMIN_ON = ObservabilitySettings(admin_listen="127.0.0.1:0", health_listen="127.0.0.1:0")
Start = Callable[[StateSettings], Awaitable[RunningServer]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """Start servers with an admin listener and the given state settings (stopped after)."""
    running: list[RunningServer] = []
    async with Emulator(EmulatorConfig(api_keys=frozenset({API_KEY}))) as emu:

        async def starter(state: StateSettings) -> RunningServer:
            settings = dataclasses.replace(
                server_settings(emu.base_url), state=state, observability=ADMIN_ON
            )
            server = await create_server(settings)
            running.append(server)
            return server

        yield starter
        for server in running:
            await server.stop(0)


async def scrape(running: RunningServer) -> str:
    """The /metrics text of ``running``'s admin listener."""
    assert running.admin is not None
    url = f"http://127.0.0.1:{running.admin.http_port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return await response.text()


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples ``name`` whose labels include ``labels`` (0: none)."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


async def _mint(running: RunningServer) -> str:
    """One mint with a fresh request_id: ``OK`` or the ErrorInfo reason."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        try:
            await ts_grpc.TokenServiceStub(channel).MintToken(
                seed_request(request_id=str(uuid.uuid4())), timeout=5
            )
        except grpc.aio.AioRpcError as error:
            return refusal(error).reason
    return "OK"


async def _until(running: RunningServer, name: str, want: float, **labels: str) -> str:
    """Scrape until ``name`` is ``want`` (10 s at most); the last scrape."""
    for _ in range(100):
        text = await scrape(running)
        if value(text, name, **labels) == want:
            return text
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name}{labels} never became {want}:\n{text}")


async def test_redis_stopped_flips_the_up_gauge_and_counts_refusals(
    start: Start, tmp_path: pathlib.Path
) -> None:
    """Fail closed: Redis up → up=1; stopped → calls refused, up=0, outages and
    STATE_UNAVAILABLE counted; started again → up=1, no secret in the text."""
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        running = await start(StateSettings(backend=redis.url))
        assert await _mint(running) == "OK"
        text = await scrape(running)
        assert value(text, "livetokens_state_backend_up", backend="redis") == 1
        assert value(text, "livetokens_state_backend_calls_total") >= 2  # claim, complete
        assert value(text, "livetokens_state_backend_failures_total") == 0
        assert value(text, "livetokens_state_unavailable_total") == 0
        assert value(text, "livetokens_idempotency_late_writes_total") == 0

        redis.stop()
        reasons = [await _mint(running) for _ in range(5)]
        assert set(reasons) == {"STATE_UNAVAILABLE"}
        text = await scrape(running)
        assert value(text, "livetokens_state_backend_up", backend="redis") == 0
        assert value(text, "livetokens_state_unavailable_total") == 5
        assert value(text, "livetokens_state_outages_total") == 1
        assert value(text, "livetokens_state_backend_failures_total") >= 3
        assert value(text, "livetokens_state_degraded_total") == 0

        redis.start()
        for _ in range(50):
            if await _mint(running) == "OK":
                break
            await asyncio.sleep(0.2)
        text = await scrape(running)
        assert value(text, "livetokens_state_backend_up", backend="redis") == 1
        assert value(text, "livetokens_state_outages_total") == 1
        assert redis.url not in text
    finally:
        redis.stop()


async def test_an_idle_replica_sees_redis_go_and_come_back_through_the_probe(
    start: Start, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No calls at all: the periodic ping alone turns the up gauge 0 then 1 again."""
    monkeypatch.setattr(app, "PROBE_INTERVAL", 0.05)
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        running = await start(StateSettings(backend=redis.url, call_timeout=0.5))
        await _until(running, "livetokens_state_backend_up", 1, backend="redis")
        redis.stop()
        text = await _until(running, "livetokens_state_backend_up", 0, backend="redis")
        assert value(text, "livetokens_state_unavailable_total") == 0  # no caller refused
        redis.start()
        await _until(running, "livetokens_state_backend_up", 1, backend="redis")
    finally:
        redis.stop()


async def test_local_mode_counts_calls_served_from_local_memory(
    start: Start, tmp_path: pathlib.Path
) -> None:
    """Fail local: with Redis stopped mints go on, each counted as degraded."""
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        running = await start(StateSettings(backend=redis.url, failure_mode="local"))
        redis.stop()
        assert [await _mint(running) for _ in range(4)] == ["OK"] * 4
        text = await scrape(running)
    finally:
        redis.stop()
    assert value(text, "livetokens_state_backend_up", backend="redis") == 0
    assert value(text, "livetokens_state_degraded_total") >= 4
    assert value(text, "livetokens_state_unavailable_total") == 0


async def test_the_memory_backend_counts_evictions(start: Start) -> None:
    """Memory backend over its byte bound: finished entries are evicted and counted;
    the backend is always up."""
    running = await start(StateSettings(idempotency_max_bytes=1))
    assert [await _mint(running) for _ in range(3)] == ["OK"] * 3
    text = await scrape(running)
    assert value(text, "livetokens_state_backend_up", backend="memory") == 1
    assert value(text, "livetokens_idempotency_evictions_total") == 3
    assert value(text, "livetokens_idempotency_entries") == 0
    assert value(text, "livetokens_idempotency_expirations_total") == 0
    assert value(text, "livetokens_state_unavailable_total") == 0
