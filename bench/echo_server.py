"""A bare grpc.aio TokenService that answers every MintToken with one fixed Token.

No validation, no translation, no upstream: the ceiling of grpc.aio (server and
client) on this machine, against which ``bench/mint_bench.py`` sets livetokens.

    python bench/echo_server.py --port-file /tmp/echo.port

Listens on 127.0.0.1 (port 0 by default), writes the bound port to --port-file
once serving, and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import grpc
from bench_support import child_server_main, serve_until_signalled
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
    try:
        await serve_until_signalled(port, port_file)
    finally:
        await server.stop(0.5)


def main() -> int:
    """Entry point: parse the flags and serve."""
    return child_server_main(__doc__, serve)


if __name__ == "__main__":
    raise SystemExit(main())
