"""Connection lifetimes: after max_connection_age the server sends GOAWAY, the client
reconnects by itself, and no call fails; with the age off the connection stays."""

from __future__ import annotations

import asyncio

import grpc
from lt_support import seed_request
from obs_support import StartServer

from livetokens.server.app import server_options
from livetokens.server.settings import LimitSettings, ObservabilitySettings
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

READY = grpc.ChannelConnectivity.READY


async def test_an_old_connection_gets_goaway_and_the_client_reconnects(
    start_server: StartServer,
) -> None:
    """max_connection_age 1 s: the channel goes READY → IDLE at each GOAWAY and back,
    and every mint across those reconnections succeeds."""
    running = await start_server(
        observability=ObservabilitySettings(max_connection_age=1.0, max_connection_age_grace=1.0)
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = ts_grpc.TokenServiceStub(channel)
        await stub.MintToken(seed_request(), timeout=5)
        assert channel.get_state() == READY
        states: list[grpc.ChannelConnectivity] = []
        watching = asyncio.ensure_future(_watch(channel, states))
        tokens = []
        for _ in range(30):  # about 3 s: crosses at least two max ages
            tokens.append(await stub.MintToken(seed_request(), timeout=5))
            await asyncio.sleep(0.1)
        watching.cancel()
        assert len({t.name for t in tokens}) == 30  # no call failed
        # Each GOAWAY took the channel from READY to IDLE, and it came back by itself.
        assert states.count(grpc.ChannelConnectivity.IDLE) >= 2
        assert states.count(READY) >= 2


async def _watch(channel: grpc.aio.Channel, states: list[grpc.ChannelConnectivity]) -> None:
    state = channel.get_state()
    while True:
        await channel.wait_for_state_change(state)
        state = channel.get_state()
        states.append(state)


async def test_without_a_max_age_the_connection_stays(start_server: StartServer) -> None:
    """max_connection_age 0 (off): the channel is still READY 2.5 s later."""
    running = await start_server(observability=ObservabilitySettings(max_connection_age=0))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        await ts_grpc.TokenServiceStub(channel).MintToken(seed_request(), timeout=5)
        changed = asyncio.ensure_future(channel.wait_for_state_change(READY))
        done, _ = await asyncio.wait({changed}, timeout=2.5)
        assert not done
        changed.cancel()
        assert channel.get_state() == READY


def test_server_options_follow_the_settings() -> None:
    """Defaults: keepalive 60 s, age 300 s, grace 30 s; 0 turns an option off."""
    options = dict(server_options(LimitSettings(), ObservabilitySettings()))
    assert options["grpc.keepalive_time_ms"] == 60_000
    assert options["grpc.max_connection_age_ms"] == 300_000
    assert options["grpc.max_connection_age_grace_ms"] == 30_000
    off = dict(
        server_options(
            LimitSettings(), ObservabilitySettings(keepalive_time=0, max_connection_age=0)
        )
    )
    assert "grpc.keepalive_time_ms" not in off
    assert "grpc.max_connection_age_ms" not in off
