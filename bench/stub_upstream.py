"""A minimal stand-in for Google's ``POST /{version}/auth_tokens``: HTTP/1.1 keep-alive,
one fixed-shape answer, microseconds per request.

``make bench`` points livetokens (and the google-genai SDK) at it so that the upstream
is never the bottleneck: unlike the emulator it parses nothing but the request line,
``Content-Length`` and the body's length, checks nothing, and answers every request
with ``200 {"name": "auth_tokens/stub-<n>"}`` (``n`` counts up, so names differ).

    python bench/stub_upstream.py --port-file /tmp/stub.port

Listens on 127.0.0.1 (port 0 by default), writes the bound port to --port-file once
serving, and stops on SIGTERM or SIGINT. Not for anything but benchmarks.
"""

from __future__ import annotations

import asyncio

from bench_support import child_server_main, serve_until_signalled

_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
_MAX_HEAD = 64 * 1024


class StubProtocol(asyncio.Protocol):
    """One connection: answers each complete request in the buffer, in order."""

    counter = 0

    def __init__(self) -> None:
        """An empty buffer."""
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to write answers on."""
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        """Answer every complete request (head and body) received so far."""
        assert self._transport is not None
        buffer = self._buffer + data
        out = []
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD:
                    self._transport.close()
                    return
                break
            length = 0
            start = buffer.lower().find(b"\r\ncontent-length:", 0, end)
            if start >= 0:
                stop = buffer.index(b"\r\n", start + 2)
                length = int(buffer[start + 17 : stop])
            total = end + 4 + length
            if len(buffer) < total:
                break
            buffer = buffer[total:]
            StubProtocol.counter += 1
            body = b'{"name":"auth_tokens/stub-%d"}' % StubProtocol.counter
            out.append(_HEAD + b"%d\r\n\r\n" % len(body) + body)
        self._buffer = buffer
        if out:
            self._transport.write(b"".join(out))


async def serve(listen: str, port_file: str | None) -> None:
    """Serve on ``listen`` until SIGTERM or SIGINT."""
    host, _, port = listen.rpartition(":")
    loop = asyncio.get_running_loop()
    server = await loop.create_server(StubProtocol, host, int(port), backlog=1024)
    async with server:
        await serve_until_signalled(server.sockets[0].getsockname()[1], port_file)


def main() -> int:
    """Entry point: parse the flags and serve."""
    return child_server_main(__doc__, serve)


if __name__ == "__main__":
    raise SystemExit(main())
