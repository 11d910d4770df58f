"""Shared fixtures: the emulator as upstream, real grpc.aio servers on 127.0.0.1:0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
from lt_support import API_KEY, server_settings

from livetokens.emulator import Emulator, EmulatorConfig
from livetokens.server import RunningServer, create_server
from livetokens.v1 import token_service_pb2_grpc as ts_grpc


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """A fresh emulator on 127.0.0.1:0 that accepts API_KEY."""
    async with Emulator(EmulatorConfig(api_keys=frozenset({API_KEY}))) as emu:
        yield emu


StartServer = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
async def start_server(emulator: Emulator) -> AsyncIterator[StartServer]:
    """Start servers against the emulator (settings overrides as keyword arguments)."""
    started: list[RunningServer] = []

    async def start(**overrides: Any) -> RunningServer:
        transport = overrides.pop("transport", None)
        tracer_provider = overrides.pop("tracer_provider", None)
        upstream_url = overrides.pop("upstream_url", emulator.base_url)
        running = await create_server(
            server_settings(upstream_url, **overrides),
            transport=transport,
            tracer_provider=tracer_provider,
        )
        started.append(running)
        return running

    yield start
    for running in started:
        await running.stop(0)


@pytest.fixture
async def server(start_server: StartServer) -> RunningServer:
    """One server against the emulator, default settings."""
    return await start_server()


@pytest.fixture
async def channel(server: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    """A plaintext channel to ``server``."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as chan:
        yield chan


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> ts_grpc.TokenServiceStub:
    """The generated stub on ``channel``."""
    return ts_grpc.TokenServiceStub(channel)
