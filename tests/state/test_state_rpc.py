"""Idempotency and limits through real servers: twins with different deadlines, two
servers sharing one real Redis, and what a caller gets while Redis is down."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import pathlib
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from lt_support import API_KEY, MODEL, seed_request, server_settings
from redis_support import RedisServer
from state_support import refusal

from livetokens.emulator import Emulator, EmulatorConfig
from livetokens.server import RunningServer, create_server
from livetokens.server.settings import StateSettings
from livetokens.v1 import token_service_pb2_grpc as ts_grpc


@pytest.fixture
async def slow_emulator() -> AsyncIterator[Emulator]:
    """The emulator answering MODEL after 0.6 s."""
    config = EmulatorConfig(api_keys=frozenset({API_KEY}), model_latency={MODEL: 0.6})
    async with Emulator(config) as emu:
        yield emu


async def started(emu: Emulator, state: StateSettings | None = None) -> RunningServer:
    settings = server_settings(emu.base_url)
    if state is not None:
        settings = dataclasses.replace(settings, state=state)
    return await create_server(settings)


async def test_a_twin_is_not_failed_by_the_first_callers_shorter_deadline(
    slow_emulator: Emulator,
) -> None:
    """First call 0.2 s, twin 10 s, upstream 0.6 s: the twin gets the token, one mint."""
    running = await started(slow_emulator)
    request = seed_request(request_id=str(uuid.uuid4()))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stub = ts_grpc.TokenServiceStub(channel)
            first = asyncio.ensure_future(stub.MintToken(request, timeout=0.2))
            await asyncio.sleep(0.05)
            twin = await stub.MintToken(request, timeout=10)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await first
            assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
            again = await stub.MintToken(request, timeout=10)
    finally:
        await running.stop(0)
    assert twin.name
    assert again.name == twin.name
    assert len(slow_emulator.requests) == 1


async def test_two_servers_on_one_redis_mint_a_request_id_once(
    slow_emulator: Emulator, tmp_path: pathlib.Path
) -> None:
    """Twins on two servers sharing Redis: one upstream call, one token; the same id with
    another request on the other server is REQUEST_ID_REUSED."""
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    state = StateSettings(backend=redis.url, lease=2.0)
    one, two = await started(slow_emulator, state), await started(slow_emulator, state)
    request = seed_request(request_id=str(uuid.uuid4()))
    try:
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{one.port}") as a,
            grpc.aio.insecure_channel(f"127.0.0.1:{two.port}") as b,
        ):
            calls = [
                ts_grpc.TokenServiceStub(channel).MintToken(request, timeout=10)
                for channel in (a, b, a, b)
            ]
            tokens = await asyncio.gather(*calls)
            assert len({t.name for t in tokens}) == 1
            other = seed_request(request_id=request.request_id, uses=2)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await ts_grpc.TokenServiceStub(b).MintToken(other, timeout=10)
    finally:
        await one.stop(0)
        await two.stop(0)
        redis.stop()
    assert len(slow_emulator.requests) == 1
    seen = refusal(caught.value)
    assert (seen.code, seen.reason, seen.fields) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "REQUEST_ID_REUSED",
        ["request_id"],
    )


async def test_with_redis_down_a_caller_gets_state_unavailable_with_retry_info(
    tmp_path: pathlib.Path,
) -> None:
    """Fail closed: UNAVAILABLE / STATE_UNAVAILABLE with RetryInfo, nothing minted."""
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    async with Emulator(EmulatorConfig(api_keys=frozenset({API_KEY}))) as emu:
        running = await started(emu, StateSettings(backend=redis.url))
        redis.kill()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                stub = ts_grpc.TokenServiceStub(channel)
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub.MintToken(seed_request(request_id=str(uuid.uuid4())), timeout=5)
        finally:
            await running.stop(0)
        assert emu.requests == []
    seen = refusal(caught.value)
    assert (seen.code, seen.reason) == (grpc.StatusCode.UNAVAILABLE, "STATE_UNAVAILABLE")
    assert seen.retry_delay is not None
    assert seen.retry_delay.total_seconds() > 0


async def test_a_server_started_without_redis_says_so_refuses_then_recovers_by_itself(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis not running at start-up: a warning, STATE_UNAVAILABLE; Redis starts: mints."""
    redis = RedisServer(tmp_path / "redis")
    async with Emulator(EmulatorConfig(api_keys=frozenset({API_KEY}))) as emu:
        with caplog.at_level(logging.WARNING):
            running = await started(emu, StateSettings(backend=redis.url))
        assert any("NOT reachable" in r.getMessage() for r in caplog.records)
        request = seed_request(request_id=str(uuid.uuid4()))
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                stub = ts_grpc.TokenServiceStub(channel)
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub.MintToken(request, timeout=5)
                assert refusal(caught.value).reason == "STATE_UNAVAILABLE"
                redis.start()
                token, reasons = None, set()
                for _ in range(50):
                    try:
                        token = await stub.MintToken(request, timeout=5)
                        break
                    except grpc.aio.AioRpcError as exc:
                        reasons.add(refusal(exc).reason)
                        await asyncio.sleep(0.2)
                assert token is not None
                assert reasons <= {"STATE_UNAVAILABLE"}
                again = await stub.MintToken(request, timeout=5)
        finally:
            await running.stop(0)
            redis.stop()
        assert again.name == token.name
        assert len(emu.requests) == 1
