"""The admin listeners: HTTP /livez /readyz /metrics and gRPC health, never MintToken."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import grpc
import pytest
from lt_support import seed_request
from obs_support import ADMIN_ON, SERVICE, StartServer, admin_ports, health_status, http_get

from livetokens.server.settings import ObservabilitySettings, SettingsError
from livetokens.v1 import token_service_pb2_grpc as ts_grpc


async def test_admin_http_and_grpc_health_report_a_serving_server(
    start_server: StartServer,
) -> None:
    """/livez and /readyz answer 200, /metrics is Prometheus text, health says SERVING."""
    running = await start_server(observability=ADMIN_ON)
    http, grpc_port = admin_ports(running)
    assert len({http, grpc_port, running.port}) == 3
    assert await http_get(http, "/livez") == (200, "ok\n")
    assert await http_get(http, "/readyz") == (200, "ok\n")
    status, text = await http_get(http, "/metrics")
    assert status == 200
    assert "# TYPE livetokens_mints_total counter" in text
    assert "livetokens_build_info{" in text
    assert await health_status(grpc_port) == "SERVING"
    assert await health_status(grpc_port, SERVICE) == "SERVING"
    assert (await http_get(http, "/nothing"))[0] == 404


async def test_the_health_port_never_serves_mint_token(start_server: StartServer) -> None:
    """MintToken on the plaintext health port is UNIMPLEMENTED; no token comes out of it."""
    running = await start_server(observability=ADMIN_ON)
    assert running.admin is not None
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.admin.health_port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await ts_grpc.TokenServiceStub(channel).MintToken(seed_request(), timeout=5)
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_drain_reports_not_serving_while_the_main_port_still_mints(
    start_server: StartServer,
) -> None:
    """During the drain delay: /readyz 503 and health NOT_SERVING, yet mints still succeed."""
    running = await start_server(observability=ADMIN_ON)
    http, grpc_port = admin_ports(running)
    stopping = asyncio.ensure_future(running.stop(5, drain_delay=1.5))
    try:
        while (await http_get(http, "/readyz"))[0] == 200:  # noqa: ASYNC110 - polling a probe
            await asyncio.sleep(0.02)
        assert await http_get(http, "/readyz") == (503, "not serving (starting or draining)\n")
        assert await health_status(grpc_port) == "NOT_SERVING"
        assert await health_status(grpc_port, SERVICE) == "NOT_SERVING"
        assert await http_get(http, "/livez") == (200, "ok\n")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            token = await ts_grpc.TokenServiceStub(channel).MintToken(seed_request(), timeout=5)
        assert token.name.startswith("auth_tokens/")
        assert not stopping.done()
    finally:
        await stopping
    with pytest.raises(aiohttp.ClientConnectionError):
        await http_get(http, "/livez")


async def test_no_admin_listener_unless_configured(start_server: StartServer) -> None:
    """The library default binds nothing but the main port."""
    running = await start_server()
    assert running.admin is not None
    assert (running.admin.http_port, running.admin.health_port) == (None, None)


async def test_an_admin_address_in_use_fails_start_up_naming_the_flag(
    start_server: StartServer,
) -> None:
    """A busy admin port is a SettingsError that names --admin-listen."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SettingsError, match="--admin-listen"):
            await start_server(
                observability=ObservabilitySettings(admin_listen=f"127.0.0.1:{port}")
            )


async def test_a_busy_default_admin_port_is_only_a_warning(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    """serve's loopback defaults (not asked for explicitly) may be taken by another
    instance: the server starts without that listener and says so."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        running = await start_server(
            observability=ObservabilitySettings(
                admin_listen=f"127.0.0.1:{port}",
                health_listen="127.0.0.1:0",
                optional_listeners=("admin", "health"),
            )
        )
    assert running.admin is not None
    assert running.admin.http_port is None
    assert running.admin.health_port
    assert await health_status(running.admin.health_port) == "SERVING"
    assert any("going on without it" in r.getMessage() for r in caplog.records)
