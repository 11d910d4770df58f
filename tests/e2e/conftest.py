"""Fixtures: a TLS emulator with a movable clock, and livetokens in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from e2e_support import MovableClock
from lt_support import API_KEY, server_settings

from livetokens.emulator import Emulator, EmulatorConfig, LoopbackTLS, loopback_tls
from livetokens.server import RunningServer, create_server
from livetokens.v1 import token_service_pb2_grpc as ts_grpc


@pytest.fixture(scope="session")
def tls() -> LoopbackTLS:
    """A CA and a loopback certificate made for this test run."""
    return loopback_tls()


@pytest.fixture
def clock() -> MovableClock:
    """The emulator's clock; tests move it to pass windows and expiry."""
    return MovableClock()


@pytest.fixture
async def emulator(tls: LoopbackTLS, clock: MovableClock) -> AsyncIterator[Emulator]:
    """The emulator over TLS on 127.0.0.1:0, accepting API_KEY."""
    config = EmulatorConfig(api_keys=frozenset({API_KEY}), clock=clock)
    async with Emulator(config, ssl_context=tls.server) as emu:
        yield emu


@pytest.fixture
async def server(emulator: Emulator, tls: LoopbackTLS) -> AsyncIterator[RunningServer]:
    """livetokens on 127.0.0.1:0 minting at the TLS emulator."""
    transport = httpx.AsyncHTTPTransport(verify=tls.client)
    running = await create_server(server_settings(emulator.base_url), transport=transport)
    yield running
    await running.stop(0)


@pytest.fixture
async def stub(server: RunningServer) -> AsyncIterator[ts_grpc.TokenServiceStub]:
    """The generated stub on a channel to ``server``."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield ts_grpc.TokenServiceStub(channel)
