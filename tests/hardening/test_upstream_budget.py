"""One time budget per upstream mint, and connection errors named for what they are."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest
from harden_support import Outcome, raw_call
from lt_support import seed_request

from livetokens.server import RunningServer

StartServer = Callable[..., Awaitable[RunningServer]]
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def loopback(handler: Handler) -> AsyncIterator[str]:
    """A raw TCP server on 127.0.0.1:0 running ``handler``; yields its base URL."""
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> None:
    """Read one HTTP/1.1 request with a Content-Length body."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)


async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Headers at once, then one body byte every 0.5 s, forever (the issue's upstream)."""
    await read_request(reader)
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n"
    )
    await writer.drain()
    while True:
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(0.5)


async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Close the connection with a TCP RST as soon as the request arrives."""
    await read_request(reader)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def mint(running: RunningServer, deadline: float | None) -> Outcome:
    """One MintToken call, with a gRPC deadline or none at all."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = channel.unary_unary("/livetokens.v1.TokenService/MintToken", request_serializer=None)
        if deadline is not None:
            return await raw_call(channel, seed_request().SerializeToString(), deadline=deadline)
        try:
            await stub(seed_request().SerializeToString())
        except grpc.aio.AioRpcError as error:
            from harden_support import outcome

            return outcome(error)
    return Outcome(grpc.StatusCode.OK)


async def test_a_trickling_upstream_ends_at_the_upstream_budget_without_a_deadline(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    """No caller deadline: the mint ends at LIVETOKENS_UPSTREAM_TIMEOUT with UNAVAILABLE /
    UPSTREAM_UNAVAILABLE and ErrorInfo, not never."""
    caplog.set_level(logging.INFO)
    async with loopback(trickle) as url:
        running = await start_server(
            upstream_url=url, upstream={"total_timeout": 1.5, "read_timeout": 1.0}
        )
        started = time.monotonic()
        result = await asyncio.wait_for(mint(running, None), 20)
        elapsed = time.monotonic() - started
    assert (result.code, result.reason) == (grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE")
    assert "upstream time budget (1.5s)" in result.message
    assert elapsed < 10
    assert any("upstream time budget" in r.getMessage() for r in caplog.records)


async def test_a_trickling_upstream_ends_in_livetokens_own_deadline_exceeded(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A 1.5 s caller deadline: livetokens answers DEADLINE_EXCEEDED with ErrorInfo before
    gRPC's bare one, and logs it."""
    caplog.set_level(logging.INFO)
    async with loopback(trickle) as url:
        running = await start_server(upstream_url=url, upstream={"read_timeout": 1.0})
        result = await mint(running, 1.5)
    assert (result.code, result.reason) == (grpc.StatusCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED")
    assert any("caller's deadline ran out" in r.getMessage() for r in caplog.records)


async def test_a_refused_connection_is_named_connection_refused(
    start_server: StartServer,
) -> None:
    """Nothing listening: UPSTREAM_UNAVAILABLE saying 'connection refused', not
    ConnectTimeout."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = await start_server(upstream_url=f"http://127.0.0.1:{port}")
    result = await mint(running, 5)
    assert (result.code, result.reason) == (grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE")
    assert "connection refused" in result.message
    assert result.metadata["transportError"] == "connection refused"


async def test_a_reset_connection_is_named_for_what_it_is(start_server: StartServer) -> None:
    """An upstream that resets the connection: 'connection reset' or 'server closed the
    connection', not ConnectTimeout."""
    async with loopback(reset) as url:
        running = await start_server(upstream_url=url)
        result = await mint(running, 5)
    assert (result.code, result.reason) == (grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE")
    assert result.metadata["transportError"] in {"connection reset", "server closed the connection"}
    assert "ConnectTimeout" not in result.message
