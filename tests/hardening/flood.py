"""A client process for the overload tests: N concurrent MintToken calls, then a JSON
count of the outcomes on stdout.

    python flood.py PORT CALLS CHANNELS REQUEST_HEX

Run in its own process: with the client on the server's event loop, grpc.aio cancels
some calls on the client side, which would hide what the server does.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys

import grpc

from livetokens.v1 import token_service_pb2 as ts

METHOD = "/livetokens.v1.TokenService/MintToken"


async def flood(port: int, calls: int, channels: int, payload: bytes) -> dict[str, int]:
    """Send ``calls`` concurrent calls over ``channels`` channels; count the codes."""
    opened = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for _ in range(channels)]
    try:
        for channel in opened:
            await channel.channel_ready()
        stubs = [
            c.unary_unary(
                METHOD, request_serializer=None, response_deserializer=ts.Token.FromString
            )
            for c in opened
        ]

        async def one(i: int) -> str:
            try:
                await stubs[i % channels](payload, timeout=60)
            except grpc.aio.AioRpcError as error:
                return error.code().name
            return "OK"

        outcomes = await asyncio.gather(*(one(i) for i in range(calls)))
    finally:
        for channel in opened:
            await channel.close()
    return dict(collections.Counter(outcomes))


def main() -> int:
    port, calls, channels, payload = sys.argv[1:5]
    counts = asyncio.run(flood(int(port), int(calls), int(channels), bytes.fromhex(payload)))
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
