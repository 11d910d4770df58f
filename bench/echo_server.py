"""A bare grpc.aio TokenService that answers every MintToken with one fixed Token.

No validation, no translation, no upstream: the ceiling of grpc.aio (server and
client) on this machine, against which ``bench/mint_bench.py`` sets livetokens.

    python bench/echo_server.py --port-file /tmp/echo.port

Listens on 127.0.0.1 (port 0 by default), writes the bound port to --port-file
once serving, and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import signal

import grpc
from google.protobuf import timestamp_pb2

from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

# A fake token: the benchmark never uses it, it only has the size of a real answer.
_TOKEN = ts.Token(
    name="auth_tokens/echo-" + "x" * 40,
    expire_time=timestamp_pb2.Timestamp(seconds=2_000_000_000),
    new_session_expire_time=timestamp_pb2.Timestamp(seconds=2_000_000_000),
    uses=1,
    lock=ts.EffectiveLock(whole_setup=True),
    fingerprint="hmac-sha256:" + "0" * 32,
    websocket_url="ws://127.0.0.1/ws/google.ai.generativelanguage.v1alpha."
    "GenerativeService.BidiGenerateContentConstrained",
    api_version="v1alpha",
    model="models/gemini-live-2.5-flash-preview",
)


class EchoTokenService(ts_grpc.TokenServiceServicer):
    """Answers MintToken with the fixed token, whatever the request."""

    async def MintToken(
        self, request: ts.TokenRequest, context: grpc.aio.ServicerContext[ts.TokenRequest, ts.Token]
    ) -> ts.Token:
        """Return the fixed token."""
        return _TOKEN


async def serve(listen: str, port_file: str | None) -> None:
    """Serve on ``listen`` until SIGTERM or SIGINT."""
    server = grpc.aio.server()
    ts_grpc.add_TokenServiceServicer_to_server(EchoTokenService(), server)
    port = server.add_insecure_port(listen)
    await server.start()
    if port_file:
        # A few bytes, once, before any load: blocking the loop here is harmless.
        pathlib.Path(port_file).write_text(f"{port}\n")  # noqa: ASYNC240
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop(0.5)


def main() -> int:
    """Entry point: parse the flags and serve."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (default 127.0.0.1:0)")
    parser.add_argument("--port-file", help="write the bound port here once serving")
    args = parser.parse_args()
    asyncio.run(serve(args.listen, args.port_file))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
