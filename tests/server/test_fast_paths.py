"""The per-mint fast paths (docs/benchmarks.md) give exactly what the plain ways give."""

from __future__ import annotations

import asyncio
import gzip
import pathlib
import sys
from datetime import UTC, datetime, timedelta, timezone

import grpc
import httpx
import pytest
import uvloop
from aiohttp import web
from google.protobuf import timestamp_pb2
from lt_support import child_env, port_written

from livetokens.server import translate as tr
from livetokens.server.cli import event_loop_factory, main
from livetokens.server.minting import _timestamp
from livetokens.server.settings import SettingsError, UpstreamSettings
from livetokens.server.upstream import EagerAiohttpTransport, GeminiTokenClient
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

INSTANTS = [
    datetime(2030, 1, 1, 12, 30, tzinfo=UTC),
    datetime(2026, 11, 29, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 3, 1, 0, 0, 0, 1_000, tzinfo=timezone(timedelta(hours=-5))),
    datetime(1999, 12, 31, 23, 59, 59, 500_000, tzinfo=timezone(timedelta(hours=5, minutes=30))),
]


@pytest.mark.parametrize("instant", INSTANTS)
def test_rfc3339_matches_strftime(instant: datetime) -> None:
    """rfc3339 via isoformat equals the strftime form: UTC, milliseconds, Z."""
    utc = instant.astimezone(UTC)
    expected = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    assert tr.rfc3339(instant) == expected


@pytest.mark.parametrize("instant", [*INSTANTS, datetime(2030, 1, 1, 12, 30, 0, 250_000)])
def test_timestamp_matches_from_datetime(instant: datetime) -> None:
    """The Token's Timestamps equal Timestamp.FromDatetime's, naive instants as UTC."""
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(instant)
    assert _timestamp(instant) == expected


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:9", "https://proxy.example/prefix/"])
async def test_upstream_request_is_the_one_async_client_would_build(base_url: str) -> None:
    """The prebuilt request has AsyncClient.post's URL and headers, key included."""
    client = GeminiTokenClient(UpstreamSettings(base_url=base_url), "KEY")
    try:
        content = b'{"uses":1}'
        expected = client._client.build_request("POST", client._path, content=content)
        built = httpx.Request("POST", client._url, headers=client._headers, content=content)
        assert built.url == expected.url
        assert built.headers.multi_items() == expected.headers.multi_items()
        assert client._transport is client._client._transport_for_url(expected.url)
    finally:
        await client.aclose()


def test_event_loop_factories() -> None:
    """uvloop is the default loop of serve; asyncio is the standard library's."""
    loop = event_loop_factory("uvloop")()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
    assert event_loop_factory("asyncio") is asyncio.new_event_loop
    with pytest.raises(SettingsError, match="LIVETOKENS_EVENT_LOOP"):
        event_loop_factory("trio")


def test_unknown_event_loop_in_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """LIVETOKENS_EVENT_LOOP=bogus stops serve with exit 2 and names the variable."""
    monkeypatch.setenv("LIVETOKENS_EVENT_LOOP", "bogus")
    assert main(["serve", "--listen", "127.0.0.1:0"]) == 2
    assert "LIVETOKENS_EVENT_LOOP" in capsys.readouterr().err


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
async def test_serve_mints_on_either_event_loop(loop: str, tmp_path: pathlib.Path) -> None:
    """`livetokens serve --emulator --event-loop L` answers MintToken on both loops."""
    port_file = tmp_path / "port"
    env = child_env()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "livetokens.server",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--insecure-no-auth",
        "--emulator",
        "--event-loop",
        loop,
        "--port-file",
        str(port_file),
        env=env,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(20):
            await port_written(port_file)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port_file.read_text().strip()}") as ch:
            token = await ts_grpc.TokenServiceStub(ch).MintToken(
                ts.TokenRequest(
                    constraints=ts.LiveConstraints(model="gemini-live-2.5-flash-preview")
                ),
                timeout=10,
            )
        assert token.name.startswith("auth_tokens/")
    finally:
        process.terminate()
        await process.wait()


@pytest.mark.parametrize("encoding", ["identity", "gzip", "chunked"])
async def test_eager_transport_reads_any_answer_form(encoding: str) -> None:
    """The default (eager) transport decodes gzip'd and chunked answers like httpx would."""
    body = b'{"name": "auth_tokens/eager-1"}'

    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        if encoding == "gzip":
            return web.Response(
                body=gzip.compress(body),
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
        if encoding == "chunked":
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            for piece in (body[:10], body[10:]):
                await response.write(piece)
            await response.write_eof()
            return response
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1alpha/auth_tokens", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = GeminiTokenClient(UpstreamSettings(base_url=f"http://127.0.0.1:{port}"), "KEY")
    try:
        assert isinstance(client._transport, EagerAiohttpTransport)
        assert await client.create_token({"uses": 1}, deadline=None) == "auth_tokens/eager-1"
    finally:
        await client.aclose()
        await runner.cleanup()
